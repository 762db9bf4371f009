/**
 * PM2: the process list (`pm2 jlist`, or the host's reduced form of it) and the daemon's own log, `$PM2_HOME/pm2.log`.
 * `pm2_env` carries the app's whole environment (secrets): only `PORT`, `HOSTNAME` and `KEEP_ALIVE_TIMEOUT` are ever
 * read from it.
 */
import { PM2_STATUSES, type Parsed, type Pm2LogEvent, type Pm2Process, type Pm2Status } from '../types.ts';
import { MAX_TEXT } from './error-log.ts';
import { toIsoFromEpochMs, toIsoUtc } from './time.ts';

export type Pm2ListResult = { ok: true; processes: Pm2Process[] } | { ok: false; error: string };

/**
 * A `pm2 jlist` array (full or host-reduced). `{"error":"…"}` (the host could not reach the daemon) and
 * invalid JSON give `ok: false` with a sentence saying why. Items without a name, id or known status are left out.
 */
export function parsePm2List(json: string): Pm2ListResult {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { ok: false, error: `pm2 list is not valid JSON (${reason.slice(0, 120)})` };
  }
  if (isRecord(value) && typeof value.error === 'string') {
    return { ok: false, error: `pm2 unreachable: ${value.error.slice(0, MAX_TEXT)}` };
  }
  if (!Array.isArray(value)) return { ok: false, error: 'pm2 list: expected a JSON array of processes' };
  const processes: Pm2Process[] = [];
  for (const item of value) {
    const process = toProcess(item);
    if (process) processes.push(process);
  }
  return { ok: true, processes };
}

function toProcess(item: unknown): Pm2Process | undefined {
  if (!isRecord(item)) return undefined;
  const pm2Env = isRecord(item.pm2_env) ? item.pm2_env : {};
  const name = typeof item.name === 'string' ? item.name : pm2Env.name;
  const pmId = integer(item.pm_id) ?? integer(pm2Env.pm_id);
  const status = pm2Env.status;
  if (typeof name !== 'string' || pmId === undefined || !isPm2Status(status)) return undefined;
  const monit = isRecord(item.monit) ? item.monit : {};
  const env = isRecord(pm2Env.env) ? pm2Env.env : {};
  const startedAt = toIsoFromEpochMs(pm2Env.pm_uptime);
  const exitCode = integer(pm2Env.exit_code);
  const port = toPort(env.PORT ?? pm2Env.PORT);
  const hostname = env.HOSTNAME ?? pm2Env.HOSTNAME;
  const keepAliveTimeoutMs = toMilliseconds(env.KEEP_ALIVE_TIMEOUT ?? pm2Env.KEEP_ALIVE_TIMEOUT);
  return {
    name,
    pmId,
    pid: integer(item.pid) ?? 0,
    status,
    restartTime: integer(pm2Env.restart_time) ?? 0,
    unstableRestarts: integer(pm2Env.unstable_restarts) ?? 0,
    ...(startedAt !== undefined && { startedAt }),
    ...(exitCode !== undefined && { exitCode }),
    ...(typeof pm2Env.exec_mode === 'string' && { execMode: pm2Env.exec_mode }),
    memoryBytes: finite(monit.memory) ?? 0,
    cpuPercent: finite(monit.cpu) ?? 0,
    ...(typeof pm2Env.pm_cwd === 'string' && { cwd: pm2Env.pm_cwd }),
    ...(port !== undefined && { port }),
    ...(typeof hostname === 'string' && hostname !== '' && { hostname }),
    ...(keepAliveTimeoutMs !== undefined && { keepAliveTimeoutMs }),
    ...(typeof pm2Env.autorestart === 'boolean' && { autorestart: pm2Env.autorestart }),
  };
}

/** `2026-11-24T00:10:46: PM2 log: message` (dayjs `YYYY-MM-DDTHH:mm:ss`, local time, taken as UTC). */
const LOG_LINE = /^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}): PM2 (?:log|error|warn|info): (.*)$/;

const APP_EVENT = /^App \[(.+):(\d+)\] (online|starting in -(?:fork|cluster) mode-|deleted|exited with code \[([^\]]*)\] via signal \[([^\]]*)\])$/;
const STOPPING = /^Stopping app:(.+) id:(\d+)$/;
const DELETING = /^Deleting process (\d+)$/;
const ERRORED = /^Script .+ had too many unstable restarts \(\d+\)\. Stopped\. "errored"$/;

/**
 * `$PM2_HOME/pm2.log` events about apps. Other PM2 lines (the daemon banner, `process tree killed`) are ignored;
 * lines without PM2's prefix are skipped and counted.
 */
export function parsePm2Log(lines: string[]): Parsed<Pm2LogEvent> {
  const items: Pm2LogEvent[] = [];
  let skipped = 0;
  // Two lines name no app: `Deleting process 0` (id only) and the `errored` one (script path only).
  const names = new Map<number, string>();
  let lastExited: { app: string; pmId: number } | undefined;
  for (const line of lines) {
    const text = line.trim();
    if (text === '') continue;
    const match = LOG_LINE.exec(text);
    const at = match ? toIsoUtc(match[1] ?? '') : undefined;
    if (!match || at === undefined) {
      skipped += 1;
      continue;
    }
    const message = match[2] ?? '';
    const base = { at, text: text.slice(0, MAX_TEXT) };
    const app = APP_EVENT.exec(message);
    const stopping = STOPPING.exec(message);
    const deleting = DELETING.exec(message);
    if (app) {
      const [, name = '', id, what = '', code, signal] = app;
      const pmId = Number(id);
      names.set(pmId, name);
      if (what.startsWith('exited')) {
        const exitCode = /^-?\d+$/.test(code ?? '') ? Number(code) : undefined;
        lastExited = { app: name, pmId };
        items.push({ ...base, app: name, pmId, kind: 'exited', ...(exitCode !== undefined && { exitCode }), ...(signal && { signal }) });
      } else {
        const kind = what === 'online' ? 'online' : what === 'deleted' ? 'deleted' : 'starting';
        items.push({ ...base, app: name, pmId, kind });
      }
    } else if (stopping) {
      const pmId = Number(stopping[2]);
      names.set(pmId, stopping[1] ?? '');
      items.push({ ...base, app: stopping[1] ?? '', pmId, kind: 'stopping' });
    } else if (deleting) {
      const pmId = Number(deleting[1]);
      const name = names.get(pmId);
      if (name !== undefined) items.push({ ...base, app: name, pmId, kind: 'deleted' });
    } else if (ERRORED.test(message) && lastExited) {
      // PM2 writes this right after the app's last `exited` line (God.js handleExit).
      items.push({ ...base, ...lastExited, kind: 'errored' });
    }
  }
  return { items, skipped };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPm2Status(value: unknown): value is Pm2Status {
  return typeof value === 'string' && (PM2_STATUSES as readonly string[]).includes(value);
}

function integer(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) ? value : undefined;
}

function finite(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** `KEEP_ALIVE_TIMEOUT` is a whole number of milliseconds, as Next's standalone server reads it (`parseInt`). */
function toMilliseconds(value: unknown): number | undefined {
  const ms = typeof value === 'number' ? value : typeof value === 'string' && /^\d{1,9}$/.test(value.trim()) ? Number(value) : NaN;
  return Number.isInteger(ms) && ms >= 0 ? ms : undefined;
}

function toPort(value: unknown): number | undefined {
  const port = typeof value === 'number' ? value : typeof value === 'string' && /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  return Number.isInteger(port) && port >= 1 && port <= 65535 ? port : undefined;
}
