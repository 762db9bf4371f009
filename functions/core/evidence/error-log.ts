/** nginx error log lines, classified by what they say about the upstream (ngx_http_upstream.c wording). */
import type { ErrorLogEntry, Parsed, UpstreamErrorKind } from '../types.ts';
import { toIsoFromNginx } from './time.ts';

/** `2025/12/25 02:10:45 [error] 188#188: *8433 message…` */
const LINE = /^(\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}) \[([a-z]+)\] \d+#\d+: (.*)$/;

/** Evidence lines are shown to humans and shipped in reports: keep them short. */
export const MAX_TEXT = 300;

const KINDS: ReadonlyArray<readonly [RegExp, UpstreamErrorKind]> = [
  [/connect\(\) failed \(111: Connection refused\) while connecting to upstream/, 'connection_refused'],
  [/upstream timed out \(110: Connection timed out\)/, 'upstream_timeout'],
  [/upstream prematurely closed connection/, 'premature_close'],
  [/no live upstreams while connecting to upstream/, 'no_live_upstreams'],
  [/recv\(\) failed \(104: Connection reset by peer\) while reading response header from upstream/, 'connection_reset'],
  [/upstream sent too big header/, 'header_too_big'],
];

/**
 * nginx error log lines. Well-formed lines that are not about the upstream (`[notice]` signals, `[emerg]`)
 * become kind `other`; lines that are not nginx error log lines are skipped and counted.
 */
export function parseErrorLog(lines: string[]): Parsed<ErrorLogEntry> {
  const items: ErrorLogEntry[] = [];
  let skipped = 0;
  for (const line of lines) {
    const text = line.trim();
    if (text === '') continue;
    const entry = parseErrorLine(text);
    if (entry) items.push(entry);
    else skipped += 1;
  }
  return { items, skipped };
}

function parseErrorLine(text: string): ErrorLogEntry | undefined {
  const match = LINE.exec(text);
  if (!match) return undefined;
  const [, time, level, message = ''] = match;
  const at = toIsoFromNginx(time ?? '');
  if (at === undefined || level === undefined) return undefined;
  const kind = KINDS.find(([pattern]) => pattern.test(message))?.[1] ?? 'other';
  const upstream = /, upstream: "([^"]*)"/.exec(message)?.[1];
  const request = /, request: "((?:[^"\\]|\\.)*)"/.exec(message)?.[1];
  return {
    at,
    level,
    kind,
    ...(upstream !== undefined && { upstream }),
    ...(request !== undefined && { request }),
    text: text.slice(0, MAX_TEXT),
  };
}
