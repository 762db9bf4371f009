/**
 * The responder's Lambda environment for tests: what the CDK stack sets for an app `web` behind the alarm
 * `reflex-web-gateway-errors`, by the variable names of functions/contract/lambda-env.ts.
 */
import { ENV } from '../../functions/contract/lambda-env.ts';

/** The SNS topic the responder reports to. */
export const TOPIC_ARN = 'arn:aws:sns:eu-west-1:123456789012:reflex-web';

/** The alarm the responder owns; events of other alarms are ignored. */
export const ALARM_NAME = 'reflex-web-gateway-errors';

/** Powertools' JSON logs and EMF metrics would clutter the test output. */
export const QUIET_POWERTOOLS: Readonly<Record<string, string>> = {
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  POWERTOOLS_METRICS_DISABLED: 'true',
};

/**
 * A fresh copy of the variables the responder needs (app, PM2 user, health URL, SSM documents, topic, alarm, log
 * groups; a 300 s alarm window and 120 s of verification, as the stack sets them), with `extra` on top.
 */
export function responderEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    [ENV.appName]: 'web',
    [ENV.pm2User]: 'ubuntu',
    [ENV.healthUrl]: 'http://127.0.0.1/',
    [ENV.snapshotDocument]: 'reflex-snapshot',
    [ENV.remediateDocument]: 'reflex-remediate',
    [ENV.topicArn]: TOPIC_ARN,
    [ENV.alarmName]: ALARM_NAME,
    [ENV.windowSeconds]: '300',
    [ENV.verifySeconds]: '120',
    [ENV.accessLogGroup]: '/reflex/web/nginx-access',
    [ENV.errorLogGroup]: '/reflex/web/nginx-error',
    [ENV.pm2LogGroup]: '/reflex/web/pm2',
    [ENV.kernelLogGroup]: '/reflex/web/kernel',
    ...extra,
  };
}
