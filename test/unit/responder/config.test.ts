import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../functions/responder/config.ts';
import { ENV } from '../../../functions/contract/lambda-env.ts';

const env = {
  [ENV.appName]: 'web',
  [ENV.pm2User]: 'ubuntu',
  [ENV.healthUrl]: 'http://127.0.0.1/',
  [ENV.upstream]: 'http://127.0.0.1:3000',
  [ENV.snapshotDocument]: 'reflex-snapshot',
  [ENV.remediateDocument]: 'reflex-remediate',
  [ENV.topicArn]: 'arn:aws:sns:eu-west-1:123456789012:reflex',
  [ENV.alarmName]: 'reflex-web-gateway-errors',
  [ENV.accessLogGroup]: '/reflex/web/nginx-access',
  [ENV.errorLogGroup]: '/reflex/web/nginx-error',
  [ENV.pm2LogGroup]: '/reflex/web/pm2',
  [ENV.kernelLogGroup]: '/reflex/web/kernel',
};

describe('parseConfig', () => {
  it('reads the modes per cause and the approval time; a bad one fails the cold start naming REFLEX_MODES', () => {
    expect(parseConfig({ ...env, [ENV.modes]: 'process_crashed=approve, app_hung=observe', [ENV.approvalMinutes]: '30' })).toMatchObject({
      modes: { process_crashed: 'approve', app_hung: 'observe' },
      approvalMinutes: 30,
      maxWave: 16,
    });
    expect(parseConfig(env)).toMatchObject({ modes: {}, approvalMinutes: 15 });
    expect(() => parseConfig({ ...env, [ENV.modes]: 'process_crashed=yes' })).toThrow(/^REFLEX_MODES\.process_crashed: must be one of auto, approve, observe/);
    expect(() => parseConfig({ ...env, [ENV.modes]: 'process_crashed' })).toThrow(/^REFLEX_MODES: must be cause=mode pairs/);
    expect(() => parseConfig({ ...env, [ENV.approvalMinutes]: '0' })).toThrow(/REFLEX_APPROVAL_MINUTES/);
  });

  it('reads the environment with defaults', () => {
    const config = parseConfig({ ...env });

    expect(config).toMatchObject({
      appName: 'web',
      pm2User: 'ubuntu',
      documents: { snapshot: 'reflex-snapshot', remediate: 'reflex-remediate' },
      windowSeconds: 300,
      verifySeconds: 120,
      dryRun: false,
      budget: { maxRestartsPerHour: 3, minMinutesBetweenRestarts: 5 },
    });
  });

  it("reads the app's own log group when the stack names it (the app's error line says why it died)", () => {
    expect(parseConfig({ ...env }).logGroups.app).toBeUndefined();
    expect(parseConfig({ ...env, [ENV.appLogGroup]: '/reflex/web/pm2-app' }).logGroups.app).toBe('/reflex/web/pm2-app');
  });

  it.each([
    [ENV.topicArn, undefined, `${ENV.topicArn} is not set`],
    [ENV.appName, 'web app', `${ENV.appName} is invalid`],
    [ENV.dryRun, 'yes', `${ENV.dryRun} must be "true" or "false"`],
    [ENV.verifySeconds, '5', `${ENV.verifySeconds} must be a whole number from 10 to 840`],
  ])('fails naming %s', (name, value, message) => {
    expect(() => parseConfig({ ...env, [name]: value })).toThrow(message);
  });
});
