import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SnapshotParseError } from '../../../functions/core/evidence/errors.ts';
import { parseSnapshot } from '../../../functions/core/evidence/snapshot.ts';

/** A full snapshot in the functions/host/README.md format, built from real pm2/ss/curl/nginx/dmesg output. */
const fixture = (): string => readFileSync(new URL('../../fixtures/logs/snapshot-crashed.txt', import.meta.url), 'utf8');

describe('parseSnapshot', () => {
  it('parses every section of a full snapshot', () => {
    // Prepare
    const text = fixture();

    // Act
    const snapshot = parseSnapshot(text);

    // Assess
    expect(snapshot.takenAt).toBe('2026-11-24T00:12:10.412Z');
    expect(snapshot.app).toBe('web');
    expect(snapshot.pm2Ok).toBe(true);
    expect(snapshot.processes.map((process) => [process.name, process.status, process.port])).toEqual([
      ['web', 'stopped', 38123],
      ['crashy', 'errored', undefined],
    ]);
    expect(snapshot.appPids).toEqual([]);
    expect(snapshot.listeners.map((listener) => `${listener.address}:${listener.port}`)).toEqual(['0.0.0.0:2024', '127.0.0.1:56645', '::1:40967']);
    expect(snapshot.probes).toEqual({
      nginx: { target: 'nginx', url: 'http://127.0.0.1:56645/', at: '2026-11-24T00:12:10.412Z', status: 502, timeMs: 1 },
      upstream: { target: 'upstream', url: 'http://127.0.0.1:38123/', at: '2026-11-24T00:12:10.412Z', status: 0, timeMs: 0, error: 'refused' },
    });
    expect(snapshot.proxy).toMatchObject({ upstreams: [{ host: '127.0.0.1', port: 38123 }], readTimeoutSeconds: 30, connectTimeoutSeconds: 5 });
    expect(snapshot.errorLog.map((entry) => entry.kind)).toEqual(['connection_refused', 'other', 'connection_refused']);
    expect(snapshot.pm2Log.map((event) => event.kind)).toEqual(['stopping', 'exited', 'starting', 'online', 'exited']);
    expect(snapshot.oomKills).toMatchObject([{ at: '2026-11-24T00:04:07.253Z', pid: 2830, cgroup: true }]);
    expect(snapshot.memory).toEqual({ totalKb: 8148000, availableKb: 6021000 });
    expect(snapshot.deploy).toEqual({ pm2StartedAt: '2026-11-24T00:10:55.941Z', buildIdChangedAt: '2026-11-24T00:09:40.000Z' });
    expect(snapshot.skipped).toBe(0);
  });

  it("reads the app names of PM2's saved list, and tells no saved list from an empty one", () => {
    // Prepare
    const withSaved = fixture().replace('@@end', '@@pm2-saved\nweb api ../etc\n@@end');
    const emptySaved = fixture().replace('@@end', '@@pm2-saved\n@@end');

    // Act
    const saved = parseSnapshot(withSaved);
    const empty = parseSnapshot(emptySaved);
    const none = parseSnapshot(fixture());

    // Assess
    expect(saved.savedApps).toEqual(['web', 'api']);
    expect(saved.skipped).toBe(1);
    expect(empty.savedApps).toEqual([]);
    expect(none.savedApps).toBeUndefined();
  });

  it('counts garbage in every section and ignores unknown sections', () => {
    // Prepare
    const text = fixture()
      .replace('@@app-pids\n', '@@app-pids\n123 abc\n')
      .replace('@@listeners\n', '@@listeners\nnot a socket\n')
      .replace('@@probe nginx\n', '@@probe nginx\ncurl: (6) Could not resolve host\n')
      .replace('@@nginx-error\n', '@@nginx-error\n…truncated\n')
      .replace('@@pm2-log\n', '@@pm2-log\n    at Object.<anonymous>\n')
      .replace('@@memory\n', '@@future-section\nanything at all\n@@memory\ntotal_kb=lots\n')
      .replace('@@deploy\n', '@@deploy\n!!\n');

    // Act
    const snapshot = parseSnapshot(text);

    // Assess
    expect(snapshot.skipped).toBe(7);
    expect(snapshot.probes.nginx?.status).toBe(502);
    expect(snapshot.memory).toEqual({ totalKb: 8148000, availableKb: 6021000 });
    expect(snapshot.deploy.pm2StartedAt).toBe('2026-11-24T00:10:55.941Z');
  });

  it('dates syslog kernel lines with the year of taken_at', () => {
    const text = fixture().replace(/@@kernel\n.*\n/, '@@kernel\nNov 24 00:04:07 host kernel: Out of memory: Killed process 9 (node) total-vm:1kB, anon-rss:2kB\n');

    const snapshot = parseSnapshot(text);

    expect(snapshot.oomKills).toMatchObject([{ at: '2026-11-24T00:04:07.000Z', pid: 9, anonRssKb: 2, cgroup: false }]);
  });

  it('reports an unreachable PM2 daemon without failing', () => {
    const text = fixture().replace(/@@pm2\n.*\n/, '@@pm2\n{"error":"connect EACCES /home/web/.pm2/rpc.sock"}\n');

    const snapshot = parseSnapshot(text);

    expect(snapshot.pm2Ok).toBe(false);
    expect(snapshot.pm2Error).toBe('pm2 unreachable: connect EACCES /home/web/.pm2/rpc.sock');
    expect(snapshot.processes).toEqual([]);
  });

  it('reads a probe-only snapshot (verification poll)', () => {
    const text = [
      'some ssm noise before',
      '@@reflex-snapshot 1',
      '@@meta',
      'taken_at=2026-11-24T10:00:00.123Z',
      'app=web',
      '@@pm2',
      '[]',
      '@@probe nginx',
      'url=http://127.0.0.1:8080/ code=200 time=0.004 exit=0',
      '@@probe upstream',
      'url=http://127.0.0.1:3000/ code=200 time=0.002 exit=0',
      '@@end',
      'ignored after end',
    ].join('\r\n');

    const snapshot = parseSnapshot(text);

    expect(snapshot).toEqual({
      takenAt: '2026-11-24T10:00:00.123Z',
      app: 'web',
      pm2Ok: true,
      processes: [],
      appPids: [],
      listeners: [],
      probes: {
        nginx: { target: 'nginx', url: 'http://127.0.0.1:8080/', at: '2026-11-24T10:00:00.123Z', status: 200, timeMs: 4 },
        upstream: { target: 'upstream', url: 'http://127.0.0.1:3000/', at: '2026-11-24T10:00:00.123Z', status: 200, timeMs: 2 },
      },
      errorLog: [],
      pm2Log: [],
      oomKills: [],
      appLog: [],
      deploy: {},
      skipped: 0,
    });
  });

  it('counts a missing taken_at and says pm2 was not listed', () => {
    const snapshot = parseSnapshot('@@reflex-snapshot 1\n@@meta\napp=web\n@@end\n');

    expect(snapshot.skipped).toBe(1);
    expect(snapshot.takenAt).toBe('1970-01-01T00:00:00.000Z');
    expect(snapshot.pm2Ok).toBe(false);
    expect(snapshot.pm2Error).toBe('the snapshot has no pm2 process list');
  });

  it.each([
    ['', /empty/],
    ['bash: line 1: node: command not found', /no "@@reflex-snapshot 1" header \(first line: "bash: line 1: node: command not found"\)/],
    ['@@reflex-snapshot 2\n@@meta', /version "2" is not supported/],
  ])('throws SnapshotParseError for %j', (text, message) => {
    expect(() => parseSnapshot(text)).toThrow(SnapshotParseError);
    expect(() => parseSnapshot(text)).toThrow(message);
  });
});
