import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { HostParams, HostRunResult, HostRunner, HostScript } from '../../../functions/core/ports.ts';
import { investigate, respond, type RespondTarget } from '../../../functions/core/respond.ts';
import { appErrLines, parts, pm2Item, pm2LogLine, probeLine, snapshotText, ssLine, TAKEN_AT } from './evidence-builder.ts';

/** A host that answers each snapshot with the next text, and records what it was asked. */
class ScriptedHost implements HostRunner {
  readonly calls: { script: HostScript; params: HostParams }[] = [];
  constructor(private readonly snapshots: string[]) {}
  async run(_instanceId: string, script: HostScript, params: HostParams): Promise<HostRunResult> {
    this.calls.push({ script, params });
    const stdout = this.snapshots[Math.min(this.calls.length - 1, this.snapshots.length - 1)]!;
    return { ok: true, stdout, stderr: '', status: 'exit 0' };
  }
}

const target: RespondTarget = {
  instanceId: 'i-0abc1234def567890',
  app: 'web',
  snapshot: { app: 'web', healthUrl: 'http://127.0.0.1:8080/' },
  remediate: { app: 'web' },
};

function clockAt(iso: string): { now(): Date; sleep(ms: number): Promise<void>; slept: number[] } {
  let now = Date.parse(iso);
  const slept: number[] = [];
  return { now: () => new Date(now), sleep: async (ms) => void (slept.push(ms), (now += ms)), slept };
}

const noLogs = { fetch: async () => ({ accessLines: [], errorLines: [], pm2Lines: [], kernelLines: [] }) };
const refused = { probeNginx: probeLine('http://127.0.0.1:8080/', 502, 0.004), probeUpstream: probeLine('http://127.0.0.1:3000/', 0, 0.001, 7) };

describe('investigate', () => {
  it('looks again once when the app was started moments ago and nothing is proven yet', async () => {
    // Prepare: PM2 restarted it on another port a second ago; it does not listen yet, then it does.
    const justStarted = pm2Item({ pid: 7100, port: '3001', startedAt: '2026-11-24T10:04:59.500Z' });
    const booting = snapshotText(parts({ pm2: [justStarted], appPids: [7100], listeners: [], ...refused }));
    const booted = snapshotText(parts({ pm2: [justStarted], appPids: [7100], listeners: [ssLine('127.0.0.1:3001', 7100)], ...refused }));
    const host = new ScriptedHost([booting, booted]);
    const clock = clockAt(TAKEN_AT);

    // Act
    const investigation = await investigate(target, { host, logs: noLogs, clock });

    // Assess
    expect(investigation.diagnosis.cause).toBe('port_mismatch');
    expect(host.calls.map((call) => call.script)).toEqual(['snapshot', 'snapshot']);
    expect(clock.slept).toEqual([3_000]);
  });

  it('does not wait when the app has been up a while: unknown stays unknown', async () => {
    // Prepare
    const settled = snapshotText(parts({ pm2: [pm2Item({ pid: 7100 })], appPids: [7100], listeners: [], ...refused }));
    const host = new ScriptedHost([settled]);
    const clock = clockAt(TAKEN_AT);

    // Act
    const investigation = await investigate(target, { host, logs: noLogs, clock });

    // Assess
    expect(investigation.diagnosis.cause).toBe('unknown');
    expect(host.calls).toHaveLength(1);
    expect(clock.slept).toEqual([]);
  });
});

describe('respond, when a host script fails', () => {
  it("puts the script's last output lines in the report's evidence, redacted", async () => {
    // Prepare: the app crashed; the restart fails the way pm2 fails from SSM's root-only working directory.
    const crashed = readFileSync(new URL('../../fixtures/snapshots/crash.txt', import.meta.url), 'utf8');
    const pm2Output = [
      '[PM2] Spawning PM2 daemon with pm2_home=/home/ubuntu/.pm2',
      'spawn /usr/bin/node EACCES',
      'connect to postgres://web:hunter2hunter2@db:5432 failed',
      'result=failed action=restart exit=1',
    ].join('\n');
    const host: HostRunner = {
      run: async (_instanceId, script) =>
        script === 'snapshot'
          ? { ok: true, stdout: crashed, stderr: '', status: 'Success' }
          : { ok: false, stdout: pm2Output, stderr: '', status: 'Failed', error: 'the remediate script failed (exit 1)' },
    };

    // Act
    const report = await respond(target, { host, logs: noLogs, clock: clockAt(TAKEN_AT) });

    // Assess
    expect(report.outcome).toBe('escalated');
    const texts = report.diagnosis.evidence.map((line) => line.text);
    expect(texts).toContain('remediate output: spawn /usr/bin/node EACCES');
    expect(texts).toContain('remediate output: result=failed action=restart exit=1');
    expect(texts.join('\n')).not.toContain('hunter2hunter2');
  });

  it('shows why a snapshot failed', async () => {
    // Prepare
    const host: HostRunner = {
      run: async () => ({ ok: false, stdout: '', stderr: 'reflex: invalid REFLEX_PM2_USER\n', status: 'Failed', error: 'the snapshot script failed' }),
    };

    // Act
    const investigation = await investigate(target, { host, logs: noLogs, clock: clockAt(TAKEN_AT) });

    // Assess
    expect(investigation.diagnosis.cause).toBe('unknown');
    expect(investigation.diagnosis.evidence.map((line) => line.text)).toEqual(['snapshot output: reflex: invalid REFLEX_PM2_USER']);
  });
});

describe('timings.detectedMs', () => {
  const settled = (): string => snapshotText(parts({ pm2: [pm2Item({ pid: 7100 })], appPids: [7100], listeners: [], ...refused }));
  const line = (at: string, status: number): string => `{"time":"${at}","status":${status},"request":"GET / HTTP/1.1","upstream_status":"${status}","upstream_addr":"127.0.0.1:3000","upstream_response_time":"0.000","request_time":0.000}`;

  it('runs from the first gateway error in the evidence (the alarm path) to the incident start', async () => {
    // Prepare: a 200, then 502s from 40 s before the start
    const start = new Date(Date.parse(TAKEN_AT) - 1000);
    const at = (secondsBefore: number): string => new Date(start.getTime() - secondsBefore * 1000).toISOString();
    const logs = { fetch: async () => ({ accessLines: [line(at(50), 200), line(at(40), 502), line(at(20), 504)], errorLines: [], pm2Lines: [], kernelLines: [] }) };

    // Act
    const report = await respond(target, { host: new ScriptedHost([settled()]), logs, clock: clockAt(start.toISOString()) });

    // Assess
    expect(report.timings.detectedMs).toBe(40_000);
  });

  it('takes the trigger’s first error when it has one (the detector), and is absent when no gateway error is known', async () => {
    // Prepare
    const start = new Date(Date.parse(TAKEN_AT) - 1000);

    // Act
    const detected = await respond(target, { host: new ScriptedHost([settled()]), logs: noLogs, clock: clockAt(start.toISOString()) }, { firstErrorAt: new Date(start.getTime() - 12_500) });
    const unknown = await respond(target, { host: new ScriptedHost([settled()]), logs: noLogs, clock: clockAt(start.toISOString()) });

    // Assess
    expect(detected.timings.detectedMs).toBe(12_500);
    expect(unknown.timings).not.toHaveProperty('detectedMs');
  });
});

describe('respond, when the app dies again after the restart', () => {
  it('reports crash_loop and keeps why it died the first time (appError)', async () => {
    // Prepare: the V8 heap ran out (recorded Node 20 output); the restart brings it up, then it dies again.
    const down = pm2Item({ pid: 0, status: 'stopped', exitCode: 0 });
    const abort = pm2LogLine('10:04:00', 'App [web:0] exited with code [0] via signal [SIGABRT]');
    const crashed = snapshotText(parts({ pm2: [down], appPids: [], listeners: [], ...refused, pm2Log: [abort], appLog: appErrLines('node20-heap.log') }));
    const online = snapshotText(parts({ pm2: [pm2Item({ pid: 7100, restartTime: 1 })], appPids: [7100] }));
    const deadAgain = snapshotText(parts({ pm2: [pm2Item({ pid: 0, status: 'stopped', exitCode: 0, restartTime: 1 })], appPids: [], listeners: [], ...refused }));
    const polls = [online, deadAgain];
    const host: HostRunner = {
      run: async (_instanceId, script, params) => {
        if (script === 'remediate') return { ok: true, stdout: 'result=ok action=restart\n', stderr: '', status: 'Success' };
        const stdout = params.sections === 'probe' ? (polls.shift() ?? deadAgain) : crashed;
        return { ok: true, stdout, stderr: '', status: 'Success' };
      },
    };

    // Act
    const report = await respond(target, { host, logs: noLogs, clock: clockAt(TAKEN_AT) });

    // Assess
    expect(report.diagnosis.cause).toBe('crash_loop');
    expect(report.outcome).toBe('escalated');
    expect(report.diagnosis.appError?.kind).toBe('heap_exhausted');
  });
});
