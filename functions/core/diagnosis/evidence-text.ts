/**
 * How diagnoses phrase what they saw: times, sizes, addresses and log text inside sentences, and the evidence
 * lines (PM2's view, nginx's complaints, ss, the probes, deploys) that prove a cause.
 */
import { MAX_TEXT } from '../evidence/index.ts';
import type { AccessEntry, ErrorLogEntry, Evidence, EvidenceLine, Listener, OomKill, Pm2LogEvent, ProbeResult, UpstreamAddress } from '../types.ts';
import { timeOf, type DeployMarker, type Facts } from './facts.ts';

const MAX_ERROR_LINES = 3;
const MAX_LISTENER_LINES = 3;

/** `127.0.0.1:3000`, `[::1]:3000`. */
export function hostPort(host: string, port: number): string {
  const bare = host.replace(/^\[|\]$/g, '');
  return bare.includes(':') ? `[${bare}]:${port}` : `${bare}:${port}`;
}

/** Where nginx proxies to, as `host:port`. */
export function upstreamText(upstream: UpstreamAddress): string {
  return hostPort(upstream.host, upstream.port);
}

/** Log-derived text quoted inside our own sentences: no backticks or control characters, bounded, as code. */
export function quote(text: string, max = 120): string {
  const clean = text.replace(/[`\u0000-\u001f\u007f]/g, ' ').trim();
  return `\`${clean.length > max ? `${clean.slice(0, max - 1)}…` : clean}\``;
}

function cut(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text;
}

/** `10:00:02Z` for sentences; the full ISO time stays in the evidence lines. */
export function clock(iso: string | undefined): string {
  const ms = timeOf(iso);
  return ms === undefined ? 'an unknown time' : `${new Date(ms).toISOString().slice(11, 19)}Z`;
}

/** `406 MB` from kB. */
export function megabytes(kb: number): string {
  return `${Math.round(kb / 1024)} MB`;
}

/** PM2's view of the app: its status, pid and restarts, or why there is none. */
export function statusLine(evidence: Evidence, facts: Facts): EvidenceLine {
  const { snapshot } = evidence;
  const at = snapshot.takenAt;
  if (!snapshot.pm2Ok) return { source: 'pm2', at, text: cut(`PM2 daemon not reachable: ${snapshot.pm2Error ?? 'no answer'}`) };
  const app = facts.app;
  if (!app) {
    const names = snapshot.processes.map((process) => process.name);
    const others = names.length > 0 ? `PM2 runs ${names.join(', ')}` : 'PM2 runs no process';
    return { source: 'pm2', at, text: cut(`no PM2 process named ${evidence.app} (${others})`) };
  }
  const exit = app.status !== 'online' && app.exitCode !== undefined ? `, exit code ${app.exitCode}` : '';
  const text = `${app.name} (pm2 id ${app.pmId}): ${app.status}, pid ${app.pid}, ${app.restartTime} restart${app.restartTime === 1 ? '' : 's'} (${app.unstableRestarts} unstable)${exit}`;
  return { source: 'pm2', at, text: cut(text) };
}

/** A pm2.log event as an evidence line. */
export function eventLine(event: Pm2LogEvent): EvidenceLine {
  return { source: 'pm2', at: event.at, text: cut(event.text) };
}

/** A couple of nginx error lines (first and last of the matching ones), never hundreds. */
export function errorLines(evidence: Evidence, accept: (entry: ErrorLogEntry) => boolean = (entry) => entry.kind !== 'other'): EvidenceLine[] {
  const matching = evidence.errorLog.filter(accept);
  const picked = matching.length <= MAX_ERROR_LINES ? matching : [...matching.slice(0, MAX_ERROR_LINES - 1), matching.at(-1)!];
  return picked.map((entry) => ({ source: 'nginx-error', at: entry.at, text: cut(entry.text) }));
}

/** A few access log lines (the last ones), as evidence. */
export function accessLines(entries: AccessEntry[]): EvidenceLine[] {
  return entries.slice(-MAX_ERROR_LINES).map((entry) => ({ source: 'nginx-access', at: entry.at, text: cut(`${entry.status} ${entry.request}${entry.upstreamStatus ? ` (upstream ${entry.upstreamStatus})` : ''}`) }));
}

/** Listening sockets are part of the live snapshot, like the probes. */
export function listenerLines(evidence: Evidence, listeners: Listener[]): EvidenceLine[] {
  return listeners.slice(0, MAX_LISTENER_LINES).map((listener) => ({
    source: 'probe',
    at: evidence.snapshot.takenAt,
    text: cut(`ss: LISTEN ${hostPort(listener.address, listener.port)} ${listener.process ?? 'unknown process'} pid ${listener.pids.join(',') || '?'}`),
  }));
}

function probeText(probe: ProbeResult): string {
  const answer = probe.status > 0 ? `HTTP ${probe.status}` : `no answer (${probe.error ?? 'other'})`;
  return `${probe.target} probe ${probe.url} → ${answer} in ${Math.round(probe.timeMs)} ms`;
}

/** The directives of nginx's proxy configuration (the snapshot's `nginx -T` lines) that match, a few at most. */
export function configLines(evidence: Evidence, pattern: RegExp): EvidenceLine[] {
  const lines = (evidence.snapshot.proxy?.lines ?? []).filter((line) => pattern.test(line)).slice(0, MAX_LISTENER_LINES);
  return lines.map((line) => ({ source: 'probe', at: evidence.snapshot.takenAt, text: cut(`nginx -T: ${line}`) }));
}

/** The nginx and upstream probes of the snapshot, those that ran. */
export function probeLines(evidence: Evidence): EvidenceLine[] {
  const { nginx, upstream } = evidence.snapshot.probes;
  return [nginx, upstream]
    .filter((probe): probe is ProbeResult => probe !== undefined)
    .map((probe) => ({ source: 'probe', at: probe.at, text: cut(probeText(probe)) }));
}

/** The kernel's OOM line; a kill without a time is dated by the snapshot. */
export function oomLine(kill: OomKill, evidence: Evidence): EvidenceLine {
  return { source: 'kernel', at: kill.at ?? evidence.snapshot.takenAt, text: cut(kill.text) };
}

/** Deploy markers as evidence lines. */
export function deployLines(markers: DeployMarker[]): EvidenceLine[] {
  return markers.map((marker) => ({ source: 'pm2', at: marker.at, text: cut(marker.text) }));
}

/** Lines every diagnosis shows: PM2's view, the rule's own lines, nginx's complaints, the probes, and a deploy just before. */
export function commonLines(evidence: Evidence, facts: Facts, specific: EvidenceLine[] = []): EvidenceLine[] {
  return [statusLine(evidence, facts), ...specific, ...errorLines(evidence), ...probeLines(evidence), ...deployLines(facts.recentDeploys)];
}
