/**
 * handleEvent with in-memory ports: a host that answers with snapshots recorded from the real host scripts, a fake
 * clock that every host call and sleep moves forward, an in-memory incident store and a recording notifier.
 * Covers the waves (a canary, then the next wave at once), halting after a fix that did not work, verification on the
 * host and after it, and replays.
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
  /** The alarm event of this incident: fired 20 s before the start. */
  readonly alarm: Record<string, unknown>;
}

/**
 * A fleet whose instances answer with the given scripts, Logs Insights finding them in this order, and a Lambda
 * The clock starts just after the newest recorded snapshot.
 */
function world(instances: Record<string, InstanceScript>): World {
  const start = Math.max(...Object.values(instances).map((instance) => takenAt(instance.before))) + 3_000;
  const clock = new FakeClock(start);
  const host = new FakeHost(clock, instances);
  const logs = new EmptyLogs();
  const notifier = new RecordingNotifier(clock);
  const store = new MemoryStore(clock);
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
  };
  return { clock, host, logs, notifier, store, deps, alarm: alarmEvent('7d1c2a34-5b6e-4f70-8a91-b2c3d4e5f607', new Date(start - 20_000)) };
}

const probes = (instanceId: string, count: number): string[] => Array.from({ length: count }, () => `${instanceId} snapshot probe`);

// ---------------------------------------------------------------- tests

describe('handleEvent: rolling remediation', () => {
  it('investigates every instance first, then the canary, verified, then the next wave at once', async () => {
    // Prepare: the fleet's host scripts verify on the host
    const w = world({ [A]: { before: fixture('crash'), onHost: 'recovered' }, [B]: { before: fixture('stop'), onHost: 'recovered' }, [C]: { before: fixture('hang'), onHost: 'recovered' } });

    // Act
    const result = await handleEvent(w.alarm, w.deps);

    // Assess: one SSM round trip per remediation (the script verifies on the host); B and C went together
    const sequence = w.host.sequence;
    expect(sequence.slice(0, 4)).toEqual([`${A} snapshot full`, `${B} snapshot full`, `${C} snapshot full`, `${A} remediate restart`]);
    expect(sequence.slice(4).sort()).toEqual([`${B} remediate restart`, `${C} remediate restart`]);
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

describe('handleEvent: verification on the host, and after it', () => {
  it('the host saw three good answers in a row: recovered in 2 SSM round trips in all, from the first good answer', async () => {
    // Prepare
    const w = world({ [A]: { before: fixture('crash'), onHost: 'recovered' } });

    // Act
    const result = await handleEvent(w.alarm, w.deps);

    // Assess
    expect(w.host.sequence).toEqual([`${A} snapshot full`, `${A} remediate restart`]);
    expect(w.host.calls[1]).toMatchObject({ script: 'remediate' });
    expect(result).toMatchObject({ incidents: [{ instanceId: A, action: 'restart', executed: true, outcome: 'recovered' }] });
    const report = w.notifier.reports[0]!;
    // The last observation is evidence; users were served from the first good one: the script's second observation,
    // 1 s into the 2 s round trip plus 250 ms (test/helpers/fake-fleet.ts verifyOutput).
    const last = report.diagnosis.evidence.find((line) => line.text.startsWith('after the action:'));
    expect(last?.text).toBe('after the action: web online (pid 5100, 1 restarts); through nginx: HTTP 200 in 4 ms');
    expect(report.timings.recoveredMs).toBe(report.timings.actedMs! + 1_250);
  });

  it('the host saw the app die again: crash loop, escalated, no second restart and no polling', async () => {
    // Prepare
    const w = world({ [A]: { before: fixture('crash'), onHost: 'died' } });

    // Act
    const result = await handleEvent(w.alarm, w.deps);

    // Assess
    expect(w.host.sequence).toEqual([`${A} snapshot full`, `${A} remediate restart`]);
    expect(result).toMatchObject({ incidents: [{ instanceId: A, cause: 'crash_loop', executed: true, outcome: 'escalated' }] });
    expect(w.notifier.reports[0]?.diagnosis.evidence[0]?.text).toMatch(/^web status errored, 1 restarts: web was online after the action, then errored$/);
  });

  it('the host gave up at its deadline with the app not up yet: light snapshots carry on until it serves', async () => {
    // Prepare: after the script's 30 s, two more failing polls, then healthy
    const w = world({ [A]: { before: fixture('crash'), onHost: 'deadline', after: [fixture('crash-probe'), fixture('crash-probe'), fixture('healthy-probe')] } });

    // Act
    const result = await handleEvent(w.alarm, w.deps);

    // Assess
    expect(w.host.sequence).toEqual([`${A} snapshot full`, `${A} remediate restart`, ...probes(A, 5)]);
    expect(result).toMatchObject({ incidents: [{ instanceId: A, outcome: 'recovered' }] });
    expect(w.notifier.reports[0]?.timeline.some((entry) => entry.message.startsWith('verifying: waiting for 3 consecutive good probes'))).toBe(true);
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
