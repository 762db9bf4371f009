/**
 * The Lambda handler end to end inside the process: the exported `handler`, files from events/, a fake Lambda
 * context, and every AWS client mocked with aws-sdk-client-mock. SSM answers with snapshot outputs recorded from the
 * real host scripts (test/fixtures/snapshots); after a restart, verification polls see the recorded healthy probe.
 *
 * Time is faked (Date and setTimeout): the alarm window, the verification polls and the Lambda's remaining time all
 * move with the fake clock, so nothing really waits and handler.ts needs no test-only setting. The SSM waiter sends
 * its first GetCommandInvocation at once (minDelaySeconds only spaces later polls), and these mocks answer terminal
 * statuses on that first poll.
 */
import { localContext } from '../../../functions/cli/invoke.ts';
import { readFileSync } from 'node:fs';
import {
  CloudWatchLogsClient,
  FilterLogEventsCommand,
  GetQueryResultsCommand,
  StartQueryCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import {
  GetCommandInvocationCommand,
  InvalidInstanceId,
  SendCommandCommand,
  SSMClient,
  type GetCommandInvocationCommandOutput,
  type SendCommandCommandInput,
} from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ResponderResult } from '../../../functions/responder/run.ts';
import { ENV } from '../../../functions/contract/lambda-env.ts';
import { ALARM_NAME, QUIET_POWERTOOLS, responderEnv, TOPIC_ARN } from '../../helpers/responder-env.ts';

const ssm = mockClient(SSMClient);
const logs = mockClient(CloudWatchLogsClient);
const sns = mockClient(SNSClient);
const dynamo = mockClient(DynamoDBDocumentClient);

const A = 'i-0abc12345def67890';
const B = 'i-0def67890abc12345';
const ECOSYSTEM = '/srv/web/ecosystem.config.cjs';
/** The Lambda timeout the stack sets: REFLEX_VERIFY_SECONDS (120) + 60 s of margin. */
const LAMBDA_TIMEOUT_MS = 180_000;

const ENVIRONMENT = responderEnv({
  [ENV.ecosystem]: ECOSYSTEM,
  [ENV.nginxErrorLog]: '/var/log/nginx/error.log',
  ...QUIET_POWERTOOLS,
});

const SNAPSHOT_PARAMETERS = {
  App: ['web'],
  Pm2User: ['ubuntu'],
  Pm2Home: [''],
  HealthUrl: ['http://127.0.0.1/'],
  Upstream: [''],
  NginxConfig: [''],
  NginxErrorLog: ['/var/log/nginx/error.log'],
  KernelLog: [''],
};

// ---------------------------------------------------------------- fixtures

function fixture(name: string): string {
  return readFileSync(new URL(`../../fixtures/snapshots/${name}.txt`, import.meta.url), 'utf8');
}

function takenAt(snapshot: string): number {
  const match = /^taken_at=(.+)$/m.exec(snapshot);
  if (!match?.[1]) throw new Error('fixture without taken_at');
  return Date.parse(match[1]);
}

function event(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`../../../events/${name}.json`, import.meta.url), 'utf8')) as Record<string, unknown>;
}

/** events/alarm.json, fired `secondsAgo` before now (the recorded snapshots were taken today, not on the event's date). */
function alarmEvent(secondsAgo = 20): Record<string, unknown> {
  return { ...event('alarm'), time: new Date(Date.now() - secondsAgo * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') };
}

// ---------------------------------------------------------------- a fleet behind SSM

/** What one instance answers to the two documents. */
interface InstanceScript {
  /** The recorded full snapshot before any action. */
  readonly before: string;
  /** The recorded probe snapshot after a successful remediate. @default healthy-probe */
  readonly after?: string;
  /** GetCommandInvocation's answer to the remediate document. @default Success */
  readonly remediate?: Partial<GetCommandInvocationCommandOutput>;
  /** GetCommandInvocation's answer to the snapshot document, instead of the fixture. */
  readonly snapshot?: Partial<GetCommandInvocationCommandOutput>;
}

interface Sent {
  readonly document: string;
  readonly instanceId: string;
  /** `Sections` for a snapshot, `Action` for a remediate. */
  readonly what: string;
}

const REMEDIATE_OK = (action: string): Partial<GetCommandInvocationCommandOutput> => ({
  Status: 'Success',
  StatusDetails: 'Success',
  ResponseCode: 0,
  StandardOutputContent: `[PM2] Applying action ${action}ProcessId on app [web](ids: [ 0 ])\n[PM2] [web](0) ✓\nresult=ok action=${action}\n`,
  StandardErrorContent: '',
});

/**
 * Answers SendCommand with a fresh command id and GetCommandInvocation by that id, from the document and the
 * instance of the SendCommand input: the snapshot fixture before a remediate succeeded, the healthy probe after.
 */
function fleet(instances: Record<string, InstanceScript>): { sent: Sent[] } {
  const sent: Sent[] = [];
  const commands = new Map<string, SendCommandCommandInput>();
  const fixed = new Set<string>();
  ssm.on(SendCommandCommand).callsFake((input: SendCommandCommandInput) => {
    const commandId = `cmd-${commands.size + 1}`;
    commands.set(commandId, input);
    const parameters = input.Parameters ?? {};
    sent.push({
      document: input.DocumentName ?? '',
      instanceId: input.InstanceIds?.[0] ?? '',
      what: (parameters['Sections'] ?? parameters['Action'] ?? [''])[0] ?? '',
    });
    return { Command: { CommandId: commandId } };
  });
  ssm.on(GetCommandInvocationCommand).callsFake((input: { CommandId: string; InstanceId: string }) => {
    const command = commands.get(input.CommandId);
    const instance = instances[input.InstanceId];
    if (!command || !instance) throw new Error(`unexpected GetCommandInvocation ${JSON.stringify(input)}`);
    if (command.DocumentName === 'reflex-remediate') {
      const answer = instance.remediate ?? REMEDIATE_OK(command.Parameters?.['Action']?.[0] ?? '');
      if (answer.Status === 'Success') fixed.add(input.InstanceId);
      return { CommandId: input.CommandId, InstanceId: input.InstanceId, ...answer };
    }
    if (instance.snapshot) return { CommandId: input.CommandId, InstanceId: input.InstanceId, ...instance.snapshot };
    const text = fixed.has(input.InstanceId) ? (instance.after ?? fixture('healthy-probe')) : instance.before;
    return { CommandId: input.CommandId, InstanceId: input.InstanceId, Status: 'Success', StatusDetails: 'Success', ResponseCode: 0, StandardOutputContent: text, StandardErrorContent: '' };
  });
  return { sent };
}

/** Logs Insights finds these instances; every FilterLogEvents read is empty (the live snapshot carries the story). */
function affected(...instanceIds: string[]): void {
  logs.on(StartQueryCommand).resolves({ queryId: 'query-1' });
  logs.on(GetQueryResultsCommand).resolves({
    status: 'Complete',
    results: instanceIds.map((id, index) => [
      { field: '@logStream', value: id },
      { field: 'errors', value: String(30 - index) },
    ]),
    statistics: { bytesScanned: 4096 },
  });
  logs.on(FilterLogEventsCommand).resolves({ events: [] });
}

// ---------------------------------------------------------------- the handler

type Handler = (event: unknown, context: Context) => Promise<ResponderResult>;

/** Imports handler.ts afresh (its configuration is parsed at module load) under `env`; other REFLEX_ variables unset. */
async function loadHandler(env: Record<string, string | undefined> = ENVIRONMENT): Promise<Handler> {
  vi.resetModules();
  for (const name of new Set([...Object.values(ENV), ...Object.keys(env)])) vi.stubEnv(name, env[name]);
  const module = await import('../../../functions/responder/handler.ts');
  return module.handler as unknown as Handler;
}

/** A Lambda context whose remaining time runs down with the (fake) clock, as Lambda's does. */
function lambdaContext(timeoutMs = LAMBDA_TIMEOUT_MS): Context {
  return localContext(timeoutMs);
}

/** Runs the handler, moving the fake clock forward until it settles (the SSM waiter and verification sleep on it). */
async function invoke(handler: Handler, input: unknown, context = lambdaContext()): Promise<ResponderResult> {
  let settled = false;
  const running = handler(input, context).finally(() => {
    settled = true;
  });
  for (let step = 0; !settled && step < 20_000; step++) await vi.advanceTimersByTimeAsync(100);
  return running;
}

/** Sets the fake clock (typically a few seconds after a recorded snapshot was taken). */
function at(ms: number): void {
  vi.setSystemTime(ms);
}

function publishes() {
  return sns.commandCalls(PublishCommand).map((call) => call.args[0].input);
}

/** The Publish message, decoded: `default`/`email` text and the Amazon Q Developer (`https`) card. */
function message(index = 0): { default: string; email: string; https: { content: { title: string; description: string } } } {
  const raw = JSON.parse(publishes()[index]?.Message ?? '{}') as { default: string; email: string; https: string };
  return { ...raw, https: JSON.parse(raw.https) as { content: { title: string; description: string } } };
}

beforeEach(() => {
  ssm.reset();
  logs.reset();
  sns.reset();
  dynamo.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'message-1' });
  vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

// ---------------------------------------------------------------- the cause table

interface CauseCase {
  readonly fixture: string;
  readonly cause: string;
  readonly action: 'restart' | 'start' | 'none';
  readonly outcome: 'recovered' | 'escalated' | 'healthy';
}

const CAUSES: CauseCase[] = [
  { fixture: 'crash', cause: 'process_crashed', action: 'restart', outcome: 'recovered' },
  { fixture: 'stop', cause: 'process_stopped', action: 'restart', outcome: 'recovered' },
  { fixture: 'remove', cause: 'process_missing', action: 'start', outcome: 'recovered' },
  { fixture: 'kill-daemon', cause: 'process_missing', action: 'start', outcome: 'recovered' },
  { fixture: 'hang', cause: 'app_hung', action: 'restart', outcome: 'recovered' },
  { fixture: 'oom', cause: 'oom_killed', action: 'restart', outcome: 'recovered' },
  { fixture: 'crash-loop', cause: 'crash_loop', action: 'none', outcome: 'escalated' },
  { fixture: 'port-mismatch', cause: 'port_mismatch', action: 'none', outcome: 'escalated' },
  { fixture: 'proxy-misconfig', cause: 'proxy_misconfig', action: 'none', outcome: 'escalated' },
  { fixture: 'slow-pages', cause: 'upstream_timeout', action: 'none', outcome: 'escalated' },
  { fixture: 'healthy', cause: 'healthy', action: 'none', outcome: 'healthy' },
];

describe('handler: an ALARM event, per cause (recorded snapshots)', () => {
  it.each(CAUSES)('$fixture → $cause, $action, $outcome', async ({ fixture: name, cause, action, outcome }) => {
    // Prepare
    const before = fixture(name);
    at(takenAt(before) + 3_000);
    const { sent } = fleet({ [A]: { before } });
    affected(A);
    const handler = await loadHandler();

    // Act
    const result = await invoke(handler, alarmEvent());

    // Assess: the result
    expect(result).toEqual({
      status: 'handled',
      incidents: [{ instanceId: A, cause, action, executed: action !== 'none', outcome }],
      notified: [{ channel: 'sns', ok: true }],
    });
    // Assess: the exact commands, the remediate document only for restart/start
    const commands = ssm.commandCalls(SendCommandCommand).map((call) => call.args[0].input);
    expect(commands[0]).toEqual({
      DocumentName: 'reflex-snapshot',
      InstanceIds: [A],
      Parameters: { ...SNAPSHOT_PARAMETERS, Sections: ['full'] },
      TimeoutSeconds: 30,
      Comment: 'reflex snapshot',
    });
    if (action === 'none') {
      expect(sent).toEqual([{ document: 'reflex-snapshot', instanceId: A, what: 'full' }]);
    } else {
      expect(commands[1]).toEqual({
        DocumentName: 'reflex-remediate',
        InstanceIds: [A],
        // The core sends no verification inputs yet: the document gets them empty (no on-host verification).
        Parameters: { App: ['web'], Pm2User: ['ubuntu'], Pm2Home: [''], HealthUrl: [''], Action: [action], Ecosystem: [ECOSYSTEM], VerifySeconds: [''], HungPid: [''] },
        TimeoutSeconds: 30,
        Comment: 'reflex remediate',
      });
      // Three consecutive good probes through nginx, then it stops polling.
      expect(sent).toEqual([
        { document: 'reflex-snapshot', instanceId: A, what: 'full' },
        { document: 'reflex-remediate', instanceId: A, what: action },
        ...Array.from({ length: 3 }, () => ({ document: 'reflex-snapshot', instanceId: A, what: 'probe' })),
      ]);
    }
    // Assess: one report on the topic, readable and structured
    expect(publishes()).toEqual([
      { TopicArn: TOPIC_ARN, MessageStructure: 'json', Subject: `[Reflex] web on ${A}: ${cause} -> ${outcome}`, Message: expect.any(String) },
    ]);
    const body = message();
    expect(body.default).toContain(`[Reflex] web on ${A}: ${cause}`);
    expect(body.email).toBe(body.default);
    expect(body.https.content.title).toContain(cause);
  });
});

describe('handler: events that start nothing', () => {
  it('ignores an OK event and sends no command', async () => {
    // Prepare
    const ok = event('ok');
    at(Date.parse(ok['time'] as string) + 10_000);
    const handler = await loadHandler();

    // Act
    const result = await invoke(handler, ok);

    // Assess
    expect(result).toEqual({ status: 'ignored', reason: 'alarm state is OK, not ALARM' });
    expect(ssm.calls()).toHaveLength(0);
    expect(logs.calls()).toHaveLength(0);
    expect(sns.calls()).toHaveLength(0);
  });

  it('ignores a stale ALARM event (older than the alarm window)', async () => {
    // Prepare: events/alarm.json as it is, received an hour later
    const alarm = event('alarm');
    at(Date.parse(alarm['time'] as string) + 3_600_000);
    const handler = await loadHandler();

    // Act
    const result = await invoke(handler, alarm);

    // Assess
    expect(result).toEqual({ status: 'ignored', reason: 'stale event: 3600 s old, older than the 300 s alarm window' });
    expect(ssm.calls()).toHaveLength(0);
    expect(sns.calls()).toHaveLength(0);
  });

  it('ignores the ALARM of another alarm', async () => {
    // Prepare
    const alarm = event('alarm');
    at(Date.parse(alarm['time'] as string) + 10_000);
    const other = { ...alarm, detail: { ...(alarm['detail'] as object), alarmName: 'someone-elses-alarm' } };
    const handler = await loadHandler();

    // Act
    const result = await invoke(handler, other);

    // Assess
    expect(result).toEqual({ status: 'ignored', reason: `alarm "someone-elses-alarm" is not this responder's ("${ALARM_NAME}")` });
    expect(ssm.calls()).toHaveLength(0);
  });

  it('answers a malformed manual event with a clear error and sends nothing', async () => {
    // Prepare
    const manual = event('manual-restart');
    const hostile = { ...manual, detail: { instanceIds: [`${A}; reboot`], dryRun: false } };
    const handler = await loadHandler();

    // Act
    const result = await invoke(handler, hostile);

    // Assess
    expect(result).toEqual({ status: 'invalid', error: expect.stringContaining('detail.instanceIds[0]: must be an EC2 instance id') });
    expect(ssm.calls()).toHaveLength(0);
    expect(sns.calls()).toHaveLength(0);
  });
});

describe('handler: manual events', () => {
  it('manual-diagnose (dry run): takes a snapshot, never remediates, reports the dry run', async () => {
    // Prepare
    const before = fixture('crash');
    at(takenAt(before) + 3_000);
    const { sent } = fleet({ [A]: { before } });
    logs.on(FilterLogEventsCommand).resolves({ events: [] });
    const handler = await loadHandler();

    // Act
    const result = await invoke(handler, event('manual-diagnose'));

    // Assess: instances come from the event, not from Logs Insights
    expect(result).toEqual({
      status: 'handled',
      incidents: [{ instanceId: A, cause: 'process_crashed', action: 'restart', executed: false, outcome: 'dry_run' }],
      notified: [{ channel: 'sns', ok: true }],
    });
    expect(sent).toEqual([{ document: 'reflex-snapshot', instanceId: A, what: 'full' }]);
    expect(logs.commandCalls(StartQueryCommand)).toHaveLength(0);
    expect(publishes()[0]?.Subject).toBe(`[Reflex] web on ${A}: process_crashed -> dry_run`);
  });

  it('REFLEX_DRY_RUN=true holds back a manual restart too', async () => {
    // Prepare
    const before = fixture('stop');
    at(takenAt(before) + 3_000);
    const { sent } = fleet({ [A]: { before } });
    logs.on(FilterLogEventsCommand).resolves({ events: [] });
    const handler = await loadHandler({ ...ENVIRONMENT, [ENV.dryRun]: 'true' });

    // Act
    const result = await invoke(handler, event('manual-restart'));

    // Assess
    expect(result).toMatchObject({ status: 'handled', incidents: [{ instanceId: A, action: 'restart', executed: false, outcome: 'dry_run' }] });
    expect(sent.map((command) => command.document)).toEqual(['reflex-snapshot']);
  });
});

describe('handler: a fleet', () => {
  it('investigates two instances in parallel, then restarts them one after the other', async () => {
    // Prepare
    const crash = fixture('crash');
    const stop = fixture('stop');
    at(Math.max(takenAt(crash), takenAt(stop)) + 3_000);
    const { sent } = fleet({ [A]: { before: crash }, [B]: { before: stop } });
    affected(A, B);
    const handler = await loadHandler();

    // Act
    const result = await invoke(handler, alarmEvent());

    // Assess: snapshot A, snapshot B, then A's restart and its verification, then B's
    const probes = (id: string) => Array.from({ length: 3 }, () => ({ document: 'reflex-snapshot', instanceId: id, what: 'probe' }));
    expect(sent).toEqual([
      { document: 'reflex-snapshot', instanceId: A, what: 'full' },
      { document: 'reflex-snapshot', instanceId: B, what: 'full' },
      { document: 'reflex-remediate', instanceId: A, what: 'restart' },
      ...probes(A),
      { document: 'reflex-remediate', instanceId: B, what: 'restart' },
      ...probes(B),
    ]);
    expect(result).toEqual({
      status: 'handled',
      incidents: [
        { instanceId: A, cause: 'process_crashed', action: 'restart', executed: true, outcome: 'recovered' },
        { instanceId: B, cause: 'process_stopped', action: 'restart', executed: true, outcome: 'recovered' },
      ],
      notified: [
        { channel: 'sns', ok: true },
        { channel: 'sns', ok: true },
      ],
    });
    expect(publishes().map((input) => input.Subject)).toEqual([
      `[Reflex] web on ${A}: process_crashed -> recovered`,
      `[Reflex] web on ${B}: process_stopped -> recovered`,
    ]);
    // Each instance's own stream is read in the four log groups.
    const reads = logs.commandCalls(FilterLogEventsCommand).map((call) => `${call.args[0].input.logGroupName} ${call.args[0].input.logStreamNames?.join(',') ?? ''}`);
    const groups = ['/reflex/web/nginx-access', '/reflex/web/nginx-error', '/reflex/web/pm2', '/reflex/web/kernel'];
    expect(reads.sort()).toEqual([...groups.map((group) => `${group} ${A}`), ...groups.map((group) => `${group} ${B}`)].sort());
    // The Insights query covers the alarm window, in epoch seconds.
    const query = logs.commandCalls(StartQueryCommand)[0]?.args[0].input;
    expect(query?.logGroupNames).toEqual(['/reflex/web/nginx-access']);
    expect((query?.endTime ?? 0) - (query?.startTime ?? 0)).toBeGreaterThanOrEqual(300);
  });

  it('an alarm with no affected instance stream is handled with no command', async () => {
    // Prepare
    at(Date.parse('2026-11-24T10:00:30Z'));
    affected();
    const handler = await loadHandler();

    // Act
    const result = await invoke(handler, event('alarm'));

    // Assess
    expect(result).toEqual({ status: 'handled', incidents: [], notified: [] });
    expect(ssm.calls()).toHaveLength(0);
  });
});

describe('handler: SSM failures become report lines, never a crash or a retried restart', () => {
  it('Undeliverable snapshot: escalates with the reason, no remediate', async () => {
    // Prepare
    at(Date.parse('2026-11-24T10:00:30Z'));
    const { sent } = fleet({ [A]: { before: '', snapshot: { Status: 'Failed', StatusDetails: 'Undeliverable', StandardOutputContent: '', StandardErrorContent: '' } } });
    affected(A);
    const handler = await loadHandler();

    // Act
    const result = await invoke(handler, event('alarm'));

    // Assess
    expect(result).toMatchObject({ status: 'handled', incidents: [{ instanceId: A, cause: 'unknown', action: 'none', executed: false, outcome: 'escalated' }] });
    expect(sent.map((command) => command.document)).toEqual(['reflex-snapshot']);
    expect(publishes()[0]?.Subject).toBe(`[Reflex] web on ${A}: unknown -> escalated`);
    expect(message().default).toContain(`the snapshot command could not be delivered to ${A}: its SSM agent is offline or the instance is stopped`);
  });

  it('InvalidInstanceId on SendCommand: a clear line in the report, no remediate', async () => {
    // Prepare
    at(Date.parse('2026-11-24T10:00:30Z'));
    ssm.on(SendCommandCommand).rejects(new InvalidInstanceId({ $metadata: {}, message: `Instances [[${A}]] not in a valid state for account 123456789012` }));
    affected(A);
    const handler = await loadHandler();

    // Act
    const result = await invoke(handler, event('alarm'));

    // Assess
    expect(result).toMatchObject({ status: 'handled', incidents: [{ instanceId: A, cause: 'unknown', executed: false, outcome: 'escalated' }] });
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(1);
    expect(ssm.commandCalls(GetCommandInvocationCommand)).toHaveLength(0);
    const text = message().default;
    expect(text).toContain(`${A} cannot receive SSM commands: it is not managed by Systems Manager, its SSM agent is offline`);
    expect(text).not.toContain('123456789012');
  });

  it('a failed remediate escalates and halts the rollout: no second restart anywhere', async () => {
    // Prepare
    const crash = fixture('crash');
    const stop = fixture('stop');
    at(Math.max(takenAt(crash), takenAt(stop)) + 3_000);
    const failedRestart = {
      Status: 'Failed' as const,
      StatusDetails: 'Failed',
      ResponseCode: 1,
      StandardOutputContent: 'result=failed action=restart exit=1\n',
      StandardErrorContent: '[PM2][ERROR] Process or Namespace web not found\n',
    };
    const { sent } = fleet({ [A]: { before: crash, remediate: failedRestart }, [B]: { before: stop } });
    affected(A, B);
    const handler = await loadHandler();

    // Act
    const result = await invoke(handler, alarmEvent());

    // Assess
    expect(sent).toEqual([
      { document: 'reflex-snapshot', instanceId: A, what: 'full' },
      { document: 'reflex-snapshot', instanceId: B, what: 'full' },
      { document: 'reflex-remediate', instanceId: A, what: 'restart' },
    ]);
    expect(result).toEqual({
      status: 'handled',
      incidents: [
        { instanceId: A, cause: 'process_crashed', action: 'restart', executed: true, outcome: 'escalated' },
        { instanceId: B, cause: 'process_stopped', action: 'none', executed: false, outcome: 'escalated' },
      ],
      notified: [
        { channel: 'sns', ok: true },
        { channel: 'sns', ok: true },
      ],
    });
    expect(message(0).default).toContain(`the remediate script failed on ${A} with exit code 1: [PM2][ERROR] Process or Namespace web not found`);
    expect(message(1).default).toContain(`would restart, but held back: ${A} did not recover after the restart`);
  });
});

describe('handler: replays (DynamoDB table configured)', () => {
  it('does nothing for the second delivery of the same event', async () => {
    // Prepare: the first claim of the event id succeeds, the second fails its condition
    const before = fixture('crash');
    at(takenAt(before) + 3_000);
    const { sent } = fleet({ [A]: { before } });
    affected(A);
    dynamo.on(GetCommand).resolves({});
    dynamo.on(PutCommand).resolves({});
    dynamo
      .on(PutCommand, { Item: { sk: 'EVENT' } })
      .resolvesOnce({})
      .rejects(new ConditionalCheckFailedException({ $metadata: {}, message: 'The conditional request failed' }));
    const handler = await loadHandler({ ...ENVIRONMENT, [ENV.tableName]: 'reflex-state' });
    const alarm = alarmEvent();

    // Act
    const first = await invoke(handler, alarm);
    const second = await invoke(handler, alarm);

    // Assess
    expect(first).toMatchObject({ status: 'handled', incidents: [{ outcome: 'recovered' }] });
    expect(second).toEqual({ status: 'duplicate', reason: `event ${alarm['id'] as string} was already processed` });
    expect(sent.filter((command) => command.document === 'reflex-remediate')).toHaveLength(1);
    expect(publishes()).toHaveLength(1);
    // The restart was recorded in the table before it was issued.
    const restartWrites = dynamo.commandCalls(PutCommand).filter((call) => call.args[0].input.Item?.['sk'] === 'RESTARTS');
    expect(restartWrites).toHaveLength(1);
  });
});

describe('handler: configuration at cold start', () => {
  it('fails the import naming a missing variable', async () => {
    await expect(loadHandler({ ...ENVIRONMENT, [ENV.topicArn]: undefined })).rejects.toThrow(`${ENV.topicArn} is not set`);
  });

  it('fails the import naming an invalid variable', async () => {
    await expect(loadHandler({ ...ENVIRONMENT, [ENV.windowSeconds]: 'five minutes' })).rejects.toThrow(
      `${ENV.windowSeconds} must be a whole number from 60 to 86400`,
    );
  });
});
