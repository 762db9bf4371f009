import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REMEDIATE_PARAMETERS, SNAPSHOT_PARAMETERS } from '../../functions/contract/host-inputs.ts';
import { PATTERN_SOURCES } from '../../functions/core/validate.ts';
import { ENV } from '../../functions/contract/lambda-env.ts';
import { GATEWAY_ERROR_PATTERN } from '../../functions/contract/telemetry.ts';
import { hostScriptPath } from '../../infra/documents.ts';
import { ReflexPropsError, type ReflexStackProps } from '../../infra/props.ts';
import { ReflexStack } from '../../infra/reflex-stack.ts';

type Resource = { Type: string; Properties: Record<string, any>; DeletionPolicy?: string };
type Statement = { Sid?: string; Action: string | string[]; Resource: unknown; Condition?: unknown; Effect: string };

const outdirs: string[] = [];

/** A synthesized stack; `bundle: false` skips esbuild for the tests that do not look at the code asset. */
function synth(props: ReflexStackProps = {}, bundle = true): { stack: ReflexStack; template: Template; outdir: string } {
  const outdir = mkdtempSync(join(tmpdir(), 'reflex-infra-'));
  outdirs.push(outdir);
  const app = new App({ outdir, context: bundle ? {} : { 'aws:cdk:bundling-stacks': [] } });
  const stack = new ReflexStack(app, 'Reflex-test', props);
  return { stack, template: Template.fromStack(stack), outdir };
}

function resourcesOf(template: Template, type: string): Resource[] {
  return Object.values(template.findResources(type)) as Resource[];
}

function statements(template: Template): Statement[] {
  return resourcesOf(template, 'AWS::IAM::Policy').flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
}

function documentFor(template: Template, script: 'snapshot' | 'remediate'): Record<string, any> {
  const content = resourcesOf(template, 'AWS::SSM::Document')
    .map((document) => document.Properties.Content)
    .find((candidate) => candidate.mainSteps[0].name === script);
  if (!content) throw new Error(`no ${script} document in the template`);
  return content;
}

function directorySize(path: string): number {
  return readdirSync(path).reduce((total, name) => {
    const entry = join(path, name);
    return total + (statSync(entry).isDirectory() ? directorySize(entry) : statSync(entry).size);
  }, 0);
}

let defaults: ReturnType<typeof synth>;

beforeAll(() => {
  defaults = synth();
});

afterAll(() => {
  for (const outdir of outdirs) rmSync(outdir, { recursive: true, force: true });
});

describe('ReflexStack logs, metric and alarm', () => {
  it('counts 502, 503 and 504 in the JSON access log as 1, with 0 when nothing matches', () => {
    defaults.template.hasResourceProperties('AWS::Logs::MetricFilter', {
      FilterPattern: '{ ($.status = 502) || ($.status = 503) || ($.status = 504) }',
      LogGroupName: { Ref: Match.stringLikeRegexp('^NginxAccessLogs') },
      MetricTransformations: [
        { MetricNamespace: 'Reflex', MetricName: 'GatewayErrors', MetricValue: '1', DefaultValue: 0, Dimensions: Match.absent() },
      ],
    });
    expect(GATEWAY_ERROR_PATTERN).toBe('{ ($.status = 502) || ($.status = 503) || ($.status = 504) }');
  });

  it('alarms on the sum over one period at the default threshold, and treats missing data as fine', () => {
    defaults.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'reflex-web-gateway-errors',
      Namespace: 'Reflex',
      MetricName: 'GatewayErrors',
      Statistic: 'Sum',
      Period: 60,
      Threshold: 5,
      EvaluationPeriods: 1,
      DatapointsToAlarm: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  it('creates the named log groups with one-month retention, kept on stack deletion', () => {
    const groups = resourcesOf(defaults.template, 'AWS::Logs::LogGroup');
    expect(groups.map((group) => group.Properties.LogGroupName).sort()).toEqual(
      ['detector', 'interact', 'kernel', 'nginx-access', 'nginx-error', 'pm2', 'pm2-app', 'responder'].map((name) => `/reflex/web/${name}`),
    );
    for (const group of groups) {
      expect(group.Properties.RetentionInDays).toBe(30);
      expect(group.DeletionPolicy).toBe('Retain');
    }
  });
});

/** The logical id of the responder's `live` alias. */
function aliasId(): string {
  return defaults.stack.getLogicalId(defaults.stack.responderAlias.node.defaultChild as never);
}

function responderId(): string {
  return defaults.stack.getLogicalId(defaults.stack.responder.node.defaultChild as never);
}

describe('ReflexStack rules', () => {
  it('invokes the responder only when its own alarm enters ALARM', () => {
    defaults.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.cloudwatch'],
        'detail-type': ['CloudWatch Alarm State Change'],
        detail: { alarmName: ['reflex-web-gateway-errors'], state: { value: ['ALARM'] } },
      },
    });
  });

  it('invokes the responder on manual events', () => {
    defaults.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['reflex.manual'], 'detail-type': ['Reflex Manual Invoke'] },
    });
  });

  it('retries each target twice within an hour, then parks the event in the encrypted dead-letter queue', () => {
    const rules = resourcesOf(defaults.template, 'AWS::Events::Rule');
    expect(rules).toHaveLength(2);
    for (const rule of rules) {
      expect(rule.Properties.Targets).toEqual([
        expect.objectContaining({
          Arn: { Ref: aliasId() },
          RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [expect.stringMatching(/^DeadLetterQueue/), 'Arn'] } },
        }),
      ]);
    }
    defaults.template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    defaults.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});

describe('ReflexStack responder', () => {
  it('runs Node 22 on arm64 with 512 MB, one at a time, verifySeconds + 60 s', () => {
    defaults.template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      MemorySize: 512,
      Timeout: 180,
      ReservedConcurrentExecutions: 1,
      LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('^ResponderLogs') } },
      DeadLetterConfig: { TargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DeadLetterQueue'), 'Arn'] } },
    });
  });


  it('sets every variable named in functions/contract/lambda-env.ts, and only those plus Powertools', () => {
    const [fn] = resourcesOf(defaults.template, 'AWS::Lambda::Function');
    const variables = fn?.Properties.Environment.Variables as Record<string, unknown>;
    expect(Object.keys(variables).sort()).toEqual(
      [...Object.values(ENV), 'POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_NAMESPACE'].sort(),
    );
    expect(variables).toMatchObject({
      [ENV.appName]: 'web',
      [ENV.pm2User]: 'ubuntu',
      [ENV.pm2Home]: '',
      [ENV.healthUrl]: 'http://127.0.0.1/',
      [ENV.alarmName]: 'reflex-web-gateway-errors',
      [ENV.windowSeconds]: '60',
      [ENV.dryRun]: 'false',
      [ENV.verifySeconds]: '120',
      [ENV.maxRestartsPerHour]: '3',
      [ENV.modes]: '',
      [ENV.approvalMinutes]: '15',
      [ENV.minMinutesBetweenRestarts]: '5',
      [ENV.snapshotDocument]: { Ref: 'SnapshotDocument' },
      [ENV.remediateDocument]: { Ref: 'RemediateDocument' },
      [ENV.pm2LogGroup]: { Ref: expect.stringMatching(/^Pm2Logs/) },
      [ENV.appLogGroup]: { Ref: expect.stringMatching(/^Pm2AppLogs/) },
      POWERTOOLS_SERVICE_NAME: 'reflex',
      POWERTOOLS_METRICS_NAMESPACE: 'Reflex',
    });
  });

  it('ships a code bundle under 1 MB', () => {
    const [fn] = resourcesOf(defaults.template, 'AWS::Lambda::Function');
    const key = fn?.Properties.Code.S3Key as string;
    const assetDir = join(defaults.outdir, `asset.${key.replace(/\.zip$/, '')}`);
    expect(readdirSync(assetDir)).toContain('index.mjs');
    expect(directorySize(assetDir)).toBeLessThan(1_000_000);
  });

  it('follows the props: window, timeout, dry run, opt-in tag, names', () => {
    const { template } = synth(
      {
        appName: 'shop',
        threshold: 10,
        periodSeconds: 300,
        datapoints: 3,
        dryRun: true,
        verifySeconds: 300,
        optInTag: { key: 'team', value: 'web-ops' },
        logRetention: RetentionDays.THREE_MONTHS,
      },
      false,
    );
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'reflex-shop-gateway-errors',
      Period: 300,
      Threshold: 10,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 360,
      Environment: {
        Variables: Match.objectLike({ [ENV.windowSeconds]: '900', [ENV.dryRun]: 'true', [ENV.appName]: 'shop' }),
      },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/reflex/shop/nginx-access', RetentionInDays: 90 });
    expect(statements(template).find((s) => s.Sid === 'SendCommandOptedInInstances')?.Condition).toEqual({
      StringEquals: { 'ssm:resourceTag/team': 'web-ops' },
    });
  });
});

describe('ReflexStack durable responder', () => {
  it('makes every incident a durable execution: one hour in all by default, its history kept a week', () => {
    defaults.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [ENV.appName]: 'web' }) },
      DurableConfig: { ExecutionTimeout: 3600, RetentionPeriodInDays: 7 },
      Runtime: 'nodejs22.x',
    });
    // The detector is an ordinary function: it starts executions, it is none.
    const durable = resourcesOf(defaults.template, 'AWS::Lambda::Function').filter((fn) => fn.Properties.DurableConfig);
    expect(durable).toHaveLength(1);
  });

  it('follows the execution props', () => {
    const { template } = synth({ executionTimeoutMinutes: 24 * 60, executionRetentionDays: 30 }, false);
    template.hasResourceProperties('AWS::Lambda::Function', { DurableConfig: { ExecutionTimeout: 86_400, RetentionPeriodInDays: 30 } });
  });

  it('publishes a version per deploy and points the live alias at it, with the asynchronous retries on the alias', () => {
    const aliases = resourcesOf(defaults.template, 'AWS::Lambda::Alias');
    expect(aliases).toHaveLength(1);
    const version = Object.entries(defaults.template.findResources('AWS::Lambda::Version'));
    expect(version).toHaveLength(1);
    expect(version[0]![1].Properties.FunctionName).toEqual({ Ref: responderId() });
    expect(aliases[0]!.Properties).toMatchObject({
      Name: 'live',
      FunctionName: { Ref: responderId() },
      FunctionVersion: { 'Fn::GetAtt': [version[0]![0], 'Version'] },
    });
    // Retries and event age apply per qualifier: on the alias, which is what the rules and the detector invoke.
    const configs = resourcesOf(defaults.template, 'AWS::Lambda::EventInvokeConfig').filter(
      (config) => JSON.stringify(config.Properties.FunctionName) === JSON.stringify({ Ref: responderId() }),
    );
    expect(configs).toHaveLength(1);
    expect(configs[0]!.Properties).toMatchObject({
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 3600,
      Qualifier: { 'Fn::Select': [7, { 'Fn::Split': [':', { Ref: aliasId() }] }] },
    });
  });

  it('lets EventBridge invoke the alias only, from each of its two rules', () => {
    const permissions = resourcesOf(defaults.template, 'AWS::Lambda::Permission').filter((permission) => permission.Properties.Principal === 'events.amazonaws.com');
    expect(permissions).toHaveLength(2);
    for (const permission of permissions) {
      expect(permission.Properties).toMatchObject({ Action: 'lambda:InvokeFunction', FunctionName: { Ref: aliasId() } });
      expect(permission.Properties.SourceArn).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^(Alarm|Manual)Rule/), 'Arn'] });
    }
    // Nothing may start it unqualified: no permission names the bare function.
    const unqualified = resourcesOf(defaults.template, 'AWS::Lambda::Permission').filter((permission) =>
      JSON.stringify(permission.Properties.FunctionName).includes(`"${responderId()}"`) && !JSON.stringify(permission.Properties.FunctionName).includes(aliasId()),
    );
    expect(unqualified).toEqual([]);
  });

  it('may checkpoint and read its own executions (every version), in a policy of its own', () => {
    const policies = Object.entries(defaults.template.findResources('AWS::IAM::Policy')) as [string, Resource][];
    const holders = policies.filter(([, policy]) =>
      (policy.Properties.PolicyDocument.Statement as Statement[]).some((s) => [s.Action].flat().includes('lambda:CheckpointDurableExecution')),
    );
    expect(holders).toHaveLength(1);
    const [id, policy] = holders[0]!;
    // Not the role's default policy: the function depends on that one, so naming the function there would be a cycle.
    expect(id).not.toMatch(/DefaultPolicy/);
    const roleId = defaults.stack.getLogicalId(defaults.stack.responder.role!.node.defaultChild as never);
    expect(policy.Properties.Roles).toEqual([{ Ref: roleId }]);
    expect(policy.Properties.PolicyDocument.Statement).toEqual([
      {
        Sid: 'CheckpointOwnExecutions',
        Effect: 'Allow',
        Action: ['lambda:CheckpointDurableExecution', 'lambda:GetDurableExecutionState'],
        // Lambda authorizes these on the execution ARN (function:version/durable-execution/…): unqualified never matches.
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [responderId(), 'Arn'] }, ':*']] },
      },
    ]);
    // And no managed policy stands in for it (CDK adds AWSLambdaBasicDurableExecutionRolePolicy only to a role it creates).
    expect(JSON.stringify(defaults.template.toJSON())).not.toContain('DurableExecutionRolePolicy');
  });

  it('names the alias in the output used for aws lambda invoke', () => {
    defaults.template.hasOutput('ResponderFunctionName', {
      Value: { 'Fn::Join': ['', [{ Ref: responderId() }, ':live']] },
    });
  });
});

describe('ReflexStack SSM documents', () => {
  const cases = [
    { script: 'snapshot', parameters: SNAPSHOT_PARAMETERS, required: ['App'] },
    { script: 'remediate', parameters: REMEDIATE_PARAMETERS, required: ['App', 'Action'] },
  ] as const;

  it.each(cases)('$script: schema 2.2, one shell step, the adapter\'s parameter names, ENV_VAR only', ({ script, parameters, required }) => {
    const content = documentFor(defaults.template, script);
    expect(content.schemaVersion).toBe('2.2');
    expect(content.mainSteps).toHaveLength(1);
    expect(content.mainSteps[0].action).toBe('aws:runShellScript');
    expect(Object.keys(content.parameters)).toEqual(Object.keys(parameters));
    for (const [name, parameter] of Object.entries<Record<string, string>>(content.parameters)) {
      expect(parameter.interpolationType).toBe('ENV_VAR');
      expect(parameter.type).toBe('String');
      // Required parameters have no default, so SSM itself refuses a command without them.
      expect('default' in parameter).toBe(!required.includes(name as never));
    }
    expect(JSON.stringify(content)).not.toContain('{{');
  });

  it.each(cases)('$script: maps each SSM_<Name> to its REFLEX_ variable with a quoted expansion', ({ script, parameters }) => {
    const runCommand = documentFor(defaults.template, script).mainSteps[0].inputs.runCommand as string[];
    expect(runCommand[0]).toBe('#!/bin/bash');
    for (const [name, { env }] of Object.entries(parameters)) {
      expect(runCommand).toContain(`export ${env}="$SSM_${name}"`);
    }
  });

  it.each(cases)('$script: embeds functions/host/$script.sh verbatim', ({ script }) => {
    const runCommand = documentFor(defaults.template, script).mainSteps[0].inputs.runCommand as string[];
    const start = runCommand.indexOf('# The host script, embedded verbatim from functions/host/.') + 1;
    expect(start).toBeGreaterThan(0);
    expect(`${runCommand.slice(start).join('\n')}\n`).toBe(readFileSync(hostScriptPath(script), 'utf8'));
  });

  it('uses the core patterns as allowed patterns; optional ones also accept empty', () => {
    const snapshot = documentFor(defaults.template, 'snapshot').parameters;
    const remediate = documentFor(defaults.template, 'remediate').parameters;
    expect(snapshot.App.allowedPattern).toBe(PATTERN_SOURCES.app);
    expect(snapshot.Pm2User.allowedPattern).toBe('^$|^([a-z_][a-z0-9_-]{0,31})$');
    expect(snapshot.Pm2Home.allowedPattern).toBe('^$|^(\\/[A-Za-z0-9._/-]{0,255})$');
    // The literal `[` of the URL class is escaped: same meaning in JS, and valid for Java-style engines too.
    expect(snapshot.HealthUrl.allowedPattern).toBe('^$|^(https?:\\/\\/[A-Za-z0-9.:\\[\\]_-]{1,255}(\\/[A-Za-z0-9._~/?&=%+-]{0,512})?)$');
    expect(snapshot.Sections.allowedPattern).toBe('^$|^((full|probe))$');
    expect(remediate.App.allowedPattern).toBe(PATTERN_SOURCES.app);
    expect(remediate.Action.allowedPattern).toBe('^(restart|start)$');
    expect(remediate.Ecosystem.allowedPattern).toBe('^$|^(\\/[A-Za-z0-9._/-]{0,255})$');
  });
});

describe('ReflexStack permissions', () => {
  it('sends commands only with Reflex documents, and only to instances with the opt-in tag', () => {
    const all = statements(defaults.template);
    const documents = all.find((s) => s.Sid === 'SendCommandReflexDocuments');
    const instances = all.find((s) => s.Sid === 'SendCommandOptedInInstances');
    expect(documents?.Action).toBe('ssm:SendCommand');
    expect(JSON.stringify(documents?.Resource)).toContain('{"Ref":"SnapshotDocument"}');
    expect(JSON.stringify(documents?.Resource)).toContain('{"Ref":"RemediateDocument"}');
    expect(documents?.Condition).toBeUndefined();
    expect(instances?.Action).toBe('ssm:SendCommand');
    expect(JSON.stringify(instances?.Resource)).toMatch(/:ec2:.*:instance\/\*"\]\]\}$/);
    expect(instances?.Condition).toEqual({ StringEquals: { 'ssm:resourceTag/reflex:managed': 'true' } });
    const sendCommand = all.filter((s) => [s.Action].flat().includes('ssm:SendCommand'));
    expect(sendCommand).toHaveLength(2);
  });

  it('grants no wildcard action, and a wildcard resource only to actions without resource-level permissions', () => {
    const all = statements(defaults.template);
    const actions = all.flatMap((s) => [s.Action].flat());
    expect(actions.filter((action) => action.includes('*'))).toEqual([]);
    const onAnyResource = all.filter((s) => s.Resource === '*').flatMap((s) => [s.Action].flat());
    expect(onAnyResource.sort()).toEqual(
      ['logs:GetQueryResults', 'logs:StopQuery', 'ssm:GetCommandInvocation', 'ssm:ListCommandInvocations'].sort(),
    );
    expect(resourcesOf(defaults.template, 'AWS::IAM::Role').every((role) => role.Properties.ManagedPolicyArns === undefined)).toBe(true);
  });

  it('grants the rest on Reflex resources only', () => {
    const all = statements(defaults.template);
    const byAction = (action: string) => all.find((s) => [s.Action].flat().includes(action));
    expect(JSON.stringify(byAction('logs:StartQuery')?.Resource)).toMatch(/NginxAccessLogs.*NginxErrorLogs.*Pm2AppLogs.*Pm2Logs.*KernelLogs/);
    expect(byAction('sns:Publish')?.Resource).toEqual({ Ref: expect.stringMatching(/^ReportTopic/) });
    expect(byAction('dynamodb:PutItem')?.Action).toEqual([
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
      'dynamodb:Query',
    ]);
    expect(byAction('secretsmanager:GetSecretValue')?.Resource).toEqual({ Ref: expect.stringMatching(/^SlackSecret/) });
  });
});

describe('ReflexStack topic, table, secret, agent parameter', () => {
  it('encrypts the topic with the AWS-managed SNS key and denies publishing without TLS', () => {
    defaults.template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::Join': ['', Match.arrayWith([':alias/aws/sns'])] },
    });
    defaults.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('keeps incident state on demand, with point-in-time recovery, TTL and KMS encryption', () => {
    defaults.template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      SSESpecification: { SSEEnabled: true },
    });
  });

  it('creates an empty Slack secret when none is given', () => {
    defaults.template.hasResourceProperties('AWS::SecretsManager::Secret', { SecretString: '{}' });
  });

  it('imports the given Slack secret instead, and reads only that one', () => {
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:reflex/slack-AbC123';
    const { template } = synth({ slackSecretArn: arn }, false);
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [ENV.slackSecretArn]: arn }) },
    });
    expect(statements(template).find((s) => s.Sid === 'ReadSlackSecret')?.Resource).toBe(arn);
  });

  it('stores the agent configuration as AmazonCloudWatch-reflex-<app>', () => {
    defaults.template.hasResourceProperties('AWS::SSM::Parameter', {
      Name: 'AmazonCloudWatch-reflex-web',
      Type: 'String',
      Tier: 'Standard',
    });
  });

  it('builds a dashboard with the metric, the alarm, per-instance errors and the outcomes', () => {
    const [dashboard] = resourcesOf(defaults.template, 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard?.Properties.DashboardBody);
    expect(body).toContain('GatewayErrors');
    expect(body).toContain('alarms');
    expect(body).toContain('stats count(*) as gatewayErrors by @logStream');
    expect(body).toContain('MetricName=\\\\\\"Incidents\\\\\\"');
  });
});

describe('ReflexStack props', () => {
  it('throws at synth, naming the prop, when a prop is invalid', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    expect(() => new ReflexStack(app, 'Bad', { appName: 'web; rm -rf /' })).toThrow(ReflexPropsError);
    expect(() => new ReflexStack(app, 'Bad2', { threshold: 0 })).toThrow(/threshold/);
  });
});
