/**
 * Kill and resume: the responder as a durable execution (handleEvent with the durable Checkpoints, as handler.ts wires
 * it), driven by an in-memory durable service (test/helpers/durable-backend.ts) that can abandon an invocation in the
 * middle of a step and invoke again with what was checkpointed, as Lambda does after a crash or a timeout.
 * Each cut-off must resume with at most one restart issued and the report sent exactly once. The LocalDurableTestRunner
 * of the testing SDK runs the whole flow once, with its waits, at the end.
 */
import { withDurableExecution, type DurableContext } from '@aws/durable-execution-sdk-js';
import { LocalDurableTestRunner } from '@aws/durable-execution-sdk-js-testing';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostParams, HostRunResult, HostRunner, HostScript } from '../../../functions/core/ports.ts';
import { localContext } from '../../../functions/cli/invoke.ts';
import { parseConfig } from '../../../functions/responder/config.ts';
import { durableCheckpoints } from '../../../functions/responder/durable-checkpoints.ts';
import { handleEvent, type ResponderDeps, type ResponderResult } from '../../../functions/responder/run.ts';
import { DurableBackend, type DurableHandler } from '../../helpers/durable-backend.ts';
import { alarmEvent, EmptyLogs, FakeClock, FakeHost, fixture, MemoryStore, RecordingNotifier, takenAt, type InstanceScript } from '../../helpers/fake-fleet.ts';
import { responderEnv } from '../../helpers/responder-env.ts';

const CONFIG = parseConfig(responderEnv());
const A = 'i-0aaaaaaaaaaaaaaa1';
const never = new Promise<never>(() => undefined);

/** Where a run is cut off: the host call it never comes back from, and whether that call took effect first. */
interface CutOff {
  readonly script: HostScript;
  /** `full`/`probe` for a snapshot, the action for a remediate. */
  readonly what: string;
  /** true: the call reached the host (the restart happened) and the run died waiting for its answer. */
  readonly reached: boolean;
}

/** A host that, once, never answers one call: the invocation waiting for it is as good as dead. */
class CutOffHost implements HostRunner {
  cut: CutOff | undefined;
  constructor(private readonly inner: FakeHost) {}
  async run(instanceId: string, script: HostScript, params: HostParams): Promise<HostRunResult> {
    const what = (script === 'snapshot' ? params.sections : params.action) ?? '';
    const cut = this.cut;
    if (cut && cut.script === script && cut.what === what) {
      this.cut = undefined;
      if (cut.reached) await this.inner.run(instanceId, script, params);
      return never;
    }
    return this.inner.run(instanceId, script, params);
  }
}

function world(instance: InstanceScript) {
  const clock = new FakeClock(takenAt(instance.before) + 3_000);
  const fake = new FakeHost(clock, { [A]: instance });
  const host = new CutOffHost(fake);
  const store = new MemoryStore(clock);
  const notifier = new RecordingNotifier(clock);
  const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined };
  const deps: ResponderDeps = { config: CONFIG, host, logs: new EmptyLogs(), findInstances: async () => [A], notifiers: [notifier], store, clock, logger: silent };
  // As functions/responder/handler.ts wires it, with these ports instead of the AWS clients.
  const handler = withDurableExecution(async (event: unknown, context: DurableContext) =>
    handleEvent(event, { ...deps, checkpoints: durableCheckpoints(context) }),
  ) as unknown as DurableHandler;
  const alarm = alarmEvent('0c6c1d5e-1111-4f70-8a91-b2c3d4e5f607', new Date(clock.ms - 20_000));
  return { clock, fake, host, store, notifier, handler, alarm };
}

const context = (): Context => localContext(180_000);
const remediations = (fake: FakeHost): number => fake.calls.filter((call) => call.script === 'remediate').length;

/** Runs the alarm's execution until `cut` stops an invocation, then lets the service resume it to the end. */
async function cutAndResume(w: ReturnType<typeof world>, cut: CutOff, before?: () => void): Promise<{ result: ResponderResult; backend: DurableBackend }> {
  const backend = new DurableBackend(w.alarm);
  w.host.cut = cut;
  // The first invocation, and any that end PENDING (at a durable wait), until one hangs on the cut call.
  for (let invocation = 0; ; invocation++) {
    const out = await Promise.race([backend.invoke(w.handler, context()), until(() => w.host.cut === undefined, 10_000).then(() => 'cut' as const)]);
    if (out === 'cut') break;
    if (out.Status !== 'PENDING' || invocation > 50) throw new Error(`the run never reached the cut-off (${out.Status})`);
    backend.fireTimers();
  }
  await new Promise((resolve) => setTimeout(resolve, 20)); // the dead invocation's last checkpoint lands
  before?.();
  const result = (await backend.drive(w.handler, context)) as ResponderResult;
  return { result, backend };
}

describe('durable incidents: cut off, then resumed from the last checkpoint', () => {
  it('cut off after the restart was recorded, before it was sent: not sent on resume, reported once', async () => {
    // Prepare: the remediate call never leaves (the run dies as it sends it)
    const w = world({ before: fixture('crash'), onHost: 'recovered', after: [fixture('crash-probe')] });

    // Act
    const { result } = await cutAndResume(w, { script: 'remediate', what: 'restart', reached: false });

    // Assess: recorded once (it counts against the budget), and not sent again on resume; one report
    expect(w.store.history.get(A)).toHaveLength(1);
    expect(remediations(w.fake)).toBe(0);
    expect(result).toMatchObject({ status: 'handled', incidents: [{ instanceId: A, action: 'restart', executed: true, outcome: 'escalated' }] });
    expect(w.notifier.reports).toHaveLength(1);
    expect(w.notifier.reports[0]?.timeline.map((entry) => entry.message)).toContain(
      'the restart was issued, but its result was lost when the run was cut off: verifying from here',
    );
  });

  it('cut off after the restart was sent: resumes by verifying, no second restart, recovered, reported once', async () => {
    // Prepare
    const w = world({ before: fixture('crash'), onHost: 'recovered' });

    // Act
    const { result } = await cutAndResume(w, { script: 'remediate', what: 'restart', reached: true });

    // Assess: the one remediate that reached the host is the only one
    expect(remediations(w.fake)).toBe(1);
    expect(w.store.history.get(A)).toHaveLength(1);
    expect(result).toMatchObject({ incidents: [{ action: 'restart', executed: true, outcome: 'recovered' }] });
    expect(w.notifier.reports).toHaveLength(1);
    expect(w.store.locks.size).toBe(0);
  });

  it('cut off in the middle of verification: the poll runs again, no second restart, reported once', async () => {
    // Prepare: the host's own verification ran out before the app answered; the first poll after it never returns
    const w = world({ before: fixture('crash'), onHost: 'deadline', after: [fixture('healthy-probe')] });

    // Act
    const { result, backend } = await cutAndResume(w, { script: 'snapshot', what: 'probe', reached: false });

    // Assess
    expect(remediations(w.fake)).toBe(1);
    expect(result).toMatchObject({ incidents: [{ action: 'restart', executed: true, outcome: 'recovered' }] });
    expect(w.notifier.reports).toHaveLength(1);
    // The waits between polls were durable waits: the invocation ended and was invoked again after each.
    expect(backend.updates.some((update) => update.type === 'WAIT')).toBe(true);
  });

  it('resumed after the alarm window has passed: the replay does not call its own event stale', async () => {
    // Prepare: the run dies mid-verification, and the service invokes it again 10 minutes later (window: 5 min)
    const w = world({ before: fixture('crash'), onHost: 'deadline', after: [fixture('healthy-probe')] });

    // Act
    const { result } = await cutAndResume(w, { script: 'snapshot', what: 'probe', reached: false }, () => {
      w.clock.ms += 10 * 60_000;
    });

    // Assess
    expect(result).toMatchObject({ status: 'handled', incidents: [{ action: 'restart', executed: true }] });
    expect(remediations(w.fake)).toBe(1);
    expect(w.notifier.reports).toHaveLength(1);
  });

  it('cut off before the report: the report is sent once, after the resume', async () => {
    // Prepare: the run dies inside its first attempt to publish
    const w = world({ before: fixture('crash'), onHost: 'recovered' });
    const publish = w.notifier.publish.bind(w.notifier);
    let dead = true;
    w.notifier.publish = (report) => (dead ? never : publish(report));
    const backend = new DurableBackend(w.alarm);
    void backend.invoke(w.handler, context());
    await until(() => backend.statusOf('publish') === 'STARTED');
    dead = false;

    // Act
    const result = (await backend.drive(w.handler, context)) as ResponderResult;

    // Assess
    expect(remediations(w.fake)).toBe(1);
    expect(result).toMatchObject({ incidents: [{ outcome: 'recovered' }] });
    expect(w.notifier.reports).toHaveLength(1);
  });

  it('a completed step is never run again: the investigation snapshot is taken once across the cut-off', async () => {
    // Prepare
    const w = world({ before: fixture('crash'), onHost: 'recovered' });

    // Act
    await cutAndResume(w, { script: 'remediate', what: 'restart', reached: true });

    // Assess
    expect(w.fake.sequence.filter((call) => call.endsWith('snapshot full'))).toHaveLength(1);
  });
});

describe('durable incidents: the testing SDK runs the whole execution', () => {
  beforeAll(() => LocalDurableTestRunner.setupTestEnvironment({ skipTime: true }));
  afterAll(() => LocalDurableTestRunner.teardownTestEnvironment());

  it('an alarm: one execution with the steps of the flow, its waits durable, one restart and one report', async () => {
    // Prepare: the host's verification ran out; two light snapshots after durable waits see it serve
    const w = world({ before: fixture('crash'), onHost: 'deadline', after: [fixture('healthy-probe')] });
    const runner = new LocalDurableTestRunner({ handlerFunction: w.handler as never });

    // Act
    const execution = await runner.run({ payload: w.alarm });

    // Assess
    expect(execution.getStatus()).toBe('SUCCEEDED');
    expect(execution.getResult()).toMatchObject({ status: 'handled', incidents: [{ instanceId: A, outcome: 'recovered' }] });
    const names = execution.getOperations().map((operation) => operation.getName());
    expect(names).toEqual(expect.arrayContaining(['admit', 'investigate', 'lock', 'record', 'issue', 'verify-1', 'verify-wait-2', 'close', 'publish']));
    expect(execution.getInvocations().length).toBeGreaterThan(1);
    expect(remediations(w.fake)).toBe(1);
    expect(w.notifier.reports).toHaveLength(1);
  });
});

async function until(predicate: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('until: condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
