/**
 * Approve mode's interactivity endpoint in the template: the `interact` Lambda (Node 22, arm64, its own log group,
 * the contract's variables), its open function URL and the two permissions Lambda needs for one, an output with the
 * URL for the Slack app, and a role that can only read the Slack secret and answer the responder's callbacks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INTERACT_ENV } from '../../functions/contract/lambda-env.ts';
import { INTERACT_CONCURRENCY } from '../../infra/interact.ts';
import { propsFromContext, ReflexPropsError, resolveProps } from '../../infra/props.ts';
import { ReflexStack } from '../../infra/reflex-stack.ts';

type Resource = { Type: string; Properties: Record<string, any> };
type Statement = { Sid?: string; Action: string | string[]; Resource: unknown; Effect: string };

let outdir: string;
let stack: ReflexStack;
let template: Template;

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'reflex-interact-'));
  // No bundling: these tests read the template, not the code asset.
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  stack = new ReflexStack(app, 'Reflex-interact', { approvers: ['U0APPROVER', 'U0OTHER'] });
  template = Template.fromStack(stack);
});

afterAll(() => {
  rmSync(outdir, { recursive: true, force: true });
});

const logicalId = (construct: { node: { defaultChild?: unknown } }): string => stack.getLogicalId(construct.node.defaultChild as never);

function statementsOf(role: { node: { defaultChild?: unknown } }): Statement[] {
  const roleId = logicalId(role);
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as Resource[];
  const own = policies.filter((policy) => (policy.Properties.Roles as { Ref: string }[]).some((ref) => ref.Ref === roleId));
  return own.flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
}

describe('ReflexStack interactivity endpoint', () => {
  it('runs Node 22 on arm64 with its own log group, the contract’s variables and a cap on concurrency', () => {
    const fn = template.findResources('AWS::Lambda::Function', { Properties: { Environment: { Variables: { [INTERACT_ENV.approvers]: Match.anyValue() } } } });
    expect(Object.keys(fn)).toEqual([logicalId(stack.interact.fn)]);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Architectures: ['arm64'],
      Runtime: 'nodejs22.x',
      Timeout: 5,
      ReservedConcurrentExecutions: INTERACT_CONCURRENCY,
      LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('InteractLogs') } },
      Environment: {
        Variables: {
          // The responder's Slack secret: the signing secret and the channel come from it.
          [INTERACT_ENV.slackSecretArn]: { Ref: Match.stringLikeRegexp('SlackSecret') },
          [INTERACT_ENV.approvers]: 'U0APPROVER,U0OTHER',
          POWERTOOLS_SERVICE_NAME: 'reflex',
        },
      },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/reflex/web/interact', RetentionInDays: 30 });
  });

  it('is reached through a function URL without AWS auth, and nothing else may invoke it', () => {
    template.resourceCountIs('AWS::Lambda::Url', 1);
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE', TargetFunctionArn: { 'Fn::GetAtt': [logicalId(stack.interact.fn), 'Arn'] } });
    const permissions = (Object.values(template.findResources('AWS::Lambda::Permission')) as Resource[]).filter((permission) =>
      JSON.stringify(permission.Properties.FunctionName).includes(logicalId(stack.interact.fn)),
    );
    // What a public function URL needs: InvokeFunctionUrl, and InvokeFunction only when invoked through the URL.
    expect(permissions.map((permission) => permission.Properties).sort((a, b) => String(a.Action).localeCompare(String(b.Action)))).toEqual([
      expect.objectContaining({ Action: 'lambda:InvokeFunction', Principal: '*', InvokedViaFunctionUrl: true }),
      expect.objectContaining({ Action: 'lambda:InvokeFunctionUrl', Principal: '*', FunctionUrlAuthType: 'NONE' }),
    ]);
  });

  it('prints the URL for the Slack app’s Interactivity settings', () => {
    template.hasOutput('SlackInteractivityUrl', { Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('InteractFunctionUrl'), 'FunctionUrl'] } });
  });

  it('may only read the Slack secret, answer the responder’s callbacks with success, and write its own logs', () => {
    const statements = statementsOf(stack.interact.fn.role as never);
    const actions = statements.flatMap((statement) => [statement.Action].flat()).sort();
    expect(actions).toEqual(['lambda:SendDurableExecutionCallbackSuccess', 'logs:CreateLogStream', 'logs:PutLogEvents', 'secretsmanager:GetSecretValue'].sort());
    expect(statements.every((statement) => statement.Effect === 'Allow')).toBe(true);
    const byAction = new Map(statements.flatMap((statement) => [statement.Action].flat().map((action) => [action, statement.Resource])));
    // The responder's executions, every version: `<responder ARN>:*`, nothing wider.
    expect(byAction.get('lambda:SendDurableExecutionCallbackSuccess')).toEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId(stack.responder), 'Arn'] }, ':*']] });
    // The stack's Slack secret itself (Ref of a secret is its ARN), as the responder reads it.
    expect(byAction.get('secretsmanager:GetSecretValue')).toEqual({ Ref: stack.getLogicalId(stack.node.findChild('SlackSecret').node.defaultChild as never) });
    expect(JSON.stringify(statements)).not.toContain('"*"');
  });

  it('gives the responder no callback permission: only the endpoint answers', () => {
    const responder = JSON.stringify(statementsOf(stack.responder.role as never));
    expect(responder).not.toContain('SendDurableExecutionCallback');
  });
});

describe('approvers', () => {
  it('defaults to none (anyone in the channel): the variable is empty', () => {
    expect(resolveProps({}).approvers).toEqual([]);
  });

  it('come from context as a comma-separated list', () => {
    const app = new App({ context: { approvers: 'U0APPROVER, U0OTHER' } });
    expect(propsFromContext(app).approvers).toEqual(['U0APPROVER', 'U0OTHER']);
  });

  it.each([['u0lowercase'], ['#oncall'], ['U0APPROVER,../x']])('refuse %s, naming the prop', (value) => {
    const error = (() => {
      try {
        resolveProps({ approvers: value.split(',') });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ReflexPropsError);
    expect((error as ReflexPropsError).prop).toBe('approvers');
  });
});
