/**
 * The detector's core (core/detect.ts) with the real DynamoDB store on dynalite: counting across batches and
 * concurrent invocations, the rising edge, and the idempotent start of each instance's incident.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbDetectionStore } from '../../../functions/adapters/aws/detection-store.ts';
import { DynamoDbStateStore } from '../../../functions/adapters/aws/dynamodb-state-store.ts';
import { DEFAULT_DETECT_SETTINGS, detect, type DetectorStart, type DetectOutcome } from '../../../functions/core/detect.ts';
import { decodeSubscription } from '../../../functions/detector/decode.ts';
import { startDynalite, type Dynalite } from '../../helpers/dynalite.ts';
import { accessLine, errorBatch, subscriptionEvent } from '../../helpers/subscription.ts';

const NOW = new Date('2026-11-24T10:00:05.000Z');
const quiet = { debug: () => {}, info: () => {}, warn: () => {} };
let dynamo: Dynalite;
let instanceSeq = 0;

beforeAll(async () => {
  dynamo = await startDynalite({ tableName: 'reflex-detect' });
});

afterAll(async () => {
  await dynamo?.stop();
});

/** A fresh instance id per test: the table is shared. */
function freshInstance(): string {
  instanceSeq += 1;
  return `i-${instanceSeq.toString(16).padStart(17, '0')}`;
}

/** The detector as the handler wires it, with a clock the test moves and the starts it asked for. */
function detector(now = () => NOW) {
  const store = new DynamoDbDetectionStore({ client: dynamo.documentClient, tableName: dynamo.tableName, clock: now });
  const starts: DetectorStart[] = [];
  const run = async (event: unknown): Promise<DetectOutcome | { status: string }> => {
    const decoded = decodeSubscription(event);
    if (decoded.kind !== 'batch') return { status: decoded.kind };
    return detect(decoded.batch, { store, start: async (start) => void starts.push(start), now, logger: quiet, settings: DEFAULT_DETECT_SETTINGS });
  };
  return { run, starts, store };
}

describe('detect on DynamoDB', () => {
  let A: string;
  beforeEach(() => {
    A = freshInstance();
  });

  it('counts across batches and starts the incident on the batch that reaches the threshold', async () => {
    // Prepare
    const { run, starts } = detector();
    // Act
    const first = await run(errorBatch(A, new Date(NOW.getTime() - 4000), 3));
    const second = await run(errorBatch(A, new Date(NOW.getTime() - 2000), 2));
    const third = await run(errorBatch(A, new Date(NOW.getTime() - 1000), 2));
    // Assess
    expect(first).toEqual({ status: 'counted', instanceId: A, inWindow: 3 });
    expect(second).toMatchObject({ status: 'started', instanceId: A, inWindow: 5 });
    expect(third).toEqual({ status: 'counted', instanceId: A, inWindow: 7 });
    expect(starts).toEqual([
      {
        incidentId: expect.stringMatching(new RegExp(`^detect-${A}-\\d+$`)),
        instanceId: A,
        firstErrorAt: new Date(NOW.getTime() - 4000).toISOString(),
        time: NOW.toISOString(),
        claimExpiresAt: new Date(NOW.getTime() + DEFAULT_DETECT_SETTINGS.claimTtlMs).toISOString(),
      },
    ]);
  });

  it('counts only gateway errors, and none older than the window', async () => {
    // Prepare
    const { run, starts } = detector();
    const ok = { timestamp: NOW.getTime() - 1000, message: accessLine(200, NOW) };
    const garbage = { timestamp: NOW.getTime() - 1000, message: 'not an access line' };
    const old = Array.from({ length: 10 }, (_, index) => ({ timestamp: NOW.getTime() - 90_000 + index, message: accessLine(502, NOW) }));
    const fresh = { timestamp: NOW.getTime() - 500, message: accessLine(504, NOW) };
    // Act
    const outcome = await run(subscriptionEvent({ logStream: A, events: [ok, garbage, ...old, fresh] }));
    const stale = await run(subscriptionEvent({ logStream: A, events: old }));
    // Assess
    expect(outcome).toEqual({ status: 'counted', instanceId: A, inWindow: 1 });
    expect(stale).toEqual({ status: 'quiet', instanceId: A });
    expect(starts).toEqual([]);
  });

  it('lets old buckets leave the window: errors spread thinner than the threshold never start an incident', async () => {
    // Prepare: 2 errors every 40 s, for 4 minutes
    let now = NOW.getTime();
    const { run, starts } = detector(() => new Date(now));
    const outcomes: DetectOutcome[] = [];
    // Act
    for (let step = 0; step < 6; step++) {
      outcomes.push((await run(errorBatch(A, new Date(now - 1000), 2))) as DetectOutcome);
      now += 40_000;
    }
    // Assess
    expect(outcomes.map((outcome) => ('inWindow' in outcome ? outcome.inWindow : outcome.status))).toEqual([2, 4, 4, 4, 4, 4]);
    expect(starts).toEqual([]);
  });

  it('counts a payload delivered twice once, and starts one incident', async () => {
    // Prepare
    const { run, starts } = detector();
    const batch = errorBatch(A, new Date(NOW.getTime() - 3000), 6);
    // Act
    const first = await run(batch);
    const again = await run(batch);
    // Assess
    expect(first).toMatchObject({ status: 'started', inWindow: 6 });
    expect(again).toEqual({ status: 'duplicate', instanceId: A });
    expect(starts).toHaveLength(1);
  });

  it('starts one incident when concurrent batches of one instance cross the threshold together', async () => {
    // Prepare: 20 batches of 4 errors each arrive at once; any two of them cross the threshold of 5
    const { run, starts } = detector();
    const batches = Array.from({ length: 20 }, (_, index) => errorBatch(A, new Date(NOW.getTime() - 5000 + index * 100), 4, 10));
    // Act
    const outcomes = await Promise.all(batches.map((batch) => run(batch)));
    // Assess
    expect(outcomes.filter((outcome) => outcome.status === 'started')).toHaveLength(1);
    expect(starts).toHaveLength(1);
    expect(Math.max(...outcomes.map((outcome) => ('inWindow' in outcome ? outcome.inWindow : 0)))).toBe(80);
  });

  it('starts nothing while another incident holds the instance (the alarm path claimed it first)', async () => {
    // Prepare
    const { run, starts, store } = detector();
    const alarmClaim = { incidentId: 'alarm-evt-1', instanceId: A, firstErrorAt: NOW.toISOString(), expiresAt: NOW.getTime() + 600_000 };
    // Act
    const claimed = await store.claimIncident(alarmClaim);
    const outcome = await run(errorBatch(A, new Date(NOW.getTime() - 3000), 6));
    // Assess
    expect(claimed).toBe(true);
    expect(outcome).toMatchObject({ status: 'claimed-elsewhere', instanceId: A });
    expect(starts).toEqual([]);
  });

  it('lets a claim be renewed by its own incident only', async () => {
    // Prepare
    const { store } = detector();
    const claim = { incidentId: 'detect-1', instanceId: A, firstErrorAt: NOW.toISOString(), expiresAt: NOW.getTime() + 60_000 };
    // Act
    const first = await store.claimIncident(claim);
    const renewed = await store.claimIncident({ ...claim, expiresAt: NOW.getTime() + 600_000 });
    const other = await store.claimIncident({ ...claim, incidentId: 'alarm-1' });
    // Assess
    expect([first, renewed, other]).toEqual([true, true, false]);
  });

  it('holds the instance for the alarm path once the detector started it: one incident for both', async () => {
    // Prepare
    const { run, store } = detector();
    // Act
    const outcome = await run(errorBatch(A, new Date(NOW.getTime() - 3000), 6));
    const alarmClaimed = await store.claimIncident({ incidentId: 'alarm-evt-2', instanceId: A, firstErrorAt: NOW.toISOString(), expiresAt: NOW.getTime() + 600_000 });
    // Assess
    expect(outcome).toMatchObject({ status: 'started' });
    expect(alarmClaimed).toBe(false);
  });

  it('treats errors from before the last incident closed as that incident’s', async () => {
    // Prepare: the responder closed A's incident one second ago; its last 502s arrive late
    const { run, starts } = detector();
    const states = new DynamoDbStateStore({ client: dynamo.documentClient, tableName: dynamo.tableName, clock: () => NOW });
    const closed = new Date(NOW.getTime() - 1000).toISOString();
    await states.saveIncident({ incidentId: 'x', instanceId: A, openedAt: closed, updatedAt: closed, phase: 'closed', outcome: 'recovered' });
    // Act
    const outcome = await run(errorBatch(A, new Date(NOW.getTime() - 3000), 6, 100));
    // Assess
    expect(outcome).toMatchObject({ status: 'already-handled', instanceId: A });
    expect(starts).toEqual([]);
  });

  it('gives the claim back when the responder cannot be started, so a later crossing can start it', async () => {
    // Prepare
    const store = new DynamoDbDetectionStore({ client: dynamo.documentClient, tableName: dynamo.tableName, clock: () => NOW });
    const failing = async (): Promise<void> => {
      throw Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' });
    };
    const decoded = decodeSubscription(errorBatch(A, new Date(NOW.getTime() - 3000), 6));
    if (decoded.kind !== 'batch') throw new Error('fixture did not decode');
    // Act
    const outcome = await detect(decoded.batch, { store, start: failing, now: () => NOW, logger: quiet, settings: DEFAULT_DETECT_SETTINGS });
    const claim = await dynamo.documentClient.send(new GetCommand({ TableName: dynamo.tableName, Key: { pk: `INSTANCE#${A}`, sk: 'OPEN' } }));
    // Assess
    expect(outcome).toEqual({ status: 'start-failed', instanceId: A, error: 'TooManyRequestsException: Rate exceeded' });
    expect(claim.Item).toBeUndefined();
  });

  it('drops a batch whose log stream is not an instance id, without counting or starting', async () => {
    // Prepare
    const { run, starts } = detector();
    // Act
    const outcome = await run(errorBatch('web-server-1', new Date(NOW.getTime() - 3000), 6));
    // Assess
    expect(outcome).toEqual({ status: 'invalid', reason: 'log stream "web-server-1" is not an EC2 instance id' });
    expect(starts).toEqual([]);
  });

  it('keeps the counter small and expiring: buckets that left the window are removed, the item has a TTL', async () => {
    // Prepare
    let now = NOW.getTime();
    const { run } = detector(() => new Date(now));
    // Act
    await run(errorBatch(A, new Date(now - 1000), 1));
    now += 70_000;
    await run(errorBatch(A, new Date(now - 1000), 1));
    const item = (await dynamo.documentClient.send(new GetCommand({ TableName: dynamo.tableName, Key: { pk: `INSTANCE#${A}`, sk: 'ERRORS' } }))).Item!;
    // Assess
    expect(Object.keys(item).filter((name) => /^[bdf]\d+$/.test(name))).toHaveLength(3);
    expect(item.expiresAt).toBe(Math.ceil((now + 120_000) / 1000));
  });
});
