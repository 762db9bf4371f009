/**
 * The benchmarks' measuring helpers: how recovery is read off the probe, the virtual clock, the SSM model's call
 * count and on-host verification, the durable checkpoints' charges, the chart, merging saved runs. No real time is
 * measured or asserted here.
 */
import { describe, expect, it } from 'vitest';
import { parseSnapshot, parseVerifyLines } from '../../../functions/core/evidence/index.ts';
import { ModelCheckpoints } from './durable-model.ts';
import { BOOTING_PROBE, DEFAULT_LATENCIES, ModelSsm, RECORDED, hostVerifyOutput, noCalls } from './fleet-model.ts';
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
    // Prepare: a 1 s round trip and the adapter's waiter (first poll at once, the next after 2 s, then 2–4 s later).
    const clock = new VirtualClock();
    const calls = noCalls();
    const ssm = new ModelSsm(clock, DEFAULT_LATENCIES, calls, 1);
    const remediate = { app: 'web', action: 'restart' as const, healthUrl: 'http://127.0.0.1/api/health', verifySeconds: '30' };

    // Act
    const before = await clock.run(() => ssm.run('i-0123456789abcdef0', 'snapshot', { app: 'web', sections: 'full' }));
    const restart = await clock.run(() => ssm.run('i-0123456789abcdef0', 'remediate', remediate));
    const after = await clock.run(() => ssm.run('i-0123456789abcdef0', 'snapshot', { app: 'web', sections: 'probe' }));

    // Assess: a snapshot is 1 SendCommand, a poll at once (pending), one after 2 s (done) and one read of the output;
    // the restart verifies on the host (3 s in all), so its waiter needs one more poll.
    expect(calls.sendCommand).toBe(3);
    expect(calls.getCommandInvocation).toBe(10);
    expect(ssm.roundTrips).toEqual({ investigation: 1, remediate: 1, verification: 1 });
    expect(ssm.callsFor).toEqual({ investigation: 4, remediate: 5, verification: 4 });
    expect(before.stdout).toBe(RECORDED.crashed);
    expect(parseVerifyLines(restart.stdout).verdict).toBe('recovered');
    expect(after.stdout.replace(/^taken_at=.*$/m, '')).toBe(RECORDED.healthyProbe.replace(/^taken_at=.*$/m, ''));
  });

  it('answers a light snapshot taken while the app boots with PM2 online and the probes refused', () => {
    const snapshot = parseSnapshot(BOOTING_PROBE);

    expect(snapshot.processes.find((process) => process.name === 'web')?.status).toBe('online');
    expect(snapshot.probes.nginx?.status).toBe(502);
  });
});

describe('hostVerifyOutput', () => {
  it('prints one observation per 250 ms poll from the end of pm2 restart until 3 good answers, as remediate.sh does', () => {
    // Prepare: the restart begins at 0, pm2 returns at 0.5 s, the app answers from 1.5 s.
    const start = Date.parse('2026-11-24T00:00:00.000Z');

    // Act
    const { stdout, endsAt } = hostVerifyOutput('restart', start, start + 1500, start + 30_000);
    const parsed = parseVerifyLines(stdout);

    // Assess: polls at 0.5, 0.75, 1, 1.25 (refused), then 1.5, 1.75, 2 s (good).
    expect(parsed.verdict).toBe('recovered');
    expect(parsed.skipped).toBe(0);
    expect(parsed.observations.map((observation) => observation.nginx?.status)).toEqual([0, 0, 0, 0, 200, 200, 200]);
    expect(parsed.observations[4]?.at).toBe('2026-11-24T00:00:01.500Z');
    expect(endsAt - start).toBe(2000);
  });

  it('ends at the deadline, undecided, when the app does not answer in time', () => {
    const start = Date.parse('2026-11-24T00:00:00.000Z');

    const { stdout, endsAt } = hostVerifyOutput('restart', start, start + 60_000, start + 5000);
    const parsed = parseVerifyLines(stdout);

    expect(parsed.verdict).toBe('deadline');
    expect(parsed.observations.every((observation) => observation.nginx?.status === 0)).toBe(true);
    expect(endsAt - start).toBeLessThanOrEqual(5000);
  });
});

describe('ModelCheckpoints', () => {
  it('counts operations and batched checkpoint calls, and a wait alone suspends the invocation for whole seconds', async () => {
    // Prepare
    const clock = new VirtualClock(new Date('2026-01-01T00:00:00Z'));
    const calls = noCalls();
    const checkpoints = new ModelCheckpoints(clock, 40, calls);

    // Act: a step, then a 250 ms wait with nothing else going on.
    const value = await clock.run(async () => {
      const at = await checkpoints.step('now', async () => new Date(clock.nowMs()));
      await checkpoints.wait('pause', 250);
      return at;
    });

    // Assess: the execution, the step and the wait are 3 operations; the step's START and SUCCEED go in one call
    // (queued on the same turn), the wait's START in another. The wait lasts 1 s and nobody works meanwhile.
    expect(typeof value).toBe('string');
    expect(checkpoints.counts).toMatchObject({ operations: 3, steps: 1, waits: 1, updates: 3, calls: 2 });
    expect(calls.checkpoint).toBe(2);
    expect(clock.idleStretches.map((stretch) => stretch.to - stretch.from)).toEqual([1000]);
  });

  it('does not suspend while another branch of a map still works', async () => {
    const clock = new VirtualClock(new Date('2026-01-01T00:00:00Z'));
    const checkpoints = new ModelCheckpoints(clock, 40, noCalls());

    await clock.run(() =>
      checkpoints.map('both', ['wait', 'work'], 2, async (item, own) => {
        if (item === 'wait') await own.wait('pause', 1000);
        else await own.step('work', () => clock.sleep(5000));
      }),
    );

    // The map and its two items are 3 operations beside the execution, the step and the wait.
    expect(checkpoints.counts.operations).toBe(6);
    expect(clock.idleStretches).toEqual([]);
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
