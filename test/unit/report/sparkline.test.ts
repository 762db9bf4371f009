import { describe, expect, it } from 'vitest';
import { perMinuteSeries, reportSeries, sparkline } from '../../../functions/report/sparkline.ts';
import type { GatewayErrorCount, Report } from '../../../functions/core/types.ts';

function count(minute: string, n: number): GatewayErrorCount {
  return { minute, count: n, byStatus: { '502': n } };
}

describe('sparkline', () => {
  it('scales counts to eight levels, the maximum at █', () => {
    // Prepare
    const counts = [0, 1, 2, 3, 4, 5, 6, 7];
    // Act
    const line = sparkline(counts);
    // Assess
    expect(line).toBe('▁▂▃▄▅▆▇█');
  });

  it('draws zero as ▁ and any non-zero count as at least ▂', () => {
    // Prepare
    const counts = [0, 1, 1000, 0];
    // Act
    const line = sparkline(counts);
    // Assess
    expect(line).toBe('▁▂█▁');
  });

  it('draws an all-zero series flat and an empty series as nothing', () => {
    // Prepare
    const zeros = [0, 0, 0];
    // Act
    const lines = [sparkline(zeros), sparkline([])];
    // Assess
    expect(lines).toEqual(['▁▁▁', '']);
  });

  it('treats negative and non-finite counts as zero', () => {
    // Prepare
    const counts = [-5, Number.NaN, Number.POSITIVE_INFINITY, 4];
    // Act
    const line = sparkline(counts);
    // Assess
    expect(line).toBe('▁▁▁█');
  });
});

describe('perMinuteSeries', () => {
  it('fills every minute of the range, zero where nothing was counted, both ends included', () => {
    // Prepare
    const counts = [count('2026-11-24T10:01:00.000Z', 5), count('2026-11-24T10:03:00.000Z', 2)];
    // Act
    const series = perMinuteSeries(counts, new Date('2026-11-24T10:00:30.000Z'), new Date('2026-11-24T10:04:59.000Z'));
    // Assess
    expect(series).toEqual([0, 5, 0, 2, 0]);
  });

  it('adds counts of the same minute and ignores counts outside the range or unreadable', () => {
    // Prepare
    const counts = [
      count('2026-11-24T10:01:00.000Z', 5),
      count('2026-11-24T10:01:30.000Z', 1),
      count('2026-11-24T09:00:00.000Z', 99),
      count('not a time', 7),
    ];
    // Act
    const series = perMinuteSeries(counts, new Date('2026-11-24T10:00:00.000Z'), new Date('2026-11-24T10:01:00.000Z'));
    // Assess
    expect(series).toEqual([0, 6]);
  });

  it('gives an empty series when the range ends before it starts', () => {
    // Prepare
    const counts = [count('2026-11-24T10:01:00.000Z', 5)];
    // Act
    const series = perMinuteSeries(counts, new Date('2026-11-24T10:05:00.000Z'), new Date('2026-11-24T10:00:00.000Z'));
    // Assess
    expect(series).toEqual([]);
  });
});

describe('reportSeries', () => {
  const base: Report = {
    instanceId: 'i-0123456789abcdef0',
    app: 'web',
    incidentId: 'evt-1',
    startedAt: '2026-11-24T10:00:10.000Z',
    finishedAt: '2026-11-24T10:02:10.000Z',
    diagnosis: { cause: 'process_crashed', summary: 's', advice: [], evidence: [] },
    action: { kind: 'restart', executed: true, reason: 'r' },
    outcome: 'recovered',
    timeline: [],
    gatewayErrors: [count('2026-11-24T09:58:00.000Z', 3)],
    timings: { diagnosedMs: 1000 },
    skippedLines: 0,
  };

  it('covers the counted minutes and the response, whichever comes first and last', () => {
    // Prepare
    const report = structuredClone(base);
    // Act
    const series = reportSeries(report);
    // Assess
    expect(series.from.toISOString()).toBe('2026-11-24T09:58:00.000Z');
    expect(series.counts).toEqual([3, 0, 0, 0, 0]);
  });

  it('keeps only the last minutes when the span is longer than the limit', () => {
    // Prepare
    const report: Report = { ...structuredClone(base), gatewayErrors: [count('2026-11-24T07:00:00.000Z', 3)] };
    // Act
    const series = reportSeries(report, 10);
    // Assess
    expect(series.counts).toHaveLength(10);
    expect(series.from.toISOString()).toBe('2026-11-24T09:53:00.000Z');
  });
});
