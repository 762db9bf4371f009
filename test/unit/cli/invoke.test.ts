/**
 * `reflex invoke`: bad input ends with exit 2 and one line naming the file or variable, before anything is sent;
 * a real run goes through the Lambda handler (AWS clients mocked: nothing leaves this machine).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AccessDeniedException, CloudWatchLogsClient, FilterLogEventsCommand, StartQueryCommand } from '@aws-sdk/client-cloudwatch-logs';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetCommandInvocationCommand, InvalidInstanceId, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Io } from '../../../functions/cli/io.ts';
import { ENV } from '../../../functions/contract/lambda-env.ts';
import { responderEnv } from '../../helpers/responder-env.ts';

const ssm = mockClient(SSMClient);
const logs = mockClient(CloudWatchLogsClient);
const sns = mockClient(SNSClient);

const EVENTS = fileURLToPath(new URL('../../../events/', import.meta.url));

const ENVIRONMENT = responderEnv({
  AWS_REGION: 'eu-west-1',
  // invoke keeps a log level the user set; the handler's warnings would clutter the test output.
  POWERTOOLS_LOG_LEVEL: 'SILENT',
});

let dir: string;

function capture(): Io & { outs: string[]; errs: string[] } {
  const outs: string[] = [];
  const errs: string[] = [];
  return { outs, errs, out: (text) => outs.push(text), err: (text) => errs.push(text), color: false };
}

/** Every REFLEX_ variable set from `env` (or unset), plus the ones invoke itself writes, restored after each test. */
function environment(env: Record<string, string | undefined>): void {
  for (const name of [...Object.values(ENV), 'POWERTOOLS_LOG_LEVEL', 'POWERTOOLS_METRICS_DISABLED', 'AWS_REGION']) vi.stubEnv(name, env[name]);
}

/**
 * The CLI entry, imported afresh: the handler parses its configuration when it loads, and main must share the module
 * instances (InputError) that invoke loads after vi.resetModules().
 */
async function reflex(args: string[], io: Io): Promise<number> {
  const { main } = await import('../../../functions/cli/main.ts');
  return main(args, io);
}

function nothingSent(): void {
  expect(ssm.calls()).toHaveLength(0);
  expect(logs.calls()).toHaveLength(0);
  expect(sns.calls()).toHaveLength(0);
}

beforeEach(async () => {
  ssm.reset();
  logs.reset();
  sns.reset();
  vi.resetModules();
  dir = await mkdtemp(join(tmpdir(), 'reflex-invoke-'));
});

afterEach(async () => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
  await rm(dir, { recursive: true, force: true });
});

describe('reflex invoke: bad input (exit 2, nothing sent)', () => {
  it('without an event file: says how to call it', async () => {
    // Prepare
    environment(ENVIRONMENT);
    const io = capture();

    // Act
    const code = await reflex(['invoke'], io);

    // Assess
    expect(code).toBe(2);
    expect(io.errs.join('\n')).toContain('usage: reflex invoke <event.json> [--dry-run]');
    nothingSent();
  });

  it('a file that does not exist: names it', async () => {
    // Prepare
    environment(ENVIRONMENT);
    const io = capture();
    const missing = join(dir, 'no-such-event.json');

    // Act
    const code = await reflex(['invoke', missing], io);

    // Assess
    expect(code).toBe(2);
    expect(io.errs).toEqual([`reflex: ${missing}: cannot read the event file (ENOENT)`]);
    expect(io.outs).toEqual([]);
    nothingSent();
  });

  it('a file that is not JSON: names it', async () => {
    // Prepare
    environment(ENVIRONMENT);
    const io = capture();
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '{"source": "reflex.manual", ');

    // Act
    const code = await reflex(['invoke', broken], io);

    // Assess
    expect(code).toBe(2);
    expect(io.errs[0]).toMatch(new RegExp(`^reflex: ${broken.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not valid JSON \\(`));
    nothingSent();
  });

  it('an unknown option', async () => {
    // Prepare
    environment(ENVIRONMENT);
    const io = capture();

    // Act
    const code = await reflex(['invoke', join(EVENTS, 'ok.json'), '--force'], io);

    // Assess
    expect(code).toBe(2);
    expect(io.errs[0]).toContain("'--force'");
    nothingSent();
  });

  it('a missing configuration variable: names it', async () => {
    // Prepare
    environment({ ...ENVIRONMENT, [ENV.topicArn]: undefined });
    const io = capture();

    // Act
    const code = await reflex(['invoke', join(EVENTS, 'manual-restart.json')], io);

    // Assess
    expect(code).toBe(2);
    expect(io.errs).toEqual([`reflex: ${ENV.topicArn} is not set (invoke reads the responder's configuration from the environment)`]);
    nothingSent();
  });

  it('an invalid configuration variable: names it', async () => {
    // Prepare
    environment({ ...ENVIRONMENT, [ENV.verifySeconds]: '2' });
    const io = capture();

    // Act
    const code = await reflex(['invoke', join(EVENTS, 'manual-restart.json')], io);

    // Assess
    expect(code).toBe(2);
    expect(io.errs[0]).toContain(`${ENV.verifySeconds} must be a whole number from 10 to 840`);
    nothingSent();
  });

  it('a malformed event: the handler answers invalid, printed as JSON', async () => {
    // Prepare
    environment(ENVIRONMENT);
    const io = capture();
    const hostile = join(dir, 'hostile.json');
    await writeFile(hostile, JSON.stringify({ source: 'reflex.manual', 'detail-type': 'Reflex Manual Invoke', detail: { instanceIds: ['$(reboot)'] } }));

    // Act
    const code = await reflex(['invoke', hostile], io);

    // Assess
    expect(code).toBe(2);
    expect(JSON.parse(io.outs.join('\n'))).toEqual({
      status: 'invalid',
      error: 'detail.instanceIds[0]: must be an EC2 instance id like "i-0abc12345def67890", got "$(reboot)"',
    });
    nothingSent();
  });
});

describe('reflex invoke: runs the handler', () => {
  it('an OK event is ignored: exit 0, the result on stdout', async () => {
    // Prepare
    environment(ENVIRONMENT);
    const io = capture();

    // Act
    const code = await reflex(['invoke', join(EVENTS, 'ok.json')], io);

    // Assess
    expect(code).toBe(0);
    expect(JSON.parse(io.outs.join('\n'))).toEqual({ status: 'ignored', reason: 'alarm state is OK, not ALARM' });
    nothingSent();
  });

  it('--dry-run turns a manual restart into a diagnosis: one snapshot, no remediate', async () => {
    // Prepare: SSM answers with a recorded crash snapshot; the clock is just after it was taken
    const snapshot = readFileSync(new URL('../../fixtures/snapshots/crash.txt', import.meta.url), 'utf8');
    vi.useFakeTimers({ toFake: ['Date'], now: Date.parse(/^taken_at=(.+)$/m.exec(snapshot)?.[1] ?? '') + 3_000 });
    environment(ENVIRONMENT);
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Success', StatusDetails: 'Success', StandardOutputContent: snapshot });
    logs.on(FilterLogEventsCommand).resolves({ events: [] });
    sns.on(PublishCommand).resolves({ MessageId: 'message-1' });
    const io = capture();

    // Act
    const code = await reflex(['invoke', join(EVENTS, 'manual-restart.json'), '--dry-run'], io);

    // Assess
    expect(code).toBe(0);
    expect(JSON.parse(io.outs.join('\n'))).toEqual({
      status: 'handled',
      incidents: [{ instanceId: 'i-0abc12345def67890', cause: 'process_crashed', action: 'restart', executed: false, outcome: 'dry_run' }],
      notified: [{ channel: 'sns', ok: true }],
    });
    expect(ssm.commandCalls(SendCommandCommand).map((call) => call.args[0].input.DocumentName)).toEqual(['reflex-snapshot']);
    expect(process.env[ENV.dryRun]).toBe('true');
  });

  it('an escalated incident exits 1', async () => {
    // Prepare: the instance cannot receive SSM commands
    environment(ENVIRONMENT);
    ssm.on(SendCommandCommand).rejects(new InvalidInstanceId({ $metadata: {}, message: 'Instances not in a valid state' }));
    logs.on(FilterLogEventsCommand).resolves({ events: [] });
    sns.on(PublishCommand).resolves({ MessageId: 'message-1' });
    const io = capture();

    // Act
    const code = await reflex(['invoke', join(EVENTS, 'manual-diagnose.json')], io);

    // Assess
    expect(code).toBe(1);
    expect(JSON.parse(io.outs.join('\n'))).toMatchObject({ status: 'handled', incidents: [{ cause: 'unknown', outcome: 'escalated' }] });
    expect(ssm.commandCalls(GetCommandInvocationCommand)).toHaveLength(0);
  });

  it('a handler failure (here: no permission for Logs Insights) exits 1 with one line', async () => {
    // Prepare: a fresh alarm
    const alarmTime = Date.parse(JSON.parse(readFileSync(join(EVENTS, 'alarm.json'), 'utf8')).time as string);
    vi.useFakeTimers({ toFake: ['Date'], now: alarmTime + 30_000 });
    environment(ENVIRONMENT);
    logs.on(StartQueryCommand).rejects(new AccessDeniedException({ $metadata: {}, message: 'User is not authorized to perform logs:StartQuery' }));
    const io = capture();

    // Act
    const code = await reflex(['invoke', join(EVENTS, 'alarm.json')], io);

    // Assess
    expect(code).toBe(1);
    expect(io.outs).toEqual([]);
    expect(io.errs).toHaveLength(1);
    expect(io.errs[0]).toMatch(/^reflex: the handler failed \(LogQueryError: CloudWatch Logs StartQuery on \/reflex\/web\/nginx-access failed \(AccessDeniedException\)/);
    expect(ssm.calls()).toHaveLength(0);
  });
});
