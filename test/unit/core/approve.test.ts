/**
 * Approve and observe modes, and "restart anyway", through the core's one-instance use case with in-memory ports:
 * the proposal goes to the journal's `propose`, and the answer comes back through the callback, as a Slack click or a
 * terminal answer would send it (core/approval.ts).
 */
import { withDurableExecution, type DurableContext } from '@aws/durable-execution-sdk-js';
import { LocalDurableTestRunner, WaitingOperationStatus } from '@aws/durable-execution-sdk-js-testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerText, type Answer } from '../../../functions/core/approval.ts';
import { inProcess } from '../../../functions/core/checkpoints.ts';
import type { IncidentJournal } from '../../../functions/core/ports.ts';
import { respondFleet } from '../../../functions/core/respond-fleet.ts';
import { respond, targetAt, type RespondDeps, type RespondOptions } from '../../../functions/core/respond.ts';
import { durableCheckpoints } from '../../../functions/responder/durable-checkpoints.ts';
import type { Report } from '../../../functions/core/types.ts';
import { EmptyLogs, FakeClock, FakeHost, fixture, MemoryStore, takenAt, type InstanceScript } from '../../helpers/fake-fleet.ts';

const A = 'i-0aaaaaaaaaaaaaaa1';
const ALICE = { id: 'U0ALICE', name: 'alice' };
const target = targetAt({ instanceId: A, app: 'web', healthUrl: 'http://127.0.0.1/api/health' });

/** Records what it was told, and what it was asked (the proposal and its callback id). */
class RecordingJournal implements IncidentJournal {
  readonly phases: string[] = [];
  readonly proposals: { report: Report; callbackId: string }[] = [];
  async phase(phase: string, report: Report): Promise<void> {
    this.phases.push(`${phase}${report.approval ? ` (${approvalState(report)})` : ''}`);
  }
  async propose(report: Report, callbackId: string): Promise<void> {
    this.proposals.push({ report, callbackId });
  }
}

function approvalState(report: Report): string {
  const approval = report.approval!;
  if (approval.approvedBy) return `approved by ${approval.approvedBy.id}`;
  if (approval.dismissedBy) return `dismissed by ${approval.dismissedBy.id}`;
  return approval.expired ? 'expired' : 'proposed';
}

/**
 * One crashed instance; `answers` are what the person answers to each proposal in turn (undefined: nobody answers
 * before it expires). Each answer is checked against the callback id of the proposal it answers.
 */
function world(answers: (Omit<Answer, 'at'> | undefined)[], instance: InstanceScript = { before: fixture('crash'), onHost: 'recovered' }, journal: IncidentJournal | undefined = new RecordingJournal()) {
  const clock = new FakeClock(takenAt(instance.before) + 3_000);
  const host = new FakeHost(clock, { [A]: instance });
  const store = new MemoryStore(clock);
  const asked: { callbackId: string; timeoutMs: number }[] = [];
  const answer = async (callbackId: string, timeoutMs: number): Promise<string | undefined> => {
    asked.push({ callbackId, timeoutMs });
    const next = answers.shift();
    if (next === undefined) {
      clock.ms += timeoutMs;
      return undefined;
    }
    clock.ms += 20_000;
    return answerText({ ...next, at: clock.now().toISOString() });
  };
  const deps: RespondDeps = { host, logs: new EmptyLogs(), clock, state: store, checkpoints: inProcess(clock, answer), ...(journal && { journal }) };
  return { clock, host, store, asked, deps, journal: journal as RecordingJournal | undefined };
}

const APPROVE: RespondOptions = { modes: { process_crashed: 'approve' }, approvalMs: 15 * 60_000 };
const remediates = (host: FakeHost): number => host.calls.filter((call) => call.script === 'remediate').length;
const messages = (report: Report): string[] => report.timeline.filter((entry) => entry.source === 'responder').map((entry) => entry.message);

describe('approve mode', () => {
  it('proposes, and restarts only once approved: the report says who approved and when', async () => {
    // Prepare
    const w = world([{ decision: 'approve', by: ALICE }]);

    // Act
    const report = await respond(target, w.deps, APPROVE);

    // Assess
    expect(remediates(w.host)).toBe(1);
    expect(report).toMatchObject({ outcome: 'recovered', action: { kind: 'restart', executed: true } });
    expect(report.approval).toMatchObject({ kind: 'approve', action: 'restart', approvedBy: ALICE });
    expect(Date.parse(report.approval!.expiresAt) - Date.parse(report.approval!.proposedAt)).toBe(15 * 60_000);
    expect(w.journal!.proposals).toHaveLength(1);
    expect(w.journal!.proposals[0]?.callbackId).toBe(w.asked[0]?.callbackId);
    expect(w.journal!.proposals[0]?.report.approval).toMatchObject({ kind: 'approve', action: 'restart' });
    expect(w.journal!.proposals[0]?.report.approval?.approvedBy).toBeUndefined();
    expect(messages(report)).toContain(`approved by @alice: restart web on ${A}`);
    // Every phase after the answer carries the audit trail.
    expect(w.journal!.phases).toEqual(['diagnosing', 'acting (approved by U0ALICE)', 'closed (approved by U0ALICE)']);
  });

  it('dismissed: nothing is done, and the report says who dismissed it', async () => {
    // Prepare
    const w = world([{ decision: 'dismiss', by: ALICE }]);

    // Act
    const report = await respond(target, w.deps, APPROVE);

    // Assess
    expect(remediates(w.host)).toBe(0);
    expect(report).toMatchObject({ outcome: 'escalated', action: { kind: 'none', executed: false, reason: 'dismissed by @alice: nothing was done' } });
    expect(report.approval).toMatchObject({ dismissedBy: ALICE });
    expect(w.store.history.get(A)).toBeUndefined();
  });

  it('expired unanswered: nothing is done, and the report and the message say it expired', async () => {
    // Prepare
    const w = world([undefined]);

    // Act
    const report = await respond(target, w.deps, APPROVE);

    // Assess
    expect(remediates(w.host)).toBe(0);
    expect(report.approval).toMatchObject({ expired: true });
    expect(report.action.reason).toBe(`nobody answered before ${report.approval!.expiresAt}: nothing was done`);
    expect(w.journal!.phases.at(-1)).toBe('closed (expired)');
    expect(w.asked[0]?.timeoutMs).toBe(15 * 60_000);
  });

  it('a cause that is not in approve mode acts by itself, as before', async () => {
    // Prepare
    const w = world([]);

    // Act
    const report = await respond(target, w.deps, { modes: { app_hung: 'approve' } });

    // Assess
    expect(report).toMatchObject({ outcome: 'recovered', action: { executed: true } });
    expect(report.approval).toBeUndefined();
    expect(w.asked).toEqual([]);
  });

  it('with nobody who can answer (no propose: a Slack webhook, or no Slack): observes instead, and says why', async () => {
    // Prepare
    const w = world([], undefined, { phase: async () => undefined });

    // Act
    const report = await respond(target, w.deps, APPROVE);

    // Assess
    expect(remediates(w.host)).toBe(0);
    expect(report).toMatchObject({ outcome: 'dry_run', action: { kind: 'restart', executed: false } });
    expect(messages(report).at(-1)).toMatch(/^approve mode, but nobody can answer here .*: observing: would restart web/);
  });
});

describe('observe mode', () => {
  it('reports what it would do, and does nothing', async () => {
    // Prepare
    const w = world([]);

    // Act
    const report = await respond(target, w.deps, { modes: { process_crashed: 'observe' } });

    // Assess
    expect(remediates(w.host)).toBe(0);
    expect(report).toMatchObject({ outcome: 'dry_run', action: { kind: 'restart', executed: false } });
    expect(messages(report).at(-1)).toMatch(/^observe mode: would restart web/);
    expect(w.asked).toEqual([]);
  });
});

describe('restart anyway', () => {
  it('budget spent: escalated, then a person overrides it: one restart, recorded with who clicked', async () => {
    // Prepare: three restarts in the last hour
    const w = world([{ decision: 'approve', by: ALICE }]);
    const minutesAgo = (minutes: number): string => new Date(w.clock.ms - minutes * 60_000).toISOString();
    w.store.history.set(A, [minutesAgo(50), minutesAgo(30), minutesAgo(10)]);

    // Act
    const report = await respond(target, w.deps, {});

    // Assess
    expect(remediates(w.host)).toBe(1);
    expect(report).toMatchObject({ outcome: 'recovered', action: { kind: 'restart', executed: true } });
    expect(report.action.reason).toMatch(/^restart anyway, approved by @alice \(Reflex had refused: restart budget spent: 3 restarts in the last hour/);
    expect(report.approval).toMatchObject({ kind: 'override', action: 'restart', approvedBy: ALICE });
    expect(w.journal!.proposals[0]?.report).toMatchObject({ outcome: 'escalated', approval: { kind: 'override' } });
    expect(w.store.history.get(A)).toHaveLength(4);
  });

  it('offered after a crash loop, and nobody takes it: the first report stands, and the message says it expired', async () => {
    // Prepare: PM2 itself keeps restarting the app
    const w = world([undefined], { before: fixture('crash-loop') });

    // Act
    const report = await respond(target, w.deps, {});

    // Assess
    expect(remediates(w.host)).toBe(0);
    expect(report).toMatchObject({ outcome: 'escalated', diagnosis: { cause: 'crash_loop' } });
    expect(w.journal!.proposals).toHaveLength(1);
    expect(w.journal!.phases.at(-1)).toBe('closed (expired)');
  });

  it('is never offered for a cause a restart cannot fix', async () => {
    // Prepare
    const w = world([], { before: fixture('port-mismatch') });

    // Act
    const report = await respond(target, w.deps, {});

    // Assess
    expect(report).toMatchObject({ outcome: 'escalated', diagnosis: { cause: 'port_mismatch' } });
    expect(w.asked).toEqual([]);
  });

  it('still one remediation at a time: with the lock held elsewhere, the override does not restart', async () => {
    // Prepare: the budget is spent, and another remediation holds the lock
    const w = world([{ decision: 'approve', by: ALICE }]);
    const minutesAgo = (minutes: number): string => new Date(w.clock.ms - minutes * 60_000).toISOString();
    w.store.history.set(A, [minutesAgo(50), minutesAgo(30), minutesAgo(10)]);
    w.store.locks.set(A, { owner: 'another-incident', until: w.clock.ms + 3_600_000 });

    // Act
    const report = await respond(target, w.deps, {});

    // Assess
    expect(remediates(w.host)).toBe(0);
    expect(report).toMatchObject({ outcome: 'escalated', action: { kind: 'none', reason: 'another remediation of this instance is in progress' } });
    expect(report.approval).toMatchObject({ kind: 'override', approvedBy: ALICE });
  });
});

describe('approve mode as a durable execution (the testing SDK)', () => {
  beforeAll(() => LocalDurableTestRunner.setupTestEnvironment({ skipTime: true }));
  afterAll(() => LocalDurableTestRunner.teardownTestEnvironment());

  /** The fleet use case wrapped as handler.ts wraps it, with one journal that records and proposes. */
  function durableFleet(approvalMs = APPROVE.approvalMs!, instance: InstanceScript = { before: fixture('crash'), onHost: 'recovered' }) {
    const clock = new FakeClock(takenAt(instance.before) + 3_000);
    const host = new FakeHost(clock, { [A]: instance });
    const journal = new RecordingJournal();
    const published: Report[] = [];
    const handler = withDurableExecution(async (_event: unknown, context: DurableContext) =>
      respondFleet(
        { kind: 'manual', instanceIds: [A], time: new Date(clock.ms - 20_000).toISOString(), eventId: 'ev-approve' },
        {
          host,
          logs: new EmptyLogs(),
          findInstances: async () => [A],
          notifiers: [{ publish: async (report) => (published.push(report), [{ channel: 'memory', ok: true }]) }],
          store: new MemoryStore(clock),
          clock,
          logger: { debug: () => undefined, info: () => undefined, warn: () => undefined },
          checkpoints: durableCheckpoints(context),
          newJournal: () => Object.assign(journal, { slackDelivery: undefined }),
        },
        { layout: { app: 'web', healthUrl: 'http://127.0.0.1/api/health' }, windowMs: 300_000, verifyMs: 60_000, dryRun: false, budget: { maxRestartsPerHour: 3, minMinutesBetweenRestarts: 5 }, ...APPROVE, approvalMs },
      ),
    );
    return { host, journal, published, runner: new LocalDurableTestRunner({ handlerFunction: handler as never }) };
  }

  it('waits for the click as a durable callback; the click resumes it: one restart, one report, the approver recorded', async () => {
    // Prepare
    const f = durableFleet();

    // Act: the execution waits; the click arrives at the callback id the proposal carried
    const running = f.runner.run({ payload: {} });
    const answer = f.runner.getOperation('approve-answer');
    await answer.waitForData(WaitingOperationStatus.SUBMITTED);
    expect(remediates(f.host)).toBe(0);
    expect(f.journal.proposals).toHaveLength(1);
    await answer.sendCallbackSuccess(answerText({ decision: 'approve', by: ALICE, at: new Date().toISOString() }));
    const execution = await running;

    // Assess
    expect(execution.getStatus()).toBe('SUCCEEDED');
    expect(remediates(f.host)).toBe(1);
    expect(f.published).toHaveLength(1);
    expect(f.published[0]).toMatchObject({ outcome: 'recovered', approval: { kind: 'approve', approvedBy: ALICE } });
  });

  it('nobody clicks: the callback times out, nothing is done, and the report says it expired', async () => {
    // Prepare: a 2 s expiry (the testing SDK's checkpoint server times callbacks out on its own, real, clock)
    const f = durableFleet(2_000);

    // Act
    const execution = await f.runner.run({ payload: {} });

    // Assess
    expect(execution.getStatus()).toBe('SUCCEEDED');
    expect(remediates(f.host)).toBe(0);
    expect(f.published[0]).toMatchObject({ outcome: 'escalated', approval: { expired: true } });
  });
});
