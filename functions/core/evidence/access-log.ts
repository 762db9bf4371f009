/**
 * nginx access log lines: Reflex's JSON `reflex` format and nginx's default `combined` format.
 * CloudWatch Logs ships the same text, so one parser serves local files and Logs Insights results.
 */
import type { AccessEntry, GatewayErrorCount, Parsed } from '../types.ts';
import { toIsoFromCommonLog, toIsoUtc, toMinute } from './time.ts';
import { GATEWAY_STATUSES } from '../../contract/telemetry.ts';

// $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
const COMBINED = /^\S+ \S+ .+? \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) (?:\d+|-)(?: |$)/;

/** One access log line, or undefined when it is neither format. */
export function parseAccessLine(line: string): AccessEntry | undefined {
  const text = line.trim();
  return text.startsWith('{') ? parseJsonLine(text) : parseCombinedLine(text);
}

/** Every line of an access log; blank lines are ignored, garbage is skipped and counted. */
export function parseAccessLog(lines: string[]): Parsed<AccessEntry> {
  const items: AccessEntry[] = [];
  let skipped = 0;
  for (const line of lines) {
    if (line.trim() === '') continue;
    const entry = parseAccessLine(line);
    if (entry) items.push(entry);
    else skipped += 1;
  }
  return { items, skipped };
}

/** The statuses nginx answers when the upstream fails: 502 refused/closed, 503 no capacity, 504 timed out. */
export function isGatewayError(status: number): boolean {
  return (GATEWAY_STATUSES as readonly number[]).includes(status);
}

/** Gateway errors per UTC minute, only minutes that have some, oldest first. */
export function countGatewayErrors(entries: AccessEntry[]): GatewayErrorCount[] {
  const minutes = new Map<string, { count: number; byStatus: Record<string, number> }>();
  for (const entry of entries) {
    if (!isGatewayError(entry.status)) continue;
    const minute = toMinute(entry.at);
    const bucket = minutes.get(minute) ?? { count: 0, byStatus: {} };
    bucket.count += 1;
    const status = String(entry.status);
    bucket.byStatus[status] = (bucket.byStatus[status] ?? 0) + 1;
    minutes.set(minute, bucket);
  }
  return [...minutes.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([minute, bucket]) => ({ minute, count: bucket.count, byStatus: bucket.byStatus }));
}

function parseJsonLine(text: string): AccessEntry | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  const at = typeof record.time === 'string' ? toIsoUtc(record.time) : undefined;
  const status = record.status;
  if (at === undefined || typeof status !== 'number' || !Number.isInteger(status)) return undefined;
  return {
    at,
    status,
    request: typeof record.request === 'string' ? record.request : '',
    ...optionalText('upstreamStatus', record.upstream_status),
    ...optionalText('upstreamAddr', record.upstream_addr),
    ...optionalText('upstreamResponseTime', record.upstream_response_time),
    ...(typeof record.request_time === 'number' && { requestTime: record.request_time }),
  };
}

/** nginx logs an empty string when no upstream was involved (a static 404): leave the field out. */
function optionalText<K extends string>(key: K, value: unknown): Partial<Record<K, string>> {
  return typeof value === 'string' && value !== '' ? ({ [key]: value } as Record<K, string>) : {};
}

function parseCombinedLine(text: string): AccessEntry | undefined {
  const match = COMBINED.exec(text);
  if (!match) return undefined;
  const [, time, request, status] = match;
  const at = toIsoFromCommonLog(time ?? '');
  if (at === undefined) return undefined;
  return { at, status: Number(status), request: request ?? '' };
}
