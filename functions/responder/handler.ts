/**
 * The Lambda `responder`: EventBridge (alarm or manual event) or the detector's asynchronous start → handleEvent. Wiring only.
 * Each event is a durable execution (@aws/durable-execution-sdk-js): the core's steps are checkpointed, its waits
 * suspend without compute, and a cut-off invocation is replayed from its last checkpoint (durable-checkpoints.ts).
 * Configuration is parsed and SDK clients are created once, at cold start; a bad variable fails the cold start.
 */
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { withDurableExecution } from '@aws/durable-execution-sdk-js';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { inProcess, type Checkpoints } from '../core/checkpoints.ts';
import { CloudWatchLogSource, findAffectedInstances } from '../adapters/aws/cloudwatch-logs.ts';
import { DynamoDbDetectionStore } from '../adapters/aws/detection-store.ts';
import { DynamoDbStateStore } from '../adapters/aws/dynamodb-state-store.ts';
import { SnsNotifier } from '../adapters/aws/sns-notifier.ts';
import { SsmHostRunner } from '../adapters/aws/ssm-runner.ts';
import { loadSlackSecret, type SlackConfig } from '../adapters/slack/secrets.ts';
import { METRICS, METRIC_NAMESPACE, OUTCOME_DIMENSION, SERVICE_NAME } from '../contract/telemetry.ts';
import { parseConfig } from './config.ts';
import { durableCheckpoints } from './durable-checkpoints.ts';
import { handleEvent, type ResponderResult } from './run.ts';

const logger = new Logger({ serviceName: SERVICE_NAME });
// Metrics' own warnings (e.g. nothing to publish for an ignored event) go through the structured logger, not raw stdout.
const metrics = new Metrics({ namespace: METRIC_NAMESPACE, serviceName: SERVICE_NAME, logger });
const config = parseConfig(process.env);

const logsClient = new CloudWatchLogsClient({});
const ssmClient = new SSMClient({});
const snsClient = new SNSClient({});
const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const store = config.tableName ? new DynamoDbStateStore({ client: dynamo, tableName: config.tableName }) : undefined;
// The per-instance claims the detector takes too: with them, the detector and an alarm never open two incidents on one instance.
const claims = config.tableName ? new DynamoDbDetectionStore({ client: dynamo, tableName: config.tableName }) : undefined;
const host = new SsmHostRunner({ client: ssmClient, documents: config.documents });
const logs = new CloudWatchLogSource({ client: logsClient, groups: config.logGroups });
const notifiers = [new SnsNotifier({ client: snsClient, topicArn: config.topicArn })];

/**
 * The Slack secret is read once per cold start, on the first event (reading it at import time would make every
 * cold start pay for it, even when the event is ignored). A failure to read it never stops a remediation: the
 * report still goes to SNS.
 */
let slack: Promise<SlackConfig | undefined> | undefined;
function slackConfig(): Promise<SlackConfig | undefined> {
  slack ??= config.slackSecretArn
    ? loadSlackSecret(config.slackSecretArn).catch((error: unknown) => {
        logger.warn('Slack is off for this environment: its secret could not be used', { reason: (error as Error).message });
        return undefined;
      })
    : Promise.resolve(undefined);
  return slack;
}

const clock = { now: () => new Date(), sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)) };

async function respondToEvent(event: unknown, checkpoints: Checkpoints): Promise<ResponderResult> {
  const slackSettings = await slackConfig();
  const result = await handleEvent(event, {
    config,
    ...(slackSettings && { slack: slackSettings }),
    host,
    logs,
    findInstances: async (window) => {
      const found = await findAffectedInstances({ client: logsClient, accessGroup: config.logGroups.access, window });
      logger.info('affected instances', { via: found.via, count: found.instances.length, bytesScanned: found.bytesScanned });
      return found.instances.map((instance) => instance.instanceId);
    },
    notifiers,
    ...(store && { store }),
    ...(claims && { claims }),
    clock,
    logger,
    checkpoints,
  });
  // One datapoint per event, so the dashboard shows what arrives (and Powertools always has a metric to flush).
  metrics.addMetric(METRICS.events, MetricUnit.Count, 1);
  if (result.status === 'handled') {
    for (const incident of result.incidents) {
      logger.info('incident', { ...incident });
      const metric = metrics.singleMetric();
      metric.addDimension(OUTCOME_DIMENSION, incident.outcome);
      metric.addMetric(METRICS.incidents, MetricUnit.Count, 1);
    }
  } else {
    logger.info('no incident', { status: result.status });
  }
  return result;
}

/**
 * The deployed handler. middy stays outside the durable wrapper, so that Powertools sees the Lambda context; it runs
 * once per invocation, and the metrics above are only added in the invocation that finishes the execution.
 */
export const handler = middy(withDurableExecution(async (event: unknown, context) => respondToEvent(event, durableCheckpoints(context))))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));

/** The same responder in one process, its steps run as they come: `reflex invoke` on a workstation. */
export const handleInProcess = middy(async (event: unknown, _context: Context) => respondToEvent(event, inProcess(clock)))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
