/**
 * The detector: a subscription filter on the access log group (only gateway-error lines pass) feeding a small Lambda
 * that counts them per instance and starts the responder for an instance that crosses the threshold. Least privilege:
 * its own role and log group, the table's items, and InvokeFunction on the responder's alias only.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as destinations from 'aws-cdk-lib/aws-logs-destinations';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { DETECTOR_ENV, DETECTOR_SETTINGS } from '../functions/contract/lambda-env.ts';
import { GATEWAY_ERROR_PATTERN, METRIC_NAMESPACE, SERVICE_NAME } from '../functions/contract/telemetry.ts';
import { LAMBDA_BUNDLING } from './bundling.ts';
import { acknowledge } from './nag.ts';

/** What the detector reads, writes and starts. */
export interface DetectorSources {
  readonly appName: string;
  readonly accessLogs: logs.ILogGroup;
  /** Its own log group, with the stack's retention. */
  readonly logGroup: logs.ILogGroup;
  readonly table: dynamodb.ITable;
  /** The responder's alias: a durable function is started through a qualified ARN (version or alias). */
  readonly responder: lambda.IAlias;
  /** Per instance: gateway errors within `windowSeconds` that start its incident (the alarm's figures). */
  readonly threshold: number;
  readonly windowSeconds: number;
  /** Batches the detector failed on twice (a store outage) land here, as the responder's failed events do. */
  readonly deadLetters: sqs.IQueue;
  /** Code locations, as the responder's. */
  readonly entry: string;
  readonly projectRoot: string;
  readonly depsLockFilePath: string;
}

/** Adds the detector Lambda and the subscription filter that feeds it. */
export function addDetector(scope: Construct, sources: DetectorSources): NodejsFunction {
  const stack = Stack.of(scope);
  const role = new iam.Role(scope, 'DetectorRole', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: 'Reflex detector: count gateway errors per instance, start the responder. No managed policies.',
  });
  sources.logGroup.grantWrite(role);
  // UpdateItem counts, PutItem claims, DeleteItem gives back a claim when the start failed, GetItem reads whether
  // the instance's last incident has just closed.
  sources.table.grant(role, 'dynamodb:UpdateItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem');
  // The alias's ARN only (grantInvoke would add the function's every version and alias); the detector names it.
  role.addToPolicy(new iam.PolicyStatement({ sid: 'StartResponder', actions: ['lambda:InvokeFunction'], resources: [sources.responder.functionArn] }));

  const detector = new NodejsFunction(scope, 'Detector', {
    entry: sources.entry,
    handler: 'handler',
    projectRoot: sources.projectRoot,
    depsLockFilePath: sources.depsLockFilePath,
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    // Decode, one or two DynamoDB calls, sometimes an Invoke: the smallest size that keeps cold starts short.
    memorySize: 256,
    timeout: Duration.seconds(30),
    role,
    logGroup: sources.logGroup,
    environment: {
      [DETECTOR_ENV.tableName]: sources.table.tableName,
      // Qualified (function:live): the detector starts each incident as a durable execution named after it.
      [DETECTOR_ENV.responderFunction]: sources.responder.functionArn,
      [DETECTOR_ENV.threshold]: String(sources.threshold),
      [DETECTOR_ENV.windowSeconds]: String(sources.windowSeconds),
      // Lambda's longest run: a start queued behind that many incidents is stale; the responder renews the claim.
      [DETECTOR_ENV.claimSeconds]: String(DETECTOR_SETTINGS.claimSeconds.default),
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: METRIC_NAMESPACE,
    },
    // CloudWatch Logs invokes asynchronously: a batch the detector failed on is retried (its batch id makes that
    // count once), then kept. Counts older than the window are worthless, so the retries stop after a few minutes.
    retryAttempts: 2,
    maxEventAge: Duration.minutes(5),
    deadLetterQueue: sources.deadLetters,
    description: `Reflex detector for ${sources.appName}: per-instance gateway-error counts, one incident per instance.`,
    bundling: LAMBDA_BUNDLING,
  });
  acknowledge(detector, 'AwsSolutions-L1', 'nodejs22.x, as the responder: the newest Node the code is tested on.');

  // Only this log group of this account may invoke it: the permission is written here rather than by the
  // destination, which would scope it to the log group's ARN alone.
  detector.addPermission('InvokeFromAccessLogs', {
    principal: new iam.ServicePrincipal('logs.amazonaws.com'),
    sourceArn: sources.accessLogs.logGroupArn,
    sourceAccount: stack.account,
  });
  const filter = new logs.SubscriptionFilter(scope, 'GatewayErrorsSubscription', {
    logGroup: sources.accessLogs,
    destination: new destinations.LambdaDestination(detector, { addPermissions: false }),
    filterPattern: logs.FilterPattern.literal(GATEWAY_ERROR_PATTERN),
    filterName: `reflex-${sources.appName}-gateway-errors`,
  });
  const permission = detector.node.tryFindChild('InvokeFromAccessLogs');
  if (permission) filter.node.addDependency(permission);
  return detector;
}
