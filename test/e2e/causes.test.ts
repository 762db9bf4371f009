/**
 * End to end, per cause: a real nginx in front of a real PM2 running the demo app, a real fault, and the real
 * `reflex respond --local … --json` command. Each test asserts the cause, the action and the outcome, then
 * checks the app's real state (serving again, or left alone).
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { Report } from '../../functions/core/types.ts';
import { startSandbox, type Sandbox, type SandboxOptions } from '../../functions/sandbox/sandbox.ts';

const CLI = fileURLToPath(new URL('../../functions/cli/reflex.js', import.meta.url));

interface Run {
  code: number;
  report: Report;
  stderr: string;
}

/** Runs the CLI as a user would, with the sandbox's PATH (pm2) and its own state directory. */
function reflex(sandbox: Sandbox, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...sandbox.env, XDG_STATE_HOME: join(sandbox.dir, 'state') }, timeout: 90_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function respond(sandbox: Sandbox, ...flags: string[]): Promise<Run> {
  const { code, stdout, stderr } = await reflex(sandbox, ['respond', '--local', sandbox.profilePath, '--json', ...flags]);
  const lines = stdout.trim().split('\n');
  expect(lines, `stdout must be exactly one JSON report; stderr: ${stderr}`).toHaveLength(1);
  return { code, report: JSON.parse(lines[0]!) as Report, stderr };
}

let sandbox: Sandbox | undefined;

async function sandboxWith(options: SandboxOptions = {}): Promise<Sandbox> {
  sandbox = await startSandbox({ bootMs: 300, ...options });
  await sandbox.waitHealthy(15_000);
  return sandbox;
}

afterEach(async () => {
  await sandbox?.stop();
  sandbox = undefined;
});

describe('reflex respond --local (real nginx + PM2)', { timeout: 120_000 }, () => {
  it('healthy: nothing wrong, no action, exit 0', async () => {
    const box = await sandboxWith();

    const { code, report } = await respond(box);

    expect(report.diagnosis.cause).toBe('healthy');
    expect(report.action).toMatchObject({ kind: 'none', executed: false });
    expect(report.outcome).toBe('healthy');
    expect(code).toBe(0);
  });

  it('process_crashed: restarts, verifies, exit 0', async () => {
    const box = await sandboxWith();
    await box.faults.crash();

    const { code, report } = await respond(box);

    expect(report.diagnosis.cause).toBe('process_crashed');
    expect(report.action).toMatchObject({ kind: 'restart', executed: true });
    expect(report.outcome).toBe('recovered');
    expect(report.timings.recoveredMs).toBeGreaterThan(0);
    expect(report.timeline.some((entry) => entry.source === 'pm2')).toBe(true);
    expect(code).toBe(0);
    expect(await box.request('/', { via: 'nginx' })).toBe(200);
  });

  it('process_stopped: restarts what a deploy left stopped', async () => {
    const box = await sandboxWith();
    await box.faults.stop();

    const { code, report } = await respond(box);

    expect(report.diagnosis.cause).toBe('process_stopped');
    expect(report.action).toMatchObject({ kind: 'restart', executed: true });
    expect(report.outcome).toBe('recovered');
    expect(code).toBe(0);
  });

  it('process_missing: starts the app from the ecosystem file when it was deleted', async () => {
    const box = await sandboxWith();
    await box.faults.remove();

    const { code, report } = await respond(box);

    expect(report.diagnosis.cause).toBe('process_missing');
    expect(report.action).toMatchObject({ kind: 'start', executed: true });
    expect(report.outcome).toBe('recovered');
    expect(code).toBe(0);
  });

  it('process_missing: starts the app again when the PM2 daemon is gone', async () => {
    const box = await sandboxWith();
    await box.faults.killDaemon();

    const { code, report } = await respond(box);

    expect(report.diagnosis.cause).toBe('process_missing');
    expect(report.action).toMatchObject({ kind: 'start', executed: true });
    expect(report.outcome).toBe('recovered');
    expect(code).toBe(0);
  });

  it('crash_loop: PM2 keeps restarting it; Reflex does not fight it and escalates', async () => {
    const box = await sandboxWith();
    await box.faults.crashLoop();

    const { code, report } = await respond(box);

    expect(report.diagnosis.cause).toBe('crash_loop');
    expect(report.action.kind).toBe('none');
    expect(report.outcome).toBe('escalated');
    expect(code).toBe(1);
  });

  it('crash_loop: a crash whose restart dies again gets one restart, then escalation', async () => {
    const box = await sandboxWith();
    await box.faults.crash({ crashOnBoot: true });

    const { code, report } = await respond(box);

    expect(report.diagnosis.cause).toBe('crash_loop');
    expect(report.action).toMatchObject({ kind: 'restart', executed: true });
    expect(report.outcome).toBe('escalated');
    expect(code).toBe(1);
  });

  it('port_mismatch: no restart, advice names both ports', async () => {
    const box = await sandboxWith();
    const port = await box.faults.portMismatch();

    const { code, report } = await respond(box);

    expect(report.diagnosis.cause).toBe('port_mismatch');
    expect(report.action).toMatchObject({ kind: 'none', executed: false });
    expect(report.outcome).toBe('escalated');
    const advice = [report.diagnosis.summary, ...report.diagnosis.advice].join('\n');
    expect(advice).toContain(String(box.appPort));
    expect(advice).toContain(String(port));
    expect(code).toBe(1);
  });

  it('proxy_misconfig: app on [::1] while nginx proxies to 127.0.0.1; advice names both addresses', async () => {
    const box = await sandboxWith();
    await box.faults.proxyMisconfig();

    const { code, report } = await respond(box);

    expect(report.diagnosis.cause).toBe('proxy_misconfig');
    expect(report.action.kind).toBe('none');
    expect(report.outcome).toBe('escalated');
    const advice = [report.diagnosis.summary, ...report.diagnosis.advice].join('\n');
    expect(advice).toContain('127.0.0.1');
    expect(advice).toContain('::1');
    expect(code).toBe(1);
  });

  it('upstream_timeout: slow pages exceed proxy_read_timeout; no restart, advice names the timeout', async () => {
    const box = await sandboxWith({ proxyReadTimeoutSeconds: 1 });
    await box.faults.slowPages(2_500);

    const { code, report } = await respond(box);

    expect(report.diagnosis.cause).toBe('upstream_timeout');
    expect(report.action.kind).toBe('none');
    expect(report.outcome).toBe('escalated');
    expect(report.diagnosis.advice.join('\n')).toContain('proxy_read_timeout');
    expect(code).toBe(1);
  });

  it('app_hung: listening but not answering; restarts and recovers', async () => {
    const box = await sandboxWith();
    await box.faults.hang();

    const { code, report } = await respond(box);

    expect(report.diagnosis.cause).toBe('app_hung');
    expect(report.action).toMatchObject({ kind: 'restart', executed: true });
    expect(report.outcome).toBe('recovered');
    expect(code).toBe(0);
  });

  it('oom_killed: the kernel killed the app; restarts it and advises on memory', async () => {
    const box = await sandboxWith();
    await box.faults.oom();

    const { code, report } = await respond(box);

    expect(report.diagnosis.cause).toBe('oom_killed');
    expect(report.action).toMatchObject({ kind: 'restart', executed: true });
    expect(report.outcome).toBe('recovered');
    expect(report.diagnosis.advice.join('\n')).toMatch(/memory/i);
    expect(report.timeline.some((entry) => entry.source === 'kernel')).toBe(true);
    expect(code).toBe(0);
  });

  it('--dry-run: diagnoses and says what it would do, leaves the app alone, exit 0', async () => {
    const box = await sandboxWith();
    await box.faults.crash();

    const { code, report } = await respond(box, '--dry-run');

    expect(report.diagnosis.cause).toBe('process_crashed');
    expect(report.action).toMatchObject({ kind: 'restart', executed: false });
    expect(report.outcome).toBe('dry_run');
    expect(code).toBe(0);
    expect(await box.request('/', { via: 'nginx' })).toBe(502);
  });

  it('bad profile: exit 2, one line naming the field, nothing run', async () => {
    const box = await sandboxWith();
    const bad = join(box.dir, 'bad-host.json');
    await writeFile(bad, JSON.stringify({ ...box.profile, app: 'web;touch /tmp/reflex-pwned' }));

    const { code, stdout, stderr } = await reflex(box, ['respond', '--local', bad, '--json']);

    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain('app: must be a PM2 app name');
  });
});
