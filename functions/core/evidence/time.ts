/**
 * Timestamp helpers: every log format Reflex reads, turned into ISO-8601 UTC (`2026-11-24T10:00:00.000Z`).
 * Each returns undefined on bad input, so a parser can skip and count the line instead of failing.
 */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * ISO-like stamps: `2026-11-24T10:00:00+00:00` (nginx `$time_iso8601`), `2026-11-24T00:04:07,253867+00:00`
 * (dmesg), `2026-11-24T00:04:07+0000` (journalctl short-iso), `2026-11-24T00:10:46` (pm2.log).
 * Without an offset the time is taken as UTC: Reflex hosts log in UTC.
 */
export function toIsoUtc(text: string): string | undefined {
  const match = ISO.exec(text.trim());
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second, fraction, offset] = match;
  const ms = fraction ? Number(fraction.slice(0, 3).padEnd(3, '0')) : 0;
  return fromParts(Number(year), Number(month), Number(day), Number(hour), Number(minute), Number(second), ms, offsetMinutes(offset));
}

/** nginx error log: `2025/12/25 02:10:45`, local time without an offset, taken as UTC. */
export function toIsoFromNginx(text: string): string | undefined {
  const match = /^(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text.trim());
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second] = match;
  return fromParts(Number(year), Number(month), Number(day), Number(hour), Number(minute), Number(second), 0, 0);
}

/** nginx `combined` access log: `24/Nov/2026:10:00:00 +0000`. */
export function toIsoFromCommonLog(text: string): string | undefined {
  const match = /^(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-]\d{4})$/.exec(text.trim());
  if (!match) return undefined;
  const [, day, monthName, year, hour, minute, second, offset] = match;
  const month = MONTHS.indexOf(monthName ?? '') + 1;
  if (month === 0) return undefined;
  return fromParts(Number(year), month, Number(day), Number(hour), Number(minute), Number(second), 0, offsetMinutes(offset));
}

/** syslog / kern.log: `Nov 24 00:04:07`, which carries no year: the caller supplies it. Taken as UTC. */
export function toIsoFromSyslog(text: string, year: number): string | undefined {
  const match = /^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text.trim());
  if (!match) return undefined;
  const [, monthName, day, hour, minute, second] = match;
  const month = MONTHS.indexOf(monthName ?? '') + 1;
  if (month === 0) return undefined;
  return fromParts(year, month, Number(day), Number(hour), Number(minute), Number(second), 0, 0);
}

/** Epoch milliseconds (PM2's `pm_uptime`). */
export function toIsoFromEpochMs(ms: unknown): string | undefined {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) return undefined;
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** `2026-11-24T10:00:37.000Z` → `2026-11-24T10:00:00.000Z`. */
export function toMinute(iso: string): string {
  return `${iso.slice(0, 16)}:00.000Z`;
}

function offsetMinutes(offset: string | undefined): number | undefined {
  if (offset === undefined || offset === 'Z') return 0;
  const match = /^([+-])(\d{2}):?(\d{2})$/.exec(offset);
  if (!match) return undefined;
  const [, sign, hours, minutes] = match;
  const value = Number(hours) * 60 + Number(minutes);
  if (Number(minutes) > 59 || value > 14 * 60) return undefined;
  return sign === '-' ? -value : value;
}

function fromParts(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  ms: number,
  offset: number | undefined,
): string | undefined {
  if (offset === undefined || hour > 23 || minute > 59 || second > 60) return undefined;
  const local = new Date(Date.UTC(year, month - 1, day, hour, minute, Math.min(second, 59), ms));
  // Date.UTC rolls Feb 30 over into March: reject dates that did not survive the round trip.
  if (local.getUTCFullYear() !== year || local.getUTCMonth() !== month - 1 || local.getUTCDate() !== day) return undefined;
  return new Date(local.getTime() - offset * 60_000).toISOString();
}
