/**
 * handleEvent with in-memory ports: a host that answers with snapshots recorded from the real host scripts, a fake
 * clock that every host call and sleep moves forward, an in-memory incident store and a recording notifier.
 * Covers the rolling order, halting after a fix that did not work, the Lambda time check, and replays.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { IncidentRecord } from '../../../functions/core/incident.ts';
import type { Clock, HostParams, HostRunResult, HostRunner, HostScript, IncidentStore, LogSource, LogWindow, Notifier } from '../../../functions/core/ports.ts';
import type { Report } from '../../../functions/core/types.ts';
import { parseConfig, type ResponderConfig } from '../../../functions/responder/config.ts';
import { handleEvent, type ResponderDeps } from '../../../functions/responder/run.ts';
import { responderEnv } from '../../helpers/responder-env.ts';

const A = 'i-0aaaaaaaaaaaaaaa1';
const B = 'i-0bbbbbbbbbbbbbbb2';
const C = 'i-0ccccccccccccccc3';
/** What one SSM round trip costs on the fake clock. */
const HOST_CALL_MS = 2_000;

const CONFIG: ResponderConfig = parseConfig(responderEnv());

function fixture(name: string): string {
  return readFileSync(new URL(`../../fixtures/snapshots/${name}.txt`, import.meta.url), 'utf8');
}

function takenAt(snapshot: string): number {
  const match = /^taken_at=(.+)$/m.exec(snapshot);
  if (!match?.[1]) throw new Error('fixture without taken_at');
  return Date.parse(match[1]);
}

function alarmEvent(id: string, time: Date): Record<string, unknown> {
  const alarm = JSON.parse(readFileSync(new URL('../../../events/alarm.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  return { ...alarm, id, time: time.toISOString() };
}

// ---------------------------------------------------------------- fake ports

class FakeClock implements Clock {
  constructor(public ms: number) {}
  now(): Date {
    return new Date(this.ms);
  }
  async sleep(ms: number): Promise<void> {
    this.ms += ms;
  }
}

interface InstanceScript {
  /** The full snapshot before any action. */
  readonly before: string;
  /** Probe snapshots after a remediate, one per poll; the last one repeats. @default [healthy-probe] */
  readonly after?: string[];
  /** @default true */
  readonly remediateOk?: boolean;
}

interface HostCall {
  readonly instanceId: string;
  readonly script: HostScript;
  /** `full`/`probe` for a snapshot, the action for a remediate. */
  readonly what: string;
}

/** Answers like the SSM runner would, from recorded snapshot outputs; every call takes HOST_CALL_MS. */
class FakeHost implements HostRunner {
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
      return { ok: true, stdout: `result=ok action=${params.action ?? ''}\n`, stderr: '', status: 'Success' };
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
class EmptyLogs implements LogSource {
  readonly windows: { instanceId: string; window: LogWindow }[] = [];
  async fetch(instanceId: string, window: LogWindow) {
    this.windows.push({ instanceId, window });
    return { accessLines: [], errorLines: [], pm2Lines: [], kernelLines: [] };
  }
}

class RecordingNotifier implements Notifier {
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
class MemoryStore implements IncidentStore {
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
    if (held && held.until > this.clock.ms) return false;
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

interface World {
  readonly clock: FakeClock;
  readonly host: FakeHost;
  readonly logs: EmptyLogs;
  readonly notifier: RecordingNotifier;
  readonly store: MemoryStore;
  readonly deps: ResponderDeps;
  /** When the fake Lambda stops this invocation. */
  readonly lambdaDeadline: number;
  /** The alarm event of this incident: fired 20 s before the start. */
  readonly alarm: Record<string, unknown>;
}

/**
 * A fleet whose instances answer with the given scripts, Logs Insights finding them in this order, and a Lambda
 * invocation with `lambdaMs` left at the start. The clock starts just after the newest recorded snapshot.
 */
function world(instances: Record<string, InstanceScript>, options: { lambdaMs?: number } = {}): World {
  const start = Math.max(...Object.values(instances).map((instance) => takenAt(instance.before))) + 3_000;
  const clock = new FakeClock(start);
  const host = new FakeHost(clock, instances);
  const logs = new EmptyLogs();
  const notifier = new RecordingNotifier(clock);
  const store = new MemoryStore(clock);
  const lambdaDeadline = start + (options.lambdaMs ?? 180_000);
  const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined };
  const deps: ResponderDeps = {
    config: CONFIG,
    host,
    logs,
    findInstances: async () => Object.keys(instances),
    notifiers: [notifier],
    store,
    clock,
    logger: silent,
    remainingMs: () => lambdaDeadline - clock.ms,
  };
  return { clock, host, logs, notifier, store, deps, lambdaDeadline, alarm: alarmEvent('7d1c2a34-5b6e-4f70-8a91-b2c3d4e5f607', new Date(start - 20_000)) };
}

const probes = (instanceId: string, count: number): string[] => Array.from({ length: count }, () => `${instanceId} snapshot probe`);

// ---------------------------------------------------------------- tests

describe('handleEvent: rolling remediation', () => {
  it('investigates every instance first, then restarts one at a time, each verified before the next', async () => {
    // Prepare
    const w = world({ [A]: { before: fixture('crash') }, [B]: { before: fixture('stop') }, [C]: { before: fixture('hang') } });

    // Act
    const result = await handleEvent(w.alarm, w.deps);

    // Assess
    expect(w.host.sequence).toEqual([
      `${A} snapshot full`,
      `${B} snapshot full`,
      `${C} snapshot full`,
      `${A} remediate restart`,
      ...probes(A, 3),
      `${B} remediate restart`,
      ...probes(B, 3),
      `${C} remediate restart`,
      ...probes(C, 3),
    ]);
    expect(result).toEqual({
      status: 'handled',
      incidents: [
        { instanceId: A, cause: 'process_crashed', action: 'restart', executed: true, outcome: 'recovered' },
        { instanceId: B, cause: 'process_stopped', action: 'restart', executed: true, outcome: 'recovered' },
        { instanceId: C, cause: 'app_hung', action: 'restart', executed: true, outcome: 'recovered' },
      ],
      notified: [
        { channel: 'memory', ok: true },
        { channel: 'memory', ok: true },
        { channel: 'memory', ok: true },
      ],
    });
    expect(w.notifier.reports.map((report) => report.instanceId)).toEqual([A, B, C]);
    // Every restart was recorded (before it was issued) for the restart budget.
    expect([...w.store.history.keys()]).toEqual([A, B, C]);
    expect(w.store.locks.size).toBe(0);
  });

  it('halts the rollout after a restart that did not bring the app back: the others are reported, not restarted', async () => {
    // Prepare: A stays down after its restart
    const w = world({
      [A]: { before: fixture('crash'), after: [fixture('crash-probe')] },
      [B]: { before: fixture('stop') },
      [C]: { before: fixture('hang') },
    });

    // Act
    const result = await handleEvent(w.alarm, w.deps);

    // Assess: A verified until its deadline, then nothing else was touched
    const remediations = w.host.calls.filter((call) => call.script === 'remediate');
    expect(remediations.map((call) => call.instanceId)).toEqual([A]);
    expect(result).toMatchObject({
      status: 'handled',
      incidents: [
        { instanceId: A, action: 'restart', executed: true, outcome: 'escalated' },
        { instanceId: B, action: 'none', executed: false, outcome: 'escalated' },
        { instanceId: C, action: 'none', executed: false, outcome: 'escalated' },
      ],
    });
    const [reportA, reportB, reportC] = w.notifier.reports;
    expect(reportA?.timeline.some((entry) => entry.message.startsWith('not recovered within 120 s'))).toBe(true);
    for (const report of [reportB, reportC]) {
      expect(report?.action.reason).toBe(`would restart, but held back: ${A} did not recover after the restart`);
    }
  });

  it('an instance left alone (no action) does not halt the rollout', async () => {
    // Prepare: A's cause is not one a restart fixes
    const w = world({ [A]: { before: fixture('port-mismatch') }, [B]: { before: fixture('crash') } });

    // Act
    const result = await handleEvent(w.alarm, w.deps);

    // Assess
    expect(w.host.calls.filter((call) => call.script === 'remediate').map((call) => call.instanceId)).toEqual([B]);
    expect(result).toMatchObject({
      incidents: [
        { instanceId: A, cause: 'port_mismatch', action: 'none', outcome: 'escalated' },
        { instanceId: B, cause: 'process_crashed', action: 'restart', outcome: 'recovered' },
      ],
    });
  });
});

describe('handleEvent: the Lambda time check', () => {
  it('with too little time left, holds the action back and reports it as unfinished', async () => {
    // Prepare: 30 s left, less than the report margin plus a useful verification
    const w = world({ [A]: { before: fixture('crash') } }, { lambdaMs: 30_000 });

    // Act
    const result = await handleEvent(w.alarm, w.deps);

    // Assess
    expect(w.host.sequence).toEqual([`${A} snapshot full`]);
    expect(result).toMatchObject({ status: 'handled', incidents: [{ instanceId: A, action: 'none', executed: false, outcome: 'escalated' }] });
    expect(w.notifier.reports[0]?.action.reason).toBe('would restart, but held back: the Lambda is about to time out');
    expect(w.clock.ms).toBeLessThan(w.lambdaDeadline);
  });

  it('shortens verification to the time left, and holds back the next instance when the time runs out', async () => {
    // Prepare: A recovers slowly (16 failed polls first); 75 s for the whole invocation
    const slow = [...Array.from({ length: 16 }, () => fixture('crash-probe')), fixture('healthy-probe')];
    const w = world({ [A]: { before: fixture('crash'), after: slow }, [B]: { before: fixture('stop') } }, { lambdaMs: 75_000 });

    // Act
    const result = await handleEvent(w.alarm, w.deps);

    // Assess: A recovered inside its shortened deadline, B waits for the next alarm, and both reports left in time
    expect(result).toMatchObject({
      incidents: [
        { instanceId: A, action: 'restart', executed: true, outcome: 'recovered' },
        { instanceId: B, action: 'none', executed: false, outcome: 'escalated' },
      ],
    });
    expect(w.notifier.reports[0]?.timeline.some((entry) => /deadline \d+ s/.test(entry.message) && !entry.message.includes('deadline 120 s'))).toBe(true);
    expect(w.notifier.reports[1]?.action.reason).toBe('would restart, but held back: the Lambda is about to time out');
    expect(w.host.calls.filter((call) => call.script === 'remediate').map((call) => call.instanceId)).toEqual([A]);
    expect(Math.max(...w.notifier.publishedAt)).toBeLessThan(w.lambdaDeadline);
  });
});

describe('handleEvent: replays and shared state', () => {
  it('the same event id twice: the second is a duplicate and does nothing', async () => {
    // Prepare
    const w = world({ [A]: { before: fixture('crash') } });
    const first = await handleEvent(structuredClone(w.alarm), w.deps);
    const callsAfterFirst = w.host.calls.length;

    // Act
    const second = await handleEvent(structuredClone(w.alarm), w.deps);

    // Assess
    expect(first).toMatchObject({ status: 'handled', incidents: [{ outcome: 'recovered' }] });
    expect(second).toEqual({ status: 'duplicate', reason: `event ${w.alarm['id'] as string} was already processed` });
    expect(w.host.calls).toHaveLength(callsAfterFirst);
    expect(w.notifier.reports).toHaveLength(1);
    expect(w.store.history.get(A)).toHaveLength(1);
  });

  it('a spent restart budget in the store stops the restart', async () => {
    // Prepare: three restarts of A in the last hour
    const w = world({ [A]: { before: fixture('crash') } });
    const minutesAgo = (minutes: number) => new Date(w.clock.ms - minutes * 60_000).toISOString();
    w.store.history.set(A, [minutesAgo(50), minutesAgo(30), minutesAgo(10)]);

    // Act
    const result = await handleEvent(w.alarm, w.deps);

    // Assess
    expect(w.host.sequence).toEqual([`${A} snapshot full`]);
    expect(result).toMatchObject({ incidents: [{ instanceId: A, action: 'none', executed: false, outcome: 'escalated' }] });
    expect(w.notifier.reports[0]?.action.reason).toMatch(/^restart budget spent: 3 restarts in the last hour/);
  });

  it('another remediation holding the instance lock stops the restart', async () => {
    // Prepare
    const w = world({ [A]: { before: fixture('crash') } });
    w.store.locks.set(A, { owner: 'another-invocation', until: w.clock.ms + 600_000 });

    // Act
    const result = await handleEvent(w.alarm, w.deps);

    // Assess
    expect(w.host.calls.some((call) => call.script === 'remediate')).toBe(false);
    expect(result).toMatchObject({ incidents: [{ instanceId: A, outcome: 'escalated' }] });
    expect(w.notifier.reports[0]?.action.reason).toBe('another remediation of this instance is in progress');
    expect(w.store.locks.get(A)?.owner).toBe('another-invocation');
  });
});
