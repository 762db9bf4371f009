/**
 * The fleet use case on its own, as the CLI could drive it: a manual trigger, plain in-memory ports, no Lambda.
 * Covers the bounded investigation, a journal per instance, the waves and their halt rule, the claim of the event
 * and the notifiers' failures. (test/unit/responder/run.test.ts covers it through handleEvent; kill and resume are
 * test/unit/responder/durable.test.ts.)
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Delivery, FleetJournal, HostParams, HostRunResult, HostRunner, HostScript, IncidentStore } from '../../../functions/core/ports.ts';
import { mapLimit } from '../../../functions/core/checkpoints.ts';
import {
  INVESTIGATION_CONCURRENCY,
  respondFleet,
  waveSizes,
  type FleetDeps,
  type FleetOptions,
  type FleetTrigger,
} from '../../../functions/core/respond-fleet.ts';
import type { IncidentPhase } from '../../../functions/core/incident.ts';
import type { Report } from '../../../functions/core/types.ts';

const A = 'i-0aaaaaaaaaaaaaaa1';
const B = 'i-0bbbbbbbbbbbbbbb2';

const snapshot = (name: string): string => readFileSync(new URL(`../../fixtures/snapshots/${name}.txt`, import.meta.url), 'utf8');
const CRASH = snapshot('crash');
/** Just after the crash fixture was taken, so its evidence is fresh. */
const START = Date.parse(/^taken_at=(.+)$/m.exec(CRASH)?.[1] ?? '') + 3_000;

const OPTIONS: FleetOptions = {
  layout: { app: 'web', healthUrl: 'http://127.0.0.1/api/health' },
  windowMs: 300_000,
  verifyMs: 120_000,
  dryRun: false,
  budget: { maxRestartsPerHour: 3, minMinutesBetweenRestarts: 5 },
};

const manual = (instanceIds: string[], extra: Partial<Extract<FleetTrigger, { kind: 'manual' }>> = {}): FleetTrigger => ({
  kind: 'manual',
  instanceIds,
  time: new Date(START - 20_000).toISOString(),
  ...extra,
});

/** Every instance has crashed; after a restart its probes answer `after` (healthy by default). Each call takes 1 s. */
class CrashedFleet implements HostRunner {
  readonly calls: string[] = [];
  readonly #restarted = new Set<string>();
  constructor(
    private readonly clock: { ms: number },
    private readonly after: Record<string, string> = {},
  ) {}
  async run(instanceId: string, script: HostScript, params: HostParams): Promise<HostRunResult> {
    this.calls.push(`${instanceId} ${script} ${(script === 'snapshot' ? params.sections : params.action) ?? ''}`);
    this.clock.ms += 1_000;
    if (script === 'remediate') this.#restarted.add(instanceId);
    const stdout = this.#restarted.has(instanceId) ? snapshot(this.after[instanceId] ?? 'healthy-probe') : CRASH;
    return { ok: true, stdout, stderr: '', status: 'Success' };
  }
}

/** Records the phases it is told; once closed, says its Slack message was delivered. */
class RecordingJournal implements FleetJournal {
  readonly phases: string[] = [];
  slackDelivery: Delivery | undefined;
  async phase(phase: IncidentPhase, report: Report): Promise<void> {
    this.phases.push(`${report.instanceId} ${phase}`);
    if (phase === 'closed') this.slackDelivery = { channel: 'slack', ok: true };
  }
}

/** The fleet's ports in memory. */
function fleet(options: { after?: Record<string, string> } = {}) {
  const clock = { ms: START, now: () => new Date(clock.ms), sleep: async (ms: number) => void (clock.ms += ms) };
  const host = new CrashedFleet(clock, options.after);
  const journals: RecordingJournal[] = [];
  const published: Report[] = [];
  const warnings: string[] = [];
  const deps: FleetDeps = {
    host,
    logs: { fetch: async () => ({ accessLines: [], errorLines: [], pm2Lines: [], kernelLines: [] }) },
    findInstances: async () => {
      throw new Error('a manual trigger names its instances');
    },
    notifiers: [{ publish: async (report) => (published.push(report), [{ channel: 'memory', ok: true }]) }],
    clock,
    logger: { debug: () => undefined, info: () => undefined, warn: (message) => void warnings.push(message) },
    newJournal: () => {
      const journal = new RecordingJournal();
      journals.push(journal);
      return journal;
    },
  };
  return { clock, host, journals, published, warnings, deps };
}

/** The verification deadline the report's timeline announced, in seconds. */
const announcedDeadline = (report: Report | undefined): number | undefined => {
  const entry = report?.timeline.find((line) => line.message.startsWith('verifying:'));
  return entry ? Number(/deadline (\d+) s/.exec(entry.message)?.[1]) : undefined;
};

describe('mapLimit', () => {
  it('keeps at most `limit` calls in flight and the results in order', async () => {
    // Prepare
    let inFlight = 0;
    let most = 0;
    const slow = async (n: number): Promise<number> => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, n % 3));
      inFlight--;
      return n * 2;
    };

    // Act
    const results = await mapLimit([1, 2, 3, 4, 5, 6, 7], 3, slow);

    // Assess
    expect(results).toEqual([2, 4, 6, 8, 10, 12, 14]);
    expect(most).toBe(3);
  });
});

describe('waveSizes', () => {
  it('starts with a canary of one, doubles up to the cap, then stays at the cap until all are covered', () => {
    expect(waveSizes(0, 16)).toEqual([]);
    expect(waveSizes(1, 16)).toEqual([1]);
    expect(waveSizes(50, 16)).toEqual([1, 2, 4, 8, 16, 16, 3]);
    expect(waveSizes(200, 64)).toEqual([1, 2, 4, 8, 16, 32, 64, 64, 9]);
    expect(waveSizes(5, 1)).toEqual([1, 1, 1, 1, 1]);
    expect(waveSizes(7, 0)).toEqual([1, 1, 1, 1, 1, 1, 1]);
  });
});

describe('respondFleet', () => {
  it('a manual trigger: each instance is its own incident, with its own journal; the canary first, then the next wave', async () => {
    // Prepare
    const f = fleet();

    // Act
    const result = await respondFleet(manual([A, B], { eventId: 'ev-1' }), f.deps, OPTIONS);

    // Assess
    expect(result).toMatchObject({ status: 'handled', reports: [{ instanceId: A, outcome: 'recovered' }, { instanceId: B, outcome: 'recovered' }] });
    expect(f.host.calls.filter((call) => !call.includes('probe'))).toEqual([`${A} snapshot full`, `${B} snapshot full`, `${A} remediate restart`, `${B} remediate restart`]);
    expect(f.journals.map((journal) => journal.phases)).toEqual([
      [`${A} diagnosing`, `${A} acting`, `${A} verifying`, `${A} closed`],
      [`${B} diagnosing`, `${B} acting`, `${B} verifying`, `${B} closed`],
    ]);
    expect(result.status === 'handled' && result.reports.map((report) => report.incidentId)).toEqual([`ev-1-${A}`, `ev-1-${B}`]);
    expect(result.status === 'handled' && result.notified).toEqual([
      { channel: 'memory', ok: true },
      { channel: 'slack', ok: true },
      { channel: 'memory', ok: true },
      { channel: 'slack', ok: true },
    ]);
  });

  it('investigates the instances in parallel, at most INVESTIGATION_CONCURRENCY at once', async () => {
    // Prepare: more instances than the bound; every snapshot takes a moment of real time
    const f = fleet();
    const ids = Array.from({ length: INVESTIGATION_CONCURRENCY + 5 }, (_, index) => `i-0${String(index).padStart(16, '0')}`);
    let inFlight = 0;
    let most = 0;
    const host: HostRunner = {
      run: async (instanceId, script, params) => {
        most = Math.max(most, ++inFlight);
        await new Promise((resolve) => setTimeout(resolve, 1));
        inFlight--;
        return f.host.run(instanceId, script, params);
      },
    };

    // Act
    const result = await respondFleet(manual(ids, { dryRun: true }), { ...f.deps, host }, OPTIONS);

    // Assess
    expect(result.status === 'handled' && result.reports.map((report) => report.instanceId)).toEqual(ids);
    expect(most).toBe(INVESTIGATION_CONCURRENCY);
  });

  it('a manual dry run changes nothing, even when the options do not ask for one', async () => {
    // Prepare
    const f = fleet();

    // Act
    const result = await respondFleet(manual([A], { dryRun: true }), f.deps, OPTIONS);

    // Assess
    expect(result).toMatchObject({ reports: [{ outcome: 'dry_run', action: { kind: 'restart', executed: false } }] });
    expect(f.host.calls).toEqual([`${A} snapshot full`]);
  });

  it('verification gets verifyMs, however long the fleet takes (a durable execution is not bound by one invocation)', async () => {
    // Prepare
    const f = fleet();

    // Act
    const result = await respondFleet(manual([A]), f.deps, OPTIONS);

    // Assess
    const report = result.status === 'handled' ? result.reports[0] : undefined;
    expect(report?.outcome).toBe('recovered');
    expect(announcedDeadline(report)).toBe(OPTIONS.verifyMs / 1000);
  });

  it('the canary does not recover: nothing else is restarted, and every other instance is reported as held back', async () => {
    // Prepare: A, the canary, keeps failing its probes after the restart
    const ids = [A, B, 'i-0ccccccccccccccc3', 'i-0ddddddddddddddd4'];
    const f = fleet({ after: { [A]: 'crash-probe' } });

    // Act
    const result = await respondFleet(manual(ids), f.deps, { ...OPTIONS, verifyMs: 20_000 });

    // Assess
    const reports = result.status === 'handled' ? result.reports : [];
    expect(reports.map((report) => report.instanceId)).toEqual(ids);
    expect(reports[0]).toMatchObject({ instanceId: A, outcome: 'escalated', action: { executed: true } });
    for (const report of reports.slice(1)) {
      expect(report).toMatchObject({ outcome: 'escalated', action: { kind: 'none', executed: false, reason: `would restart, but held back: ${A} did not recover after the restart` } });
    }
    expect(f.host.calls.filter((call) => call.includes('remediate'))).toEqual([`${A} remediate restart`]);
    expect(f.published).toHaveLength(4);
  });

  it('goes in waves of 1, 2, 4…: each wave at once, and a wave with one failure halts the next wave', async () => {
    // Prepare: 10 instances → waves 1, 2, 4, 3; one instance of the third wave does not recover
    const ids = Array.from({ length: 10 }, (_, index) => `i-0${String(index).padStart(16, '0')}`);
    const failing = ids[4]!;
    const f = fleet({ after: { [failing]: 'crash-probe' } });
    // Each remediate waits until its whole wave has sent one: a wave that did not run at once would never finish.
    const waves = [1, 2, 4];
    let wave = 0;
    let waiting: (() => void)[] = [];
    const host: HostRunner = {
      run: async (instanceId, script, params) => {
        if (script === 'remediate') {
          await new Promise<void>((resolve) => {
            waiting.push(resolve);
            if (waiting.length < waves[wave]!) return;
            wave++;
            for (const release of waiting.splice(0)) release();
          });
        }
        return f.host.run(instanceId, script, params);
      },
    };

    // Act
    const result = await respondFleet(manual(ids), { ...f.deps, host }, { ...OPTIONS, verifyMs: 20_000, maxWave: 4 });

    // Assess: the canary, the wave of 2 and the whole wave of 4 were restarted, each wave at once; the last 3 held back
    const reports = result.status === 'handled' ? result.reports : [];
    expect(reports.map((report) => report.instanceId)).toEqual(ids);
    expect(f.host.calls.filter((call) => call.includes('remediate')).map((call) => call.split(' ')[0])).toEqual(expect.arrayContaining(ids.slice(0, 7)));
    expect(f.host.calls.filter((call) => call.includes('remediate'))).toHaveLength(7);
    expect(wave).toBe(3);
    expect(reports.slice(0, 7).map((report) => report.action.executed)).toEqual(Array(7).fill(true));
    expect(reports.slice(0, 7).map((report) => report.outcome)).toEqual(ids.slice(0, 7).map((id) => (id === failing ? 'escalated' : 'recovered')));
    for (const report of reports.slice(7)) {
      expect(report.action).toMatchObject({ kind: 'none', executed: false, reason: `would restart, but held back: ${failing} did not recover after the restart` });
    }
  });

  it('a restart that was never sent (SSM throttled it) is not executed, and does not halt the rollout', async () => {
    // Prepare: the canary's remediate command is refused before it reaches the host
    const f = fleet();
    const host: HostRunner = {
      run: async (instanceId, script, params) =>
        instanceId === A && script === 'remediate'
          ? { ok: false, stdout: '', stderr: '', status: 'ThrottlingException', error: 'SSM throttled the remediate command; nothing ran', notRun: true }
          : f.host.run(instanceId, script, params),
    };

    // Act
    const result = await respondFleet(manual([A, B]), { ...f.deps, host }, OPTIONS);

    // Assess
    expect(result).toMatchObject({
      reports: [
        { instanceId: A, outcome: 'escalated', action: { kind: 'restart', executed: false, error: 'SSM throttled the remediate command; nothing ran' } },
        { instanceId: B, outcome: 'recovered', action: { kind: 'restart', executed: true } },
      ],
    });
  });

  it('an event already claimed does nothing', async () => {
    // Prepare: only claimEvent exists, so any other store call would throw
    const f = fleet();
    const replayed = { claimEvent: async () => false } as unknown as IncidentStore;

    // Act
    const result = await respondFleet(manual([A], { eventId: 'ev-2' }), { ...f.deps, store: replayed }, OPTIONS);

    // Assess
    expect(result).toEqual({ status: 'duplicate', reason: 'event ev-2 was already processed' });
    expect(f.host.calls).toEqual([]);
    expect(f.journals).toEqual([]);
  });

  it('a notifier that throws is a failed delivery: logged, and the other channels still count', async () => {
    // Prepare
    const f = fleet();
    const broken = { publish: async (): Promise<Delivery[]> => Promise.reject(new Error('topic gone')) };

    // Act
    const result = await respondFleet(manual([A]), { ...f.deps, notifiers: [broken, ...f.deps.notifiers] }, OPTIONS);

    // Assess
    expect(result.status === 'handled' && result.notified).toEqual([
      { channel: 'unknown', ok: false },
      { channel: 'memory', ok: true },
      { channel: 'slack', ok: true },
    ]);
    expect(f.warnings).toEqual(['notification failed']);
    expect(f.published).toHaveLength(1);
  });
});
