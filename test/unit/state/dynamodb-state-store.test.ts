/**
 * What only the DynamoDB store has: the item layout the CDK table (TTL on `expiresAt`) relies on, and the
 * translation of SDK errors. Runs through the real SDK against dynalite.
 */
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbStateStore } from '../../../functions/adapters/aws/dynamodb-state-store.ts';
import { StateStoreError } from '../../../functions/core/incident.ts';
import { startDynalite, type Dynalite } from '../../helpers/dynalite.ts';

const TABLE = 'reflex-layout';
const NOW = new Date('2026-11-24T10:00:00.000Z');
const clock = () => new Date(NOW);
let dynamo: Dynalite;

beforeAll(async () => {
  dynamo = await startDynalite({ tableName: TABLE });
});

afterAll(async () => {
  await dynamo?.stop();
});

async function item(pk: string, sk: string): Promise<Record<string, unknown> | undefined> {
  return (await dynamo.documentClient.send(new GetCommand({ TableName: TABLE, Key: { pk, sk } }))).Item;
}

describe('DynamoDbStateStore item layout', () => {
  it('keeps the lock under INSTANCE#<id>/LOCK with the owner and an epoch-seconds expiry', async () => {
    // Prepare
    const store = new DynamoDbStateStore({ client: dynamo.documentClient, tableName: TABLE, clock });
    // Act
    await store.acquireLock('i-00000000000000001', 'evt-1', 90_000);
    // Assess
    expect(await item('INSTANCE#i-00000000000000001', 'LOCK')).toEqual({
      pk: 'INSTANCE#i-00000000000000001',
      sk: 'LOCK',
      owner: 'evt-1',
      expiresAt: NOW.getTime() / 1000 + 90,
    });
  });

  it('keeps processed events under EVENT#<id>/EVENT, expiring after the given seconds', async () => {
    // Prepare
    const store = new DynamoDbStateStore({ client: dynamo.documentClient, tableName: TABLE, clock });
    // Act
    await store.claimEvent('evt-layout', 3600);
    // Assess
    expect(await item('EVENT#evt-layout', 'EVENT')).toEqual({ pk: 'EVENT#evt-layout', sk: 'EVENT', expiresAt: NOW.getTime() / 1000 + 3600 });
  });

  it('keeps the restart history in one RESTARTS item that expires a day after the newest restart', async () => {
    // Prepare
    const store = new DynamoDbStateStore({ client: dynamo.documentClient, tableName: TABLE, clock });
    // Act
    await store.recordRestart('i-00000000000000002', NOW.toISOString());
    // Assess
    expect(await item('INSTANCE#i-00000000000000002', 'RESTARTS')).toMatchObject({
      restarts: [NOW.toISOString()],
      expiresAt: NOW.getTime() / 1000 + 24 * 3600,
    });
  });

  it('keeps one lock per instance', async () => {
    // Prepare
    const store = new DynamoDbStateStore({ client: dynamo.documentClient, tableName: TABLE, clock });
    await store.acquireLock('i-00000000000000003', 'evt-1', 90_000);
    // Act
    const other = await store.acquireLock('i-00000000000000004', 'evt-2', 90_000);
    // Assess
    expect(other).toBe(true);
  });

  it('reports a corrupt incident item with an error naming the item and the field', async () => {
    // Prepare
    const store = new DynamoDbStateStore({ client: dynamo.documentClient, tableName: TABLE, clock });
    await dynamo.documentClient.send(
      new PutCommand({
        TableName: TABLE,
        Item: { pk: 'INSTANCE#i-00000000000000005', sk: 'INCIDENT', incidentId: 'x', instanceId: 'i-00000000000000005', phase: 'lost' },
      }),
    );
    // Act
    const act = store.loadIncident('i-00000000000000005');
    // Assess
    await expect(act).rejects.toThrow(/INSTANCE#i-00000000000000005\/INCIDENT: incident field phase must be one of/);
  });
});

describe('DynamoDbStateStore errors', () => {
  it('turns an SDK error other than a failed condition into a StateStoreError that keeps the cause', async () => {
    // Prepare
    const store = new DynamoDbStateStore({ client: dynamo.documentClient, tableName: 'no-such-table', clock });
    // Act
    const error = await store.acquireLock('i-00000000000000006', 'evt-1', 1000).catch((caught: unknown) => caught);
    // Assess
    expect(error).toBeInstanceOf(StateStoreError);
    expect((error as Error).message).toBe('DynamoDB table no-such-table: could not acquire the lock (ResourceNotFoundException)');
    expect((error as Error).cause).toMatchObject({ name: 'ResourceNotFoundException' });
  });
});
