/**
 * handleEvent with in-memory ports: a host that answers with snapshots recorded from the real host scripts, a fake
 * clock that every host call and sleep moves forward, an in-memory incident store and a recording notifier.
 * Covers the rolling order, halting after a fix that did not work, the Lambda time check, and replays.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig, type ResponderConfig } from '../../../functions/responder/config.ts';
import { handleEvent, type ResponderDeps } from '../../../functions/responder/run.ts';
import { alarmEvent, EmptyLogs, FakeClock, FakeHost, fixture, MemoryStore, RecordingNotifier, takenAt, type InstanceScript } from '../../helpers/fake-fleet.ts';
import { responderEnv } from '../../helpers/responder-env.ts';

const CONFIG: ResponderConfig = parseConfig(responderEnv());

const A = 'i-0aaaaaaaaaaaaaaa1';
const B = 'i-0bbbbbbbbbbbbbbb2';
const C = 'i-0ccccccccccccccc3';

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
