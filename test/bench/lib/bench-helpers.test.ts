/**
 * The benchmarks' measuring helpers: how recovery is read off the probe, the virtual clock, the SSM model's call
 * count, the chart, merging saved runs. No real time is measured or asserted here.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_LATENCIES, ModelSsm, RECORDED, noCalls } from './fleet-model.ts';
import type { RunResult } from './recovery-run.ts';
import { MergeError, mergeSaved, type SavedRun } from './saved-run.ts';
import { median, medianAndRange, markdownTable, seededRandom } from './stats.ts';
import { barChart, escapeXml } from './svg.ts';
import { sustainedRecovery, type ProbeResult } from './traffic.ts';
import { VirtualClock } from './virtual-clock.ts';

function probes(statuses: number[], startMs = 1000, stepMs = 100): ProbeResult[] {
  return statuses.map((status, index) => ({ sentAt: startMs + index * stepMs, doneAt: startMs + index * stepMs + 5, status }));
}

describe('sustainedRecovery', () => {
  it('answers the first of three consecutive 200s after the fault showed', () => {
    // Prepare: served, the fault shows (502s), one lone 200, then served for good.
    const results = probes([200, 200, 502, 502, 200, 502, 200, 200, 200, 200]);

    // Act
    const recovery = sustainedRecovery(results, 1000);

    // Assess: the streak starts at index 6 (sent at 1600, answered at 1605).
    expect(recovery).toEqual({ shownAt: 1200, recoveredAt: 1605 });
  });

  it('ignores 200s answered before the fault showed', () => {
    const results = probes([200, 200, 200, 200]);

    expect(sustainedRecovery(results, 1000)).toBeUndefined();
  });

  it('is undefined while the streak is not complete', () => {
    const results = probes([502, 0, 200, 200]);

    expect(sustainedRecovery(results, 1000)).toBeUndefined();
  });

  it('only looks at probes sent at or after the fault', () => {
    // A failure before the fault (e.g. during boot) must not count as the fault showing.
    const results = probes([502, 200, 200, 200, 200]);

    expect(sustainedRecovery(results, 1100)).toBeUndefined();
  });
});

describe('stats', () => {
  it('takes the median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeUndefined();
  });

  it('formats a median with its range in seconds', () => {
    expect(medianAndRange([2900, 3450, 4100])).toBe('3.45 s (2.90–4.10)');
    expect(medianAndRange([])).toBe('–');
  });

  it('escapes pipes in markdown cells', () => {
    expect(markdownTable(['a'], [['x | y']])).toBe('| a |\n|---|\n| x \\| y |');
  });

  it('repeats the same sequence for the same seed', () => {
    const first = seededRandom(7);
    const second = seededRandom(7);

    expect([first(), first(), first()]).toEqual([second(), second(), second()]);
  });
});

describe('VirtualClock', () => {
  it('wakes sleepers in time order and advances virtual time over the waits', async () => {
    // Prepare
    const clock = new VirtualClock(new Date('2026-01-01T00:00:00Z'));
    const woke: string[] = [];

    // Act: three sleepers, the longest first.
    const elapsed = await clock.run(async () => {
      const start = clock.nowMs();
      await Promise.all([
        clock.sleep(3000).then(() => woke.push('3 s')),
        clock.sleep(1000).then(() => woke.push('1 s')),
        clock.sleep(2000).then(() => woke.push('2 s')),
      ]);
      return clock.nowMs() - start;
    });

    // Assess
    expect(woke).toEqual(['1 s', '2 s', '3 s']);
    expect(elapsed).toBeGreaterThanOrEqual(3000);
    expect(clock.pending).toBe(0);
  });

  it('passes the work’s error on', async () => {
    const clock = new VirtualClock();

    await expect(
      clock.run(async () => {
        await clock.sleep(10);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
  });
});

describe('ModelSsm', () => {
  it('counts SendCommand and the waiter’s GetCommandInvocation polls, then answers with the recorded snapshots', async () => {
    // Prepare: a 1 s round trip and the adapter's waiter (first poll at once, the next after 2 s).
    const clock = new VirtualClock();
    const calls = noCalls();
    const ssm = new ModelSsm(clock, DEFAULT_LATENCIES, calls, 1);

    // Act
    const before = await clock.run(() => ssm.run('i-0123456789abcdef0', 'snapshot', { app: 'web', sections: 'full' }));
    await clock.run(() => ssm.run('i-0123456789abcdef0', 'remediate', { app: 'web', action: 'restart' }));
    const after = await clock.run(() => ssm.run('i-0123456789abcdef0', 'snapshot', { app: 'web', sections: 'probe' }));

    // Assess: per run, 1 SendCommand, a poll at once (pending), a poll after 2 s (done), one read of the output.
    expect(calls.sendCommand).toBe(3);
    expect(calls.getCommandInvocation).toBe(9);
    expect(ssm.callsFor).toEqual({ investigation: 4, remediation: 8 });
    expect(before.stdout).toBe(RECORDED.crashed);
    expect(after.stdout).toBe(RECORDED.healthyProbe);
  });
});

describe('barChart', () => {
  it('draws one bar per responder and fault, hatched when none recovered, with escaped labels', () => {
    // Prepare
    const svg = barChart({
      title: 'T <1>',
      subtitle: 's',
      capMs: 30_000,
      floorMs: 1500,
      groups: [
        {
          label: 'crashed & co',
          bars: [
            { label: 'Reflex', color: '#2563eb', medianMs: 2500, minMs: 2300, maxMs: 2900, recovered: 5, runs: 5 },
            { label: 'PM2 alone', color: '#6b7280', recovered: 0, runs: 5 },
          ],
        },
      ],
    });

    // Assess
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('T &lt;1&gt;');
    expect(svg).toContain('crashed &amp; co');
    expect(svg).toContain('2.50 s');
    expect(svg).toContain('PM2 alone: not recovered');
    expect(svg).toContain('fill="url(#hatch)"');
    expect(escapeXml('"a"')).toBe('&quot;a&quot;');
  });
});

describe('mergeSaved', () => {
  const run = (fault: RunResult['fault'], responder: RunResult['responder'], recoveredMs: number): RunResult => ({ run: 1, fault, responder, recoveredMs, right: true, loadAverage: [1, 1, 1] });
  const saved = (results: RunResult[], startedAt: string): SavedRun => ({
    environment: { node: 'v20', kernel: '6', os: 'Debian', cpus: '2', memoryGiB: 1, tools: {}, loadAverage: { atStart: [1, 1, 1], atEnd: [2, 2, 2] } },
    settings: { runs: 1, faults: 'crashed,hung', responders: 'reflex,monit', limits: { capMs: 30_000, observeMs: 15_000 }, startedAt },
    results,
  });

  it('replaces the cells measured again and keeps every other cell', () => {
    // Prepare
    const base = saved([run('crashed', 'reflex', 2300), run('hung', 'reflex', 8600), run('hung', 'monit', 5200)], 'then');
    const update = { ...saved([run('hung', 'reflex', 7100)], 'now'), settings: { ...base.settings, faults: 'hung', responders: 'reflex', startedAt: 'now' } };

    // Act
    const merged = mergeSaved(base, update);

    // Assess
    expect(merged.results.map((result) => [result.fault, result.responder, result.recoveredMs])).toEqual([
      ['crashed', 'reflex', 2300],
      ['hung', 'monit', 5200],
      ['hung', 'reflex', 7100],
    ]);
    expect(merged.settings.startedAt).toBe('then');
    expect(merged.settings.remeasured).toEqual([{ faults: 'hung', responders: 'reflex', runs: 1, startedAt: 'now', loadAverage: { atStart: [1, 1, 1], atEnd: [2, 2, 2] } }]);
  });

  it('refuses runs measured with other limits', () => {
    const base = saved([], 'then');
    const update = { ...base, settings: { ...base.settings, limits: { capMs: 60_000, observeMs: 15_000 } } };

    expect(() => mergeSaved(base, update)).toThrow(MergeError);
  });
});
