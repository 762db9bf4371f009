/**
 * The detector and the responder together, through the real core: the detector's logic and DynamoDB stores on
 * dynalite, its start handed to the responder's handleEvent (as Lambda's asynchronous invoke would), and hosts that
 * answer with snapshots recorded from the real host scripts.
 *
 * The case the alarm alone cannot handle: A is escalated and its 502s keep the alarm in ALARM, then B crashes. No
 * alarm event comes (the alarm does not change state), yet B is handled. And the detector and an alarm event for one
 * instance make one incident, with at most one restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbDetectionStore } from '../../../functions/adapters/aws/detection-store.ts';
import { DynamoDbStateStore } from '../../../functions/adapters/aws/dynamodb-state-store.ts';
import { DEFAULT_DETECT_SETTINGS, detect, type DetectOutcome } from '../../../functions/core/detect.ts';
import { detectorEvent } from '../../../functions/core/trigger.ts';
import { decodeSubscription } from '../../../functions/detector/decode.ts';
import { parseConfig } from '../../../functions/responder/config.ts';
import { handleEvent, type ResponderResult } from '../../../functions/responder/run.ts';
import { startDynalite, type Dynalite } from '../../helpers/dynalite.ts';
import { alarmEvent, EmptyLogs, FakeClock, FakeHost, fixture, RecordingNotifier, takenAt, type InstanceScript } from '../../helpers/fake-fleet.ts';
import { responderEnv } from '../../helpers/responder-env.ts';
import { errorBatch } from '../../helpers/subscription.ts';

const CONFIG = parseConfig(responderEnv({ REFLEX_TABLE_NAME: 'reflex-blind' }));
const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined };
let dynamo: Dynalite;
let seq = 0;

beforeAll(async () => {
  dynamo = await startDynalite({ tableName: 'reflex-blind' });
});

afterAll(async () => {
  await dynamo?.stop();
});

/** Fresh instance ids per test: the table is shared. */
function ids(): { a: string; b: string } {
  seq += 1;
  return { a: `i-0a${seq.toString(16).padStart(15, '0')}`, b: `i-0b${seq.toString(16).padStart(15, '0')}` };
}

/** A fleet, the responder's ports on dynalite, and the detector wired to start the responder. */
function world(instances: Record<string, InstanceScript>) {
  const clock = new FakeClock(Math.max(...Object.values(instances).map((instance) => takenAt(instance.before))) + 3_000);
  const now = () => clock.now();
  const host = new FakeHost(clock, instances);
  const notifier = new RecordingNotifier(clock);
  const store = new DynamoDbStateStore({ client: dynamo.documentClient, tableName: dynamo.tableName, clock: now });
  const claims = new DynamoDbDetectionStore({ client: dynamo.documentClient, tableName: dynamo.tableName, clock: now });
  const deadline = clock.ms + 180_000;
  const responderDeps = {
    config: CONFIG,
    host,
    logs: new EmptyLogs(),
    findInstances: async () => Object.keys(instances),
    notifiers: [notifier],
    store,
    claims,
    clock,
    logger: silent,
  };
  const runs: ResponderResult[] = [];
  /** One subscription batch of `count` 502s on `instanceId`, just logged, through the detector. */
  const errors = async (instanceId: string, count = 6): Promise<DetectOutcome> => {
    const decoded = decodeSubscription(errorBatch(instanceId, new Date(clock.ms - 1500), count));
    if (decoded.kind !== 'batch') throw new Error('the fixture did not decode');
    return detect(decoded.batch, {
      store: claims,
      // Lambda would run the responder apart; here it runs to its end before the detector returns.
      start: async (start) => void runs.push(await handleEvent(detectorEvent(start), responderDeps)),
      now,
      logger: silent,
      settings: DEFAULT_DETECT_SETTINGS,
    });
  };
  return { clock, host, notifier, store, claims, responderDeps, runs, errors };
}

describe('detector and responder', () => {
  it('handles B when it crashes while A is escalated and its 502s go on (no alarm event comes)', async () => {
    // Prepare: A crashed with its restart budget spent, so its incident escalates; B serves
    const { a, b } = ids();
    const w = world({ [a]: { before: fixture('crash') }, [b]: { before: fixture('crash') } });
    const minutesAgo = (minutes: number) => new Date(w.clock.ms - minutes * 60_000).toISOString();
    for (const minutes of [50, 30, 10]) await w.store.recordRestart(a, minutesAgo(minutes));

    // Act: A fails and escalates; its errors go on for half a minute; then B crashes
    const first = await w.errors(a);
    const ongoing: DetectOutcome[] = [];
    for (let step = 0; step < 3; step++) {
      w.clock.ms += 10_000;
      ongoing.push(await w.errors(a));
    }
    const second = await w.errors(b);

    // Assess
    expect(first).toMatchObject({ status: 'started', instanceId: a });
    expect(ongoing.map((outcome) => outcome.status)).toEqual(['counted', 'counted', 'counted']);
    expect(second).toMatchObject({ status: 'started', instanceId: b });
    expect(w.notifier.reports.map((report) => [report.instanceId, report.outcome])).toEqual([
      [a, 'escalated'],
      [b, 'recovered'],
    ]);
    expect(w.host.calls.filter((call) => call.script === 'remediate').map((call) => call.instanceId)).toEqual([b]);
    // Detection cost is in the report: from the first 502 the detector saw to the incident's start.
    expect(w.notifier.reports[1]?.timings.detectedMs).toBe(1500);
    expect(w.runs[1]).toMatchObject({ status: 'handled', incidents: [{ instanceId: b, outcome: 'recovered', detectedMs: 1500 }] });
  });

  it('makes one incident and one restart when the alarm fires for an instance the detector handles', async () => {
    // Prepare
    const { b } = ids();
    const w = world({ [b]: { before: fixture('crash') } });

    // Act: the detector starts B's incident; the alarm (a minute or more behind) fires for the same errors
    const detected = await w.errors(b);
    const alarm = await handleEvent(alarmEvent(`alarm-${b}`, w.clock.now()), w.responderDeps);

    // Assess
    expect(detected).toMatchObject({ status: 'started' });
    expect(alarm).toEqual({ status: 'handled', incidents: [], notified: [] });
    expect(w.notifier.reports).toHaveLength(1);
    expect(w.host.calls.filter((call) => call.script === 'remediate')).toHaveLength(1);
  });

  it('leaves an instance to the alarm run that claimed it first: the detector starts nothing', async () => {
    // Prepare: the alarm run holds B (its claim), as while it investigates
    const { b } = ids();
    const w = world({ [b]: { before: fixture('crash') } });
    await w.claims.claimIncident({ incidentId: `alarm-${b}`, instanceId: b, firstErrorAt: w.clock.now().toISOString(), expiresAt: w.clock.ms + 180_000 });

    // Act
    const detected = await w.errors(b);

    // Assess
    expect(detected).toMatchObject({ status: 'claimed-elsewhere' });
    expect(w.runs).toEqual([]);
  });

  it('drops a queued detector start whose claim an alarm run took over after it ran out', async () => {
    // Prepare: the detector's start for B waited; meanwhile its claim expired and an alarm run claimed B
    const { b } = ids();
    const w = world({ [b]: { before: fixture('crash') } });
    await w.claims.claimIncident({ incidentId: `alarm-${b}`, instanceId: b, firstErrorAt: w.clock.now().toISOString(), expiresAt: w.clock.ms + 180_000 });
    const start = { incidentId: `detect-${b}-1`, instanceId: b, firstErrorAt: w.clock.now().toISOString(), time: w.clock.now().toISOString() };

    // Act
    const result = await handleEvent(detectorEvent({ ...start, claimExpiresAt: new Date(w.clock.ms + 60_000).toISOString() }), w.responderDeps);

    // Assess
    expect(result).toEqual({ status: 'handled', incidents: [], notified: [] });
    expect(w.host.calls).toEqual([]);
  });

  it('gives the claim back when the incident closes, so the instance’s next failure is detected', async () => {
    // Prepare
    const { b } = ids();
    const w = world({ [b]: { before: fixture('crash') } });

    // Act: B fails and recovers; two minutes later (the window empty again) it fails anew
    await w.errors(b);
    w.clock.ms += 120_000;
    const again = await w.errors(b);

    // Assess
    expect(again).toMatchObject({ status: 'started', instanceId: b });
    expect(w.runs).toHaveLength(2);
  });
});
