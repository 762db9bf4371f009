/**
 * The detector in the template: the subscription filter on the access log group with the contract's pattern, the
 * detector Lambda (arm64, its own log group, the contract's variables) and its least-privilege permissions.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DETECTOR_ENV } from '../../functions/contract/lambda-env.ts';
import { GATEWAY_ERROR_PATTERN } from '../../functions/contract/telemetry.ts';
import { ReflexStack } from '../../infra/reflex-stack.ts';

type Resource = { Type: string; Properties: Record<string, any> };

let outdir: string;
let stack: ReflexStack;
let template: Template;

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'reflex-detector-'));
  // No bundling: these tests read the template, not the code asset.
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  stack = new ReflexStack(app, 'Reflex-detector', { verifySeconds: 120 });
  template = Template.fromStack(stack);
});

afterAll(() => {
  rmSync(outdir, { recursive: true, force: true });
});

const logicalId = (construct: { node: { defaultChild?: unknown } }): string => stack.getLogicalId(construct.node.defaultChild as never);

function detectorPolicy(): { Sid?: string; Action: string | string[]; Resource: unknown }[] {
  const roleId = logicalId(stack.detector.role as never);
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as Resource[];
  const own = policies.filter((policy) => (policy.Properties.Roles as { Ref: string }[]).some((role) => role.Ref === roleId));
  return own.flatMap((policy) => policy.Properties.PolicyDocument.Statement);
}

describe('ReflexStack detector', () => {
  it('subscribes the detector to the access log group with the contract’s gateway-error pattern', () => {
    template.hasResourceProperties('AWS::Logs::SubscriptionFilter', {
      LogGroupName: { Ref: Match.stringLikeRegexp('NginxAccessLogs') },
      FilterPattern: GATEWAY_ERROR_PATTERN,
      DestinationArn: { 'Fn::GetAtt': [logicalId(stack.detector), 'Arn'] },
      FilterName: 'reflex-web-gateway-errors',
    });
    template.resourceCountIs('AWS::Logs::SubscriptionFilter', 1);
  });

  it('lets only CloudWatch Logs invoke it, for that log group in this account', () => {
    const permissions = (Object.values(template.findResources('AWS::Lambda::Permission')) as Resource[]).filter(
      (permission) => JSON.stringify(permission.Properties.FunctionName).includes(logicalId(stack.detector)),
    );
    expect(permissions).toHaveLength(1);
    const accessLogs = stack.getLogicalId(stack.node.findChild('NginxAccessLogs').node.defaultChild as never);
    expect(permissions[0]!.Properties).toMatchObject({
      Action: 'lambda:InvokeFunction',
      Principal: 'logs.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [accessLogs, 'Arn'] },
      SourceAccount: { Ref: 'AWS::AccountId' },
    });
  });

  it('runs Node 22 on arm64 with its own log group and the contract’s variables', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Architectures: ['arm64'],
      Runtime: 'nodejs22.x',
      MemorySize: 256,
      LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('DetectorLogs') } },
      Environment: {
        Variables: {
          [DETECTOR_ENV.tableName]: { Ref: Match.stringLikeRegexp('StateTable') },
          // The alias's ARN (Ref of an alias is its ARN): a durable function is started qualified.
          [DETECTOR_ENV.responderFunction]: { Ref: logicalId(stack.responderAlias) },
          [DETECTOR_ENV.threshold]: '5',
          [DETECTOR_ENV.windowSeconds]: '60',
          // A start may wait in the responder's queue this long; the responder renews the claim when it starts.
          [DETECTOR_ENV.claimSeconds]: '900',
          POWERTOOLS_SERVICE_NAME: 'reflex',
          POWERTOOLS_METRICS_NAMESPACE: 'Reflex',
        },
      },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/reflex/web/detector', RetentionInDays: 30 });
  });

  it('names the same alias the rules invoke', () => {
    const rules = Object.values(template.findResources('AWS::Events::Rule')) as Resource[];
    const targets = rules.flatMap((rule) => rule.Properties.Targets as { Arn: unknown }[]).map((target) => target.Arn);
    expect(targets).toEqual([{ Ref: logicalId(stack.responderAlias) }, { Ref: logicalId(stack.responderAlias) }]);
    template.hasResourceProperties('AWS::Lambda::Alias', { Name: 'live' });
  });

  it('may only count and claim in the table, start the responder, and write its own logs', () => {
    const statements = detectorPolicy();
    const byAction = new Map(statements.flatMap((statement) => [statement.Action].flat().map((action) => [action, statement.Resource])));
    expect([...byAction.keys()].sort()).toEqual(
      ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'lambda:InvokeFunction', 'logs:CreateLogStream', 'logs:PutLogEvents', 'sqs:SendMessage'].sort(),
    );
    expect(JSON.stringify(byAction.get('dynamodb:UpdateItem'))).toContain('StateTable');
    // The alias only: not the bare function, not `:*` (every version and alias).
    expect(byAction.get('lambda:InvokeFunction')).toEqual({ Ref: logicalId(stack.responderAlias) });
    expect(JSON.stringify(statements)).not.toContain('"*"');
  });

  it('shows its batches, dropped payloads and starts on the dashboard', () => {
    const body = JSON.stringify(Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]);
    for (const name of ['DetectorBatches', 'DetectorDropped', 'DetectorStarts']) expect(body).toContain(name);
  });
});
