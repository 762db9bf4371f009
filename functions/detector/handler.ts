/**
 * The Lambda `detector`: a CloudWatch Logs subscription on the access log group (only gateway-error lines pass its
 * filter) → decode → count per instance → on a crossing, start the responder's durable execution for the incident,
 * asynchronously, named after it. Wiring only; the
 * decisions are core/detect.ts's.
 *
 * A bad payload is logged, counted and dropped: a retry cannot fix it. A store failure is rethrown, so Lambda retries
 * the batch (its batch id makes the retry count once); if the detector keeps failing, the alarm path still covers.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { DynamoDbDetectionStore } from '../adapters/aws/detection-store.ts';
import { METRIC_NAMESPACE, METRICS, SERVICE_NAME } from '../contract/telemetry.ts';
import { detect, type DetectOutcome } from '../core/detect.ts';
import { parseDetectorConfig } from './config.ts';
import { decodeSubscription } from './decode.ts';
import { responderStarter } from './start.ts';

const logger = new Logger({ serviceName: SERVICE_NAME });
const metrics = new Metrics({ namespace: METRIC_NAMESPACE, serviceName: SERVICE_NAME, logger });
const config = parseDetectorConfig(process.env);
const store = new DynamoDbDetectionStore({ client: DynamoDBDocumentClient.from(new DynamoDBClient({})), tableName: config.tableName });
const lambda = new LambdaClient({});

// The responder's alias, each incident a durable execution named after it (start.ts).
const startResponder = responderStarter(lambda, config.responderFunction, logger);

async function onSubscription(event: unknown): Promise<DetectOutcome | { status: 'control' }> {
  metrics.addMetric(METRICS.detectorBatches, MetricUnit.Count, 1);
  const decoded = decodeSubscription(event);
  if (decoded.kind === 'control') return { status: 'control' };
  if (decoded.kind === 'bad') return drop(decoded.reason);
  const outcome = await detect(decoded.batch, { store, start: startResponder, now: () => new Date(), logger, settings: config.settings });
  if (outcome.status === 'invalid') return drop(outcome.reason);
  if (outcome.status === 'started') metrics.addMetric(METRICS.detectorStarts, MetricUnit.Count, 1);
  if (outcome.status === 'start-failed') logger.error('could not start the responder; the alarm path still covers', { ...outcome });
  else logger.debug('batch', { ...outcome });
  return outcome;
}

function drop(reason: string): DetectOutcome {
  logger.warn('subscription payload dropped', { reason });
  metrics.addMetric(METRICS.detectorDropped, MetricUnit.Count, 1);
  return { status: 'invalid', reason };
}

export const handler = middy(onSubscription)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
