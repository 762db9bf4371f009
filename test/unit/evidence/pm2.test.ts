import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePm2List, parsePm2Log } from '../../../functions/core/evidence/pm2.ts';

/**
 * Real PM2 7.0.4 output on this machine: `pm2 jlist` (environment removed, one fake secret planted at both places
 * PM2 copies it) and `$PM2_HOME/pm2.log` from start, stop, restart, kill -9 (autorestart on, then off), an app that
 * exits 1 until PM2 marks it errored, delete.
 */
const fixture = (name: string): string => readFileSync(new URL(`../../fixtures/logs/${name}`, import.meta.url), 'utf8');

describe('parsePm2List', () => {
  it('reads a real jlist of an online app', () => {
    // Prepare
    const json = fixture('pm2-jlist-online.json');

    // Act
    const result = parsePm2List(json);

    // Assess
    expect(result).toEqual({
      ok: true,
      processes: [
        {
          name: 'web',
          pmId: 0,
          pid: 6574,
          status: 'online',
          restartTime: 0,
          unstableRestarts: 0,
          startedAt: '2026-11-24T00:10:46.745Z',
          execMode: 'fork_mode',
          memoryBytes: 54288384,
          cpuPercent: 8.8,
          cwd: '/tmp/h1pm2/app.sPhA',
          port: 38123,
          hostname: '127.0.0.1',
          autorestart: true,
        },
      ],
    });
  });

  it('never copies anything else from the environment', () => {
    const result = parsePm2List(fixture('pm2-jlist-errored.json'));

    expect(JSON.stringify(result)).not.toContain('fixture-secret-do-not-read');
    expect(JSON.stringify(result)).not.toContain('SECRET_TOKEN');
  });

  it('reads stopped and errored apps', () => {
    const result = parsePm2List(fixture('pm2-jlist-errored.json'));

    expect(result.ok).toBe(true);
    const processes = result.ok ? result.processes : [];
    expect(processes.map((process) => [process.name, process.status, process.pid, process.restartTime, process.exitCode, process.autorestart])).toEqual([
      ['web', 'stopped', 0, 2, 0, false],
      ['crashy', 'errored', 0, 15, 1, true],
    ]);
    expect(processes[1]?.port).toBeUndefined();
  });

  it('reads the host-reduced form and PORT/HOSTNAME kept directly on pm2_env', () => {
    const json = JSON.stringify([
      { name: 'web', pm_id: 3, pid: 42, monit: { memory: 1024, cpu: 1.5 }, pm2_env: { status: 'online', restart_time: 1, unstable_restarts: 0, pm_uptime: 1764000000000, PORT: 3001, HOSTNAME: '::1' } },
    ]);

    const result = parsePm2List(json);

    expect(result).toEqual({
      ok: true,
      processes: [
        { name: 'web', pmId: 3, pid: 42, status: 'online', restartTime: 1, unstableRestarts: 0, startedAt: '2025-11-24T16:00:00.000Z', memoryBytes: 1024, cpuPercent: 1.5, port: 3001, hostname: '::1' },
      ],
    });
  });

  it('leaves out items without a name, id or known status', () => {
    const json = JSON.stringify([null, { pm_id: 1, pm2_env: { status: 'online' } }, { name: 'x', pm_id: 2, pm2_env: { status: 'dancing' } }, { name: 'ok', pm_id: 4, pm2_env: { status: 'stopping' } }]);

    const result = parsePm2List(json);

    expect(result.ok && result.processes.map((process) => process.name)).toEqual(['ok']);
  });

  it('reports an unreachable daemon', () => {
    expect(parsePm2List('{"error":"connect ENOENT /home/web/.pm2/rpc.sock"}')).toEqual({ ok: false, error: 'pm2 unreachable: connect ENOENT /home/web/.pm2/rpc.sock' });
  });

  it('reports invalid JSON and non-arrays clearly', () => {
    const broken = parsePm2List('[{"name":"web"');
    const object = parsePm2List('{"name":"web"}');

    expect(broken.ok).toBe(false);
    expect(!broken.ok && broken.error).toMatch(/^pm2 list is not valid JSON/);
    expect(object).toEqual({ ok: false, error: 'pm2 list: expected a JSON array of processes' });
  });
});

describe('parsePm2Log', () => {
  it('reads every app event of the real pm2.log, ignores the daemon lines and counts garbage', () => {
    // Prepare
    const lines = [...fixture('pm2.log').split('\n'), 'Error: something', '    at Object.<anonymous> (/srv/x.js:1:1)'];

    // Act
    const parsed = parsePm2Log(lines);

    // Assess
    expect(parsed.skipped).toBe(2);
    const web = parsed.items.filter((event) => event.app === 'web').map((event) => event.kind);
    expect(web).toEqual(['starting', 'online', 'stopping', 'exited', 'starting', 'online', 'exited', 'starting', 'online', 'stopping', 'exited', 'starting', 'online', 'exited']);
    const crashy = parsed.items.filter((event) => event.app === 'crashy');
    expect(crashy.filter((event) => event.kind === 'exited')).toHaveLength(16);
    expect(crashy.at(-2)).toMatchObject({ kind: 'errored', pmId: 1, at: '2026-11-24T00:11:04.000Z' });
    expect(crashy.at(-1)).toMatchObject({ kind: 'stopping', pmId: 1 });
  });

  it('reads exit code and signal', () => {
    const line = '2026-11-24T00:10:53: PM2 log: App [web:0] exited with code [0] via signal [SIGKILL]';

    const parsed = parsePm2Log([line]);

    expect(parsed).toEqual({ items: [{ at: '2026-11-24T00:10:53.000Z', app: 'web', pmId: 0, kind: 'exited', exitCode: 0, signal: 'SIGKILL', text: line }], skipped: 0 });
  });

  it('names the app of `Deleting process` from earlier lines, and ignores it when unknown', () => {
    const parsed = parsePm2Log([
      '2026-11-24T00:10:46: PM2 log: Deleting process 7',
      '2026-11-24T00:10:46: PM2 log: App [api:v2:1] online',
      '2026-11-24T00:10:50: PM2 log: Deleting process 1',
    ]);

    expect(parsed.items.map((event) => [event.app, event.pmId, event.kind])).toEqual([
      ['api:v2', 1, 'online'],
      ['api:v2', 1, 'deleted'],
    ]);
    expect(parsed.skipped).toBe(0);
  });

  it('reads cluster mode starts', () => {
    const [event] = parsePm2Log(['2026-11-24T00:10:46: PM2 log: App [web:2] starting in -cluster mode-']).items;

    expect(event).toMatchObject({ app: 'web', pmId: 2, kind: 'starting' });
  });
});

describe('parsePm2List: KEEP_ALIVE_TIMEOUT', () => {
  it.each([
    ['65000', 65000],
    ['5', 5],
    [65000, 65000],
    ['5s', undefined],
  ])('KEEP_ALIVE_TIMEOUT=%s → %s ms', (value, ms) => {
    // Prepare
    const json = JSON.stringify([{ name: 'web', pm_id: 0, pid: 1, pm2_env: { status: 'online', env: { KEEP_ALIVE_TIMEOUT: value } } }]);

    // Act
    const result = parsePm2List(json);

    // Assess
    expect(result.ok ? result.processes[0]?.keepAliveTimeoutMs : 'not a list').toBe(ms);
  });
});
