/**
 * End to end on hosts laid out as real Ubuntu boxes are (issue 8): PM2 under its own non-root user, nginx in the
 * Debian layout (nginx.conf including sites-enabled/, an upstream block with keepalive 64, the combined access
 * log), and a host.json with neither `upstream` nor, by default, an ecosystem file, as a new user writes it.
 * The real `reflex respond --local … --json` runs from a root-only working directory, as `sudo` from /root or
 * SSM Run Command would run it: PM2 must not be started from there. The same faults run on the demo app and on a
 * real Next.js standalone server (test/helpers/next-app.ts).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox, type SandboxOptions } from '../../functions/sandbox/sandbox.ts';
import { listeners, readPid, respondLocal, uidOf, uidOfUser, type CliRun } from '../helpers/host.ts';
import { nextServer, type NextServer } from '../helpers/next-app.ts';

/** Ubuntu as deployed: PM2 as its own user, sites-enabled, combined log, no upstream and no ecosystem in host.json. */
const UBUNTU: SandboxOptions = { bootMs: 300, pm2AsUser: true, nginxLayout: 'debian', logFormat: 'combined', profileEcosystem: false };

let sandbox: Sandbox | undefined;
/** A 0700 root directory, like SSM's orchestration directory or /root: the PM2 user cannot enter it. */
let rootOnly: string;

beforeAll(async () => {
  // mkdtemp makes it 0700, owned by root.
  rootOnly = await mkdtemp(join(tmpdir(), 'reflex-root-only-'));
});

afterAll(async () => {
  await rm(rootOnly, { recursive: true, force: true });
});

afterEach(async () => {
  await sandbox?.stop();
  sandbox = undefined;
});

async function ubuntuHost(options: SandboxOptions = {}): Promise<Sandbox> {
  sandbox = await startSandbox({ ...UBUNTU, ...options });
  await sandbox.waitHealthy(15_000);
  return sandbox;
}

function respond(box: Sandbox): Promise<CliRun> {
  return respondLocal(box, { cwd: rootOnly });
}

/** The apps PM2 knows, read as the PM2 user (never spawns a daemon: only called while one runs). */
async function pm2Apps(box: Sandbox): Promise<{ name: string; pid: number; status: string }[]> {
  const { stdout } = await box.pm2('jlist');
  const list = JSON.parse(stdout.split('\n').find((line) => line.startsWith('[')) ?? '[]') as {
    name: string;
    pid: number;
    pm2_env: { status: string };
  }[];
  return list.map((app) => ({ name: app.name, pid: app.pid, status: app.pm2_env.status }));
}

/** The app serves through nginx again, and it and its PM2 daemon run as the PM2 user, never as root. */
async function expectServedByPm2User(box: Sandbox): Promise<void> {
  const uid = await uidOfUser(box.pm2User ?? '');
  expect(uid).toBeGreaterThan(0);
  expect(await uidOf(await readPid(join(box.pm2Home, 'pm2.pid')))).toBe(uid);
  expect(await uidOf(await box.appPid())).toBe(uid);
  expect(await box.request('/', { via: 'nginx' })).toBe(200);
}

/** Reflex named `cause`, took `kind` and users are served again (exit 0). */
function expectFixed(run: CliRun, cause: string, kind: 'restart' | 'start'): void {
  expect(run.report.diagnosis.cause, why(run)).toBe(cause);
  expect(run.report.action, why(run)).toMatchObject({ kind, executed: true });
  expect(run.report.outcome, why(run)).toBe('recovered');
  expect(run.code).toBe(0);
}

/** Why a report came out as it did, for a failing expectation. */
function why(run: CliRun): string {
  const { diagnosis, action } = run.report;
  return `${diagnosis.summary}\naction: ${action.kind} ${action.reason} ${action.error ?? ''}\nadvice: ${diagnosis.advice.join(' | ')}\nstderr: ${run.stderr.slice(-1500)}`;
}

describe('reflex respond --local on an Ubuntu-like host (PM2 user, sites-enabled, combined log, no upstream, no ecosystem)', { timeout: 180_000 }, () => {
  it('the profile names only nginx.conf, no upstream, no ecosystem, and pm2.user', async () => {
    const box = await ubuntuHost();
    const profile = JSON.parse(await readFile(box.profilePath, 'utf8')) as Record<string, unknown>;

    expect(profile).not.toHaveProperty('upstream');
    expect(profile.pm2).toEqual({ home: box.pm2Home, user: box.pm2User });
  });

  it('healthy: the upstream comes from nginx, so a healthy app is healthy, exit 0', async () => {
    const box = await ubuntuHost();

    const run = await respond(box);

    expect(run.report.diagnosis.cause, why(run)).toBe('healthy');
    expect(run.report.action).toMatchObject({ kind: 'none', executed: false });
    expect(run.code).toBe(0);
  });

  it('crashed: process_crashed → restart as the PM2 user → recovered', async () => {
    const box = await ubuntuHost();
    await box.faults.crash();

    const run = await respond(box);

    expectFixed(run, 'process_crashed', 'restart');
    await expectServedByPm2User(box);
  });

  it('hung: app_hung (the upstream probe is worked out from nginx -T) → restart → recovered', async () => {
    const box = await ubuntuHost();
    await box.faults.hang();

    const run = await respond(box);

    expectFixed(run, 'app_hung', 'restart');
    await expectServedByPm2User(box);
  });

  it('slow pages: upstream_timeout, no restart, advice names proxy_read_timeout', async () => {
    const box = await ubuntuHost({ proxyReadTimeoutSeconds: 1 });
    const pid = await box.appPid();
    await box.faults.slowPages(2_500);

    const run = await respond(box);

    expect(run.report.diagnosis.cause, why(run)).toBe('upstream_timeout');
    expect(run.report.action.kind).toBe('none');
    expect(run.report.outcome).toBe('escalated');
    expect(run.report.diagnosis.advice.join('\n')).toContain('proxy_read_timeout');
    expect(run.code).toBe(1);
    expect(await box.appPid()).toBe(pid);
  });

  it('PM2 daemon killed, no ecosystem: process_missing → start from PM2 saved list → recovered under the PM2 user', async () => {
    const box = await ubuntuHost();
    await box.faults.killDaemon();

    const run = await respond(box);

    expectFixed(run, 'process_missing', 'start');
    await expectServedByPm2User(box);
    expect((await pm2Apps(box)).map((app) => app.name)).toEqual(['web']);
  });

  it('pm2 delete web, no ecosystem: process_missing → start from its saved entry → recovered, no duplicate', async () => {
    const box = await ubuntuHost();
    const daemon = await readPid(join(box.pm2Home, 'pm2.pid'));
    await box.faults.remove();

    const run = await respond(box);

    expectFixed(run, 'process_missing', 'start');
    await expectServedByPm2User(box);
    const apps = await pm2Apps(box);
    expect(apps.map((app) => app.name)).toEqual(['web']);
    expect(apps[0]?.status).toBe('online');
    // The running daemon was used, not replaced.
    expect(await readPid(join(box.pm2Home, 'pm2.pid'))).toBe(daemon);
  });

  it('bad deploy (every start dies at boot): one restart, then crash_loop, escalated', async () => {
    const box = await ubuntuHost();
    await box.faults.crash({ crashOnBoot: true });

    const run = await respond(box);

    expect(run.report.diagnosis.cause, why(run)).toBe('crash_loop');
    expect(run.report.action).toMatchObject({ kind: 'restart', executed: true });
    expect(run.report.outcome).toBe('escalated');
    expect(run.code).toBe(1);
    expect(await box.request('/', { via: 'nginx' })).toBe(502);
  });
});

describe('reflex respond --local on the Ubuntu-like host with an ecosystem file in the profile', { timeout: 180_000 }, () => {
  it('PM2 daemon killed: process_missing → start from the ecosystem file as the PM2 user → recovered', async () => {
    const box = await ubuntuHost({ profileEcosystem: true });
    await box.faults.killDaemon();

    const run = await respond(box);

    expect(box.profile.pm2.ecosystem).toBe(join(box.dir, 'ecosystem.config.cjs'));
    expectFixed(run, 'process_missing', 'start');
    await expectServedByPm2User(box);
    expect((await pm2Apps(box)).map((app) => app.name)).toEqual(['web']);
  });

  it('crashed: process_crashed → restart → recovered', async () => {
    const box = await ubuntuHost({ profileEcosystem: true });
    await box.faults.crash();

    const run = await respond(box);

    expect(run.report.diagnosis.cause, why(run)).toBe('process_crashed');
    expect(run.report.outcome, why(run)).toBe('recovered');
    await expectServedByPm2User(box);
  });
});

describe('reflex respond --local on the Ubuntu-like host running a real Next.js standalone server', { timeout: 240_000 }, () => {
  let next: NextServer;
  beforeAll(async () => {
    // Built once and cached by source hash: minutes the first time, nothing after.
    next = await nextServer();
  }, 15 * 60_000);

  function nextHost(options: SandboxOptions = {}): Promise<Sandbox> {
    // bootMs only widens the sandbox's wait for the first answer: Next.js ignores BOOT_MS.
    return ubuntuHost({ app: { script: next.script, cwd: next.cwd }, bootMs: 5_000, ...options });
  }

  it('runs next-server under the PM2 user, behind the sites-enabled upstream', async () => {
    const box = await nextHost();
    const pid = await box.appPid();
    const socket = (await listeners()).find((line) => line.includes(`127.0.0.1:${box.appPort} `));

    expect(socket).toContain(`"next-server (v1",pid=${pid},`);
    expect((await readFile(`/proc/${pid}/cmdline`, 'utf8')).startsWith(`next-server (v${next.version})`)).toBe(true);
    expect(await uidOf(pid)).toBe(await uidOfUser(box.pm2User ?? ''));
    expect(await box.request('/', { via: 'nginx' })).toBe(200);
    // PM2's logs of the app stay in the sandbox (its PM2 home), not in the shared build directory.
    const { stdout } = await box.pm2('jlist');
    const list = JSON.parse(stdout.split('\n').find((line) => line.startsWith('[')) ?? '[]') as { pm2_env: { pm_out_log_path: string; pm_err_log_path: string } }[];
    expect(list[0]?.pm2_env.pm_out_log_path.startsWith(`${box.pm2Home}/logs/`)).toBe(true);
    expect(list[0]?.pm2_env.pm_err_log_path.startsWith(`${box.pm2Home}/logs/`)).toBe(true);
  });

  it('crashed: process_crashed → restart → recovered', async () => {
    const box = await nextHost();
    await box.faults.crash();

    const run = await respond(box);

    expectFixed(run, 'process_crashed', 'restart');
    await expectServedByPm2User(box);
  });

  it('hung: app_hung → restart (Next.js ignores SIGINT until PM2 kills it) → recovered', async () => {
    const box = await nextHost();
    const pid = await box.appPid();
    await box.faults.hang();

    const run = await respond(box);

    expectFixed(run, 'app_hung', 'restart');
    expect(await box.appPid()).not.toBe(pid);
    await expectServedByPm2User(box);
  });

  it('stopped: Next.js exits 130 on PM2\'s SIGINT; process_stopped, not a crash → restart → recovered', async () => {
    const box = await nextHost();
    await box.faults.stop();

    const run = await respond(box);

    expect(await readFile(join(box.pm2Home, 'pm2.log'), 'utf8')).toMatch(/App \[web:0\] exited with code \[130\] via signal \[SIGINT\]/);
    expect(run.report.diagnosis.cause, why(run)).toBe('process_stopped');
    expect(run.report.action).toMatchObject({ kind: 'restart', executed: true });
    expect(run.report.outcome, why(run)).toBe('recovered');
    await expectServedByPm2User(box);
  });

  it('slow pages: upstream_timeout, no restart', async () => {
    const box = await nextHost({ proxyReadTimeoutSeconds: 1 });
    const pid = await box.appPid();
    await box.faults.slowPages(2_500);

    const run = await respond(box);

    expect(run.report.diagnosis.cause, why(run)).toBe('upstream_timeout');
    expect(run.report.action.kind).toBe('none');
    expect(run.report.outcome).toBe('escalated');
    expect(run.code).toBe(1);
    expect(await box.appPid()).toBe(pid);
  });

  it('bad deploy (start-up fails while the crash marker is there): one restart, then crash_loop, escalated', async () => {
    const box = await nextHost();
    await box.faults.crash({ crashOnBoot: true });

    const run = await respond(box);

    expect(run.report.diagnosis.cause, why(run)).toBe('crash_loop');
    expect(run.report.action).toMatchObject({ kind: 'restart', executed: true });
    expect(run.report.outcome).toBe('escalated');
    expect(run.code).toBe(1);
    expect(await box.request('/', { via: 'nginx' })).toBe(502);
  });
});
