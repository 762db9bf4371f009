/**
 * One behavioural suite, run against both IncidentStore implementations: the file store on a temp directory and the
 * DynamoDB store through the real SDK against dynalite (an in-process DynamoDB on a loopback port).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbStateStore } from '../../../functions/adapters/aws/dynamodb-state-store.ts';
import { FileStateStore } from '../../../functions/adapters/local/file-state-store.ts';
import type { IncidentRecord } from '../../../functions/core/incident.ts';
import type { IncidentStore } from '../../../functions/core/ports.ts';
import { startDynalite, type Dynalite } from '../../helpers/dynalite.ts';

/** A clock the tests move by hand: expiry is tested without waiting. */
interface TestClock {
  now: number;
  readonly read: () => Date;
}

type StoreFactory = (clock: () => Date) => IncidentStore;

const T0 = Date.parse('2026-11-24T10:00:00.000Z');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const INCIDENT: IncidentRecord = {
  incidentId: 'evt-1',
  instanceId: 'i-0123456789abcdef0',
  openedAt: '2026-11-24T10:00:00.000Z',
  updatedAt: '2026-11-24T10:00:05.000Z',
  phase: 'acting',
  cause: 'process_crashed',
  actionIssuedAt: '2026-11-24T10:00:04.000Z',
  actionKind: 'restart',
  slack: { channel: 'C0123', ts: '1764000000.000100' },
};

function newClock(): TestClock {
  const clock: TestClock = { now: T0, read: () => new Date(clock.now) };
  return clock;
}

/** Every test uses fresh ids, so tests sharing one table never see each other's items. */
function instanceId(): string {
  return `i-${randomUUID().replace(/-/g, '').slice(0, 17)}`;
}

function describeIncidentStore(name: string, setup: { factory: () => StoreFactory }): void {
  describe(`${name} (IncidentStore behaviour)`, () => {
    let clock: TestClock;
    let makeStore: StoreFactory;

    beforeEach(() => {
      clock = newClock();
      makeStore = setup.factory();
    });

    describe('lock', () => {
      it('gives the lock to exactly one of five concurrent owners', async () => {
        // Prepare
        const store = makeStore(clock.read);
        const id = instanceId();
        // Act
        const results = await Promise.all(
          ['a', 'b', 'c', 'd', 'e'].map((owner) => makeStore(clock.read).acquireLock(id, owner, 5 * MINUTE)),
        );
        // Assess
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.acquireLock(id, 'f', 5 * MINUTE)).toBe(false);
      });

      it('refuses a held lock until it expires, then lets another owner take it', async () => {
        // Prepare
        const store = makeStore(clock.read);
        const id = instanceId();
        await store.acquireLock(id, 'first', 5 * MINUTE);
        // Act
        const beforeExpiry = await store.acquireLock(id, 'second', 5 * MINUTE);
        clock.now += 10 * MINUTE;
        const afterExpiry = await store.acquireLock(id, 'second', 5 * MINUTE);
        // Assess
        expect(beforeExpiry).toBe(false);
        expect(afterExpiry).toBe(true);
        expect(await store.acquireLock(id, 'third', 5 * MINUTE)).toBe(false);
      });

      it('ignores a release by someone who does not hold the lock', async () => {
        // Prepare
        const store = makeStore(clock.read);
        const id = instanceId();
        await store.acquireLock(id, 'holder', 5 * MINUTE);
        // Act
        await store.releaseLock(id, 'intruder');
        // Assess
        expect(await store.acquireLock(id, 'intruder', 5 * MINUTE)).toBe(false);
      });

      it('frees the lock when its owner releases it', async () => {
        // Prepare
        const store = makeStore(clock.read);
        const id = instanceId();
        await store.acquireLock(id, 'holder', 5 * MINUTE);
        // Act
        await store.releaseLock(id, 'holder');
        // Assess
        expect(await store.acquireLock(id, 'next', 5 * MINUTE)).toBe(true);
      });

      it('does not let a former owner release a lock that was taken over after expiry', async () => {
        // Prepare
        const store = makeStore(clock.read);
        const id = instanceId();
        await store.acquireLock(id, 'slow', MINUTE);
        clock.now += 2 * MINUTE;
        await store.acquireLock(id, 'fresh', 5 * MINUTE);
        // Act
        await store.releaseLock(id, 'slow');
        // Assess
        expect(await store.acquireLock(id, 'other', 5 * MINUTE)).toBe(false);
      });
    });

    describe('claimEvent', () => {
      it('answers true the first time and false for a replay', async () => {
        // Prepare
        const store = makeStore(clock.read);
        const eventId = randomUUID();
        // Act
        const first = await store.claimEvent(eventId, 3600);
        const replay = await store.claimEvent(eventId, 3600);
        // Assess
        expect([first, replay]).toEqual([true, false]);
      });

      it('answers true to exactly one of three concurrent claims', async () => {
        // Prepare
        const eventId = randomUUID();
        // Act
        const results = await Promise.all([1, 2, 3].map(() => makeStore(clock.read).claimEvent(eventId, 3600)));
        // Assess
        expect(results.filter(Boolean)).toHaveLength(1);
      });

      it('keeps claims of different events apart', async () => {
        // Prepare
        const store = makeStore(clock.read);
        await store.claimEvent(randomUUID(), 3600);
        // Act
        const other = await store.claimEvent(randomUUID(), 3600);
        // Assess
        expect(other).toBe(true);
      });

      it('treats a claim whose time to live has passed as absent', async () => {
        // Prepare
        const store = makeStore(clock.read);
        const eventId = randomUUID();
        await store.claimEvent(eventId, 60);
        // Act
        clock.now += 2 * MINUTE;
        const again = await store.claimEvent(eventId, 60);
        // Assess
        expect(again).toBe(true);
      });
    });

    describe('restart history', () => {
      it('starts empty', async () => {
        // Prepare
        const store = makeStore(clock.read);
        // Act
        const restarts = await store.restarts(instanceId());
        // Assess
        expect(restarts).toEqual([]);
      });

      it('returns recorded restarts oldest first, per instance', async () => {
        // Prepare
        const store = makeStore(clock.read);
        const id = instanceId();
        const other = instanceId();
        // Act
        await store.recordRestart(id, new Date(T0 - 10 * MINUTE).toISOString());
        await store.recordRestart(id, new Date(T0 - 30 * MINUTE).toISOString());
        await store.recordRestart(other, new Date(T0).toISOString());
        // Assess
        expect(await store.restarts(id)).toEqual([
          new Date(T0 - 30 * MINUTE).toISOString(),
          new Date(T0 - 10 * MINUTE).toISOString(),
        ]);
        expect(await store.restarts(other)).toEqual([new Date(T0).toISOString()]);
      });

      it('drops entries older than 24 hours when writing', async () => {
        // Prepare
        const store = makeStore(clock.read);
        const id = instanceId();
        await store.recordRestart(id, new Date(T0 - 2 * HOUR).toISOString());
        await store.recordRestart(id, new Date(T0 - HOUR).toISOString());
        // Act
        clock.now += 23 * HOUR;
        await store.recordRestart(id, new Date(clock.now).toISOString());
        // Assess
        expect(await store.restarts(id)).toEqual([new Date(T0 - HOUR).toISOString(), new Date(clock.now).toISOString()]);
      });

      it('rejects a restart time that is not a time, and keeps the history as it was', async () => {
        // Prepare
        const store = makeStore(clock.read);
        const id = instanceId();
        await store.recordRestart(id, new Date(T0).toISOString());
        // Act
        const act = store.recordRestart(id, 'yesterday');
        // Assess
        await expect(act).rejects.toThrow('restart time: must be an ISO time');
        expect(await store.restarts(id)).toEqual([new Date(T0).toISOString()]);
      });

      it('loses no restart when three are recorded at once', async () => {
        // Prepare
        const id = instanceId();
        const times = [1, 2, 3].map((n) => new Date(T0 - n * MINUTE).toISOString());
        // Act
        await Promise.all(times.map((at) => makeStore(clock.read).recordRestart(id, at)));
        // Assess
        expect(await makeStore(clock.read).restarts(id)).toEqual([...times].reverse());
      });
    });

    describe('incident record', () => {
      it('returns undefined for an instance without an incident', async () => {
        // Prepare
        const store = makeStore(clock.read);
        // Act
        const record = await store.loadIncident(instanceId());
        // Assess
        expect(record).toBeUndefined();
      });

      it('returns what was saved, and the latest save wins', async () => {
        // Prepare
        const store = makeStore(clock.read);
        const id = instanceId();
        const opened: IncidentRecord = { ...structuredClone(INCIDENT), instanceId: id, phase: 'diagnosing' };
        const closed: IncidentRecord = { ...structuredClone(INCIDENT), instanceId: id, phase: 'closed', outcome: 'recovered' };
        // Act
        await store.saveIncident(opened);
        const first = await store.loadIncident(id);
        await store.saveIncident(closed);
        const last = await makeStore(clock.read).loadIncident(id);
        // Assess
        expect(first).toEqual(opened);
        expect(last).toEqual(closed);
      });

      it('accepts a record whose optional fields are undefined', async () => {
        // Prepare
        const store = makeStore(clock.read);
        const id = instanceId();
        const record: IncidentRecord = {
          incidentId: 'evt-2',
          instanceId: id,
          openedAt: INCIDENT.openedAt,
          updatedAt: INCIDENT.updatedAt,
          phase: 'diagnosing',
          cause: undefined,
          slack: undefined,
        };
        // Act
        await store.saveIncident(record);
        // Assess
        expect(await store.loadIncident(id)).toEqual({
          incidentId: 'evt-2',
          instanceId: id,
          openedAt: INCIDENT.openedAt,
          updatedAt: INCIDENT.updatedAt,
          phase: 'diagnosing',
        });
      });
    });
  });
}

// ---------------------------------------------------------------- the file store

let stateDir: string;

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'reflex-state-'));
});

afterAll(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

describeIncidentStore('FileStateStore', {
  factory: () => {
    // One file per test (the stores a test makes share it, like processes sharing one state file).
    const path = join(stateDir, randomUUID(), 'state.json');
    return (clock) => new FileStateStore(path, { clock });
  },
});

// ---------------------------------------------------------------- the DynamoDB store on dynalite

const TABLE = 'reflex-state';
let dynamo: Dynalite;

beforeAll(async () => {
  dynamo = await startDynalite({ tableName: TABLE });
});

afterAll(async () => {
  await dynamo?.stop();
});

describeIncidentStore('DynamoDbStateStore', {
  factory: () => (clock) => new DynamoDbStateStore({ client: dynamo.documentClient, tableName: TABLE, clock }),
});
