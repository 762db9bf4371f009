/**
 * In-memory ports for the responder's fleet use case: a host that answers with snapshots recorded from the real host
 * scripts, a fake clock that every host call and sleep moves forward, empty logs, a recording notifier and an
 * in-memory incident store. Shared by the responder's run tests and the blind-alarm scenario.
 */
import { readFileSync } from 'node:fs';
import type { IncidentRecord } from '../../functions/core/incident.ts';
import type { Clock, HostParams, HostRunResult, HostRunner, HostScript, IncidentStore, LogSource, LogWindow, Notifier } from '../../functions/core/ports.ts';
import type { HostVerdict } from '../../functions/core/evidence/index.ts';
import type { Report } from '../../functions/core/types.ts';

/** What one SSM round trip costs on the fake clock. */
export const HOST_CALL_MS = 2_000;


export function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/snapshots/${name}.txt`, import.meta.url), 'utf8');
}

export function takenAt(snapshot: string): number {
  const match = /^taken_at=(.+)$/m.exec(snapshot);
  if (!match?.[1]) throw new Error('fixture without taken_at');
  return Date.parse(match[1]);
}

export function alarmEvent(id: string, time: Date): Record<string, unknown> {
  const alarm = JSON.parse(readFileSync(new URL('../../events/alarm.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  return { ...alarm, id, time: time.toISOString() };
}

export class FakeClock implements Clock {
  constructor(public ms: number) {}
  now(): Date {
    return new Date(this.ms);
  }
  async sleep(ms: number): Promise<void> {
    this.ms += ms;
  }
}

export interface InstanceScript {
  /** The full snapshot before any action. */
  readonly before: string;
  /** Probe snapshots after a remediate, one per poll; the last one repeats. @default [healthy-probe] */
  readonly after?: string[];
  /** @default true */
  readonly remediateOk?: boolean;
  /**
   * How remediate.sh's own verification ends (its `@@verify` lines, 250 ms apart, as functions/host/README.md
   * describes them); absent: the script prints none (a host with the scripts from before on-host verification).
   */
  readonly onHost?: HostVerdict;
}

/** remediate.sh's output when it verified on the host: its observations from `fromMs` on, and its result line. */
export function verifyOutput(action: string, verdict: HostVerdict, fromMs: number): string {
  const at = (index: number): string => new Date(fromMs + index * 250).toISOString();
  const observation = (index: number, status: string, probe: number, pid = 5100): string =>
    JSON.stringify({ at: at(index), pm2: true, app: { status, pid, restarts: 1, startedAt: new Date(fromMs - 100).toISOString() }, probe: probe > 0 ? { status: probe, ms: 4 } : { status: 0, ms: 1, error: 'refused' } });
  const lines =
    verdict === 'recovered'
      ? [observation(0, 'online', 0), observation(1, 'online', 200), observation(2, 'online', 200), observation(3, 'online', 200)]
      : verdict === 'died'
        ? [observation(0, 'online', 0), observation(1, 'online', 0), observation(2, 'errored', 502, 0)]
        : Array.from({ length: 8 }, (_, index) => observation(index, 'launching', 0, 0));
  return [`[PM2] Applying action ${action}ProcessId on app [web](ids: [ 0 ])`, '@@verify', ...lines, `result=ok action=${action} verify=${verdict}`, ''].join('\n');
}

export interface HostCall {
  readonly instanceId: string;
  readonly script: HostScript;
  /** `full`/`probe` for a snapshot, the action for a remediate. */
  readonly what: string;
}

/** Answers like the SSM runner would, from recorded snapshot outputs; every call takes HOST_CALL_MS. */
export class FakeHost implements HostRunner {
  readonly calls: HostCall[] = [];
  readonly #polls = new Map<string, number>();
  readonly #acted = new Set<string>();

  constructor(
    private readonly clock: FakeClock,
    private readonly instances: Record<string, InstanceScript>,
  ) {}

  async run(instanceId: string, script: HostScript, params: HostParams): Promise<HostRunResult> {
    this.calls.push({ instanceId, script, what: (script === 'snapshot' ? params.sections : params.action) ?? '' });
    this.clock.ms += HOST_CALL_MS;
    const instance = this.instances[instanceId];
    if (!instance) return { ok: false, stdout: '', stderr: '', status: 'InvalidInstanceId', error: `${instanceId} is not managed` };
    if (script === 'remediate') {
      if (instance.remediateOk === false) {
        return { ok: false, stdout: 'result=failed action=restart exit=1\n', stderr: '', status: 'Failed', error: 'the remediate script failed' };
      }
      this.#acted.add(instanceId);
      const action = params.action ?? '';
      // The script's verification ran on the host while the command ran: it began right after the action.
      const stdout = instance.onHost && params.verifySeconds ? verifyOutput(action, instance.onHost, this.clock.ms - HOST_CALL_MS / 2) : `result=ok action=${action}\n`;
      return { ok: true, stdout, stderr: '', status: 'Success' };
    }
    if (!this.#acted.has(instanceId)) return { ok: true, stdout: instance.before, stderr: '', status: 'Success' };
    const after = instance.after ?? [fixture('healthy-probe')];
    const poll = this.#polls.get(instanceId) ?? 0;
    this.#polls.set(instanceId, poll + 1);
    return { ok: true, stdout: after[Math.min(poll, after.length - 1)] ?? '', stderr: '', status: 'Success' };
  }

  /** The calls as `instance script what`, easy to compare in order. */
  get sequence(): string[] {
    return this.calls.map((call) => `${call.instanceId} ${call.script} ${call.what}`);
  }
}

/** Logs hold nothing beyond the live snapshot here; the windows it was asked for are kept. */
export class EmptyLogs implements LogSource {
  readonly windows: { instanceId: string; window: LogWindow }[] = [];
  async fetch(instanceId: string, window: LogWindow) {
    this.windows.push({ instanceId, window });
    return { accessLines: [], errorLines: [], pm2Lines: [], kernelLines: [] };
  }
}

export class RecordingNotifier implements Notifier {
  readonly reports: Report[] = [];
  /** The fake clock at each publish. */
  readonly publishedAt: number[] = [];
  constructor(private readonly clock: FakeClock) {}
  async publish(report: Report) {
    this.reports.push(report);
    this.publishedAt.push(this.clock.ms);
    return [{ channel: 'memory', ok: true }];
  }
}

/** The IncidentStore semantics, in memory: conditional claims, an owned lock with expiry, restart history. */
export class MemoryStore implements IncidentStore {
  readonly events = new Set<string>();
  readonly locks = new Map<string, { owner: string; until: number }>();
  readonly history = new Map<string, string[]>();
  readonly incidents = new Map<string, IncidentRecord>();
  constructor(private readonly clock: FakeClock) {}

  async claimEvent(eventId: string): Promise<boolean> {
    if (this.events.has(eventId)) return false;
    this.events.add(eventId);
    return true;
  }
  async acquireLock(instanceId: string, owner: string, ttlMs: number): Promise<boolean> {
    const held = this.locks.get(instanceId);
    if (held && held.owner !== owner && held.until > this.clock.ms) return false;
    this.locks.set(instanceId, { owner, until: this.clock.ms + ttlMs });
    return true;
  }
  async releaseLock(instanceId: string, owner: string): Promise<void> {
    if (this.locks.get(instanceId)?.owner === owner) this.locks.delete(instanceId);
  }
  async restarts(instanceId: string): Promise<string[]> {
    return [...(this.history.get(instanceId) ?? [])];
  }
  async recordRestart(instanceId: string, at: string): Promise<void> {
    this.history.set(instanceId, [...(this.history.get(instanceId) ?? []), at]);
  }
  async saveIncident(record: IncidentRecord): Promise<void> {
    this.incidents.set(record.instanceId, record);
  }
  async loadIncident(instanceId: string): Promise<IncidentRecord | undefined> {
    return this.incidents.get(instanceId);
  }
}
