/** Merges the logs of the incident window with the live snapshot into the Evidence the diagnosis reads. */
import type { AppLogLine, Evidence, HostSnapshot, LogBundle, OomKill, UpstreamAddress } from '../types.ts';
import { countGatewayErrors, parseAccessLog } from './access-log.ts';
import { parseAppLines } from './app-log.ts';
import { parseErrorLog } from './error-log.ts';
import { parseKernelLog } from './kernel.ts';
import { parsePm2Log } from './pm2.ts';

/** The most entries kept per list: a Lambda holds every incident's evidence in memory. */
export const MAX_ENTRIES = 200;
/** The app's output is read for its last error line: its newest lines are enough. */
const MAX_APP_LINES = 60;

/** Next.js's default address, when neither the profile nor nginx's config names one. */
const DEFAULT_UPSTREAM: UpstreamAddress = { host: '127.0.0.1', port: 3000 };

export interface EvidenceInput {
  readonly instanceId: string;
  readonly app: string;
  /** What nginx should reach, from the profile; default: the first server nginx proxies to. */
  readonly upstream?: UpstreamAddress;
  readonly window: { readonly start: string; readonly end: string };
  readonly snapshot: HostSnapshot;
  readonly logs: LogBundle;
}

/**
 * Parses the log bundle and merges it with the snapshot: error, pm2 and kernel entries deduplicated and sorted by
 * time, access entries kept inside the window, gateway errors counted per minute, at most MAX_ENTRIES (newest) each;
 * the app's own output deduplicated, in order, redacted, its newest lines.
 */
export function buildEvidence(input: EvidenceInput): Evidence {
  const { snapshot, logs, window } = input;
  const access = parseAccessLog(logs.accessLines);
  const errors = parseErrorLog(logs.errorLines);
  const pm2 = parsePm2Log(logs.pm2Lines);
  // Syslog stamps carry no year: the incident's year dates them.
  const kernel = parseKernelLog(logs.kernelLines, Number(window.end.slice(0, 4)) || undefined);
  const app = parseAppLines(logs.appLines ?? []);
  const inWindow = byTime(access.items.filter((entry) => entry.at >= window.start && entry.at <= window.end));
  // Log tails reach back days; what came before the window is another incident's story. Lines after its end are
  // kept: the live snapshot is taken just after the window closes.
  const recent = <T extends { readonly at?: string }>(items: T[]): T[] => items.filter((item) => item.at === undefined || item.at >= window.start);
  return {
    instanceId: input.instanceId,
    app: input.app,
    upstream: input.upstream ?? snapshot.proxy?.upstreams[0] ?? DEFAULT_UPSTREAM,
    window: { start: window.start, end: window.end },
    snapshot,
    access: newest(inWindow),
    gatewayErrors: countGatewayErrors(inWindow),
    errorLog: newest(byTime(recent(mergeLines(errors.items, snapshot.errorLog)))),
    pm2Log: newest(byTime(recent(mergeLines(pm2.items, snapshot.pm2Log)))),
    oomKills: newest(byTime(recent(mergeOomKills(kernel.items, snapshot.oomKills)))),
    // Most app lines carry no time: they keep their order (shipped lines, then the snapshot's newer ones).
    appLog: recent(mergeAppLines(app.items, snapshot.appLog)).slice(-MAX_APP_LINES),
    skippedLines: access.skipped + errors.skipped + pm2.skipped + kernel.skipped + snapshot.skipped,
  };
}

/** Stable sort by `at`; entries without a time (boot-relative kernel stamps) come first. ISO UTC sorts as text. */
function byTime<T extends { readonly at?: string }>(items: T[]): T[] {
  return [...items].sort((a, b) => ((a.at ?? '') < (b.at ?? '') ? -1 : (a.at ?? '') > (b.at ?? '') ? 1 : 0));
}

function newest<T>(items: T[]): T[] {
  return items.slice(-MAX_ENTRIES);
}

/**
 * The snapshot's tail of a log overlaps the shipped log: a snapshot line is dropped when the logs hold the same text.
 * Identical lines within one source stay: a crash loop writes the same line many times in one second.
 */
function mergeLines<T extends { readonly text: string }>(fromLogs: T[], fromSnapshot: T[]): T[] {
  const copies = new Map<string, number>();
  for (const item of fromLogs) copies.set(item.text, (copies.get(item.text) ?? 0) + 1);
  const extra = fromSnapshot.filter((item) => {
    const left = copies.get(item.text) ?? 0;
    if (left > 0) copies.set(item.text, left - 1);
    return left === 0;
  });
  return [...fromLogs, ...extra];
}

/**
 * The shipped pm2-app lines do not say which file they came from; the snapshot's do. A snapshot line whose text the
 * shipped lines hold replaces the first such shipped line (it knows its file), the others are added after them.
 */
function mergeAppLines(fromLogs: AppLogLine[], fromSnapshot: AppLogLine[]): AppLogLine[] {
  const merged = [...fromLogs];
  const extra: AppLogLine[] = [];
  let from = 0;
  for (const line of fromSnapshot) {
    const index = merged.findIndex((known, i) => i >= from && known.stream === undefined && known.text === line.text);
    if (index === -1) {
      extra.push(line);
    } else {
      merged[index] = { ...merged[index], ...line };
      from = index + 1;
    }
  }
  return [...merged, ...extra];
}

/**
 * The same kill reaches Reflex as a kern.log line from CloudWatch and a dmesg line from the snapshot, with different
 * stamps: one kill per pid and process, preferring the copy that has a time.
 */
function mergeOomKills(fromLogs: OomKill[], fromSnapshot: OomKill[]): OomKill[] {
  const kills = new Map<string, OomKill>();
  for (const kill of [...fromLogs, ...fromSnapshot]) {
    const key = `${kill.pid} ${kill.process}`;
    const known = kills.get(key);
    if (!known || (known.at === undefined && kill.at !== undefined)) kills.set(key, kill);
  }
  return [...kills.values()];
}
