/**
 * Domain types shared by the whole core. Pure data: no I/O, no SDK types.
 * Times are ISO-8601 strings in UTC (`2026-11-24T10:00:00.000Z`) unless a field says otherwise.
 */

/** Where a timeline entry or a piece of evidence comes from. */
export type Source = 'nginx-access' | 'nginx-error' | 'pm2' | 'app' | 'kernel' | 'probe' | 'responder';

/** The causes Reflex can name. The vocabulary is a public contract (JSON report, Slack, tests). */
export const CAUSES = [
  'process_crashed',
  'process_stopped',
  'process_missing',
  'crash_loop',
  'port_in_use',
  'port_mismatch',
  'proxy_misconfig',
  'upstream_timeout',
  'app_hung',
  'header_too_big',
  'keepalive_race',
  'oom_killed',
  'healthy',
  'unknown',
] as const;
export type Cause = (typeof CAUSES)[number];

/** Parsers return what they understood and how many lines they skipped as garbage. */
export interface Parsed<T> {
  readonly items: T[];
  readonly skipped: number;
}

// ---------------------------------------------------------------- evidence

/** One nginx access log line (JSON `reflex` format or nginx's default `combined`). */
export interface AccessEntry {
  readonly at: string;
  readonly status: number;
  /** `GET /path HTTP/1.1` */
  readonly request: string;
  /** `$upstream_status` as logged: `502`, `-`, or a list `502, 200`. Absent in `combined`. */
  readonly upstreamStatus?: string;
  readonly upstreamAddr?: string;
  readonly upstreamResponseTime?: string;
  /** Seconds. Absent in `combined`. */
  readonly requestTime?: number;
}

/** What an nginx error line says about the upstream. */
export type UpstreamErrorKind =
  | 'connection_refused' // connect() failed (111: Connection refused) while connecting to upstream → 502
  | 'upstream_timeout' // upstream timed out (110: Connection timed out) while reading response header → 504
  | 'premature_close' // upstream prematurely closed connection while reading response header → 502
  | 'no_live_upstreams' // no live upstreams while connecting to upstream → 502
  | 'connection_reset' // recv() failed (104: Connection reset by peer) while reading response header from upstream → 502
  | 'header_too_big' // upstream sent too big header while reading response header from upstream → 502
  | 'other';

export interface ErrorLogEntry {
  /** nginx writes local time without an offset; Reflex hosts log in UTC (see infra/nginx). */
  readonly at: string;
  readonly level: string;
  readonly kind: UpstreamErrorKind;
  /** `upstream: "http://127.0.0.1:3000/tokens"` → `http://127.0.0.1:3000/tokens`. */
  readonly upstream?: string;
  /** `request: "POST /api/tokens HTTP/1.1"` → `POST /api/tokens HTTP/1.1`. */
  readonly request?: string;
  /** The whole line, trimmed to a safe length. */
  readonly text: string;
}

export const PM2_STATUSES = ['online', 'stopped', 'stopping', 'waiting restart', 'launching', 'errored', 'one-launch-status'] as const;
export type Pm2Status = (typeof PM2_STATUSES)[number];

/** One `pm2 jlist` item, reduced to what Reflex may read. Never carries the app's environment. */
export interface Pm2Process {
  readonly name: string;
  readonly pmId: number;
  /** 0 when not running. */
  readonly pid: number;
  readonly status: Pm2Status;
  readonly restartTime: number;
  readonly unstableRestarts: number;
  /** `pm2_env.pm_uptime` as ISO: when PM2 last started the process. */
  readonly startedAt?: string;
  readonly exitCode?: number;
  readonly execMode?: string;
  readonly memoryBytes: number;
  readonly cpuPercent: number;
  readonly cwd?: string;
  /** From the app's env, the only keys Reflex reads there. */
  readonly port?: number;
  readonly hostname?: string;
  /** `KEEP_ALIVE_TIMEOUT`, milliseconds (what Next's standalone server sets `server.keepAliveTimeout` to). */
  readonly keepAliveTimeoutMs?: number;
  readonly autorestart?: boolean;
}

/** One `$PM2_HOME/pm2.log` event about an app. */
export interface Pm2LogEvent {
  readonly at: string;
  readonly app: string;
  readonly pmId: number;
  /**
   * online: `App [web:0] online`; exited: `App [web:0] exited with code [1] via signal [SIGKILL]`;
   * stopping: `Stopping app:web id:0`; starting: `App [web:0] starting in -fork mode-`;
   * deleted: `Deleting process 0`/`App [web:0] deleted`… ; errored: `Script … had too many unstable restarts (16). Stopped. "errored"`.
   */
  readonly kind: 'online' | 'exited' | 'stopping' | 'starting' | 'errored' | 'deleted';
  readonly exitCode?: number;
  readonly signal?: string;
  readonly text: string;
}

/** A kernel OOM kill: `Out of memory: Killed process 111337 (node) total-vm:…, anon-rss:416096kB, …`. */
export interface OomKill {
  /** Absent when the kernel line had only a boot-relative stamp. */
  readonly at?: string;
  readonly pid: number;
  readonly process: string;
  readonly anonRssKb?: number;
  /** true for `Memory cgroup out of memory: …`. */
  readonly cgroup: boolean;
  readonly text: string;
}

/** One `ss -tlnp` LISTEN socket. */
export interface Listener {
  /** `127.0.0.1`, `::1`, `0.0.0.0`, `::`, `*`. Brackets removed. */
  readonly address: string;
  readonly port: number;
  readonly process?: string;
  readonly pids: number[];
}

/** A probe the snapshot made with curl. `status` is 0 when no HTTP answer came. */
export interface ProbeResult {
  readonly target: 'nginx' | 'upstream';
  readonly url: string;
  readonly at: string;
  readonly status: number;
  readonly timeMs: number;
  /** From curl's exit code: 7 refused, 28 timeout, 52 empty reply, 56 reset. */
  readonly error?: 'refused' | 'timeout' | 'empty_reply' | 'reset' | 'other';
  /** Upstream probe only, when its short first try got no answer: what the process listening on the port did meanwhile. */
  readonly listener?: ListenerSample;
}

/** The processes listening on the probed port, measured over the probe's first try (functions/host/snapshot.sh). */
export interface ListenerSample {
  /** CPU over the window, in % of one core: ~100 for a spinning event loop, ~0 for one blocked in a wait. */
  readonly cpuPercent: number;
  /** read/write system calls over the window (/proc/<pid>/io). An event loop that turns reads the probe's request: 0 means it does not. */
  readonly ioCalls: number;
  readonly windowMs: number;
}

/** What nginx proxies to, read from its configuration. */
export interface ProxyConfig {
  /** Resolved upstream servers: `proxy_pass http://app` with `upstream app { server 127.0.0.1:3000; }` → `127.0.0.1:3000`. */
  readonly upstreams: UpstreamAddress[];
  /** `proxy_read_timeout`, seconds; nginx's default is 60. */
  readonly readTimeoutSeconds: number;
  readonly connectTimeoutSeconds: number;
  /** `keepalive` of the first `upstream` block that has one: idle connections nginx keeps to the app. */
  readonly keepalive?: number;
  /** `keepalive_timeout` inside an `upstream` block, seconds; nginx's default is 60. */
  readonly keepaliveTimeoutSeconds?: number;
  /** `proxy_buffer_size` as written (`4k`); absent: nginx's default, one memory page. */
  readonly proxyBufferSize?: string;
  /** `proxy_buffers` as written (`8 4k`). */
  readonly proxyBuffers?: string;
  /** The directive lines the values came from, for evidence. */
  readonly lines: string[];
}

export interface UpstreamAddress {
  /** As written: `127.0.0.1`, `localhost`, `[::1]` → `::1`. */
  readonly host: string;
  readonly port: number;
}

export interface MemoryInfo {
  readonly totalKb: number;
  readonly availableKb: number;
}

export interface DeployMarkers {
  /** When PM2 last started the app (pm_uptime). */
  readonly pm2StartedAt?: string;
  /** mtime of `<app cwd>/.next/BUILD_ID` when there is one. */
  readonly buildIdChangedAt?: string;
}

/** One line of the app's own output (PM2's `pm_err_log_path` / `pm_out_log_path` files, or the pm2-app log group). */
export interface AppLogLine {
  /** Only when the line carries a time (PM2's `log_date_format`, or its JSON log format). */
  readonly at?: string;
  /** `err` or `out` when known (the snapshot says which file); CloudWatch's pm2-app group mixes both. */
  readonly stream?: 'err' | 'out';
  /** Redacted and cut to a safe length. */
  readonly text: string;
}

/** What the app's own output says killed it. The vocabulary is a public contract (JSON report `diagnosis.appError`). */
export const APP_ERROR_KINDS = [
  'port_in_use',
  'missing_build',
  'module_not_found',
  'heap_exhausted',
  'disk_full',
  'permission_denied',
  'uncaught_exception',
] as const;
export type AppErrorKind = (typeof APP_ERROR_KINDS)[number];

/** The app's own error line that says why it died. */
export interface AppError {
  readonly kind: AppErrorKind;
  /** The line as the app wrote it (redacted, cut): `Error: listen EADDRINUSE: address already in use 127.0.0.1:3000`. */
  readonly text: string;
  /** The line's own time, else the time PM2 logged the exit that followed it; absent when neither is known. */
  readonly at?: string;
}

/** A live picture of one host, parsed from the snapshot script's output (functions/host/README.md). */
export interface HostSnapshot {
  readonly takenAt: string;
  readonly app: string;
  /** false when the PM2 daemon could not be reached; `error` says why. */
  readonly pm2Ok: boolean;
  readonly pm2Error?: string;
  readonly processes: Pm2Process[];
  /** Pids of the app's process tree (PM2's pid and its descendants). */
  readonly appPids: number[];
  readonly listeners: Listener[];
  readonly probes: { readonly nginx?: ProbeResult; readonly upstream?: ProbeResult };
  readonly proxy?: ProxyConfig;
  readonly errorLog: ErrorLogEntry[];
  readonly pm2Log: Pm2LogEvent[];
  readonly oomKills: OomKill[];
  /** The last lines of the app's error and output logs (PM2's files), frames and blank lines left out, oldest first. */
  readonly appLog: AppLogLine[];
  readonly memory?: MemoryInfo;
  readonly deploy: DeployMarkers;
  /** The apps PM2's saved list (`pm2 save` → dump.pm2) names; undefined when there is none. */
  readonly savedApps?: string[];
  /** Garbage lines skipped across every section. */
  readonly skipped: number;
}

/** Raw log lines for one instance over the incident window, as a LogSource returns them. */
export interface LogBundle {
  /** Access log lines: all of them, or only gateway errors (a CloudWatch filter), newest last. */
  readonly accessLines: string[];
  readonly errorLines: string[];
  readonly pm2Lines: string[];
  readonly kernelLines: string[];
  /** The app's own stdout and stderr (the pm2-app log group); absent when the source does not read them. */
  readonly appLines?: string[];
}

/** Gateway errors (502/503/504) counted per minute. */
export interface GatewayErrorCount {
  /** Start of the minute, ISO. */
  readonly minute: string;
  readonly count: number;
  readonly byStatus: Readonly<Record<string, number>>;
}

/** Everything the diagnosis reads, merged from logs and the live snapshot. */
export interface Evidence {
  readonly instanceId: string;
  readonly app: string;
  /** What nginx should reach: the profile's `upstream`, else the first proxied server. */
  readonly upstream: UpstreamAddress;
  readonly window: { readonly start: string; readonly end: string };
  readonly snapshot: HostSnapshot;
  readonly access: AccessEntry[];
  readonly gatewayErrors: GatewayErrorCount[];
  /** Snapshot and log lines merged, deduplicated, sorted by time. */
  readonly errorLog: ErrorLogEntry[];
  readonly pm2Log: Pm2LogEvent[];
  readonly oomKills: OomKill[];
  /** The app's own output, logs and snapshot merged, redacted, oldest first. */
  readonly appLog: AppLogLine[];
  /** Garbage lines skipped in logs and snapshot. */
  readonly skippedLines: number;
}

/**
 * What the responder does for a cause: `auto` acts (today's behaviour), `approve` proposes and acts only on a
 * person's click (Slack) or answer (terminal) before the proposal expires, `observe` reports what it would do.
 */
export const MODES = ['auto', 'approve', 'observe'] as const;
export type Mode = (typeof MODES)[number];

/** Who answered a proposal: a Slack user (id, and name when Slack gave it), or `terminal` for local mode. */
export interface Person {
  readonly id: string;
  readonly name?: string;
}

/** The audit trail of one proposal: who approved or dismissed it and when, or that it expired unanswered. */
export interface Approval {
  /** `approve`: asked before acting; `override`: "restart anyway" offered after an escalation. */
  readonly kind: 'approve' | 'override';
  readonly action: 'restart' | 'start';
  readonly proposedAt: string;
  readonly expiresAt: string;
  readonly approvedBy?: Person;
  readonly approvedAt?: string;
  readonly dismissedBy?: Person;
  readonly dismissedAt?: string;
  /** true when nobody answered before `expiresAt`: nothing was done. */
  readonly expired?: boolean;
}

// ---------------------------------------------------------------- decisions and results

/** One line of proof, shown to a human. */
export interface EvidenceLine {
  readonly source: Source;
  readonly at: string;
  readonly text: string;
}

export interface Diagnosis {
  readonly cause: Cause;
  /** One sentence: what is wrong. */
  readonly summary: string;
  /** What a human should do, concrete (names ports, addresses, timeouts). */
  readonly advice: string[];
  readonly evidence: EvidenceLine[];
  /** Set when the app died (process_crashed, crash_loop, oom_killed, port_in_use) and its own output says why. */
  readonly appError?: AppError;
}

export type ActionKind = 'restart' | 'start' | 'none';

export interface Decision {
  readonly kind: ActionKind;
  /** Why this action (or why none). */
  readonly reason: string;
}

/**
 * How an incident ended, or `pending` while it is still in progress: the reports the journal receives before
 * `closed` are drafts, and a draft's outcome is not decided yet. A final report (what `respond` returns, the JSON
 * report) is never `pending`.
 */
export type Outcome = 'healthy' | 'recovered' | 'escalated' | 'dry_run' | 'pending';

export interface TimelineEntry {
  readonly at: string;
  readonly source: Source;
  readonly message: string;
}

export interface ActionResult {
  readonly kind: ActionKind;
  readonly executed: boolean;
  readonly reason: string;
  /** Set when the action was attempted and failed (SSM status, pm2 exit code…), said for a human. */
  readonly error?: string;
}

/** The JSON report: a public contract (see README "JSON report"). */
export interface Report {
  readonly instanceId: string;
  readonly app: string;
  readonly incidentId: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly diagnosis: Diagnosis;
  readonly action: ActionResult;
  readonly outcome: Outcome;
  readonly timeline: TimelineEntry[];
  readonly gatewayErrors: GatewayErrorCount[];
  readonly timings: {
    /**
     * From the incident's first gateway error to respond start: what detection cost. Absent when no gateway error is
     * known (a manual look at an instance that serves).
     */
    readonly detectedMs?: number;
    /** From respond start to the diagnosis. */
    readonly diagnosedMs: number;
    /** From respond start to the action being issued; absent when there was none. */
    readonly actedMs?: number;
    /** From respond start to verified recovery; absent when not recovered. */
    readonly recoveredMs?: number;
  };
  readonly skippedLines: number;
  /** Set when a person was asked before the action (approve mode) or offered "restart anyway" after an escalation. */
  readonly approval?: Approval;
}
