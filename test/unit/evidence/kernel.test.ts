import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseKernelLog } from '../../../functions/core/evidence/kernel.ts';

/** `dmesg --time-format iso` and plain `dmesg` around a real cgroup OOM kill on this machine, plus journalctl/syslog/raw forms. */
const fixture = (name: string): string[] => readFileSync(new URL(`../../fixtures/logs/${name}`, import.meta.url), 'utf8').split('\n');

describe('parseKernelLog', () => {
  it('reads the real dmesg iso line and ignores the other kernel lines', () => {
    // Prepare
    const lines = fixture('kernel-dmesg-iso.log');

    // Act
    const parsed = parseKernelLog(lines);

    // Assess
    expect(parsed).toEqual({
      items: [
        {
          at: '2026-11-24T00:04:07.253Z',
          pid: 2830,
          process: 'node',
          anonRssKb: 64768,
          cgroup: true,
          text: '2026-11-24T00:04:07,253867+00:00 Memory cgroup out of memory: Killed process 2830 (node) total-vm:1057228kB, anon-rss:64768kB, file-rss:33552kB, shmem-rss:0kB, UID:0 pgtables:572kB oom_score_adj:0',
        },
      ],
      skipped: 0,
    });
  });

  it('reads raw dmesg lines without a time', () => {
    const parsed = parseKernelLog(fixture('kernel-dmesg-raw.log'));

    expect(parsed.skipped).toBe(0);
    expect(parsed.items).toHaveLength(1);
    expect(parsed.items[0]?.at).toBeUndefined();
    expect(parsed.items[0]).toMatchObject({ pid: 2830, cgroup: true });
  });

  it('reads journalctl short-iso, syslog (year from the argument) and process names with parentheses', () => {
    const parsed = parseKernelLog(fixture('kernel-forms.log'), 2026);

    expect(parsed.skipped).toBe(0);
    expect(parsed.items.map((kill) => [kill.at, kill.pid, kill.process, kill.anonRssKb, kill.cgroup])).toEqual([
      ['2026-11-24T00:04:07.000Z', 111337, 'node', 416096, false],
      ['2026-11-24T00:04:07.000Z', 2830, 'node', 64768, true],
      [undefined, 4242, 'next-server (v1', 998104, false],
    ]);
  });

  it('reads the older two-line form once', () => {
    const parsed = parseKernelLog([
      'Nov 24 00:04:07 host kernel: [  278.2] Out of memory: Kill process 4242 (node) score 901 or sacrifice child',
      'Nov 24 00:04:07 host kernel: [  278.3] Killed process 4242 (node) total-vm:1262044kB, anon-rss:998104kB, file-rss:0kB, shmem-rss:0kB',
    ], 2026);

    expect(parsed.items.map((kill) => [kill.at, kill.pid, kill.anonRssKb, kill.cgroup])).toEqual([['2026-11-24T00:04:07.000Z', 4242, 998104, false]]);
    expect(parsed.skipped).toBe(0);
  });

  it('skips and counts an OOM line whose time cannot be read, ignores other noise', () => {
    const parsed = parseKernelLog([
      '2026-13-40T00:04:07+0000 host kernel: Out of memory: Killed process 1 (node) total-vm:1kB, anon-rss:1kB',
      'yesterday host kernel: Out of memory: Killed process 2 (node) total-vm:1kB, anon-rss:1kB',
      'garbage',
      '',
      '2026-11-24T00:04:07+0000 host kernel: eth0: link up',
    ]);

    expect(parsed).toEqual({ items: [], skipped: 2 });
  });
});
