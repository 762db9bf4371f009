/**
 * The formats every rendering shares: one duration format, times of day in UTC, and text cut to a length.
 */

/**
 * `850 ms`, `4.5 s`, `42 s`, `2 min 5 s`: the precision a reader needs at each scale (tenths only matter under
 * 10 s). Negative values, a clock skew, show as `0 ms`.
 */
export function duration(ms: number): string {
  const value = Math.max(0, ms);
  // Thresholds on the rounded value, so 999.7 ms is `1.0 s`, not `1000 ms`.
  if (value < 999.5) return `${Math.round(value)} ms`;
  if (value < 9_950) return `${(value / 1000).toFixed(1)} s`;
  const seconds = Math.round(value / 1000);
  if (seconds < 60) return `${seconds} s`;
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

/** The time of day of an ISO time, UTC with milliseconds; undefined when the time is missing or unreadable. */
function utcTime(iso: string): string | undefined {
  const ms = iso ? Date.parse(iso) : Number.NaN;
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString().slice(11, 23);
}

/** `10:00:02.123` (UTC), or a placeholder of the same width when the time is unknown. */
export function clockTime(iso: string): string {
  return utcTime(iso) ?? '--:--:--.---';
}

/** `10:00:02` (UTC), or a placeholder of the same width when the time is unknown. */
export function timeOfDay(iso: string): string {
  return utcTime(iso)?.slice(0, 8) ?? '--:--:--';
}

/** `text` cut to `max` characters, the last one being `marker` when something was cut. */
export function cut(text: string, max: number, marker = '…'): string {
  return text.length > max ? `${text.slice(0, max - marker.length)}${marker}` : text;
}
