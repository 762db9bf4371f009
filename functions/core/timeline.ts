/**
 * One correlated timeline: gateway errors per minute, nginx upstream errors (collapsed), PM2 events, the app's own
 * error line, OOM kills, deploy markers, probes and the responder's own steps, merged by time and bounded.
 */
import { findAppError } from './evidence/index.ts';
import type { ErrorLogEntry, Evidence, OomKill, Pm2LogEvent, ProbeResult, TimelineEntry, UpstreamErrorKind } from './types.ts';

/** Most entries a timeline holds, so a report stays readable and fits SNS and Slack. */
export const MAX_TIMELINE_ENTRIES = 100;
const MAX_MESSAGE = 300;

/** Merges the evidence and the responder's entries by time (stable; entries without a time last), bounded. */
export function buildTimeline(evidence: Evidence, responder: TimelineEntry[]): TimelineEntry[] {
  const others: TimelineEntry[] = [
    ...gatewayEntries(evidence),
    ...errorEntries(evidence.errorLog),
    ...evidence.pm2Log.map(pm2Entry),
    ...appEntries(evidence),
    ...evidence.oomKills.map(oomEntry),
    ...deployEntries(evidence),
    ...probeEntries(evidence),
  ];
  return sortByTime(bound(others, responder));
}

/** Stable sort by time; entries whose time is missing or unreadable go last, in their original order. */
export function sortByTime(entries: TimelineEntry[]): TimelineEntry[] {
  return entries
    .map((entry, index) => ({ entry, index, ms: timeOf(entry.at) }))
    .sort((a, b) => {
      if (a.ms === undefined || b.ms === undefined) {
        if (a.ms === b.ms) return a.index - b.index;
        return a.ms === undefined ? 1 : -1;
      }
      return a.ms - b.ms || a.index - b.index;
    })
    .map(({ entry }) => entry);
}

/**
 * Keeps every responder entry (up to the limit) and the newest of the others, with one entry saying how many
 * older ones were left out. Entries without a time are dropped first: they cannot be placed anyway.
 */
function bound(others: TimelineEntry[], responder: TimelineEntry[]): TimelineEntry[] {
  if (others.length + responder.length <= MAX_TIMELINE_ENTRIES) return [...others, ...responder];
  const keptResponder = sortByTime(responder).slice(-(MAX_TIMELINE_ENTRIES - 1));
  const room = MAX_TIMELINE_ENTRIES - 1 - keptResponder.length;
  const timed = sortByTime(others.filter((entry) => timeOf(entry.at) !== undefined));
  const untimed = others.filter((entry) => timeOf(entry.at) === undefined);
  const keptTimed = room > 0 ? timed.slice(-room) : [];
  const keptOthers = [...keptTimed, ...untimed.slice(0, Math.max(0, room - keptTimed.length))];
  const dropped = others.length - keptOthers.length + (responder.length - keptResponder.length);
  const firstKept = sortByTime([...keptOthers, ...keptResponder])[0];
  const notice: TimelineEntry = {
    at: firstKept?.at ?? '',
    source: 'responder',
    message: `timeline bounded to ${MAX_TIMELINE_ENTRIES} entries: ${dropped} older entr${dropped === 1 ? 'y' : 'ies'} left out`,
  };
  return [notice, ...keptOthers, ...keptResponder];
}

function timeOf(iso: string | undefined): number | undefined {
  if (!iso) return undefined;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
}

function cut(text: string): string {
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE - 1)}…` : text;
}

/** `10:00:09` for ranges inside a message. */
function clock(iso: string): string {
  const ms = timeOf(iso);
  return ms === undefined ? '?' : new Date(ms).toISOString().slice(11, 19);
}

function gatewayEntries(evidence: Evidence): TimelineEntry[] {
  return evidence.gatewayErrors.map((count) => {
    const parts = Object.entries(count.byStatus)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([status, n]) => `${status}×${n}`);
    const noun = count.count === 1 ? 'gateway error' : 'gateway errors';
    return { at: count.minute, source: 'nginx-access', message: `${count.count} ${noun} (${parts.join(', ')})` };
  });
}

const KIND_TEXT: Record<Exclude<UpstreamErrorKind, 'other'>, string> = {
  connection_refused: 'connect() failed (111: Connection refused)',
  upstream_timeout: 'upstream timed out (110: Connection timed out)',
  premature_close: 'upstream prematurely closed connection',
  no_live_upstreams: 'no live upstreams',
  connection_reset: 'recv() failed (104: Connection reset by peer)',
  header_too_big: 'upstream sent too big header',
};

/** `http://127.0.0.1:3000/tokens` → `127.0.0.1:3000`. */
function upstreamHost(upstream: string | undefined): string | undefined {
  if (!upstream) return undefined;
  return upstream.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
}

/** What an nginx error line says, without its timestamp, pid and connection number. */
function errorMessage(entry: ErrorLogEntry): string {
  if (entry.kind !== 'other') {
    const host = upstreamHost(entry.upstream);
    return `${KIND_TEXT[entry.kind]}${host ? ` to ${host}` : ''}`;
  }
  return entry.text.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[\w+\] \d+#\d+: (\*\d+ )?/, '');
}

/** Consecutive lines saying the same thing (same kind and upstream) become one entry with a count and a range. */
function errorEntries(entries: ErrorLogEntry[]): TimelineEntry[] {
  const result: TimelineEntry[] = [];
  let run: { first: ErrorLogEntry; last: ErrorLogEntry; message: string; count: number } | undefined;
  const flush = (): void => {
    if (!run) return;
    const { first, last, message, count } = run;
    const text =
      count === 1
        ? `${message}${first.request ? ` (${first.request})` : ''}`
        : `${message} ×${count} (${clock(first.at)}–${clock(last.at)})`;
    result.push({ at: first.at, source: 'nginx-error', message: cut(text) });
  };
  for (const entry of entries) {
    const message = errorMessage(entry);
    if (run && run.message === message) {
      run = { ...run, last: entry, count: run.count + 1 };
      continue;
    }
    flush();
    run = { first: entry, last: entry, message, count: 1 };
  }
  flush();
  return result;
}

function pm2Entry(event: Pm2LogEvent): TimelineEntry {
  return { at: event.at, source: 'pm2', message: cut(pm2Message(event)) };
}

function pm2Message(event: Pm2LogEvent): string {
  switch (event.kind) {
    case 'online':
      return `${event.app} online`;
    case 'exited': {
      const code = event.exitCode !== undefined ? `with code ${event.exitCode}` : 'without an exit code';
      // PM2 writes SIGINT when no signal was involved, so only another signal says something.
      const signal = event.signal && event.signal !== 'SIGINT' ? ` via ${event.signal}` : '';
      return `${event.app} exited ${code}${signal}`;
    }
    case 'stopping':
      return `${event.app} stopped by pm2 stop`;
    case 'starting':
      return `${event.app} starting`;
    case 'errored':
      return `${event.app} errored: PM2 gave up after too many unstable restarts`;
    case 'deleted':
      return `${event.app} deleted from PM2`;
  }
}

/**
 * The app's error line and the one or two before it, already redacted and cut. A line without a time of its own is
 * dated by the exit PM2 logged after it, else by the snapshot.
 */
function appEntries(evidence: Evidence): TimelineEntry[] {
  const found = findAppError(evidence);
  if (!found) return [];
  return found.lines.map((line) => ({ at: line.at ?? evidence.snapshot.takenAt, source: 'app', message: cut(line.text) }));
}

function oomEntry(kill: OomKill): TimelineEntry {
  const rss = kill.anonRssKb !== undefined ? `, ${Math.round(kill.anonRssKb / 1024)} MB resident` : '';
  const scope = kill.cgroup ? 'cgroup OOM killer' : 'OOM killer';
  return { at: kill.at ?? '', source: 'kernel', message: cut(`${scope} killed ${kill.process} (pid ${kill.pid}${rss})`) };
}

function deployEntries(evidence: Evidence): TimelineEntry[] {
  const { deploy } = evidence.snapshot;
  const entries: TimelineEntry[] = [];
  if (deploy.pm2StartedAt) entries.push({ at: deploy.pm2StartedAt, source: 'pm2', message: `PM2 started ${evidence.app} (deploy?)` });
  if (deploy.buildIdChangedAt) entries.push({ at: deploy.buildIdChangedAt, source: 'pm2', message: '.next/BUILD_ID changed (deploy)' });
  return entries;
}

function probeEntries(evidence: Evidence): TimelineEntry[] {
  const { nginx, upstream } = evidence.snapshot.probes;
  return [nginx, upstream].filter((probe): probe is ProbeResult => probe !== undefined).map(probeEntry);
}

/** One probe as a timeline entry; the responder uses it for its verification polls too. */
export function probeEntry(probe: ProbeResult): TimelineEntry {
  const answer = probe.status > 0 ? `HTTP ${probe.status}` : `no answer (${probe.error ?? 'other'})`;
  return { at: probe.at, source: 'probe', message: cut(`${probe.target} probe ${probe.url} → ${answer} in ${Math.round(probe.timeMs)} ms`) };
}
