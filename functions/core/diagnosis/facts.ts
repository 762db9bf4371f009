/**
 * The facts the rules read again and again (the app in PM2, its pm2.log events, its sockets, recent deploys, its own
 * error line, whether gateway errors go on), derived once per diagnosis, and the predicates over probes and pm2.log
 * events that several rules share.
 */
import { findAppError, isGatewayError, type AppErrorFinding } from '../evidence/index.ts';
import type { AccessEntry, Evidence, Listener, Pm2LogEvent, Pm2Process, ProbeResult } from '../types.ts';

const MINUTE_MS = 60_000;
/** A deploy up to this long before the first gateway error is worth showing. */
const DEPLOY_LOOKBACK_MS = 15 * MINUTE_MS;
/**
 * pm_uptime is stamped when PM2 starts the new process, i.e. after the old one stopped and the first 502s began,
 * so a deploy marker may trail the first gateway error a little.
 */
const DEPLOY_TRAIL_MS = MINUTE_MS;
/** Gateway errors this close to the end of the evidence have not stopped. */
const ONGOING_MS = MINUTE_MS;
/** Errors up to this long after PM2 (re)started the app are its boot, not a problem that goes on. */
const BOOT_GRACE_MS = 10_000;

/** A sign of a deploy in the snapshot: `.next/BUILD_ID` changed, or PM2 (re)started the app. */
export interface DeployMarker {
  readonly at: string;
  readonly text: string;
}

/** What the rules read again and again, derived once per diagnosis by {@link factsOf}. */
export interface Facts {
  /** The PM2 process named like the app, if PM2 answered and runs one. */
  readonly app?: Pm2Process;
  /** The app's pm2.log events, oldest first. */
  readonly events: Pm2LogEvent[];
  readonly startMs: number;
  /** The latest time the evidence covers: the end of the window or the snapshot, whichever is later. */
  readonly endMs: number;
  /** The app's pids: those the snapshot found, and PM2's. */
  readonly pids: ReadonlySet<number>;
  /** The app's listening sockets; none when PM2 runs no such app. */
  readonly listeners: Listener[];
  /** The app's listening sockets when PM2 answers and the app is online, else undefined. */
  readonly onlineListeners?: Listener[];
  /** The online app's sockets on the port nginx proxies to. */
  readonly upstreamListeners: Listener[];
  /** Whether those sockets take every connection nginx makes to the upstream host. */
  readonly servesUpstream: boolean;
  /** Every deploy marker in the snapshot. */
  readonly deploys: DeployMarker[];
  /** The deploy markers shortly (≤ 15 min) before the first gateway error. */
  readonly recentDeploys: DeployMarker[];
  /** The app's own error line (and the lines shown with it), when its output has one. */
  readonly appError?: AppErrorFinding;
  /** Gateway errors that have not stopped (see {@link ongoingErrors}); undefined when they have, or there were none. */
  readonly ongoing?: OngoingErrors;
}

/** Gateway errors that go on: some in the last minute of the evidence, not explained by a (re)start of the app. */
export interface OngoingErrors {
  /** The last one, ISO. */
  readonly lastAt: string;
  /** How many in the last minute (access log, else nginx's error lines). */
  readonly count: number;
  /** The pages they hit, most first. */
  readonly pages: { readonly request: string; readonly count: number }[];
  /** The access log lines of the last minute's gateway errors. */
  readonly entries: AccessEntry[];
}

/** The facts of one piece of evidence; `diagnose` derives them once and hands them to every rule. */
export function factsOf(evidence: Evidence): Facts {
  const app = evidence.snapshot.processes.find((process) => process.name === evidence.app);
  const events = evidence.pm2Log
    .filter((event) => event.app === evidence.app)
    .toSorted((a, b) => (timeOf(a.at) ?? 0) - (timeOf(b.at) ?? 0));
  const startMs = timeOf(evidence.window.start) ?? 0;
  const endMs = Math.max(timeOf(evidence.window.end) ?? 0, timeOf(evidence.snapshot.takenAt) ?? 0);
  const pids = new Set(evidence.snapshot.appPids);
  if (app && app.pid > 0) pids.add(app.pid);
  const listeners = app ? appListeners(evidence, pids) : [];
  const online = evidence.snapshot.pm2Ok && app?.status === 'online';
  const upstreamListeners = online ? listeners.filter((listener) => listener.port === evidence.upstream.port) : [];
  const deploys = deployMarkers(evidence);
  const first = firstGatewayErrorMs(evidence) ?? endMs;
  const appError = findAppError(evidence);
  const ongoing = ongoingErrors(evidence, events, endMs);
  return {
    ...(app && { app }),
    events,
    startMs,
    endMs,
    pids,
    listeners,
    ...(online && { onlineListeners: listeners }),
    upstreamListeners,
    servesUpstream: servesHost(upstreamListeners.map((listener) => listener.address), evidence.upstream.host),
    deploys,
    recentDeploys: deploys.filter((marker) => {
      const ms = timeOf(marker.at);
      return ms !== undefined && ms >= first - DEPLOY_LOOKBACK_MS && ms <= first + DEPLOY_TRAIL_MS;
    }),
    ...(appError && { appError }),
    ...(ongoing && { ongoing }),
  };
}

/**
 * Whether gateway errors go on. Measured from the evidence alone: the last gateway error (access log, else nginx's
 * upstream error lines) is less than a minute before the end of the evidence (the window's end or the snapshot,
 * whichever is later), and came after the app's last (re)start and its boot: errors before a restart stopped with it.
 */
export function ongoingErrors(evidence: Evidence, events: Pm2LogEvent[], endMs: number): OngoingErrors | undefined {
  const since = endMs - ONGOING_MS;
  const starts = [
    ...events.filter((event) => event.kind === 'online').map((event) => timeOf(event.at)),
    timeOf(evidence.snapshot.processes.find((process) => process.name === evidence.app)?.startedAt),
  ].filter((ms): ms is number => ms !== undefined);
  const after = Math.max(since, starts.length > 0 ? Math.max(...starts) + BOOT_GRACE_MS : Number.NEGATIVE_INFINITY);
  const late = (at: string): boolean => (timeOf(at) ?? Number.NEGATIVE_INFINITY) >= after;
  const entries = evidence.access.filter((entry) => isGatewayError(entry.status) && late(entry.at));
  const lines = evidence.errorLog.filter((entry) => entry.kind !== 'other' && late(entry.at));
  if (entries.length === 0 && lines.length === 0) return undefined;
  const times = [...entries.map((entry) => entry.at), ...lines.map((entry) => entry.at)].sort();
  const requests = entries.length > 0 ? entries.map((entry) => entry.request) : lines.map((entry) => entry.request);
  return { lastAt: times.at(-1)!, count: Math.max(entries.length, lines.length), pages: mostFirst(requests), entries };
}

/** The requests named most often, most first, at most three. */
export function mostFirst(requests: (string | undefined)[]): { request: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const request of requests) if (request) counts.set(request, (counts.get(request) ?? 0) + 1);
  return [...counts.entries()]
    .map(([request, count]) => ({ request, count }))
    .sort((a, b) => b.count - a.count)
    .slice(0, 3);
}

/** Epoch ms of an ISO time, undefined when absent or unreadable. */
export function timeOf(iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
}

/** true when the probe got an HTTP answer of 2xx or 3xx. */
export function probeOk(probe: ProbeResult | undefined): boolean {
  return probe !== undefined && probe.status >= 200 && probe.status < 400;
}

/** true when the probe got any HTTP answer (even a 500). */
export function probeAnswered(probe: ProbeResult | undefined): boolean {
  return probe !== undefined && probe.status > 0;
}

/** Whether a process name is a Node.js server: `node`, or Next.js's `next-server (v…)`. */
export function isNodeProcess(name: string | undefined): boolean {
  return name !== undefined && (name.startsWith('node') || name.startsWith('next-server'));
}

/** A `Stopping app` shortly before the exit: someone ran `pm2 stop`. */
export function stoppedOnPurpose(facts: Facts, exit: Pm2LogEvent): boolean {
  // By sequence, not by time: pm2.log stamps whole seconds, and a crash loop packs several starts into one.
  const index = facts.events.indexOf(exit);
  for (let i = index - 1; i >= 0; i--) {
    const kind = facts.events[i]!.kind;
    if (kind === 'stopping') return true;
    if (kind === 'online' || kind === 'exited') return false;
  }
  return false;
}

/**
 * The app's listening sockets: by pid first; by process name when ss showed no pid of the app; and sockets on the
 * upstream port without any process when ss ran without the rights to name other users' processes.
 */
function appListeners(evidence: Evidence, pids: ReadonlySet<number>): Listener[] {
  const listeners = evidence.snapshot.listeners;
  const byPid = listeners.filter((listener) => listener.pids.some((pid) => pids.has(pid)));
  if (byPid.length > 0) return byPid;
  // By name only when the app's pids are unknown: otherwise another node service on the host would pass for the app.
  if (pids.size === 0) {
    const byName = listeners.filter((listener) => isNodeProcess(listener.process));
    if (byName.length > 0) return byName;
  }
  // Without root, ss names no process: a socket on the upstream port is the best guess.
  return listeners.filter((listener) => listener.process === undefined && listener.port === evidence.upstream.port);
}

/** Whether a socket bound to `bound` accepts connections to `target` (both without brackets). */
function bindServes(bound: string, target: string): boolean {
  const address = bound.toLowerCase().replace(/^::ffff:/, '');
  const wanted = target.toLowerCase();
  if (address === '*' || address === wanted) return true;
  const wantedV4 = /^\d{1,3}(\.\d{1,3}){3}$/.test(wanted);
  const wantedV6 = wanted.includes(':');
  // `::` takes IPv4 too on a dual-stack host (Linux's default, bindv6only=0).
  if (wantedV4) return address === '0.0.0.0' || address === '::';
  if (wantedV6) return address === '::';
  // A name other than localhost: only a wildcard bind is sure to take it.
  return address === '0.0.0.0' || address === '::';
}

/**
 * Whether the bound addresses serve the upstream host. nginx resolves `localhost` to every address it has
 * (127.0.0.1 and ::1), so the app must take both, or half of nginx's connections are refused.
 */
function servesHost(addresses: string[], host: string): boolean {
  const target = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (target === 'localhost') {
    return ['127.0.0.1', '::1'].every((loopback) => addresses.some((address) => bindServes(address, loopback)));
  }
  return addresses.some((address) => bindServes(address, target));
}

function deployMarkers(evidence: Evidence): DeployMarker[] {
  const { deploy } = evidence.snapshot;
  const markers: DeployMarker[] = [];
  if (deploy.buildIdChangedAt) markers.push({ at: deploy.buildIdChangedAt, text: `.next/BUILD_ID changed at ${deploy.buildIdChangedAt} (deploy)` });
  if (deploy.pm2StartedAt) markers.push({ at: deploy.pm2StartedAt, text: `PM2 started ${evidence.app} at ${deploy.pm2StartedAt} (deploy?)` });
  return markers;
}

/** When users first got a gateway error: the access log, else nginx's error log, else the per-minute counts. */
function firstGatewayErrorMs(evidence: Evidence): number | undefined {
  const times = [
    ...evidence.access.filter((entry) => isGatewayError(entry.status)).map((entry) => timeOf(entry.at)),
    ...evidence.errorLog.filter((entry) => entry.kind !== 'other').map((entry) => timeOf(entry.at)),
  ].filter((ms): ms is number => ms !== undefined);
  if (times.length > 0) return Math.min(...times);
  const minutes = evidence.gatewayErrors.map((count) => timeOf(count.minute)).filter((ms): ms is number => ms !== undefined);
  return minutes.length > 0 ? Math.min(...minutes) : undefined;
}
