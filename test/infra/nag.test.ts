import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, describe, expect, it } from 'vitest';
import { ReflexChecks } from '../../infra/nag.ts';
import { ReflexStack } from '../../infra/reflex-stack.ts';

// cdk-nag 3 is a CDK policy-validation plugin (no more Aspects/Annotations): its report is read directly with
// validateScope, and through the synth's validation-report.json the way `cdk synth` reads it.
const outdir = mkdtempSync(join(tmpdir(), 'reflex-nag-'));
const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
const stack = new ReflexStack(app, 'Reflex-nag');
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }), new ReflexChecks(app, { verbose: true }));

afterAll(() => {
  rmSync(outdir, { recursive: true, force: true });
});

describe('AwsSolutions checks', () => {
  it('report no error and no warning on the stack', () => {
    const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(stack);
    expect(report.violations.map((violation) => `${violation.severity} ${violation.ruleName}: ${violation.description}`)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('Reflex’s own checks report no error either: the open function URL is acknowledged with its reason', () => {
    const report = new ReflexChecks(undefined, { verbose: true }).validateScope(stack);
    expect(report.violations).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('Reflex’s own checks do flag an open function URL nobody explained', () => {
    const control = new Stack(new App(), 'ControlUrl');
    const fn = new lambda.Function(control, 'Fn', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler=async()=>({})') });
    fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
    const report = new ReflexChecks(undefined).validateScope(control);
    expect(report.violations.map((violation) => violation.ruleName)).toEqual(['Reflex-LambdaFunctionUrlAuth']);
  });

  it('leave an empty validation report after synth, as `cdk synth` reads it', () => {
    app.synth();
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as { pluginReports: unknown[] };
    expect(report.pluginReports).toEqual([]);
  });

  it('do flag a non-compliant resource (the check itself works)', () => {
    const control = new Stack(new App(), 'Control');
    new sqs.Queue(control, 'PlainQueue');
    const report = new AwsSolutionsChecks(undefined).validateScope(control);
    expect(report.violations.map((violation) => violation.ruleName)).toEqual(expect.arrayContaining(['AwsSolutions-SQS3', 'AwsSolutions-SQS4']));
  });

  it('acknowledge only six findings, each with its reason', () => {
    const acknowledged: Record<string, string> = {};
    for (const construct of stack.node.findAll()) {
      for (const entry of construct.node.metadata) {
        if (entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) Object.assign(acknowledged, entry.data);
      }
    }
    const ids = Object.keys(acknowledged).map((id) => id.replace(/^annotation::/i, ''));
    const responder = stack.getLogicalId(stack.responder.node.defaultChild as never);
    expect(ids.sort()).toEqual([
      // The checkpoint APIs on the responder's own durable executions, every version (`<function ARN>:*`); the
      // interactivity endpoint's callback answers on the same executions.
      `AwsSolutions-IAM5[Resource::<${responder}.Arn>:*]`,
      'AwsSolutions-IAM5[Resource::*]',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:instance/*]',
      'AwsSolutions-L1',
      'AwsSolutions-SMG4',
      // The interactivity endpoint's open function URL: every request must carry Slack's signature instead.
      'Reflex-LambdaFunctionUrlAuth',
    ].sort());
    for (const reason of Object.values(acknowledged)) expect(reason.length).toBeGreaterThan(60);
  });
});
