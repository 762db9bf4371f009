/**
 * The real Lambda handler, with the environment `cdk synth` gives it, against a real host (nginx in the Debian
 * layout, PM2 under its own non-root user) through an emulated SSM Run Command agent.
 *
 * Why `AWS_ENDPOINT_URL_<SERVICE>` rather than injected clients: the handler builds its SDK clients at module
 * scope and takes no clients from outside (that is what ships). The SDK in node_modules (3.1169, @smithy/core's
 * getEndpointUrlConfig) reads a service-specific endpoint variable for every client it constructs, so one
 * in-process HTTP server (test/helpers/aws-emulator.ts) answers the handler's unchanged clients, and the real
 * SDK serialization (awsJson1_1 for SSM, CloudWatch Logs and Secrets Manager, awsQuery for SNS), its error
 * parsing, its retries and the SSM waiter all stay in the path. DynamoDB is dynalite.
 *
 * What is read from the synthesized stack rather than written by hand: the responder's whole Environment.Variables
 * (tokens resolved to the names the emulation serves), the two SSM documents the agent runs, the topic, table,
 * Slack secret (`{}`: Slack off) and log groups. The context is cdk.json's with only what a user must set changed:
 * `pm2User` (the sandbox's PM2 user) and `healthUrl` (the sandbox's nginx port), plus `nginxConfig` and
 * `nginxErrorLog`, because this machine's own /etc/nginx is not the sandbox's nginx and cannot be replaced by a
 * test. `upstream`, `ecosystemPath` and `pm2Home` stay EMPTY, as the defaults are.
 *
 * On a real instance pm2 is on the agent's PATH (a global install; .ci/run makes one). Without it, the test links
 * the repo's pm2 there (test/helpers/global-pm2.ts). nginx is /usr/sbin/nginx.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { GetCommandInvocationCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { localContext } from '../../functions/cli/invoke.ts';
import { ENV } from '../../functions/contract/lambda-env.ts';
import type { ResponderResult } from '../../functions/responder/run.ts';
import { AGENT_PATH, startSandbox, type Sandbox } from '../../functions/sandbox/sandbox.ts';
import { startAwsEmulator, type AwsEmulator } from '../helpers/aws-emulator.ts';
import { runDurably } from '../helpers/durable-backend.ts';
import { readPid, uidOf, uidOfUser } from '../helpers/host.ts';
import { MAX_STDERR_CHARS, MAX_STDOUT_CHARS } from '../helpers/aws/ssm.ts';
import { ensurePm2OnAgentPath } from '../helpers/global-pm2.ts';
import { REGION, synthesizeDeployment, type Deployment } from '../helpers/aws/template.ts';
import { QUIET_POWERTOOLS } from '../helpers/responder-env.ts';

const INSTANCE = 'i-0abc12345def67890';
/** Every case waits for real restarts, real SSM polls (the waiter's 2 s minimum) and three good probes. */
const CASE_TIMEOUT_MS = 240_000;

type Handler = (event: unknown, context: Context) => Promise<ResponderResult>;

/** One deployment: a host, the stack synthesized for it, the emulated account, and the handler cold-started in it. */
interface World {
  readonly box: Sandbox;
  readonly deployment: Deployment;
  readonly aws: AwsEmulator;
  readonly handler: Handler;
}

let world: World | undefined;

function event(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`../../events/${name}.json`, import.meta.url), 'utf8')) as Record<string, unknown>;
}

/** events/alarm.json as EventBridge delivers it now: a fresh id, the alarm's time a moment ago. */
function alarmEvent(): Record<string, unknown> {
  return { ...event('alarm'), id: randomUUID(), time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') };
}

/**
 * A fresh host, the stack synthesized for it, the emulation of that stack, and the handler imported under its
 * environment. `context` sets more stack context from the host (e.g. `ecosystemPath`), on top of what every deploy sets.
 */
async function deploy(context: (box: Sandbox) => Record<string, string> = () => ({})): Promise<World> {
  const box = await startSandbox({ pm2AsUser: true, nginxLayout: 'debian', logFormat: 'json' });
  try {
    const pm2User = box.pm2User;
    if (!pm2User) throw new Error('the sandbox did not make a PM2 user');
    const { profile } = box;
    const deployment = synthesizeDeployment({
      pm2User,
      healthUrl: profile.healthUrl,
      nginxConfig: profile.nginx.config,
      nginxErrorLog: profile.nginx.errorLog,
      ...context(box),
    });
    const aws = await startAwsEmulator(deployment);
    aws.addInstance(INSTANCE, {
      appName: profile.app,
      pm2User,
      pm2Home: box.pm2Home,
      accessLog: profile.nginx.accessLog,
      nginxErrorLog: profile.nginx.errorLog,
      ...(profile.kernelLog && { kernelLog: profile.kernelLog }),
    });
    // A cold start: the handler parses its configuration and builds its clients when it is imported.
    vi.resetModules();
    vi.unstubAllEnvs();
    for (const name of Object.values(ENV)) vi.stubEnv(name, undefined);
    for (const [name, value] of Object.entries({ ...deployment.environment, ...aws.env, ...QUIET_POWERTOOLS })) vi.stubEnv(name, value);
    const module = await import('../../functions/responder/handler.ts');
    return { box, deployment, aws, handler: module.handler as unknown as Handler };
  } catch (error) {
    await box.stop();
    throw error;
  }
}

async function teardown(): Promise<void> {
  const current = world;
  world = undefined;
  vi.unstubAllEnvs();
  if (!current) return;
  await current.aws.stop();
  await current.box.stop();
}

async function invoke(current: World, input: unknown): Promise<ResponderResult> {
  // An alarm fires a minute or more after the errors, long after the agent shipped them; here, ship them now.
  await current.aws.logs.flush();
  const verifySeconds = Number(current.deployment.environment[ENV.verifySeconds]);
  // As Lambda runs a durable function: one execution, invoked until it ends (test/helpers/durable-backend.ts).
  return runDurably<ResponderResult>(current.handler, input, () => localContext((verifySeconds + 60) * 1000));
}

/** What a human would read to see why a case went wrong: the reports, and each command with the end of its output. */
function story(current: World): string {
  const reports = current.aws.published.map((message) => (JSON.parse(message.Message) as { default: string }).default);
  const commands = current.aws.ssm.invocations.map((invocation) => {
    const what = invocation.parameters['Action'] ?? `snapshot ${invocation.parameters['Sections'] || 'full'}`;
    const tail = (text: string): string => text.trim().split('\n').slice(-6).join('\n    ');
    return `  ${what}: ${invocation.status} (${invocation.responseCode})\n    stdout: ${tail(invocation.stdout)}\n    stderr: ${tail(invocation.stderr)}`;
  });
  const calls = current.aws.calls.map((call) => `${call.service}.${call.operation}${call.error ? ` → ${call.error}` : ''}`);
  return `\n--- reports\n${reports.join('\n---\n')}\n--- commands\n${commands.join('\n')}\n--- API calls\n  ${calls.join('\n  ')}\n`;
}

function remediations(current: World): string[] {
  return current.aws.ssm.invocations.filter((invocation) => invocation.parameters['Action'] !== undefined).map((invocation) => invocation.parameters['Action'] ?? '');
}

beforeAll(async () => {
  await ensurePm2OnAgentPath();
});

afterAll(async () => {
  await teardown();
});

describe('the handler on a host as the stack deploys it (SSM emulation)', () => {
  afterEach(async () => {
    const calls = world?.aws.calls ?? [];
    await teardown();
    // A call the emulation does not implement would make a case pass or fail for the wrong reason.
    expect(calls.filter((call) => call.error === 'InvalidAction')).toEqual([]);
  });

  it('crashed → restart → recovered', async () => {
    // Prepare
    world = await deploy();
    await world.box.faults.crash();
    const before = await world.box.appPid();

    // Act
    const result = await invoke(world, event('manual-restart'));

    // Assess
    expect(result, story(world)).toEqual({
      status: 'handled',
      incidents: [{ instanceId: INSTANCE, cause: 'process_crashed', action: 'restart', executed: true, outcome: 'recovered', detectedMs: expect.any(Number) }],
      notified: [{ channel: 'sns', ok: true }],
    });
    expect(remediations(world)).toEqual(['restart']);
    expect(await world.box.request('/api/health', { via: 'nginx' })).toBe(200);
    expect(await world.box.appPid()).not.toBe(before);
    expect(world.aws.published.map((message) => message.Subject)).toEqual([`[Reflex] web on ${INSTANCE}: process_crashed -> recovered`]);
  }, CASE_TIMEOUT_MS);

  it('PM2 daemon gone (pm2 kill), pm2User set, no ecosystem: alarm → process_missing → start → recovered', async () => {
    // Prepare
    world = await deploy();
    expect(world.deployment.environment[ENV.ecosystem]).toBe('');
    await world.box.faults.killDaemon();

    // Act
    const result = await invoke(world, alarmEvent());

    // Assess
    expect(result, story(world)).toEqual({
      status: 'handled',
      incidents: [{ instanceId: INSTANCE, cause: 'process_missing', action: 'start', executed: true, outcome: 'recovered', detectedMs: expect.any(Number) }],
      notified: [{ channel: 'sns', ok: true }],
    });
    expect(remediations(world)).toEqual(['start']);
    expect(await world.box.request('/api/health', { via: 'nginx' })).toBe(200);
    // The new daemon runs as the PM2 user, never as root (SSM's user).
    const daemon = await readPid(`${world.box.pm2Home}/pm2.pid`);
    expect(await uidOf(daemon)).toBe(await uidOfUser(world.box.pm2User ?? ''));
  }, CASE_TIMEOUT_MS);

  it('PM2 daemon gone, ecosystemPath set: start from the ecosystem file as the PM2 user → recovered', async () => {
    // Prepare: the same fault on a deployment that names the ecosystem file
    world = await deploy((box) => ({ ecosystemPath: box.profile.pm2.ecosystem ?? '' }));
    expect(world.deployment.environment[ENV.ecosystem]).toBe(world.box.profile.pm2.ecosystem);
    await world.box.faults.killDaemon();

    // Act
    const result = await invoke(world, event('manual-restart'));

    // Assess: PM2 must spawn its daemon from a directory its user can enter, not SSM's root-only one
    expect(result, story(world)).toEqual({
      status: 'handled',
      incidents: [{ instanceId: INSTANCE, cause: 'process_missing', action: 'start', executed: true, outcome: 'recovered', detectedMs: expect.any(Number) }],
      notified: [{ channel: 'sns', ok: true }],
    });
    expect(await world.box.request('/api/health', { via: 'nginx' })).toBe(200);
  }, CASE_TIMEOUT_MS);

  it('hung → app_hung → restart → recovered', async () => {
    // Prepare
    world = await deploy();
    await world.box.faults.hang();
    const before = await world.box.appPid();

    // Act
    const result = await invoke(world, event('manual-restart'));

    // Assess
    expect(result, story(world)).toEqual({
      status: 'handled',
      incidents: [{ instanceId: INSTANCE, cause: 'app_hung', action: 'restart', executed: true, outcome: 'recovered', detectedMs: expect.any(Number) }],
      notified: [{ channel: 'sns', ok: true }],
    });
    expect(remediations(world)).toEqual(['restart']);
    expect(await world.box.appPid()).not.toBe(before);
    expect(await world.box.request('/api/health', { via: 'nginx' })).toBe(200);
  }, CASE_TIMEOUT_MS);

  it('healthy → healthy, nothing done', async () => {
    // Prepare
    world = await deploy();

    // Act
    const result = await invoke(world, event('manual-diagnose'));

    // Assess
    expect(result, story(world)).toEqual({
      status: 'handled',
      incidents: [{ instanceId: INSTANCE, cause: 'healthy', action: 'none', executed: false, outcome: 'healthy' }],
      notified: [{ channel: 'sns', ok: true }],
    });
    expect(remediations(world)).toEqual([]);
  }, CASE_TIMEOUT_MS);

  it('slow pages → upstream_timeout, escalated, never restarted', async () => {
    // Prepare
    world = await deploy();
    await world.box.faults.slowPages(5_000);
    const before = await world.box.appPid();

    // Act: a manual restart request, which Reflex must still refuse for a timeout
    const result = await invoke(world, event('manual-restart'));

    // Assess
    expect(result, story(world)).toEqual({
      status: 'handled',
      incidents: [{ instanceId: INSTANCE, cause: 'upstream_timeout', action: 'none', executed: false, outcome: 'escalated', detectedMs: expect.any(Number) }],
      notified: [{ channel: 'sns', ok: true }],
    });
    expect(remediations(world)).toEqual([]);
    expect(await world.box.appPid()).toBe(before);
  }, CASE_TIMEOUT_MS);

  it('an alarm while Logs Insights is at its limit asks once, then counts with FilterLogEvents', async () => {
    // Prepare: a healthy host, so the fallback finds no instance with gateway errors
    world = await deploy();

    // Act
    const result = await invoke(world, alarmEvent());

    // Assess: LimitExceededException is a documented outcome, not something to retry
    expect(result).toEqual({ status: 'handled', incidents: [], notified: [] });
    expect(world.aws.logs.startQueries).toHaveLength(1);
    expect(world.aws.calls.filter((call) => call.operation === 'FilterLogEvents')).toHaveLength(1);
  }, CASE_TIMEOUT_MS);
});

describe('the SSM emulation answers as the service and runs as the agent', () => {
  const PROBE_DOCUMENT = 'probe-document';
  let aws: AwsEmulator;
  let ssm: SSMClient;

  beforeAll(async () => {
    const deployment: Deployment = {
      stackName: 'probe',
      environment: {},
      documents: new Map([
        [
          PROBE_DOCUMENT,
          {
            schemaVersion: '2.2',
            parameters: { Name: { type: 'String', allowedPattern: '^[a-z]{1,8}$', interpolationType: 'ENV_VAR' } },
            mainSteps: [
              {
                action: 'aws:runShellScript',
                name: 'probe',
                inputs: {
                  runCommand: [
                    'echo "cwd=$(pwd) mode=$(stat -c %a .) uid=$(id -u)"',
                    'env | sort',
                    'head -c 30000 /dev/zero | tr "\\0" o',
                    'head -c 10000 /dev/zero | tr "\\0" e >&2',
                    'exit 3',
                  ],
                  timeoutSeconds: '60',
                },
              },
            ],
          },
        ],
      ]),
      topics: new Set(),
      tables: new Set(['probe-table']),
      secrets: new Map(),
      logGroups: new Set(),
    };
    aws = await startAwsEmulator(deployment);
    aws.ssm.register(INSTANCE);
    ssm = new SSMClient({ region: REGION, endpoint: aws.env['AWS_ENDPOINT_URL_SSM'], credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
  }, 60_000);

  afterAll(async () => {
    ssm?.destroy();
    await aws?.stop();
  });

  const send = (input: Partial<{ DocumentName: string; InstanceIds: string[]; Parameters: Record<string, string[]> }>) =>
    ssm.send(new SendCommandCommand({ DocumentName: PROBE_DOCUMENT, InstanceIds: [INSTANCE], Parameters: { Name: ['web'] }, ...input }));

  /** Polls as the waiter does, without its 2 s minimum delay. */
  async function pollInvocation(commandId: string) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: INSTANCE }));
      } catch (error) {
        if ((error as Error).name !== 'InvocationDoesNotExist' || attempt > 50) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  it('refuses an unknown document, an unregistered instance and a parameter outside allowedPattern', async () => {
    await expect(send({ DocumentName: 'AWS-RunShellScript' })).rejects.toMatchObject({ name: 'InvalidDocument' });
    await expect(send({ InstanceIds: ['i-0fff00000000fffff'] })).rejects.toMatchObject({ name: 'InvalidInstanceId' });
    await expect(send({ Parameters: { Name: ['web; reboot'] } })).rejects.toMatchObject({ name: 'InvalidParameters' });
    await expect(send({ Parameters: {} })).rejects.toMatchObject({ name: 'InvalidParameters' });
    expect(aws.ssm.invocations).toHaveLength(0);
  });

  it('runs the script as root in a fresh 0700 orchestration directory, with only PATH and SSM_<name>, and cuts the output', async () => {
    // Act
    const sent = await send({});
    const commandId = sent.Command?.CommandId ?? '';
    const first = ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: INSTANCE }));
    await expect(first).rejects.toMatchObject({ name: 'InvocationDoesNotExist' });
    await aws.ssm.settle();
    const done = await pollInvocation(commandId);

    // Assess
    const stdout = done.StandardOutputContent ?? '';
    const cwd = /^cwd=(\S+) /.exec(stdout)?.[1] ?? '';
    expect(done).toMatchObject({ Status: 'Failed', StatusDetails: 'Failed', ResponseCode: 3 });
    expect(cwd.endsWith(`/var/lib/amazon/ssm/${INSTANCE}/document/orchestration/${commandId}/awsrunShellScript/0.awsrunShellScript`)).toBe(true);
    expect(stdout).toMatch(/^cwd=\S+ mode=700 uid=0\n/);
    // sh itself sets PWD; everything else is the agent's.
    const env = stdout.split('\n').filter((line) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(line) && !line.startsWith('cwd='));
    expect(env).toEqual([`AWS_SSM_INSTANCE_ID=${INSTANCE}`, `AWS_SSM_REGION_NAME=${REGION}`, `PATH=${AGENT_PATH}`, `PWD=${cwd}`, 'SSM_Name=web']);
    expect(stdout).toHaveLength(MAX_STDOUT_CHARS);
    expect(done.StandardErrorContent).toHaveLength(MAX_STDERR_CHARS);
  });
});
