/**
 * Test helper: assembles a real-format snapshot text (functions/host/README.md) from parts, so each test states
 * only what differs from a healthy host, then parses it with the real parsers into Evidence.
 */
import { readFileSync } from 'node:fs';
import { buildEvidence, parseSnapshot } from '../../../functions/core/evidence/index.ts';
import type { Evidence, HostSnapshot, LogBundle, UpstreamAddress } from '../../../functions/core/types.ts';

export const WINDOW = { start: '2026-11-24T10:00:00.000Z', end: '2026-11-24T10:05:00.000Z' } as const;
export const TAKEN_AT = '2026-11-24T10:05:00.123Z';

/** One `pm2 jlist` item in the host-reduced form. */
export interface Pm2Item {
  name: string;
  pm_id: number;
  pid: number;
  monit: { memory: number; cpu: number };
  pm2_env: {
    status: string;
    restart_time: number;
    unstable_restarts: number;
    pm_uptime: number;
    exit_code: number | null;
    exec_mode: string;
    autorestart: boolean;
    pm_cwd: string;
    env: { PORT?: string; HOSTNAME?: string; KEEP_ALIVE_TIMEOUT?: string };
  };
}

/** Every section of a snapshot; undefined leaves the section out. */
export interface SnapshotParts {
  takenAt: string;
  app: string;
  pm2: Pm2Item[] | { error: string };
  appPids: number[];
  listeners: string[];
  probeNginx?: string;
  probeUpstream?: string;
  nginxProxy: string[];
  nginxError: string[];
  pm2Log: string[];
  kernel: string[];
  memory?: string;
  deploy: string[];
  /** `@@pm2-saved`: the app names in PM2's dump.pm2; undefined: no saved list. */
  pm2Saved?: string;
  /** `@@app-log`: `err <line>` / `out <line>`; undefined: no such section. */
  appLog?: string[];
}

export function pm2Item(overrides: {
  name?: string;
  pid?: number;
  status?: string;
  restartTime?: number;
  unstableRestarts?: number;
  exitCode?: number | null;
  port?: string;
  hostname?: string;
  /** When PM2 last started it (pm_uptime), ISO. */
  startedAt?: string;
  keepAliveTimeout?: string;
} = {}): Pm2Item {
  return {
    name: overrides.name ?? 'web',
    pm_id: 0,
    pid: overrides.pid ?? 6957,
    monit: { memory: 51_232_768, cpu: 0 },
    pm2_env: {
      status: overrides.status ?? 'online',
      restart_time: overrides.restartTime ?? 0,
      unstable_restarts: overrides.unstableRestarts ?? 0,
      pm_uptime: Date.parse(overrides.startedAt ?? '2026-11-24T08:00:00.000Z'),
      exit_code: overrides.exitCode === undefined ? 0 : overrides.exitCode,
      exec_mode: 'fork_mode',
      autorestart: true,
      pm_cwd: '/srv/web',
      env: {
        PORT: overrides.port ?? '3000',
        HOSTNAME: overrides.hostname ?? '127.0.0.1',
        ...(overrides.keepAliveTimeout !== undefined && { KEEP_ALIVE_TIMEOUT: overrides.keepAliveTimeout }),
      },
    },
  };
}

// ---------------------------------------------------------------- real-format lines

/** `ss -tlnpH` line. */
export function ssLine(local: string, pid = 6957, process = 'next-server (v1'): string {
  return `LISTEN 0 511 ${local} 0.0.0.0:* users:(("${process}",pid=${pid},fd=19))`;
}

/** curl line as the snapshot writes it; `code` 0 prints as 000. */
export function probeLine(url: string, code: number, seconds: number, exit = 0): string {
  return `url=${url} code=${String(code).padStart(3, '0')} time=${seconds.toFixed(3)} exit=${exit}`;
}

const ERROR_TEXT = {
  refused: 'connect() failed (111: Connection refused) while connecting to upstream',
  timeout: 'upstream timed out (110: Connection timed out) while reading response header from upstream',
  closed: 'upstream prematurely closed connection while reading response header from upstream',
} as const;

/** nginx error log line; `time` is `10:00:01` on the incident's day. */
export function nginxErrorLine(
  time: string,
  kind: keyof typeof ERROR_TEXT,
  options: { request?: string; upstream?: string; connection?: number } = {},
): string {
  const request = options.request ?? 'GET / HTTP/1.1';
  const path = request.split(' ')[1] ?? '/';
  const upstream = options.upstream ?? `http://127.0.0.1:3000${path}`;
  return `2026/11/24 ${time} [error] 188#188: *${options.connection ?? 8433} ${ERROR_TEXT[kind]}, client: 172.16.9.100, server: example, request: "${request}", upstream: "${upstream}", host: "example.com"`;
}

/** pm2.log line; `time` is `10:00:01` on the incident's day. */
export function pm2LogLine(time: string, message: string): string {
  return `2026-11-24T${time}: PM2 log: ${message}`;
}

/** A recorded app error log (test/fixtures/app-errors) as the snapshot's `@@app-log` lines of the error file. */
export function appErrLines(file: string): string[] {
  return readFileSync(new URL(`../../fixtures/app-errors/${file}`, import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => `err ${line}`);
}

/** dmesg `--time-format iso` OOM line. */
export function oomLine(time: string, pid: number, process = 'node', anonRssKb = 416_096): string {
  return `2026-11-24T${time},123456+00:00 Out of memory: Killed process ${pid} (${process}) total-vm:562060kB, anon-rss:${anonRssKb}kB, file-rss:4kB, shmem-rss:67340kB, UID:1000 pgtables:1060kB oom_score_adj:0`;
}

/** nginx JSON access log line in the `reflex` format. */
export function accessLine(time: string, status: number, request = 'GET / HTTP/1.1'): string {
  const upstreamStatus = status === 504 ? '504' : status === 502 ? '502' : String(status);
  return JSON.stringify({
    time: `2026-11-24T${time}+00:00`,
    status,
    request,
    upstream_status: upstreamStatus,
    upstream_addr: '127.0.0.1:3000',
    upstream_response_time: status === 504 ? '60.001' : '0.001',
    request_time: status === 504 ? 60.001 : 0.001,
  });
}

// ---------------------------------------------------------------- the healthy host every test starts from

/** A healthy host: `web` online under PM2, next-server on 127.0.0.1:3000, both probes 200. Clone before changing. */
export const HEALTHY: Readonly<SnapshotParts> = Object.freeze({
  takenAt: TAKEN_AT,
  app: 'web',
  pm2: [pm2Item()],
  appPids: [6957],
  listeners: [ssLine('127.0.0.1:3000')],
  probeNginx: probeLine('http://127.0.0.1:8080/', 200, 0.012),
  probeUpstream: probeLine('http://127.0.0.1:3000/', 200, 0.01),
  nginxProxy: ['proxy_pass http://127.0.0.1:3000;', 'proxy_read_timeout 60s;'],
  nginxError: [],
  pm2Log: [pm2LogLine('08:00:00', 'App [web:0] starting in -fork mode-'), pm2LogLine('08:00:01', 'App [web:0] online')],
  kernel: [],
  memory: 'total_kb=2048000 available_kb=1024000',
  deploy: ['pm2_started_at=2026-11-24T08:00:00.000Z'],
});

/** A fresh copy of the healthy parts with `changes` applied. */
export function parts(changes: Partial<SnapshotParts> = {}): SnapshotParts {
  return { ...structuredClone(HEALTHY) as SnapshotParts, ...structuredClone(changes) };
}

/** The snapshot text the host script would print for these parts. */
export function snapshotText(p: SnapshotParts): string {
  const section = (name: string, lines: string[] | undefined): string[] => (lines === undefined ? [] : [`@@${name}`, ...lines]);
  return [
    '@@reflex-snapshot 1',
    ...section('meta', [`taken_at=${p.takenAt}`, 'hostname=ip-10-0-1-248', `app=${p.app}`]),
    ...section('pm2', [JSON.stringify(p.pm2)]),
    ...section('app-pids', [p.appPids.join(' ')]),
    ...section('listeners', p.listeners),
    ...section('probe nginx', p.probeNginx === undefined ? undefined : [p.probeNginx]),
    ...section('probe upstream', p.probeUpstream === undefined ? undefined : [p.probeUpstream]),
    ...section('nginx-proxy', p.nginxProxy),
    ...section('nginx-error', p.nginxError),
    ...section('pm2-log', p.pm2Log),
    ...section('kernel', p.kernel),
    ...section('memory', p.memory === undefined ? undefined : [p.memory]),
    ...section('deploy', p.deploy),
    ...section('pm2-saved', p.pm2Saved === undefined ? undefined : [p.pm2Saved]),
    ...section('app-log', p.appLog),
    '@@end',
    '',
  ].join('\n');
}

/** A parsed snapshot for these parts (a verification poll, for instance). */
export function snapshotOf(changes: Partial<SnapshotParts> = {}): HostSnapshot {
  return parseSnapshot(snapshotText(parts(changes)));
}

/** Evidence as the responder builds it: the parsed snapshot plus the window's log lines. */
export function evidenceOf(
  changes: Partial<SnapshotParts> = {},
  logs: Partial<LogBundle> = {},
  options: { upstream?: UpstreamAddress } = {},
): Evidence {
  return buildEvidence({
    instanceId: 'i-0abc1234def567890',
    app: 'web',
    ...(options.upstream && { upstream: options.upstream }),
    window: { ...WINDOW },
    snapshot: snapshotOf(changes),
    logs: { accessLines: [], errorLines: [], pm2Lines: [], kernelLines: [], ...logs },
  });
}
