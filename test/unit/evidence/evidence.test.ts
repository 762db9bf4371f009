import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildEvidence, MAX_ENTRIES, type EvidenceInput } from '../../../functions/core/evidence/evidence.ts';
import { parseSnapshot } from '../../../functions/core/evidence/snapshot.ts';
import type { LogBundle } from '../../../functions/core/types.ts';

const read = (name: string): string => readFileSync(new URL(`../../fixtures/logs/${name}`, import.meta.url), 'utf8');
const lines = (name: string): string[] => read(name).split('\n');
const SNAPSHOT = parseSnapshot(read('snapshot-crashed.txt'));

function input(logs: Partial<LogBundle>, overrides: Partial<EvidenceInput> = {}): EvidenceInput {
  return {
    instanceId: 'i-0123456789abcdef0',
    app: 'web',
    window: { start: '2026-11-24T00:02:00.000Z', end: '2026-11-24T00:12:10.000Z' },
    snapshot: structuredClone(SNAPSHOT),
    logs: { accessLines: [], errorLines: [], pm2Lines: [], kernelLines: [], ...logs },
    ...overrides,
  };
}

describe('buildEvidence', () => {
  it('merges logs and snapshot: deduplicated, sorted, counted', () => {
    // Prepare
    const logs: Partial<LogBundle> = {
      accessLines: [
        '127.0.0.1 - - [24/Nov/2026:00:01:59 +0000] "GET / HTTP/1.1" 502 157 "-" "curl/7.88.1"',
        ...lines('nginx-access-json.log'),
        'garbage',
      ],
      errorLines: [...lines('nginx-error.log'), 'garbage'],
      pm2Lines: [...lines('pm2.log'), 'garbage'],
      kernelLines: ['Nov 24 00:04:07 host kernel: [  278.253867] Memory cgroup out of memory: Killed process 2830 (node) total-vm:1057228kB, anon-rss:64768kB', 'garbage'],
    };

    // Act
    const evidence = buildEvidence(input(logs));

    // Assess
    expect(evidence.instanceId).toBe('i-0123456789abcdef0');
    expect(evidence.skippedLines).toBe(3);
    expect(evidence.access).toHaveLength(11);
    expect(evidence.gatewayErrors).toEqual([
      { minute: '2026-11-24T00:11:00.000Z', count: 6, byStatus: { '502': 5, '504': 1 } },
      { minute: '2026-11-24T00:12:00.000Z', count: 3, byStatus: { '502': 3 } },
    ]);
    // 37 log lines + 3 snapshot lines, one of which (the SIGHUP notice) is the same line.
    expect(evidence.errorLog).toHaveLength(37 + 2);
    expect(evidence.errorLog.map((entry) => entry.at)).toEqual([...evidence.errorLog.map((entry) => entry.at)].sort());
    // 64 app events in pm2.log (a crash loop repeats identical lines: all kept); the snapshot's five are among them.
    expect(evidence.pm2Log).toHaveLength(64);
    // The kern.log copy and the snapshot's dmesg copy are one kill; the logs' copy comes first.
    expect(evidence.oomKills).toHaveLength(1);
    expect(evidence.oomKills[0]?.at).toBe('2026-11-24T00:04:07.000Z');
    expect(evidence.upstream).toEqual({ host: '127.0.0.1', port: 38123 });
  });

  it('keeps only access entries inside the window', () => {
    const evidence = buildEvidence(
      input({ accessLines: lines('nginx-access-combined.log') }, { window: { start: '2026-11-24T00:11:54.000Z', end: '2026-11-24T00:11:54.999Z' } }),
    );

    expect(evidence.access.map((entry) => entry.at)).toEqual(Array(7).fill('2026-11-24T00:11:54.000Z'));
    expect(evidence.gatewayErrors).toEqual([{ minute: '2026-11-24T00:11:00.000Z', count: 5, byStatus: { '502': 4, '504': 1 } }]);
  });

  it('keeps the newest entries but counts every gateway error of the window', () => {
    const many = Array.from({ length: MAX_ENTRIES + 50 }, (_, i) => `127.0.0.1 - - [24/Nov/2026:00:05:${String(i % 60).padStart(2, '0')} +0000] "GET /${i} HTTP/1.1" 502 157 "-" "-"`);

    const evidence = buildEvidence(input({ accessLines: many }));

    expect(evidence.access).toHaveLength(MAX_ENTRIES);
    expect(evidence.access.at(-1)?.at).toBe('2026-11-24T00:05:59.000Z');
    expect(evidence.gatewayErrors).toEqual([{ minute: '2026-11-24T00:05:00.000Z', count: MAX_ENTRIES + 50, byStatus: { '502': MAX_ENTRIES + 50 } }]);
  });

  it('takes the upstream from the input first, then nginx, then 127.0.0.1:3000', () => {
    const { proxy: _proxy, ...withoutProxy } = structuredClone(SNAPSHOT);

    expect(buildEvidence(input({}, { upstream: { host: '::1', port: 3001 } })).upstream).toEqual({ host: '::1', port: 3001 });
    expect(buildEvidence(input({}, { snapshot: withoutProxy })).upstream).toEqual({ host: '127.0.0.1', port: 3000 });
  });

  it('prefers a timed copy of an OOM kill over a boot-relative one', () => {
    const evidence = buildEvidence(input({ kernelLines: ['[  278.253867] Memory cgroup out of memory: Killed process 2830 (node) total-vm:1057228kB, anon-rss:64768kB'] }));

    expect(evidence.oomKills).toHaveLength(1);
    expect(evidence.oomKills[0]?.at).toBe('2026-11-24T00:04:07.253Z');
  });

  it('adds the snapshot garbage to skippedLines', () => {
    const snapshot = parseSnapshot(read('snapshot-crashed.txt').replace('@@listeners\n', '@@listeners\ngarbage\n'));

    const evidence = buildEvidence(input({ accessLines: ['garbage'] }, { snapshot }));

    expect(evidence.skippedLines).toBe(2);
  });
});
