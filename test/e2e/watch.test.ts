/**
 * `reflex watch --local`, end to end: the real command follows the real nginx access log, opens an incident
 * when gateway errors reach the threshold, fixes the crash, and keeps watching. Stopped by its pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { Report } from '../../functions/core/types.ts';
import { startSandbox, type Sandbox } from '../../functions/sandbox/sandbox.ts';

const CLI = fileURLToPath(new URL('../../functions/cli/reflex.js', import.meta.url));

let sandbox: Sandbox | undefined;
let watcher: ChildProcess | undefined;

afterEach(async () => {
  if (watcher?.pid !== undefined && watcher.exitCode === null) {
    const exited = new Promise((resolve) => watcher!.once('exit', resolve));
    process.kill(watcher.pid, 'SIGTERM');
    await exited;
  }
  watcher = undefined;
  await sandbox?.stop();
  sandbox = undefined;
});

/** Starts `reflex watch --json` and collects the reports it prints, one JSON line each. */
function startWatch(box: Sandbox, ...flags: string[]): { reports: Report[]; output: () => string; ready: Promise<void> } {
  const reports: Report[] = [];
  let stdout = '';
  let stderr = '';
  watcher = spawn(process.execPath, [CLI, 'watch', '--local', box.profilePath, '--json', ...flags], {
    env: { ...box.env, XDG_STATE_HOME: join(box.dir, 'state') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  watcher.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    const lines = stdout.split('\n');
    stdout = lines.pop() ?? '';
    for (const line of lines.filter((text) => text.trim() !== '')) reports.push(JSON.parse(line) as Report);
  });
  watcher.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // tsx compiles on first start; give the watcher a moment to open the log before the fault.
  const ready = new Promise<void>((resolve) => setTimeout(resolve, 3_000));
  return { reports, output: () => stderr, ready };
}

async function until(condition: () => boolean, timeoutMs: number, tick: () => Promise<unknown>): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await tick();
  }
  return condition();
}

describe('reflex watch --local (real nginx + PM2)', { timeout: 120_000 }, () => {
  it('detects a crash from the access log, restarts the app once, and keeps watching', async () => {
    sandbox = await startSandbox({ bootMs: 300 });
    await sandbox.waitHealthy(15_000);
    const box = sandbox;
    const { reports, output, ready } = startWatch(box);
    await ready;

    await box.faults.crash();
    // Users keep coming: their 502s are what the watcher counts.
    const seen = await until(() => reports.length > 0, 60_000, () => box.traffic(2));

    expect(seen, `watch printed no report; stderr: ${output()}`).toBe(true);
    expect(reports[0]!.diagnosis.cause).toBe('process_crashed');
    expect(reports[0]!.action).toMatchObject({ kind: 'restart', executed: true });
    expect(reports[0]!.outcome).toBe('recovered');
    expect(watcher!.exitCode).toBeNull();
    await box.waitHealthy(10_000);
    expect(await box.traffic(5)).toEqual([200, 200, 200, 200, 200]);
    expect(reports).toHaveLength(1);
  });

  it('opens one incident for a fault that goes on after an escalation, not one every few seconds', async () => {
    sandbox = await startSandbox({ bootMs: 300 });
    await sandbox.waitHealthy(15_000);
    const box = sandbox;
    const { reports, output, ready } = startWatch(box);
    await ready;

    await box.faults.portMismatch();
    const seen = await until(() => reports.length > 0, 60_000, () => box.traffic(2));
    // Users keep getting 502s for a while longer: like the CloudWatch alarm, the watcher stays in ALARM.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) await box.traffic(2);

    expect(seen, `watch printed no report; stderr: ${output()}`).toBe(true);
    expect(reports.map((report) => report.diagnosis.cause)).toEqual(['port_mismatch']);
  });

  it('stays quiet below the threshold', async () => {
    sandbox = await startSandbox({ bootMs: 300 });
    await sandbox.waitHealthy(15_000);
    const box = sandbox;
    const { reports, ready } = startWatch(box, '--threshold', '50');
    await ready;

    await box.faults.crash();
    await box.traffic(10);
    // Long enough for a response to have restarted the app, had the watcher fired.
    await new Promise((resolve) => setTimeout(resolve, 5_000));

    expect(reports).toHaveLength(0);
    expect(await box.request('/', { via: 'nginx' })).toBe(502);
  });
});
