/**
 * The app's own output: the lines PM2 writes to its error and out files (and the agent ships to the pm2-app log
 * group), and the one line among them that says why the app died (`Error: listen EADDRINUSE: …`,
 * `FATAL ERROR: Reached heap limit …`, `Could not find a production build …`). Every line is redacted here, before it
 * goes anywhere: a crashing app may print its environment.
 */
import { redact } from '../redact.ts';
import type { AppError, AppErrorKind, AppLogLine, Evidence, Parsed, Pm2LogEvent } from '../types.ts';
import { MAX_TEXT } from './error-log.ts';
import { toIsoUtc } from './time.ts';

/** PM2's `log_date_format` prefix (`2026-11-24 10:00:00: `, `2026-11-24T10:00:00.123+00:00: `, `2026-11-24 10:00 +00:00: `). */
const DATE_PREFIX = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(:\d{2}(?:[.,]\d{1,9})?)? ?(Z|[+-]\d{2}:?\d{2})?: (.*)$/;
/** Stack frames (`    at …`, V8's native ` 1: 0xb78db3 …`) say where, not why: they would crowd out the error line. */
const FRAME = /^(?:at .+|\d+: 0x[0-9a-f]+(?:\s.*)?)$/;
/** A line that states an error: `Error: …`, `TypeError: …`, `Error [ERR_X]: …`, `FATAL ERROR: …`, Next's `⨯ Error: …`. */
const HEADLINE = /^(?:[⨯✖×]\s*)?(?:Uncaught\s+)?(?:FATAL ERROR|[A-Za-z]*(?:Error|Exception)(?: \[[A-Z0-9_]+\])?|uncaughtException|unhandledRejection):\s/;
/** What each error line means, most specific first; any other error line is an uncaught exception. */
const KINDS: ReadonlyArray<readonly [RegExp, AppErrorKind]> = [
  [/^FATAL ERROR: .*(?:heap|Allocation failed)/i, 'heap_exhausted'],
  [/\bEADDRINUSE\b/, 'port_in_use'],
  [/Could not find a production build/, 'missing_build'],
  [/Cannot find (?:module|package) |\b(?:ERR_)?MODULE_NOT_FOUND\b/, 'module_not_found'],
  [/\bENOSPC\b/, 'disk_full'],
  [/\bEACCES\b|\bEPERM\b/, 'permission_denied'],
];
/** An error line stamped this long before the window is another incident's story. */
const STALE_MS = 15 * 60_000;
/** Lines shown with the error line: the one or two just before it say what the app was doing (`⨯ Failed to start server`). */
const CONTEXT_LINES = 2;
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

/**
 * Raw app output lines (a log file, the pm2-app log group): PM2's date prefix and its JSON log format are read,
 * frames and blank lines dropped, each line redacted and cut. Nothing is skipped as garbage: the app writes what it likes.
 */
export function parseAppLines(lines: string[], stream?: AppLogLine['stream']): Parsed<AppLogLine> {
  const items = lines.flatMap((line) => readLine(line, stream));
  return { items, skipped: 0 };
}

/** The snapshot's `@@app-log` lines: `err <line>` or `out <line>`; a line without either is counted as skipped. */
export function parseAppLogSection(lines: string[]): Parsed<AppLogLine> {
  const items: AppLogLine[] = [];
  let skipped = 0;
  for (const line of lines) {
    const match = /^(err|out) (.*)$/.exec(line.trim());
    if (match) items.push(...readLine(match[2] ?? '', match[1] === 'err' ? 'err' : 'out'));
    else skipped += 1;
  }
  return { items, skipped };
}

/** The app's error line, and the lines shown with it (dated like it when they carry no time of their own). */
export interface AppErrorFinding {
  readonly error: AppError;
  readonly lines: AppLogLine[];
  /** true when the error line carries its own time (not one borrowed from PM2's exit). */
  readonly stamped: boolean;
}

/**
 * The newest line of the app's output that states an error (the error file first, then lines of unknown file, then
 * the out file), classified. Its time is its own, else that of the last exit PM2 logged for the app. Undefined when
 * no such line is there, or the only one is stamped well before the window.
 */
export function findAppError(evidence: Pick<Evidence, 'app' | 'appLog' | 'pm2Log' | 'window'>): AppErrorFinding | undefined {
  const since = Date.parse(evidence.window.start) - STALE_MS;
  const fresh = (line: AppLogLine): boolean => line.at === undefined || Date.parse(line.at) >= since;
  for (const stream of ['err', undefined, 'out'] as const) {
    const lines = evidence.appLog.filter((line) => line.stream === stream);
    const index = lines.findLastIndex((line) => HEADLINE.test(line.text) && fresh(line));
    if (index === -1) continue;
    const headline = lines[index]!;
    const at = headline.at ?? lastExit(evidence.pm2Log, evidence.app)?.at;
    const error: AppError = { kind: kindOf(headline.text), text: headline.text, ...(at !== undefined && { at }) };
    const shown = lines.slice(Math.max(0, index - CONTEXT_LINES), index + 1).map((line) => (line.at === undefined && at !== undefined ? { ...line, at } : line));
    return { error, lines: shown, stamped: headline.at !== undefined };
  }
  return undefined;
}

/** What an error line means. */
export function kindOf(text: string): AppErrorKind {
  return KINDS.find(([pattern]) => pattern.test(text))?.[1] ?? 'uncaught_exception';
}

function readLine(raw: string, stream: AppLogLine['stream']): AppLogLine[] {
  const line = raw.replace(ANSI, '').trim();
  const json = line.startsWith('{') ? readJson(line) : undefined;
  if (json) return json.message.split(/\r?\n/).flatMap((text) => toLine(text, json.at, stream ?? json.stream));
  const stamped = DATE_PREFIX.exec(line);
  if (stamped) {
    const [, day, minutes, seconds = ':00', offset = '', text = ''] = stamped;
    return toLine(text, toIsoUtc(`${day}T${minutes}${seconds}${offset}`), stream);
  }
  return toLine(line, undefined, stream);
}

function toLine(raw: string, at: string | undefined, stream: AppLogLine['stream']): AppLogLine[] {
  const text = raw.replace(ANSI, '').trim();
  if (text === '' || FRAME.test(text)) return [];
  // Redacted before the cut, so that a cut never leaves part of a secret unrecognisable.
  const clean = redact(text).replace(/[\u0000-\u001f\u007f]/g, ' ');
  return [{ ...(at !== undefined && { at }), ...(stream !== undefined && { stream }), text: clean.slice(0, MAX_TEXT) }];
}

/** PM2's `log_type: 'json'` lines: `{"message":"…","timestamp":"…","type":"err",…}`. */
function readJson(line: string): { message: string; at?: string; stream?: AppLogLine['stream'] } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (typeof record.message !== 'string') return undefined;
  const at = typeof record.timestamp === 'string' ? toIsoUtc(record.timestamp) : undefined;
  const stream = record.type === 'err' || record.type === 'out' ? record.type : undefined;
  return { message: record.message, ...(at !== undefined && { at }), ...(stream !== undefined && { stream }) };
}

/** The app's last exit PM2 logged that nobody asked for (a code or a signal), else its last exit. */
function lastExit(events: Pm2LogEvent[], app: string): Pm2LogEvent | undefined {
  const exits = events.filter((event) => event.app === app && event.kind === 'exited');
  const abnormal = exits.filter((event) => (event.exitCode !== undefined && event.exitCode !== 0) || (event.signal !== undefined && event.signal !== 'SIGINT'));
  return abnormal.at(-1) ?? exits.at(-1);
}
