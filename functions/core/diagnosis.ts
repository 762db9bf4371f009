/**
 * Diagnosis: small rules over the evidence, evaluated in priority order; the first that matches names the cause.
 * Each rule states what is wrong in one sentence, what a human should do, and the few lines that prove it.
 */
import type {
  Cause,
  Diagnosis,
  ErrorLogEntry,
  Evidence,
  EvidenceLine,
  Listener,
  OomKill,
  Pm2LogEvent,
  Pm2Process,
  ProbeResult,
  UpstreamAddress,
  UpstreamErrorKind,
} from './types.ts';

/** One diagnosis rule: returns a diagnosis when the evidence shows its cause, else undefined. */
export interface DiagnosisRule {
  readonly id: Cause;
  evaluate(evidence: Evidence): Diagnosis | undefined;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
/** A deploy up to this long before the first gateway error is worth showing. */
const DEPLOY_LOOKBACK_MS = 15 * MINUTE;
/**
 * pm_uptime is stamped when PM2 starts the new process, i.e. after the old one stopped and the first 502s began,
 * so a deploy marker may trail the first gateway error a little.
 */
const DEPLOY_TRAIL_MS = MINUTE;
/** OOM kills shortly before the window still explain it: the alarm lags the kill. */
const OOM_LOOKBACK_MS = MINUTE;
/** How close PM2's `exited … via signal [SIGKILL]` must be to the kernel's kill to be the same event. */
const OOM_EXIT_TOLERANCE_MS = 10 * SECOND;
const CRASH_LOOP_WINDOW_MS = 5 * MINUTE;
/** An exit this soon after `online` is a crash at start-up. */
const QUICK_EXIT_MS = 10 * SECOND;
const QUICK_EXITS_FOR_LOOP = 3;
/** A `pm2 stop` is followed by the exit within PM2's kill_timeout (1.6 s by default). */
const MAX_TEXT = 300;
const MAX_ERROR_LINES = 3;
const MAX_LISTENER_LINES = 3;
/** nginx's default proxy_read_timeout. */
const DEFAULT_READ_TIMEOUT_S = 60;

// ---------------------------------------------------------------- facts every rule reads

/** What the rules read again and again, derived once per evaluation. */
interface Facts {
  readonly app?: Pm2Process;
  /** The app's pm2.log events, oldest first. */
  readonly events: Pm2LogEvent[];
  /** The latest time the evidence covers: the end of the window or the snapshot, whichever is later. */
  readonly endMs: number;
  readonly startMs: number;
}

function factsOf(evidence: Evidence): Facts {
  const app = evidence.snapshot.processes.find((process) => process.name === evidence.app);
  const events = evidence.pm2Log
    .filter((event) => event.app === evidence.app)
    .toSorted((a, b) => (timeOf(a.at) ?? 0) - (timeOf(b.at) ?? 0));
  const startMs = timeOf(evidence.window.start) ?? 0;
  const endMs = Math.max(timeOf(evidence.window.end) ?? 0, timeOf(evidence.snapshot.takenAt) ?? 0);
  return { ...(app && { app }), events, startMs, endMs };
}

/** Epoch ms of an ISO time, undefined when absent or unreadable. */
function timeOf(iso: string | undefined): number | undefined {
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

function isNodeProcess(name: string | undefined): boolean {
  return name !== undefined && (name.startsWith('node') || name.startsWith('next-server'));
}

/**
 * The app's listening sockets: by pid first; by process name when ss showed no pid of the app; and sockets on the
 * upstream port without any process when ss ran without the rights to name other users' processes.
 */
function appListeners(evidence: Evidence, app: Pm2Process): Listener[] {
  const pids = new Set(evidence.snapshot.appPids);
  if (app.pid > 0) pids.add(app.pid);
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

/** `127.0.0.1:3000`, `[::1]:3000`. */
function hostPort(host: string, port: number): string {
  const bare = host.replace(/^\[|\]$/g, '');
  return bare.includes(':') ? `[${bare}]:${port}` : `${bare}:${port}`;
}

function upstreamText(upstream: UpstreamAddress): string {
  return hostPort(upstream.host, upstream.port);
}

/** Log-derived text quoted inside our own sentences: no backticks or control characters, bounded, as code. */
function quote(text: string, max = 120): string {
  const clean = text.replace(/[`\u0000-\u001f\u007f]/g, ' ').trim();
  return `\`${clean.length > max ? `${clean.slice(0, max - 1)}…` : clean}\``;
}

function cut(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text;
}

/** `10:00:02Z` for sentences; the full ISO time stays in the evidence lines. */
function clock(iso: string | undefined): string {
  const ms = timeOf(iso);
  return ms === undefined ? 'an unknown time' : `${new Date(ms).toISOString().slice(11, 19)}Z`;
}

function megabytes(kb: number): string {
  return `${Math.round(kb / 1024)} MB`;
}

// ---------------------------------------------------------------- evidence lines

function statusLine(evidence: Evidence, facts: Facts): EvidenceLine {
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

function eventLine(event: Pm2LogEvent): EvidenceLine {
  return { source: 'pm2', at: event.at, text: cut(event.text) };
}

/** A couple of nginx error lines (first and last of the matching ones), never hundreds. */
function errorLines(evidence: Evidence, accept: (entry: ErrorLogEntry) => boolean = (entry) => entry.kind !== 'other'): EvidenceLine[] {
  const matching = evidence.errorLog.filter(accept);
  const picked = matching.length <= MAX_ERROR_LINES ? matching : [...matching.slice(0, MAX_ERROR_LINES - 1), matching.at(-1)!];
  return picked.map((entry) => ({ source: 'nginx-error', at: entry.at, text: cut(entry.text) }));
}

/** Listening sockets are part of the live snapshot, like the probes. */
function listenerLines(evidence: Evidence, listeners: Listener[]): EvidenceLine[] {
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

function probeLines(evidence: Evidence): EvidenceLine[] {
  const { nginx, upstream } = evidence.snapshot.probes;
  return [nginx, upstream]
    .filter((probe): probe is ProbeResult => probe !== undefined)
    .map((probe) => ({ source: 'probe', at: probe.at, text: cut(probeText(probe)) }));
}

function oomLine(kill: OomKill, evidence: Evidence): EvidenceLine {
  return { source: 'kernel', at: kill.at ?? evidence.snapshot.takenAt, text: cut(kill.text) };
}

interface DeployMarker {
  readonly at: string;
  readonly text: string;
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
    ...evidence.access.filter((entry) => isGatewayStatus(entry.status)).map((entry) => timeOf(entry.at)),
    ...evidence.errorLog.filter((entry) => entry.kind !== 'other').map((entry) => timeOf(entry.at)),
  ].filter((ms): ms is number => ms !== undefined);
  if (times.length > 0) return Math.min(...times);
  const minutes = evidence.gatewayErrors.map((count) => timeOf(count.minute)).filter((ms): ms is number => ms !== undefined);
  return minutes.length > 0 ? Math.min(...minutes) : undefined;
}

function isGatewayStatus(status: number): boolean {
  return status === 502 || status === 503 || status === 504;
}

/** Deploy markers that came shortly (≤ 15 min) before the first gateway error. */
function recentDeploys(evidence: Evidence, facts: Facts): DeployMarker[] {
  const first = firstGatewayErrorMs(evidence) ?? facts.endMs;
  return deployMarkers(evidence).filter((marker) => {
    const ms = timeOf(marker.at);
    return ms !== undefined && ms >= first - DEPLOY_LOOKBACK_MS && ms <= first + DEPLOY_TRAIL_MS;
  });
}

function deployLines(markers: DeployMarker[]): EvidenceLine[] {
  return markers.map((marker) => ({ source: 'pm2', at: marker.at, text: cut(marker.text) }));
}

/** Lines every diagnosis shows: PM2's view, nginx's complaints, the probes, and a deploy just before. */
function commonLines(evidence: Evidence, facts: Facts, specific: EvidenceLine[] = []): EvidenceLine[] {
  return [statusLine(evidence, facts), ...specific, ...errorLines(evidence), ...probeLines(evidence), ...deployLines(recentDeploys(evidence, facts))];
}

function diagnosis(cause: Cause, summary: string, advice: string[], evidence: EvidenceLine[]): Diagnosis {
  return { cause, summary, advice, evidence };
}

// ---------------------------------------------------------------- rules

/** The PM2 daemon is gone, or it has no process named like the app. */
export function processMissingRule(): DiagnosisRule {
  return {
    id: 'process_missing',
    evaluate(evidence) {
      const facts = factsOf(evidence);
      const { snapshot, app } = evidence;
      if (snapshot.pm2Ok && facts.app) return undefined;
      const stillAnswers = probeAnswered(snapshot.probes.upstream)
        ? ` (something still answers on ${upstreamText(evidence.upstream)}, outside PM2's control)`
        : '';
      const summary = snapshot.pm2Ok
        ? `No PM2 process is named ${app}: it was deleted or never started, so nginx has nothing to proxy to${stillAnswers}.`
        : `The PM2 daemon does not answer, so nothing keeps ${app} running${stillAnswers}.`;
      const why = snapshot.pm2Ok
        ? `Find out who deleted ${app} (a deploy script running \`pm2 delete\`, an operator): see the \`deleted\` lines in $PM2_HOME/pm2.log; \`pm2 resurrect\` restores the list saved by the last \`pm2 save\`.`
        : 'Find out why the PM2 daemon died ($PM2_HOME/pm2.log, `dmesg` for an OOM kill); `pm2 resurrect` restores the saved process list and `pm2 startup` makes PM2 start at boot.';
      const deleted = facts.events.filter((event) => event.kind === 'deleted').slice(-2).map(eventLine);
      return diagnosis(
        'process_missing',
        summary,
        [`Start it from its ecosystem file: \`pm2 start <ecosystem> --only ${app}\`, then \`pm2 save\` so a reboot brings it back.`, why],
        commonLines(evidence, facts, deleted),
      );
    },
  };
}

/** The kernel's OOM killer killed the app (whatever PM2 did afterwards). */
export function oomKilledRule(): DiagnosisRule {
  return {
    id: 'oom_killed',
    evaluate(evidence) {
      const facts = factsOf(evidence);
      const app = facts.app;
      if (!app) return undefined;
      const found = appOomKill(evidence, facts, app);
      if (!found) return undefined;
      const { kill, exit } = found;
      const down = app.status !== 'online';
      // Back online since the kill, yet users still get errors (a failing probe, timeouts since): the kill is
      // history, something else is wrong now.
      const timeoutsSince = evidence.errorLog.some((entry) => entry.kind === 'upstream_timeout' && kill.at !== undefined && entry.at > kill.at);
      if (!down && (!probeOk(evidence.snapshot.probes.nginx) || timeoutsSince)) return undefined;
      const state = down ? `it is still down (PM2 status ${app.status})` : 'PM2 brought it back and it is online';
      const rss = kill.anonRssKb !== undefined ? `, ${megabytes(kill.anonRssKb)} resident` : '';
      const summary = `The kernel's OOM killer killed ${evidence.app} (${kill.process}, pid ${kill.pid}${rss}) at ${clock(kill.at)}; ${state}.`;
      const memory = evidence.snapshot.memory;
      const host = memory ? ` on a host with ${megabytes(memory.totalKb)} of memory (${megabytes(memory.availableKb)} available now)` : '';
      const limit = kill.anonRssKb !== undefined ? `${Math.max(1, Math.floor((kill.anonRssKb * 0.8) / 1024))}M` : '<80% of the size at the kill>';
      const advice = [
        kill.anonRssKb !== undefined
          ? `The kernel killed it with ${megabytes(kill.anonRssKb)} of anonymous memory (anon-rss:${kill.anonRssKb}kB)${host}.`
          : `The kernel killed it${host}; the kernel line does not say how big it was.`,
        `Set \`max_memory_restart: '${limit}'\` for ${evidence.app} in the ecosystem file so PM2 restarts it gracefully before the kernel kills it.`,
        'Cap the V8 heap below what the host can spare (`node_args: \'--max-old-space-size=<MB>\'`), and look for a leak if memory grows steadily.',
        'If the app really needs this much memory, move to a larger instance size (or run fewer processes on this one).',
      ];
      const specific = [oomLine(kill, evidence), ...(exit ? [eventLine(exit)] : [])];
      return diagnosis('oom_killed', summary, advice, commonLines(evidence, facts, specific));
    },
  };
}

/**
 * The latest OOM kill of a node/next-server process that is the app's: its pid is one of the app's, or PM2 saw
 * the app die by SIGKILL within seconds of it. A kill without a time counts only by pid.
 */
function appOomKill(evidence: Evidence, facts: Facts, app: Pm2Process): { kill: OomKill; exit?: Pm2LogEvent } | undefined {
  const pids = new Set(evidence.snapshot.appPids);
  if (app.pid > 0) pids.add(app.pid);
  const since = facts.startMs - OOM_LOOKBACK_MS;
  const sigkills = facts.events.filter((event) => event.kind === 'exited' && event.signal === 'SIGKILL');
  for (const kill of evidence.oomKills.toReversed()) {
    if (!isNodeProcess(kill.process)) continue;
    const killMs = timeOf(kill.at);
    if (killMs !== undefined && killMs < since) continue;
    const exit =
      killMs === undefined ? undefined : sigkills.find((event) => Math.abs((timeOf(event.at) ?? Number.NaN) - killMs) <= OOM_EXIT_TOLERANCE_MS);
    if (pids.has(kill.pid) || exit) return { kill, ...(exit && { exit }) };
  }
  return undefined;
}

/** The app dies right after each start: PM2 gave up (errored), is about to retry, or pm2.log shows quick exits. */
export function crashLoopRule(): DiagnosisRule {
  return {
    id: 'crash_loop',
    evaluate(evidence) {
      const facts = factsOf(evidence);
      const app = facts.app;
      if (!app) return undefined;
      const retrying = (app.status === 'launching' || app.status === 'waiting restart') && app.unstableRestarts >= 2;
      const quick = quickExits(facts);
      const gaveUp = facts.events.filter((event) => event.kind === 'errored').slice(-1);
      // `errored` alone is also what a script that fails once to launch shows: process_crashed. It is a loop when
      // PM2 says it gave up after unstable restarts, or pm2.log shows the quick exits.
      const looped = gaveUp.length > 0 || quick.length >= QUICK_EXITS_FOR_LOOP;
      if (!retrying && !looped) return undefined;
      const name = evidence.app;
      const summary =
        app.status === 'errored'
          ? `${name} is in a crash loop: PM2 gave up restarting it and marked it errored after ${app.restartTime} restarts.`
          : retrying
            ? `${name} is in a crash loop: PM2 is restarting it again (${app.unstableRestarts} unstable restarts, status ${app.status}).`
            : `${name} is in a crash loop: it exited ${quick.length} times within seconds of starting in the last 5 minutes.`;
      const deploys = deployMarkers(evidence);
      const deployAdvice =
        deploys.length > 0
          ? `Look at the last deploy (${deploys.map((marker) => marker.text).join('; ')}): roll back if it broke the app.`
          : 'Look at what changed last (deploy, ecosystem env, .env files, a dependency such as the database).';
      const specific = [...quick.slice(-3).map(eventLine), ...gaveUp.map(eventLine), ...deployLines(deploys)];
      return diagnosis(
        'crash_loop',
        summary,
        [
          `Read why it dies: \`pm2 logs ${name} --err --lines 50\`.`,
          deployAdvice,
          `Do not restart it again until the cause is fixed: it dies the same way each time. Then \`pm2 restart ${name}\`.`,
        ],
        [statusLine(evidence, facts), ...specific, ...errorLines(evidence), ...probeLines(evidence)],
      );
    },
  };
}

/** `exited` events of the last 5 minutes that came less than 10 s after the preceding `online`, not asked for. */
function quickExits(facts: Facts): Pm2LogEvent[] {
  const quick: Pm2LogEvent[] = [];
  let onlineMs: number | undefined;
  for (const event of facts.events) {
    const ms = timeOf(event.at);
    if (event.kind === 'online') onlineMs = ms;
    if (event.kind !== 'exited' || ms === undefined) continue;
    // An exit that follows `pm2 stop`/`restart`/`delete` was asked for: a deploy, an operator, Reflex itself.
    const quickly = onlineMs !== undefined && ms - onlineMs < QUICK_EXIT_MS;
    if (ms >= facts.endMs - CRASH_LOOP_WINDOW_MS && quickly && !stoppedOnPurpose(facts, event)) quick.push(event);
    onlineMs = undefined;
  }
  return quick;
}

/** An exit PM2 did not ask for: a non-zero code, or a signal other than the SIGINT PM2 logs by default. */
function abnormalExit(event: Pm2LogEvent): boolean {
  return (event.exitCode !== undefined && event.exitCode !== 0) || (event.signal !== undefined && event.signal !== 'SIGINT');
}

/** A `Stopping app` shortly before the exit: someone ran `pm2 stop`. */
function stoppedOnPurpose(facts: Facts, exit: Pm2LogEvent): boolean {
  // By sequence, not by time: pm2.log stamps whole seconds, and a crash loop packs several starts into one.
  const index = facts.events.indexOf(exit);
  for (let i = index - 1; i >= 0; i--) {
    const kind = facts.events[i]!.kind;
    if (kind === 'stopping') return true;
    if (kind === 'online' || kind === 'exited') return false;
  }
  return false;
}

/** The app died and PM2 did not bring it back. */
export function processCrashedRule(): DiagnosisRule {
  return {
    id: 'process_crashed',
    evaluate(evidence) {
      const facts = factsOf(evidence);
      const app = facts.app;
      if (!app) return undefined;
      const crash = crashEvidence(facts, app);
      if (!crash) return undefined;
      const name = evidence.app;
      const how = crash.exit ? `${exitText(crash.exit)} at ${clock(crash.exit.at)}` : `exited with code ${app.exitCode ?? 'unknown'}`;
      const summary =
        app.status === 'errored'
          ? `${name} crashed and PM2 marked it errored, so nothing listens for nginx.`
          : `${name} crashed (${how}) and PM2 did not restart it (status ${app.status}).`;
      return diagnosis(
        'process_crashed',
        summary,
        [
          `Restart it: \`pm2 restart ${name}\`.`,
          `Read why it crashed: \`pm2 logs ${name} --err --lines 50\`.`,
          `PM2 did not bring it back: check \`autorestart\` and \`stop_exit_codes\` for ${name} in the ecosystem file.`,
        ],
        commonLines(evidence, facts, crash.exit ? [eventLine(crash.exit)] : []),
      );
    },
  };
}

/** PM2 logs SIGINT when no signal was involved, so only another signal is worth saying. */
function exitText(exit: Pm2LogEvent): string {
  const code = exit.exitCode !== undefined ? `exited with code ${exit.exitCode}` : 'exited';
  return exit.signal && exit.signal !== 'SIGINT' ? `${code} via ${exit.signal}` : code;
}

function crashEvidence(facts: Facts, app: Pm2Process): { exit?: Pm2LogEvent } | undefined {
  if (app.status === 'errored') return {};
  if (app.status !== 'stopped') return undefined;
  const last = facts.events.at(-1);
  if (last?.kind === 'exited' && abnormalExit(last) && !stoppedOnPurpose(facts, last)) return { exit: last };
  const anyStop = facts.events.some((event) => event.kind === 'stopping');
  if (app.exitCode !== undefined && app.exitCode !== 0 && !anyStop) return last?.kind === 'exited' ? { exit: last } : {};
  return undefined;
}

/** Someone stopped the app (`pm2 stop`) and nobody started it again. */
export function processStoppedRule(): DiagnosisRule {
  return {
    id: 'process_stopped',
    evaluate(evidence) {
      const facts = factsOf(evidence);
      const app = facts.app;
      if (!app || (app.status !== 'stopped' && app.status !== 'stopping')) return undefined;
      const name = evidence.app;
      const stop = facts.events.filter((event) => event.kind === 'stopping').at(-1);
      const summary = stop
        ? `${name} was stopped (\`pm2 stop\` at ${clock(stop.at)}) and nothing started it again.`
        : `${name} is ${app.status} in PM2 and nothing started it again.`;
      return diagnosis(
        'process_stopped',
        summary,
        [
          `Find out who stopped it (a deploy script, an operator running \`pm2 stop\`) so it does not happen again.`,
          `Start it again: \`pm2 restart ${name}\`.`,
        ],
        commonLines(evidence, facts, stop ? [eventLine(stop)] : []),
      );
    },
  };
}

/** The online app's listeners, or undefined when it is not online. */
function onlineListeners(evidence: Evidence, facts: Facts): Listener[] | undefined {
  if (!evidence.snapshot.pm2Ok || facts.app?.status !== 'online') return undefined;
  return appListeners(evidence, facts.app);
}

function portsText(listeners: Listener[]): string {
  return [...new Set(listeners.map((listener) => listener.port))].sort((a, b) => a - b).join(', ');
}

/** The app listens, but not on the port nginx proxies to. */
export function portMismatchRule(): DiagnosisRule {
  return {
    id: 'port_mismatch',
    evaluate(evidence) {
      const facts = factsOf(evidence);
      const listeners = onlineListeners(evidence, facts);
      const port = evidence.upstream.port;
      if (!listeners || listeners.length === 0 || listeners.some((listener) => listener.port === port)) return undefined;
      const name = evidence.app;
      const ports = portsText(listeners);
      const first = listeners[0]!;
      const envPort = facts.app?.port !== undefined && facts.app.port !== port ? ` (its PM2 env has PORT=${facts.app.port})` : '';
      return diagnosis(
        'port_mismatch',
        `nginx proxies to ${upstreamText(evidence.upstream)} but ${name} listens on ${ports}${envPort}.`,
        [
          `Make the app listen where nginx proxies: set PORT=${port} in ${name}'s env in the ecosystem file, then \`pm2 startOrReload <ecosystem> --only ${name} --update-env\`.`,
          `Or point nginx at the app: \`proxy_pass http://${hostPort(evidence.upstream.host, first.port)};\`, then \`nginx -t && nginx -s reload\`.`,
          `A plain restart will not help: ${name} comes back on port ${ports}.`,
        ],
        commonLines(evidence, facts, listenerLines(evidence, listeners)),
      );
    },
  };
}

/** The app listens on the right port but on an address nginx does not connect to (or only half of them). */
export function proxyMisconfigRule(): DiagnosisRule {
  return {
    id: 'proxy_misconfig',
    evaluate(evidence) {
      const facts = factsOf(evidence);
      const listeners = onlineListeners(evidence, facts);
      const { host, port } = evidence.upstream;
      const onPort = (listeners ?? []).filter((listener) => listener.port === port);
      if (onPort.length === 0 || servesHost(onPort.map((listener) => listener.address), host)) return undefined;
      const name = evidence.app;
      const bound = onPort.map((listener) => hostPort(listener.address, listener.port));
      const isLocalhost = host.toLowerCase() === 'localhost';
      const summary = isLocalhost
        ? `nginx proxies to localhost:${port}, which resolves to both 127.0.0.1 and ::1, but ${name} listens only on ${bound.join(', ')}: connections to the other address are refused.`
        : `nginx proxies to ${upstreamText(evidence.upstream)} but ${name} listens only on ${bound.join(', ')}, so nginx's connections are refused.`;
      const wantsV6 = host.includes(':');
      const bindTo = wantsV6 ? '::1 (or ::)' : '127.0.0.1 (or 0.0.0.0)';
      const envHost = facts.app?.hostname !== undefined ? ` (its PM2 env has HOSTNAME=${quote(facts.app.hostname, 60)})` : '';
      const refused = errorLines(
        evidence,
        (entry) => entry.kind === 'connection_refused' && (entry.upstream === undefined || entry.upstream.includes(`:${port}`)),
      );
      return diagnosis(
        'proxy_misconfig',
        summary,
        [
          `Bind the app where nginx connects: set HOSTNAME=${bindTo} in ${name}'s env in the ecosystem file${envHost}, then \`pm2 startOrReload <ecosystem> --only ${name} --update-env\`.`,
          `Or point nginx at the address the app binds: \`proxy_pass http://${bound[0]};\` instead of \`proxy_pass http://${upstreamText(evidence.upstream)};\`, then \`nginx -t && nginx -s reload\`.`,
          'A plain restart will not help: the app binds the same address again.',
        ],
        [statusLine(evidence, facts), ...listenerLines(evidence, onPort), ...refused, ...probeLines(evidence), ...deployLines(recentDeploys(evidence, facts))],
      );
    },
  };
}

/** The app answers, but some requests outlast proxy_read_timeout and nginx answers 504. */
export function upstreamTimeoutRule(): DiagnosisRule {
  return {
    id: 'upstream_timeout',
    evaluate(evidence) {
      const facts = factsOf(evidence);
      if (!onlineListeners(evidence, facts)) return undefined;
      const inWindow = (at: string): boolean => {
        const ms = timeOf(at);
        return ms !== undefined && ms >= facts.startMs && ms <= facts.endMs;
      };
      const timeouts = evidence.errorLog.filter((entry) => entry.kind === 'upstream_timeout' && inWindow(entry.at));
      const gateway504 = evidence.access.filter((entry) => entry.status === 504 && inWindow(entry.at));
      const upstreamProbe = evidence.snapshot.probes.upstream;
      if ((timeouts.length === 0 && gateway504.length === 0) || !probeAnswered(upstreamProbe)) return undefined;
      const name = evidence.app;
      const readTimeout = evidence.snapshot.proxy?.readTimeoutSeconds ?? DEFAULT_READ_TIMEOUT_S;
      const count = Math.max(timeouts.length, gateway504.length);
      const slow = slowRequests([...timeouts.map((entry) => entry.request), ...(timeouts.length === 0 ? gateway504.map((entry) => entry.request) : [])]);
      const slowText = slow.length > 0 ? slow.map(({ request, count: n }) => `${quote(request)} (${n}×)`).join(', ') : 'not named in the logs';
      const probeAnswer = `HTTP ${upstreamProbe!.status} in ${Math.round(upstreamProbe!.timeMs)} ms`;
      return diagnosis(
        'upstream_timeout',
        `${name} is up but too slow: ${count} request${count === 1 ? '' : 's'} outlasted proxy_read_timeout (${readTimeout} s) and nginx answered 504, while the app still answers (${probeAnswer}).`,
        [
          `Slow requests: ${slowText}.`,
          'Make them faster: cache or pre-render them (ISR with `revalidate`), move long work to a background job, and profile the route (`node --cpu-prof`).',
          `If they are legitimately slow, raise \`proxy_read_timeout\` (now ${readTimeout} s) for those routes only, in their own \`location\` block.`,
          'Reflex does not restart for this: a restart would drop in-flight requests and not make the routes faster.',
        ],
        [
          statusLine(evidence, facts),
          ...errorLines(evidence, (entry) => entry.kind === 'upstream_timeout'),
          ...probeLines(evidence),
          ...deployLines(recentDeploys(evidence, facts)),
        ],
      );
    },
  };
}

function slowRequests(requests: (string | undefined)[]): { request: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const request of requests) if (request) counts.set(request, (counts.get(request) ?? 0) + 1);
  return [...counts.entries()]
    .map(([request, count]) => ({ request, count }))
    .sort((a, b) => b.count - a.count)
    .slice(0, 3);
}

/** The app is online and listens where nginx connects, but does not answer: hung. */
export function appHungRule(): DiagnosisRule {
  return {
    id: 'app_hung',
    evaluate(evidence) {
      const facts = factsOf(evidence);
      const listeners = onlineListeners(evidence, facts);
      const { host, port } = evidence.upstream;
      const right = (listeners ?? []).filter((listener) => listener.port === port);
      if (right.length === 0 || !servesHost(right.map((listener) => listener.address), host)) return undefined;
      const probe = evidence.snapshot.probes.upstream;
      const silent = probe !== undefined && probe.status === 0 && (probe.error === 'timeout' || probe.error === 'empty_reply' || probe.error === 'reset');
      if (!silent) return undefined;
      const name = evidence.app;
      const how = probe.error === 'timeout' ? `timed out after ${Math.round(probe.timeMs)} ms` : `got ${probe.error === 'reset' ? 'a reset' : 'an empty reply'}`;
      const pid = facts.app?.pid ? String(facts.app.pid) : '<pid>';
      return diagnosis(
        'app_hung',
        `${name} is online and listens on ${upstreamText(evidence.upstream)} but does not answer (the upstream probe ${how}): it is hung.`,
        [
          `Restart it now: \`pm2 restart ${name}\`.`,
          `Next time, capture what it was doing before the restart: start node with \`--heapsnapshot-signal=SIGUSR2\` and run \`kill -USR2 ${pid}\`, or take a CPU profile (\`--cpu-prof\`).`,
          'Look for event-loop blocking: synchronous work in request handlers (huge JSON, sync fs, crypto, pathological regexes); measure it with `perf_hooks.monitorEventLoopDelay`.',
        ],
        commonLines(evidence, facts, listenerLines(evidence, right)),
      );
    },
  };
}

/** nginx and the app both answer now: the errors were transient. */
export function healthyRule(): DiagnosisRule {
  return {
    id: 'healthy',
    evaluate(evidence) {
      const { nginx, upstream } = evidence.snapshot.probes;
      if (!probeOk(nginx) || !probeAnswered(upstream)) return undefined;
      const facts = factsOf(evidence);
      const errors = evidence.gatewayErrors.reduce((sum, count) => sum + count.count, 0);
      const seen = errors > 0 ? `the ${errors} gateway error${errors === 1 ? ' was' : 's were'} transient` : 'no gateway error persists';
      return diagnosis(
        'healthy',
        `nginx and ${evidence.app} answer now (nginx HTTP ${nginx!.status}, app HTTP ${upstream!.status}): ${seen}.`,
        [
          'Nothing to do now.',
          'If it repeats, look at the timeline around the errors (deploys, restarts, traffic spikes) and at `pm2 logs --lines 50`.',
        ],
        commonLines(evidence, facts),
      );
    },
  };
}

/** The diagnosis when no rule matched: what was seen, and where to look. */
export function unknownDiagnosis(evidence: Evidence): Diagnosis {
  const facts = factsOf(evidence);
  const app = facts.app;
  const state = !evidence.snapshot.pm2Ok ? 'PM2 does not answer' : app ? `${evidence.app} is ${app.status} in PM2` : `${evidence.app} is not in PM2`;
  const { nginx, upstream } = evidence.snapshot.probes;
  const probe = (name: string, result: ProbeResult | undefined): string =>
    result ? `${name} probe ${result.status > 0 ? `HTTP ${result.status}` : `no answer (${result.error ?? 'other'})`}` : `no ${name} probe`;
  const kinds = kindCounts(evidence.errorLog.map((entry) => entry.kind));
  const listening = app ? appListeners(evidence, app) : [];
  const listens = app?.status === 'online' && listening.length === 0 ? `, nothing listens for it (nginx proxies to ${upstreamText(evidence.upstream)})` : '';
  return diagnosis(
    'unknown',
    `No rule matched: ${state}${listens}, ${probe('nginx', nginx)}, ${probe('upstream', upstream)}, ${kinds}.`,
    [
      'Look at the evidence lines and the timeline below.',
      `Then on the host: \`pm2 logs ${evidence.app} --lines 50\`, the nginx error log, and \`ss -tlnp\`.`,
    ],
    [
      ...commonLines(evidence, facts, listenerLines(evidence, listening)),
      ...evidence.oomKills.slice(-1).map((kill) => oomLine(kill, evidence)),
    ],
  );
}

function kindCounts(kinds: UpstreamErrorKind[]): string {
  if (kinds.length === 0) return 'no nginx upstream error';
  const counts = new Map<UpstreamErrorKind, number>();
  for (const kind of kinds) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  const parts = [...counts.entries()].map(([kind, count]) => `${kind}×${count}`);
  return `${kinds.length} nginx error line${kinds.length === 1 ? '' : 's'} (${parts.join(', ')})`;
}

/** The rules in priority order: process state first, then where it listens, then how it answers. */
export const RULES: readonly DiagnosisRule[] = [
  processMissingRule(),
  oomKilledRule(),
  crashLoopRule(),
  processCrashedRule(),
  processStoppedRule(),
  portMismatchRule(),
  proxyMisconfigRule(),
  upstreamTimeoutRule(),
  appHungRule(),
  healthyRule(),
];

/** The first rule that matches names the cause; when none does, `unknown` with what was seen. */
export function diagnose(evidence: Evidence, rules: readonly DiagnosisRule[] = RULES): Diagnosis {
  for (const rule of rules) {
    const found = rule.evaluate(evidence);
    if (found) return found;
  }
  return unknownDiagnosis(evidence);
}
