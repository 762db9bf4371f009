/**
 * `reflex init --local` end to end on an Ubuntu-like host (issue 8): PM2 under its own user, nginx in the Debian
 * layout (sites-enabled/, an upstream block with keepalive 64, the combined access log). The real CLI writes the
 * profile, and the real `reflex respond --local` then uses it unchanged. Other sandboxes (and their PM2 users) may
 * exist on this machine at the same time: `--app` and `--pm2-user` pick this one.
 */
import { execFile } from 'node:child_process';
import { access, copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Report } from '../../functions/core/types.ts';
import { startSandbox, type Sandbox } from '../../functions/sandbox/sandbox.ts';

const CLI = fileURLToPath(new URL('../../functions/cli/reflex.js', import.meta.url));

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

let sandbox: Sandbox | undefined;
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'reflex-init-e2e-'));
});

afterEach(async () => {
  await sandbox?.stop();
  sandbox = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function ubuntuHost(): Promise<Sandbox> {
  sandbox = await startSandbox({ bootMs: 300, pm2AsUser: true, nginxLayout: 'debian', logFormat: 'combined', profileEcosystem: false });
  await sandbox.waitHealthy(15_000);
  return sandbox;
}

/**
 * The CLI as root runs it from a shell: the sandbox's PATH (its pm2 and nginx), no PM2_HOME (root's own would be
 * ~/.pm2), and a state directory of its own.
 */
function reflex(box: Sandbox, args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> {
  const { PM2_HOME: _pm2Home, ...env } = box.env;
  const options = { env: { ...env, XDG_STATE_HOME: join(dir, 'state'), ...extraEnv }, cwd: dir, timeout: 90_000 };
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], options, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function init(box: Sandbox, out: string): Promise<CliResult> {
  const nginxConfig = box.profile.nginx.config ?? '';
  return reflex(box, ['init', '--local', '--app', 'web', '--pm2-user', box.pm2User ?? '', '--nginx-config', nginxConfig, '--out', out]);
}

async function respond(box: Sandbox, profile: string): Promise<{ code: number; report: Report; stderr: string }> {
  const { code, stdout, stderr } = await reflex(box, ['respond', '--local', profile, '--json']);
  const lines = stdout.trim().split('\n');
  expect(lines, `stdout must be exactly one JSON report; stderr: ${stderr}`).toHaveLength(1);
  return { code, report: JSON.parse(lines[0] ?? '') as Report, stderr };
}

function why(report: Report, stderr: string): string {
  return `${report.diagnosis.summary}\nadvice: ${report.diagnosis.advice.join(' | ')}\nstderr: ${stderr.slice(-1500)}`;
}

describe('reflex init --local on an Ubuntu-like host (PM2 user, sites-enabled, combined log)', { timeout: 180_000 }, () => {
  it('writes a profile with which respond diagnoses a crash and recovers', async () => {
    const box = await ubuntuHost();
    const out = join(dir, 'host.json');

    const written = await init(box, out);

    expect(written.code, written.stderr).toBe(0);
    const profile = JSON.parse(await readFile(out, 'utf8')) as Record<string, unknown>;
    expect(profile).toMatchObject({
      app: 'web',
      pm2: { home: box.pm2Home, user: box.pm2User },
      healthUrl: `http://127.0.0.1:${box.nginxPort}/`,
      nginx: { accessLog: box.profile.nginx.accessLog, errorLog: box.profile.nginx.errorLog, config: box.profile.nginx.config },
    });
    expect(profile).not.toHaveProperty('upstream');
    // The daemon runs: the list came from it, as its user, and the output says so.
    expect(written.stdout).toMatch(new RegExp(`app: +web +\\(pm2 jlist of user ${box.pm2User}, daemon pid \\d+\\)`));
    expect(written.stdout).toContain(`upstream: not written: nginx proxies to http://127.0.0.1:${box.appPort}`);

    await box.faults.crash();
    const { code, report, stderr } = await respond(box, out);

    expect(report.diagnosis.cause, why(report, stderr)).toBe('process_crashed');
    expect(report.action).toMatchObject({ kind: 'restart', executed: true });
    expect(report.outcome, why(report, stderr)).toBe('recovered');
    expect(code).toBe(0);
    expect(await box.request('/', { via: 'nginx' })).toBe(200);
  });

  it("reads a lost daemon's apps from dump.pm2 without spawning a daemon; respond then starts the app from the dump", async () => {
    const box = await ubuntuHost();
    await box.faults.killDaemon();
    const out = join(dir, 'host.json');

    const written = await init(box, out);

    expect(written.code, written.stderr).toBe(0);
    expect(written.stdout).toContain(`app:`);
    expect(written.stdout).toContain(`(pm2 dump of user ${box.pm2User}: ${join(box.pm2Home, 'dump.pm2')})`);
    // A PM2 CLI call would have started a new, empty daemon and written its pid.
    await expect(access(join(box.pm2Home, 'pm2.pid'))).rejects.toThrow();
    expect(await box.appPid()).toBe(0);
    expect(written.stdout).toContain("a missing app is started from PM2's saved list");

    const { code, report, stderr } = await respond(box, out);

    expect(report.diagnosis.cause, why(report, stderr)).toBe('process_missing');
    expect(report.action).toMatchObject({ kind: 'start', executed: true });
    expect(report.outcome, why(report, stderr)).toBe('recovered');
    expect(code).toBe(0);
  });

  it('stops and names both when root and the PM2 user each have a "web", and --pm2-user is missing', async () => {
    const box = await ubuntuHost();
    // Root's own PM2 home, with the same app saved in it (no daemon: init must not start one there either).
    const rootHome = join(dir, 'root-pm2');
    await mkdir(rootHome);
    await copyFile(join(box.pm2Home, 'dump.pm2'), join(rootHome, 'dump.pm2'));

    const { code, stderr } = await reflex(box, ['init', '--local', '--app', 'web', '--nginx-config', box.profile.nginx.config ?? '', '--out', join(dir, 'host.json')], {
      PM2_HOME: rootHome,
    });

    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain(`web (root, ${rootHome})`);
    expect(stderr).toContain(`web (user ${box.pm2User}, ${box.pm2Home})`);
    expect(stderr).toContain('pass --pm2-user NAME');
    await expect(access(join(rootHome, 'pm2.pid'))).rejects.toThrow();
    await expect(access(join(dir, 'host.json'))).rejects.toThrow();
  });
});
