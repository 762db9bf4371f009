/**
 * Incident state in a JSON file, for local mode: one file per instance, written atomically (temp file + rename),
 * with a remediation lock that holds across processes (an exclusively created `<file>.lock`).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import {
  appendRestart,
  parseIncidentRecord,
  StateStoreError,
  withoutUndefined,
  type IncidentRecord,
} from '../../core/incident.ts';
import type { IncidentStore } from '../../core/ports.ts';
import { checkPattern, PATTERNS } from '../../core/validate.ts';

/**
 * Where the CLI keeps the state of one instance: `$XDG_STATE_HOME/reflex/<instanceId>.json`, or
 * `<home>/.local/state/reflex/<instanceId>.json` when XDG_STATE_HOME is unset or relative (the XDG spec says to
 * ignore relative values).
 * @throws InputError when the instance id could escape the directory.
 */
export function defaultStatePath(instanceId: string, env: NodeJS.ProcessEnv, home: string): string {
  checkPattern('instanceId', instanceId, PATTERNS.localInstanceId, 'letters, digits, dot, underscore or dash (1-64)');
  const xdg = env['XDG_STATE_HOME'];
  const base = xdg !== undefined && isAbsolute(xdg) ? xdg : join(home, '.local', 'state');
  return join(base, 'reflex', `${instanceId}.json`);
}

export interface FileStateStoreOptions {
  /** @default () => new Date() */
  readonly clock?: () => Date;
}

interface StateFile {
  readonly version: 1;
  readonly restarts: Record<string, string[]>;
  readonly incidents: Record<string, IncidentRecord>;
  /** Processed event id → when the record expires (ISO). */
  readonly events: Record<string, string>;
}

interface LockContent {
  readonly instanceId: string;
  readonly owner: string;
  readonly expiresAt: string;
}

/** A live process holds the guard for a few milliseconds; one older than this was left by a crash. */
const GUARD_STALE_MS = 10_000;
const GUARD_WAIT_MS = 15_000;
/** A lock file without readable content is being written right now, unless it is older than this. */
const LOCK_WRITE_GRACE_MS = 2_000;

/**
 * File-backed {@link IncidentStore}. The lock is per file: give each instance its own file ({@link defaultStatePath}).
 *
 * Files next to `path`: `<path>.lock` is the remediation lock (`open(…, 'wx')`, owner and expiry inside);
 * `<path>.guard` is a short-lived mutex, also created with `wx`, that serialises every read-modify-write of the
 * state file and the takeover of an expired lock, so two processes never both take the same expired lock or both
 * claim the same event.
 */
export class FileStateStore implements IncidentStore {
  private readonly lockPath: string;
  private readonly guardPath: string;
  private readonly clock: () => Date;

  constructor(
    private readonly path: string,
    options: FileStateStoreOptions = {},
  ) {
    this.lockPath = `${path}.lock`;
    this.guardPath = `${path}.guard`;
    this.clock = options.clock ?? (() => new Date());
  }

  async acquireLock(instanceId: string, owner: string, ttlMs: number): Promise<boolean> {
    const content: LockContent = { instanceId, owner, expiresAt: new Date(this.clock().getTime() + ttlMs).toISOString() };
    await this.ensureDirectory();
    if (await this.createExclusive(this.lockPath, JSON.stringify(content))) return true;
    return this.withGuard(async () => {
      const held = await this.readLock();
      if (held === 'absent') return this.createExclusive(this.lockPath, JSON.stringify(content));
      if (held !== 'unreadable') {
        if (held.instanceId !== instanceId) {
          throw new StateStoreError(
            `${this.lockPath}: holds the lock of instance ${held.instanceId}, not ${instanceId}; use one state file per instance`,
          );
        }
        // The same owner may take it again (a replayed lock step); anyone else waits for it to expire.
        if (held.owner !== owner && Date.parse(held.expiresAt) >= this.clock().getTime()) return false;
      } else if (!(await this.olderThan(this.lockPath, LOCK_WRITE_GRACE_MS))) {
        return false;
      }
      // Expired (or left empty by a crash): replace it in one rename, under the guard, so only one taker wins.
      await this.writeAtomic(this.lockPath, JSON.stringify(content));
      return true;
    });
  }

  async releaseLock(instanceId: string, owner: string): Promise<void> {
    await this.withGuard(async () => {
      const held = await this.readLock();
      if (typeof held === 'object' && held.instanceId === instanceId && held.owner === owner) {
        await unlink(this.lockPath).catch((error: unknown) => {
          if (errorCode(error) !== 'ENOENT') throw this.ioError('cannot remove lock', error, this.lockPath);
        });
      }
    });
  }

  async restarts(instanceId: string): Promise<string[]> {
    const state = await this.read();
    return [...(state.restarts[instanceId] ?? [])];
  }

  async recordRestart(instanceId: string, at: string): Promise<void> {
    await this.update((state) => {
      state.restarts[instanceId] = appendRestart(state.restarts[instanceId] ?? [], at, this.clock());
      return undefined;
    });
  }

  async claimEvent(eventId: string, ttlSeconds: number): Promise<boolean> {
    return this.update((state) => {
      const now = this.clock().getTime();
      for (const [id, expiresAt] of Object.entries(state.events)) {
        if (Date.parse(expiresAt) < now) delete state.events[id];
      }
      if (state.events[eventId] !== undefined) return false;
      state.events[eventId] = new Date(now + ttlSeconds * 1000).toISOString();
      return true;
    });
  }

  async saveIncident(record: IncidentRecord): Promise<void> {
    await this.update((state) => {
      state.incidents[record.instanceId] = withoutUndefined({ ...record });
      return undefined;
    });
  }

  async loadIncident(instanceId: string): Promise<IncidentRecord | undefined> {
    const state = await this.read();
    return state.incidents[instanceId];
  }

  // ---------------------------------------------------------------- state file

  private async read(): Promise<StateFile> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return { version: 1, restarts: {}, incidents: {}, events: {} };
      throw this.ioError('cannot read state file', error, this.path);
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (error) {
      throw new StateStoreError(`${this.path}: corrupt state file (not JSON); fix or remove it`, { cause: error });
    }
    return this.parse(data);
  }

  private parse(data: unknown): StateFile {
    const corrupt = (what: string) => new StateStoreError(`${this.path}: corrupt state file (${what}); fix or remove it`);
    if (typeof data !== 'object' || data === null || (data as { version?: unknown }).version !== 1) {
      throw corrupt('expected an object with version 1');
    }
    const file = data as Record<string, unknown>;
    const record = (field: string): Record<string, unknown> => {
      const value = file[field] ?? {};
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw corrupt(`${field} must be an object`);
      return value as Record<string, unknown>;
    };
    const restarts: Record<string, string[]> = {};
    for (const [id, list] of Object.entries(record('restarts'))) {
      if (!Array.isArray(list) || !list.every((at) => typeof at === 'string' && !Number.isNaN(Date.parse(at)))) {
        throw corrupt(`restarts.${id} must be a list of ISO times`);
      }
      restarts[id] = list as string[];
    }
    const incidents: Record<string, IncidentRecord> = {};
    for (const [id, value] of Object.entries(record('incidents'))) {
      incidents[id] = parseIncidentRecord(value, `${this.path} incidents.${id}`);
    }
    const events: Record<string, string> = {};
    for (const [id, expiresAt] of Object.entries(record('events'))) {
      if (typeof expiresAt !== 'string') throw corrupt(`events.${id} must be an ISO time`);
      events[id] = expiresAt;
    }
    return { version: 1, restarts, incidents, events };
  }

  /** Read-modify-write under the guard; `change` mutates the state and returns the answer. */
  private async update<T>(change: (state: StateFile) => T): Promise<T> {
    await this.ensureDirectory();
    return this.withGuard(async () => {
      const state = await this.read();
      const answer = change(state);
      await this.writeAtomic(this.path, `${JSON.stringify(state, null, 2)}\n`);
      return answer;
    });
  }

  // ---------------------------------------------------------------- files

  private async ensureDirectory(): Promise<void> {
    try {
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    } catch (error) {
      throw this.ioError('cannot create the state directory', error, dirname(this.path));
    }
  }

  /** A reader sees the old file or the new one, never half of it: write a temp file, then rename over. */
  private async writeAtomic(path: string, text: string): Promise<void> {
    const temp = `${path}.${process.pid}.${randomUUID()}.tmp`;
    try {
      await writeFile(temp, text, { mode: 0o600 });
      await rename(temp, path);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw this.ioError('cannot write', error, path);
    }
  }

  /** true when this call created the file; false when it already existed. */
  private async createExclusive(path: string, text: string): Promise<boolean> {
    try {
      await writeFile(path, text, { flag: 'wx', mode: 0o600 });
      return true;
    } catch (error) {
      if (errorCode(error) === 'EEXIST') return false;
      throw this.ioError('cannot create', error, path);
    }
  }

  private async readLock(): Promise<LockContent | 'absent' | 'unreadable'> {
    let text: string;
    try {
      text = await readFile(this.lockPath, 'utf8');
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return 'absent';
      throw this.ioError('cannot read lock', error, this.lockPath);
    }
    try {
      const lock = JSON.parse(text) as Partial<LockContent>;
      if (typeof lock.instanceId === 'string' && typeof lock.owner === 'string' && typeof lock.expiresAt === 'string') {
        return { instanceId: lock.instanceId, owner: lock.owner, expiresAt: lock.expiresAt };
      }
    } catch {
      // Empty or partial: the creator is between open() and write(), or crashed there; the caller decides by age.
    }
    return 'unreadable';
  }

  private async olderThan(path: string, ms: number): Promise<boolean> {
    try {
      return Date.now() - (await stat(path)).mtimeMs > ms;
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return true;
      throw this.ioError('cannot stat', error, path);
    }
  }

  /**
   * Runs `task` while holding `<path>.guard`. A guard older than GUARD_STALE_MS was left by a crashed process and is
   * removed; that removal is the one best-effort step (it only matters after a crash inside a few milliseconds).
   */
  private async withGuard<T>(task: () => Promise<T>): Promise<T> {
    const started = Date.now();
    while (!(await this.createExclusive(this.guardPath, String(process.pid)))) {
      if (await this.olderThan(this.guardPath, GUARD_STALE_MS)) {
        await unlink(this.guardPath).catch(() => undefined);
      } else if (Date.now() - started > GUARD_WAIT_MS) {
        throw new StateStoreError(`${this.guardPath}: still held after ${GUARD_WAIT_MS / 1000} s; remove it if no reflex process is running`);
      } else {
        await new Promise((resolve) => setTimeout(resolve, 2 + Math.random() * 10));
      }
    }
    try {
      return await task();
    } finally {
      await unlink(this.guardPath).catch(() => undefined);
    }
  }

  private ioError(what: string, error: unknown, path: string): StateStoreError {
    if (error instanceof StateStoreError) return error;
    return new StateStoreError(`${path}: ${what} (${errorCode(error) ?? 'error'})`, { cause: error });
  }
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
}
