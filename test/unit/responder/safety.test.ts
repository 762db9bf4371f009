/**
 * The safety rules of the responder, through `handleEvent` with every port but the host real: the DynamoDB state
 * store on dynalite (real conditional writes), the real SnsNotifier on a mocked SNS client, the real Slack bot
 * client pointed at a local HTTP server playing Slack's Web API, and a host that answers with snapshot outputs
 * recorded from the real host scripts (test/fixtures/snapshots). Time is a hand-moved clock: nothing waits but Slack
 * retries (a real Retry-After of 1 s, a real back-off after a 5xx). The Secrets Manager failure goes through the
 * exported Lambda handler instead, since reading the secret is the handler's job.
 */
import { localContext } from '../../../functions/cli/invoke.ts';
import { runDurably } from '../../helpers/durable-backend.ts';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CloudWatchLogsClient, FilterLogEventsCommand, GetQueryResultsCommand, StartQueryCommand } from '@aws-sdk/client-cloudwatch-logs';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetCommandInvocationCommand, SendCommandCommand, SSMClient, type SendCommandCommandInput } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { DynamoDbStateStore } from '../../../functions/adapters/aws/dynamodb-state-store.ts';
import { SnsNotifier } from '../../../functions/adapters/aws/sns-notifier.ts';
import type { Clock, CoreLogger, HostParams, HostRunResult, HostRunner, HostScript, IncidentStore, LogSource } from '../../../functions/core/ports.ts';
import { investigate, remediate } from '../../../functions/core/respond.ts';
import { parseConfig, type ResponderConfig } from '../../../functions/responder/config.ts';
import { ENV } from '../../../functions/contract/lambda-env.ts';
import { handleEvent, targetFor, type ResponderDeps, type ResponderResult } from '../../../functions/responder/run.ts';
import { startDynalite, type Dynalite } from '../../helpers/dynalite.ts';
import { ALARM_NAME, QUIET_POWERTOOLS, responderEnv, TOPIC_ARN } from '../../helpers/responder-env.ts';
import { FakeSlack } from '../../helpers/slack-server.ts';

const TABLE = 'reflex-safety';
const TOKEN = 'xoxb-1234567890-abcdefghij';
const MINUTE = 60_000;
/** The Lambda timeout the stack sets: REFLEX_VERIFY_SECONDS (120) + 60 s of margin. */
const LAMBDA_TIMEOUT_MS = 180_000;

const CONFIG: ResponderConfig = parseConfig(responderEnv({ [ENV.tableName]: TABLE }));

// ---------------------------------------------------------------- recorded snapshots

function fixture(name: string): string {
  return readFileSync(new URL(`../../fixtures/snapshots/${name}.txt`, import.meta.url), 'utf8');
}

const SNAPSHOTS = {
  crash: fixture('crash'),
  crashProbe: fixture('crash-probe'),
  healthy: fixture('healthy'),
  healthyProbe: fixture('healthy-probe'),
};

/** The clock starts just after the crash snapshot was recorded, as it would in production. */
const T0 = Date.parse(/^taken_at=(.+)$/m.exec(SNAPSHOTS.crash)?.[1] ?? '') + 3_000;

// ---------------------------------------------------------------- fakes

/** A clock the test moves: `sleep` advances it at once. */
class FakeClock implements Clock {
  constructor(public ms: number) {}
  now(): Date {
    return new Date(this.ms);
  }
  async sleep(ms: number): Promise<void> {
    this.ms += ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** What happens to the app after a remediate: it serves again, dies again right away, stays down, or nobody learns. */
type AfterAction = 'recovers' | 'dies-again' | 'stays-down' | 'never-answers';

interface HostCall {
  readonly instanceId: string;
  readonly script: HostScript;
  readonly what: string;
}

/**
 * A fleet that answers with recorded snapshots: the crash snapshot while the app is down, the healthy probe after a
 * remediate that fixed it. Records every call, and what the state store held when each remediate was sent.
 */
class RecordedHost implements HostRunner {
  readonly calls: HostCall[] = [];
  /** At each remediate: the restart history and the incident record phase, read from the store at that moment. */
  readonly atRemediate: { restarts: string[]; phase?: string; actionIssuedAt?: string }[] = [];
  private readonly down = new Set<string>();
  private readonly probesLeft = new Map<string, string[]>();

  constructor(
    private readonly store: IncidentStore | undefined,
    public after: AfterAction = 'recovers',
  ) {}

  /** The app of this instance crashes (PM2 leaves it down). */
  crash(instanceId: string): void {
    this.down.add(instanceId);
    this.probesLeft.delete(instanceId);
  }

  remediations(instanceId?: string): HostCall[] {
    return this.calls.filter((call) => call.script === 'remediate' && (instanceId === undefined || call.instanceId === instanceId));
  }

  async run(instanceId: string, script: HostScript, params: HostParams): Promise<HostRunResult> {
    this.calls.push({ instanceId, script, what: (script === 'remediate' ? params.action : params.sections) ?? '' });
    if (script === 'remediate') {
      const record = await this.store?.loadIncident(instanceId);
      this.atRemediate.push({
        restarts: (await this.store?.restarts(instanceId)) ?? [],
        ...(record && { phase: record.phase }),
        ...(record?.actionIssuedAt && { actionIssuedAt: record.actionIssuedAt }),
      });
      this.remediated(instanceId);
      return { ok: true, stdout: 'result=ok action=restart\n', stderr: '', status: 'exit 0' };
    }
    if (params.sections === 'probe') {
      const scripted = this.probesLeft.get(instanceId);
      if (scripted === undefined && this.after === 'never-answers' && !this.down.has(instanceId)) {
        // The Lambda is cut off while it waits for this poll: the promise never settles.
        return new Promise<never>(() => undefined);
      }
      const next = scripted?.shift();
      if (next !== undefined) return ok(next);
      return ok(this.down.has(instanceId) ? SNAPSHOTS.crashProbe : SNAPSHOTS.healthyProbe);
    }
    return ok(this.down.has(instanceId) ? SNAPSHOTS.crash : SNAPSHOTS.healthy);
  }

  private remediated(instanceId: string): void {
    switch (this.after) {
      case 'recovers':
        this.down.delete(instanceId);
        break;
      case 'dies-again':
        // Online for one poll, then dead again: what a crash-on-boot app does after a restart.
        this.probesLeft.set(instanceId, [SNAPSHOTS.healthyProbe]);
        break;
      case 'stays-down':
        break;
      case 'never-answers':
        this.down.delete(instanceId);
        break;
    }
  }
}

function ok(stdout: string): HostRunResult {
  return { ok: true, stdout, stderr: '', status: 'Success' };
}

/** CloudWatch Logs has nothing for the window: the live snapshot carries the story. */
const emptyLogs: LogSource = { fetch: async () => ({ accessLines: [], errorLines: [], pm2Lines: [], kernelLines: [] }) };

/** Collects warnings, so a test can check what was said about a failure (and that no secret was). */
class ListLogger implements CoreLogger {
  readonly lines: string[] = [];
  debug(): void {}
  info(message: string, ...extra: unknown[]): void {
    this.lines.push(`info ${message} ${JSON.stringify(extra)}`);
  }
  warn(message: string, ...extra: unknown[]): void {
    this.lines.push(`warn ${message} ${JSON.stringify(extra)}`);
  }
}

// ---------------------------------------------------------------- wiring

const sns = mockClient(SNSClient);
/** Slack's Web API, played by a local server. */
const slack = new FakeSlack();
let dynamo: Dynalite;

beforeAll(async () => {
  await slack.start();
  dynamo = await startDynalite({ tableName: TABLE, region: 'eu-west-1' });
});

afterAll(async () => {
  await dynamo?.stop();
  await slack.stop();
});

beforeEach(() => {
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'message-1' });
  slack.reset();
});

/** Fresh ids per test: the tests share one table. */
function newInstanceId(): string {
  return `i-${randomBytes(9).toString('hex').slice(0, 17)}`;
}

interface World {
  readonly instanceId: string;
  readonly clock: FakeClock;
  readonly store: DynamoDbStateStore;
  readonly host: RecordedHost;
  readonly logger: ListLogger;
}

function world(after: AfterAction = 'recovers'): World {
  const clock = new FakeClock(T0);
  const store = new DynamoDbStateStore({ client: dynamo.documentClient, tableName: TABLE, clock: () => clock.now() });
  const instanceId = newInstanceId();
  const host = new RecordedHost(store, after);
  host.crash(instanceId);
  return { instanceId, clock, store, host, logger: new ListLogger() };
}

/** What one Lambda invocation gets: a fresh SNS notifier and journal wiring, the shared store, host and clock. */
function depsOf(w: World): ResponderDeps {
  return {
    config: CONFIG,
    host: w.host,
    logs: emptyLogs,
    findInstances: async () => [w.instanceId],
    notifiers: [new SnsNotifier({ client: new SNSClient({ region: 'eu-west-1' }), topicArn: TOPIC_ARN })],
    store: w.store,
    clock: w.clock,
    logger: w.logger,
    slack: { kind: 'bot', token: TOKEN, channel: 'C0CHANNEL' },
    slackApiUrl: slack.apiUrl,
  };
}

/** An EventBridge ALARM event for this responder's alarm, fired at `now`. */
function alarmAt(now: Date, id: string = randomUUID()): Record<string, unknown> {
  return {
    version: '0',
    id,
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account: '123456789012',
    time: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: 'eu-west-1',
    resources: [`arn:aws:cloudwatch:eu-west-1:123456789012:alarm:${ALARM_NAME}`],
    detail: { alarmName: ALARM_NAME, state: { value: 'ALARM', reason: 'Threshold Crossed', timestamp: now.toISOString() } },
  };
}

function alarmEvent(w: World, id?: string): Record<string, unknown> {
  return alarmAt(w.clock.now(), id);
}

function deliver(w: World, event: unknown): Promise<ResponderResult> {
  return handleEvent(event, depsOf(w));
}

function handled(result: ResponderResult): Extract<ResponderResult, { status: 'handled' }> {
  if (result.status !== 'handled') throw new Error(`expected a handled event, got ${JSON.stringify(result)}`);
  return result;
}

/** The SNS messages published so far, decoded (`default` is the readable text). */
function published(): { subject: string; text: string }[] {
  return sns.commandCalls(PublishCommand).map((call) => {
    const input = call.args[0].input;
    return { subject: input.Subject ?? '', text: (JSON.parse(input.Message ?? '{}') as { default: string }).default };
  });
}

// ---------------------------------------------------------------- the tests

describe('safety: replayed events', { timeout: 30_000 }, () => {
  it('the same ALARM delivered 5 times (3 at once) remediates once and opens one incident in Slack', async () => {
    // Prepare
    const w = world();
    const event = alarmEvent(w);

    // Act: EventBridge delivers it three times at once, then twice more (its retries)
    const concurrent = await Promise.all([deliver(w, structuredClone(event)), deliver(w, structuredClone(event)), deliver(w, structuredClone(event))]);
    w.clock.advance(MINUTE);
    const retries = [await deliver(w, structuredClone(event))];
    w.clock.advance(2 * MINUTE);
    retries.push(await deliver(w, structuredClone(event)));

    // Assess: one delivery handled the incident, every other one was a duplicate
    const results = [...concurrent, ...retries];
    expect(results.filter((result) => result.status === 'handled')).toHaveLength(1);
    expect(results.filter((result) => result.status === 'duplicate')).toHaveLength(4);
    expect(handled(results.find((result) => result.status === 'handled')!).incidents).toEqual([
      { instanceId: w.instanceId, cause: 'process_crashed', action: 'restart', executed: true, outcome: 'recovered' },
    ]);
    // Assess: one restart, one incident message in Slack (kept up to date), one SNS report
    expect(w.host.remediations()).toHaveLength(1);
    expect(await w.store.restarts(w.instanceId)).toHaveLength(1);
    expect(slack.incidentPosts).toHaveLength(1);
    // acting, verifying, closed: each an update of that one message, the timeline threaded under it
    expect(slack.updates.map((update) => String(update.body['text']).split('\n')[0])).toEqual([
      `web on ${w.instanceId}: process_crashed, restarting`,
      `web on ${w.instanceId}: process_crashed, verifying recovery`,
      `web on ${w.instanceId}: process_crashed, recovered`,
    ]);
    expect(new Set(slack.updates.map((update) => update.body['ts']))).toEqual(new Set([slack.threadReplies[0]?.body['thread_ts']]));
    expect(slack.threadReplies).toHaveLength(1);
    expect(published()).toHaveLength(1);
  });
});

describe('safety: the restart budget', { timeout: 30_000 }, () => {
  it('flapping: 4 alarms in an hour, 6 min apart, restart 3 times; the 4th escalates because the budget is spent', async () => {
    // Prepare
    const w = world();
    const results: ResponderResult[] = [];

    // Act: the app crashes again before each alarm
    for (let alarm = 0; alarm < 4; alarm++) {
      if (alarm > 0) w.clock.advance(6 * MINUTE);
      w.host.crash(w.instanceId);
      results.push(await deliver(w, alarmEvent(w)));
    }

    // Assess
    expect(w.host.remediations()).toHaveLength(3);
    expect(results.slice(0, 3).map((result) => handled(result).incidents[0])).toEqual(
      Array.from({ length: 3 }, () => ({ instanceId: w.instanceId, cause: 'process_crashed', action: 'restart', executed: true, outcome: 'recovered' })),
    );
    expect(handled(results[3]!).incidents).toEqual([
      { instanceId: w.instanceId, cause: 'process_crashed', action: 'none', executed: false, outcome: 'escalated' },
    ]);
    const last = published()[3];
    expect(last?.subject).toContain('process_crashed -> escalated');
    expect(last?.text).toMatch(/restart budget spent: 3 restarts in the last hour/);
    // The 4th incident is in Slack too, saying why nothing was done.
    expect(slack.incidentPosts).toHaveLength(4);
  });

  it('spacing: a second crash 2 min after a restart gets no restart and an escalation that says why', async () => {
    // Prepare
    const w = world();
    await deliver(w, alarmEvent(w));
    w.clock.advance(2 * MINUTE);
    w.host.crash(w.instanceId);

    // Act
    const result = await deliver(w, alarmEvent(w));

    // Assess
    expect(handled(result).incidents).toEqual([
      { instanceId: w.instanceId, cause: 'process_crashed', action: 'none', executed: false, outcome: 'escalated' },
    ]);
    expect(w.host.remediations()).toHaveLength(1);
    expect(published()[1]?.text).toMatch(/last restart 2 min ago; at least 5 min apart/);
  });

  it('records the restart (history and incident record) before it sends the remediate', async () => {
    // Prepare
    const w = world();

    // Act
    await deliver(w, alarmEvent(w));

    // Assess: what the store held at the moment the remediate went out
    expect(w.host.atRemediate).toEqual([{ restarts: [new Date(T0).toISOString()], phase: 'acting', actionIssuedAt: expect.any(String) }]);
    expect(await w.store.loadIncident(w.instanceId)).toMatchObject({ phase: 'closed', actionKind: 'restart', outcome: 'recovered' });
  });
});

describe('safety: crash loops', { timeout: 30_000 }, () => {
  it('a restart that dies again is not restarted again, and the next alarm does not restart either', async () => {
    // Prepare
    const w = world('dies-again');

    // Act
    const first = await deliver(w, alarmEvent(w));
    w.clock.advance(2 * MINUTE);
    const next = await deliver(w, alarmEvent(w));

    // Assess: one restart; the first incident ends as a crash loop, the next one is refused
    expect(w.host.remediations()).toHaveLength(1);
    expect(handled(first).incidents).toEqual([
      { instanceId: w.instanceId, cause: 'crash_loop', action: 'restart', executed: true, outcome: 'escalated' },
    ]);
    expect(handled(next).incidents).toEqual([
      { instanceId: w.instanceId, cause: 'process_crashed', action: 'none', executed: false, outcome: 'escalated' },
    ]);
    expect(published()[0]?.text).toMatch(/crash loop, no further restart/);
    expect(published()[1]?.text).toMatch(/at least 5 min apart/);
  });
});

describe('safety: deadlines and cut-offs', { timeout: 30_000 }, () => {
  it('verification stops at its deadline: escalated, reported, one restart', async () => {
    // Prepare: the app stays down after the restart
    const w = world('stays-down');

    // Act
    const result = await deliver(w, alarmEvent(w));

    // Assess
    expect(handled(result).incidents).toEqual([
      { instanceId: w.instanceId, cause: 'process_crashed', action: 'restart', executed: true, outcome: 'escalated' },
    ]);
    expect(w.host.remediations()).toHaveLength(1);
    expect(published()[0]?.text).toMatch(new RegExp(`not recovered within ${CONFIG.verifySeconds} s`));
  });

  it('an invocation cut off mid-verification: its retry and a new alarm issue no second restart', async () => {
    // Prepare: the first invocation restarts the app, then never hears back from its verification poll
    const w = world('never-answers');
    const event = alarmEvent(w);
    void deliver(w, event);
    await until(() => w.host.calls.some((call) => call.script === 'snapshot' && call.what === 'probe'));
    // Its Slack message was posted and moved to "verifying" before the poll; let that traffic settle.
    await until(() => slack.updates.length === 2);
    const record = await w.store.loadIncident(w.instanceId);
    w.host.after = 'recovers';
    w.host.crash(w.instanceId);

    // Act: EventBridge retries the event after the function error; a minute later the alarm fires anew
    w.clock.advance(MINUTE);
    const retry = await deliver(w, structuredClone(event));
    w.clock.advance(MINUTE);
    const fresh = await deliver(w, alarmEvent(w));

    // Assess: the record says the restart was issued; neither run issued another
    expect(record).toMatchObject({ phase: 'verifying', actionKind: 'restart', actionIssuedAt: new Date(T0).toISOString() });
    expect(retry.status).toBe('duplicate');
    expect(handled(fresh).incidents).toEqual([
      { instanceId: w.instanceId, cause: 'process_crashed', action: 'none', executed: false, outcome: 'escalated' },
    ]);
    expect(w.host.remediations()).toHaveLength(1);
  });

});

describe('safety: one remediation per instance at a time', { timeout: 30_000 }, () => {
  it('two different alarms for one instance at once: one restart, the other escalates', async () => {
    // Prepare
    const w = world();

    // Act
    const results = await Promise.all([deliver(w, alarmEvent(w)), deliver(w, alarmEvent(w))]);

    // Assess: whichever came second found the lock taken, or (once it was released) the restart just made
    expect(w.host.remediations()).toHaveLength(1);
    const incidents = results.map((result) => handled(result).incidents[0]);
    expect(incidents.filter((incident) => incident?.executed)).toHaveLength(1);
    const refused = published().find((message) => message.subject.endsWith('escalated'));
    expect(refused?.text).toMatch(/another remediation of this instance is in progress|at least 5 min apart/);
  });

  it('two runs that both decided to restart before either acted: the second re-checks under the lock and does not', async () => {
    // Prepare: two alarms investigated before either remediates (run.ts investigates the whole fleet first)
    const w = world();
    const target = targetFor(CONFIG, w.instanceId);
    const respondDeps = () => ({ host: w.host, logs: emptyLogs, clock: w.clock, state: w.store });
    const first = await investigate(target, respondDeps(), { incidentId: 'evt-first' });
    const second = await investigate(target, respondDeps(), { incidentId: 'evt-second' });
    w.host.crash(w.instanceId);

    // Act
    const firstReport = await remediate(first, respondDeps(), { incidentId: 'evt-first' });
    const secondReport = await remediate(second, respondDeps(), { incidentId: 'evt-second' });

    // Assess
    expect(first.decision.kind).toBe('restart');
    expect(second.decision.kind).toBe('restart');
    expect(firstReport.action).toMatchObject({ kind: 'restart', executed: true });
    expect(secondReport.action).toMatchObject({ kind: 'none', executed: false });
    expect(secondReport.action.reason).toMatch(/at least 5 min apart/);
    expect(secondReport.outcome).toBe('escalated');
    expect(w.host.remediations()).toHaveLength(1);
  });
});

describe('safety: a failing channel never repeats or blocks the remediation', { timeout: 30_000 }, () => {
  it('Slack 429 with Retry-After: waits it out and posts the message; one restart; SNS has the report', async () => {
    // Prepare
    const w = world();
    slack.script('/api/chat.postMessage', [{ status: 429, headers: { 'retry-after': '1' }, body: { ok: false, error: 'ratelimited' } }]);

    // Act
    const result = await deliver(w, alarmEvent(w));

    // Assess: the rate-limited post was retried after Retry-After and went through
    expect(handled(result).notified).toEqual([
      { channel: 'sns', ok: true },
      { channel: 'slack', ok: true },
    ]);
    const posts = slack.incidentPosts;
    expect(posts).toHaveLength(2);
    expect(posts[0]?.body['text']).toBe(posts[1]?.body['text']);
    expect(slack.updates.length).toBeGreaterThanOrEqual(1);
    expect(w.host.remediations()).toHaveLength(1);
    expect(published()).toHaveLength(1);
  });

  it('Slack 429 with a Retry-After too long to wait: Slack gives up, the restart and the SNS report do not', async () => {
    // Prepare
    const w = world();
    slack.answerAlways({ status: 429, headers: { 'retry-after': '600' }, body: { ok: false, error: 'ratelimited' } });

    // Act
    const result = await deliver(w, alarmEvent(w));

    // Assess
    expect(handled(result)).toMatchObject({
      incidents: [{ action: 'restart', executed: true, outcome: 'recovered' }],
      notified: [
        { channel: 'sns', ok: true },
        { channel: 'slack', ok: false },
      ],
    });
    expect(w.host.remediations()).toHaveLength(1);
    expect(published()).toHaveLength(1);
  });

  it('Slack 5xx: the failure is logged without the token; one restart; SNS has the report', async () => {
    // Prepare
    const w = world();
    slack.answerAlways({ status: 503, body: { ok: false, error: 'service_unavailable' } });

    // Act
    const result = await deliver(w, alarmEvent(w));

    // Assess
    expect(handled(result)).toMatchObject({
      incidents: [{ action: 'restart', executed: true, outcome: 'recovered' }],
      notified: [
        { channel: 'sns', ok: true },
        { channel: 'slack', ok: false },
      ],
    });
    expect(w.host.remediations()).toHaveLength(1);
    expect(published()[0]?.subject).toContain('process_crashed -> recovered');
    expect(w.logger.lines.some((line) => line.includes('Slack delivery failed') && line.includes('HTTP 503'))).toBe(true);
    expect(w.logger.lines.join('\n')).not.toContain(TOKEN);
  });

  it('SNS rejects the publish: one restart; Slack has the whole incident', async () => {
    // Prepare
    const w = world();
    sns.on(PublishCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottledException' }));

    // Act
    const result = await deliver(w, alarmEvent(w));

    // Assess
    expect(handled(result)).toMatchObject({
      incidents: [{ action: 'restart', executed: true, outcome: 'recovered' }],
      notified: [
        { channel: 'sns', ok: false },
        { channel: 'slack', ok: true },
      ],
    });
    expect(w.host.remediations()).toHaveLength(1);
    expect(sns.commandCalls(PublishCommand).length).toBeGreaterThanOrEqual(1);
    expect(slack.incidentPosts).toHaveLength(1);
    expect(slack.updates.at(-1)?.body['text']).toMatch(/process_crashed, recovered/);
    expect(slack.threadReplies).toHaveLength(1);
  });
});

/** Polls a condition the code under test reaches asynchronously (a request in flight); throws after 10 s. */
async function until(check: () => boolean): Promise<void> {
  for (let waited = 0; !check(); waited += 10) {
    if (waited > 10_000) throw new Error('condition not reached within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('safety: the Slack secret cannot be read (the Lambda handler)', { timeout: 30_000 }, () => {
  const ssm = mockClient(SSMClient);
  const logs = mockClient(CloudWatchLogsClient);
  const secrets = mockClient(SecretsManagerClient);
  const INSTANCE = 'i-0abc12345def67890';
  const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:reflex-slack-AbCdEf';

  beforeEach(() => {
    ssm.reset();
    logs.reset();
    secrets.reset();
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    vi.setSystemTime(T0);
  });

  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllEnvs();
  });

  /** SSM answers the crash snapshot until a remediate succeeded, then the healthy probe. */
  function crashedInstance(): { remediates: () => number } {
    const documents = new Map<string, string>();
    let fixed = false;
    ssm.on(SendCommandCommand).callsFake((input: SendCommandCommandInput) => {
      const commandId = `cmd-${documents.size + 1}`;
      documents.set(commandId, input.DocumentName ?? '');
      return { Command: { CommandId: commandId } };
    });
    ssm.on(GetCommandInvocationCommand).callsFake((input: { CommandId: string; InstanceId: string }) => {
      const remediate = documents.get(input.CommandId) === 'reflex-remediate';
      if (remediate) fixed = true;
      const stdout = remediate ? 'result=ok action=restart\n' : fixed ? SNAPSHOTS.healthyProbe : SNAPSHOTS.crash;
      return { CommandId: input.CommandId, InstanceId: input.InstanceId, Status: 'Success', StatusDetails: 'Success', ResponseCode: 0, StandardOutputContent: stdout, StandardErrorContent: '' };
    });
    logs.on(StartQueryCommand).resolves({ queryId: 'query-1' });
    logs.on(GetQueryResultsCommand).resolves({
      status: 'Complete',
      results: [[{ field: '@logStream', value: INSTANCE }, { field: 'errors', value: '27' }]],
      statistics: { bytesScanned: 4096 },
    });
    logs.on(FilterLogEventsCommand).resolves({ events: [] });
    return { remediates: () => [...documents.values()].filter((name) => name === 'reflex-remediate').length };
  }

  async function loadHandler(): Promise<(event: unknown, context: Context) => Promise<ResponderResult>> {
    vi.resetModules();
    const env = responderEnv({ [ENV.slackSecretArn]: SECRET_ARN, ...QUIET_POWERTOOLS });
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
    const module = await import('../../../functions/responder/handler.ts');
    return module.handler as unknown as (event: unknown, context: Context) => Promise<ResponderResult>;
  }

  function context(): Context {
    return localContext(LAMBDA_TIMEOUT_MS);
  }

  /** Runs the handler, moving the fake clock until it settles (the SSM waiter and the verification sleep on it). */
  async function invoke(handler: (event: unknown, context: Context) => Promise<ResponderResult>, event: unknown): Promise<ResponderResult> {
    let settled = false;
    const running = runDurably<ResponderResult>(handler, event, context).finally(() => {
      settled = true;
    });
    for (let step = 0; !settled && step < 20_000; step++) await vi.advanceTimersByTimeAsync(100);
    return running;
  }

  it('Slack is off for the cold start: one restart, the report goes to SNS, the secret is not read again', async () => {
    // Prepare
    const instance = crashedInstance();
    secrets.on(GetSecretValueCommand).rejects(Object.assign(new Error('User is not authorized'), { name: 'AccessDeniedException' }));
    const handler = await loadHandler();

    // Act: an alarm, then a second alarm on the same warm Lambda (the app is fine by then)
    const first = await invoke(handler, alarmAt(new Date()));
    const second = await invoke(handler, alarmAt(new Date()));

    // Assess
    expect(handled(first)).toEqual({
      status: 'handled',
      incidents: [{ instanceId: INSTANCE, cause: 'process_crashed', action: 'restart', executed: true, outcome: 'recovered' }],
      notified: [{ channel: 'sns', ok: true }],
    });
    expect(handled(second).notified).toEqual([{ channel: 'sns', ok: true }]);
    expect(instance.remediates()).toBe(1);
    expect(published()).toHaveLength(2);
    expect(published()[0]?.subject).toContain('process_crashed -> recovered');
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });
});
