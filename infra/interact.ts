/**
 * Approve mode's interactivity endpoint: the `interact` Lambda (functions/interact/handler.ts) behind a function URL
 * that Slack posts button clicks to (the Slack app's Interactivity Request URL, a stack output). Least privilege: its
 * own role and log group, the Slack secret (for the signing secret), and only SendDurableExecutionCallbackSuccess on
 * the responder's executions. It holds no Slack token and can do nothing else: a click answers a waiting incident,
 * which then acts and updates its own message.
 */
import { CfnOutput, Duration, Stack, type CfnElement } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { INTERACT_ENV } from '../functions/contract/lambda-env.ts';
import { SERVICE_NAME } from '../functions/contract/telemetry.ts';
import { LAMBDA_BUNDLING } from './bundling.ts';
import { acknowledge } from './nag.ts';

/** Concurrent clicks the endpoint serves at once: plenty for people, and a cap on what a flood of forged requests costs. */
export const INTERACT_CONCURRENCY = 5;

export interface InteractSources {
  readonly appName: string;
  /** Its own log group, with the stack's retention. */
  readonly logGroup: logs.ILogGroup;
  /** The Slack secret: `signingSecret` and `channel` come from it. */
  readonly slackSecret: secretsmanager.ISecret;
  /** The responder: its durable executions wait for the answers (`<function ARN>:*`, every version). */
  readonly responder: lambda.IFunction;
  /** Slack user ids allowed to answer; empty: anyone in the channel. */
  readonly approvers: readonly string[];
  readonly entry: string;
  readonly projectRoot: string;
  readonly depsLockFilePath: string;
}

export interface Interact {
  readonly fn: NodejsFunction;
  readonly url: lambda.FunctionUrl;
}

/** Adds the interactivity endpoint and its URL output (`SlackInteractivityUrl`). */
export function addInteract(scope: Construct, sources: InteractSources): Interact {
  const stack = Stack.of(scope);
  const role = new iam.Role(scope, 'InteractRole', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: 'Reflex interactivity endpoint: read the Slack secret, answer the responder\'s approval callbacks. No managed policies.',
  });
  sources.logGroup.grantWrite(role);
  role.addToPolicy(new iam.PolicyStatement({ sid: 'ReadSlackSecret', actions: ['secretsmanager:GetSecretValue'], resources: [sources.slackSecret.secretArn] }));

  const fn = new NodejsFunction(scope, 'Interact', {
    entry: sources.entry,
    handler: 'handler',
    projectRoot: sources.projectRoot,
    depsLockFilePath: sources.depsLockFilePath,
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    // Slack gives up after 3 s: the CPU of 512 MB keeps a cold start (init, the secret, one Lambda call) well inside it.
    memorySize: 512,
    timeout: Duration.seconds(5),
    reservedConcurrentExecutions: INTERACT_CONCURRENCY,
    role,
    logGroup: sources.logGroup,
    environment: {
      [INTERACT_ENV.slackSecretArn]: sources.slackSecret.secretArn,
      [INTERACT_ENV.approvers]: sources.approvers.join(','),
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
    },
    // Invoked synchronously by its URL: no asynchronous retries to configure, nothing to dead-letter.
    description: `Reflex interactivity for ${sources.appName}: Slack approve-mode clicks → the waiting incident's callback.`,
    bundling: LAMBDA_BUNDLING,
  });
  acknowledge(fn, 'AwsSolutions-L1', 'nodejs22.x, as the responder and the detector: the newest Node the code is tested on.');

  // The answer, and only the answer: not the Failure or Heartbeat calls (unused), not the checkpoint APIs. Lambda
  // authorizes the callback APIs on the waiting execution, `<function ARN>:<version>/durable-execution/…`.
  // A policy of its own, as the responder's checkpoint grant: the one grant on another function, named in the template.
  const callbacks = new iam.Policy(scope, 'InteractCallbackPolicy', {
    roles: [role],
    statements: [
      new iam.PolicyStatement({
        sid: 'AnswerApprovalCallbacks',
        actions: ['lambda:SendDurableExecutionCallbackSuccess'],
        resources: [`${sources.responder.functionArn}:*`],
      }),
    ],
  });
  acknowledge(
    callbacks,
    `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(sources.responder.node.defaultChild as CfnElement)}.Arn>:*]`,
    'Lambda authorizes SendDurableExecutionCallbackSuccess on the waiting durable execution (function:version/durable-execution/name/id); `:*` is the responder\'s own executions of every version, since an incident waiting for approval may have started before a deploy.',
  );

  const url = fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
  acknowledge(
    url,
    'Reflex-LambdaFunctionUrlAuth',
    'Slack cannot sign AWS requests, so the URL is open and the function authenticates every request itself: before anything is parsed it checks X-Slack-Signature (HMAC-SHA256 of v0:timestamp:body under the app\'s signing secret, constant-time) and a timestamp within 5 minutes, answers 401 otherwise, then accepts only Reflex\'s buttons from the configured channel and approvers. Its role can only read the Slack secret and answer the responder\'s callbacks; reserved concurrency caps a flood.',
  );

  new CfnOutput(scope, 'SlackInteractivityUrl', {
    value: url.url,
    description: 'The Slack app\'s Interactivity Request URL (approve mode): Slack posts button clicks here.',
  });
  return { fn, url };
}
