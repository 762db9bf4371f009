/**
 * The responder's permissions: only what the incident flow uses, on only Reflex's resources, each statement named
 * (Sid) so the infra tests and a reader of the template find it.
 */
import { Stack, type CfnElement } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import { acknowledge } from './nag.ts';
import type { OptInTag } from './props.ts';

/** What the responder may touch. */
export interface ResponderResources {
  readonly documents: readonly ssm.CfnDocument[];
  readonly optInTag: OptInTag;
  readonly logGroups: readonly logs.LogGroup[];
  readonly slackSecret: secretsmanager.ISecret;
  readonly topic: sns.ITopic;
  readonly table: dynamodb.ITable;
}

/** Adds the responder's statements to `role` (no managed policies) and the cdk-nag reasons for its wildcards. */
export function grantResponder(role: iam.Role, scope: ResponderResources): void {
  const stack = Stack.of(role);
  role.addToPolicy(
    new iam.PolicyStatement({
      sid: 'SendCommandReflexDocuments',
      actions: ['ssm:SendCommand'],
      resources: scope.documents.map((document) =>
        stack.formatArn({ service: 'ssm', resource: 'document', resourceName: document.ref }),
      ),
    }),
  );
  role.addToPolicy(
    new iam.PolicyStatement({
      sid: 'SendCommandOptedInInstances',
      actions: ['ssm:SendCommand'],
      resources: [stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' })],
      conditions: { StringEquals: { [`ssm:resourceTag/${scope.optInTag.key}`]: scope.optInTag.value } },
    }),
  );
  role.addToPolicy(
    new iam.PolicyStatement({
      sid: 'ReadCommandResults',
      actions: ['ssm:GetCommandInvocation', 'ssm:ListCommandInvocations'],
      resources: ['*'],
    }),
  );
  role.addToPolicy(
    new iam.PolicyStatement({
      sid: 'QueryHostLogs',
      actions: ['logs:StartQuery', 'logs:FilterLogEvents', 'logs:GetLogEvents'],
      resources: scope.logGroups.map((group) => group.logGroupArn),
    }),
  );
  role.addToPolicy(
    new iam.PolicyStatement({
      sid: 'ReadQueryResults',
      actions: ['logs:GetQueryResults', 'logs:StopQuery'],
      resources: ['*'],
    }),
  );
  scope.topic.grantPublish(role);
  scope.table.grant(role, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query');
  role.addToPolicy(
    new iam.PolicyStatement({
      sid: 'ReadSlackSecret',
      actions: ['secretsmanager:GetSecretValue'],
      resources: [scope.slackSecret.secretArn],
    }),
  );

  const policy = role.node.tryFindChild('DefaultPolicy');
  if (!policy) return;
  acknowledge(
    policy,
    'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:instance/*]',
    'SendCommand targets are not known at deploy time; the statement is limited to instances carrying the opt-in tag (ssm:resourceTag condition) and the documents are limited to Reflex\'s own two.',
  );
  acknowledge(
    policy,
    'AwsSolutions-IAM5[Resource::*]',
    'ssm:GetCommandInvocation, ssm:ListCommandInvocations, logs:GetQueryResults and logs:StopQuery support no resource-level permissions; they only read results of commands and queries the role itself started.',
  );
}

/**
 * The durable-execution checkpoint APIs, on the responder's own executions only: what the managed
 * AWSLambdaBasicDurableExecutionRolePolicy grants, written inline because the project uses no managed policies.
 * Lambda authorizes them against the execution's ARN, `<function ARN>:<version>/durable-execution/<name>/<id>`, so
 * the resource is the function's ARN with `:*` (every version: an execution keeps the version it started on, and
 * one started before a deploy must still be able to checkpoint after it).
 *
 * Its own policy, not the role's default one: the function depends on that one (it must exist before the function
 * is created), so naming the function's ARN there would be a dependency cycle.
 */
export function grantDurableExecution(scope: Construct, role: iam.IRole, fn: lambda.Function): iam.Policy {
  const policy = new iam.Policy(scope, 'ResponderDurableExecutionPolicy', {
    roles: [role],
    statements: [
      new iam.PolicyStatement({
        sid: 'CheckpointOwnExecutions',
        actions: ['lambda:CheckpointDurableExecution', 'lambda:GetDurableExecutionState'],
        resources: [`${fn.functionArn}:*`],
      }),
    ],
  });
  acknowledge(
    policy,
    `AwsSolutions-IAM5[Resource::<${Stack.of(fn).getLogicalId(fn.node.defaultChild as CfnElement)}.Arn>:*]`,
    'Lambda authorizes the checkpoint APIs on the durable execution ARN (function:version/durable-execution/name/id); `:*` is the responder\'s own executions of every version, which running executions need across deploys.',
  );
  return policy;
}
