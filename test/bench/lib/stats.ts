/**
 * Small statistics and formatting helpers shared by the benchmarks. Pure functions, no I/O.
 */

/** The median of the values (the mean of the two middle ones for an even count); undefined when empty. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Smallest and largest value; undefined when empty. */
export function range(values: readonly number[]): { min: number; max: number } | undefined {
  if (values.length === 0) return undefined;
  return { min: Math.min(...values), max: Math.max(...values) };
}

/** Milliseconds as seconds with two decimals: `1234` → `1.23 s`; `–` when undefined. */
export function seconds(ms: number | undefined): string {
  return ms === undefined ? '–' : `${(ms / 1000).toFixed(2)} s`;
}

/** `median (min–max)` in seconds, e.g. `3.45 s (2.90–4.10)`; `–` when there is no value. */
export function medianAndRange(values: readonly number[]): string {
  const middle = median(values);
  const spread = range(values);
  if (middle === undefined || !spread) return '–';
  if (values.length === 1) return seconds(middle);
  return `${seconds(middle)} (${(spread.min / 1000).toFixed(2)}–${(spread.max / 1000).toFixed(2)})`;
}

/** A GitHub-flavoured markdown table; cells are escaped for `|`. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const cell = (text: string): string => text.replace(/\|/g, '\\|');
  const line = (cells: readonly string[]): string => `| ${cells.map(cell).join(' | ')} |`;
  return [line(header), `|${header.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n');
}

/**
 * A seeded pseudo-random generator (mulberry32): the fleet model's jitter is the same on every run with the
 * same seed, so two runs differ only by what really changed.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
