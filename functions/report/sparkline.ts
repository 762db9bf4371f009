/**
 * Gateway errors per minute, as a series and as a one-line sparkline for chat messages.
 */
import type { GatewayErrorCount, Report } from '../core/types.ts';

/** Eight levels, lowest first. */
export const SPARK_LEVELS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'] as const;

const MINUTE_MS = 60_000;

/**
 * One character per count. A zero is `▁` (a space would vanish at line ends and break the baseline); any non-zero
 * count is at least `▂`, so "a few errors" never looks like "none". Non-zero counts scale linearly to the maximum
 * (`█`). Negative or non-finite counts are treated as zero. An empty series gives an empty string.
 */
export function sparkline(counts: readonly number[]): string {
  const clean = counts.map((count) => (Number.isFinite(count) && count > 0 ? count : 0));
  const max = Math.max(0, ...clean);
  return clean
    .map((count) => {
      if (count === 0) return SPARK_LEVELS[0];
      const level = Math.max(1, Math.ceil((count / max) * (SPARK_LEVELS.length - 1)));
      return SPARK_LEVELS[level];
    })
    .join('');
}

/** Start of the minute containing `time`, in epoch ms. */
export function minuteStart(time: Date): number {
  return Math.floor(time.getTime() / MINUTE_MS) * MINUTE_MS;
}

/**
 * Counts per minute from the minute of `from` to the minute of `to`, both included, zero where nothing was counted.
 * Counts for the same minute are added; counts outside the range are ignored. `to` before `from` gives [].
 */
export function perMinuteSeries(gatewayErrors: readonly GatewayErrorCount[], from: Date, to: Date): number[] {
  const first = minuteStart(from);
  const last = minuteStart(to);
  if (!(last >= first)) return [];
  const series = new Array<number>((last - first) / MINUTE_MS + 1).fill(0);
  for (const { minute, count } of gatewayErrors) {
    const at = Date.parse(minute);
    if (Number.isNaN(at) || !Number.isFinite(count)) continue;
    const index = (minuteStart(new Date(at)) - first) / MINUTE_MS;
    if (index >= 0 && index < series.length) series[index] = (series[index] ?? 0) + count;
  }
  return series;
}

/** The minutes a report's chart covers, and the counts in them. */
export interface ReportSeries {
  /** Start of the first minute. */
  readonly from: Date;
  readonly counts: number[];
}

/**
 * The series "around the incident": from the earlier of the first counted minute and the start of the response to
 * the later of the last counted minute and its end, keeping the last `maxMinutes` minutes (a chat line and a chart
 * stay readable).
 */
export function reportSeries(report: Report, maxMinutes = 60): ReportSeries {
  const times = [report.startedAt, report.finishedAt, ...report.gatewayErrors.map((count) => count.minute)]
    .map((time) => Date.parse(time))
    .filter((time) => !Number.isNaN(time));
  if (times.length === 0) return { from: new Date(0), counts: [] };
  const last = minuteStart(new Date(Math.max(...times)));
  const first = Math.max(minuteStart(new Date(Math.min(...times))), last - (maxMinutes - 1) * MINUTE_MS);
  return { from: new Date(first), counts: perMinuteSeries(report.gatewayErrors, new Date(first), new Date(last)) };
}
