/**
 * The responder's permissions: only what the incident flow uses, on only Reflex's resources, each statement named
 * (Sid) so the infra tests and a reader of the template find it.
 */
import { Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as ssm from 'aws-cdk-lib/aws-ssm';
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
