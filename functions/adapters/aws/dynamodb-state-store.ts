/**
 * Incident state in one DynamoDB table (string keys `pk`/`sk`, TTL attribute `expiresAt` in epoch seconds):
 *
 * | item | pk | sk | attributes |
 * |---|---|---|---|
 * | remediation lock | `INSTANCE#<id>` | `LOCK` | owner, expiresAt |
 * | restart history | `INSTANCE#<id>` | `RESTARTS` | restarts (ISO list), version, expiresAt |
 * | open incident | `INSTANCE#<id>` | `INCIDENT` | the IncidentRecord fields, expiresAt |
 * | processed event | `EVENT#<id>` | `EVENT` | expiresAt |
 *
 * DynamoDB deletes expired items only eventually (often days later), so every condition also treats an item whose
 * `expiresAt` has passed as absent.
 */
import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  appendRestart,
  parseIncidentRecord,
  RESTART_HISTORY_MS,
  StateStoreError,
  withoutUndefined,
  type IncidentRecord,
} from '../../core/incident.ts';
import type { IncidentStore } from '../../core/ports.ts';

export interface DynamoDbStateStoreOptions {
  /** Shared, created once at module scope by the handler. */
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** @default () => new Date() */
  readonly clock?: () => Date;
}

/** Closed incidents stay readable this long, then TTL removes them. */
const INCIDENT_RETENTION_SECONDS = 7 * 24 * 3600;
/** Optimistic writes of the restart history retry this many times when another writer got in between. */
const RESTART_WRITE_ATTEMPTS = 5;

const CONDITION_FAILED = Symbol('condition failed');

/** DynamoDB-backed {@link IncidentStore}: every check-and-set is one conditional write. */
export class DynamoDbStateStore implements IncidentStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly clock: () => Date;

  constructor(options: DynamoDbStateStoreOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.clock = options.clock ?? (() => new Date());
  }

  async acquireLock(instanceId: string, owner: string, ttlMs: number): Promise<boolean> {
    const now = this.clock().getTime();
    const result = await this.send('acquire the lock', () =>
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: instanceKey(instanceId), sk: 'LOCK', owner, expiresAt: epochSeconds(now + ttlMs, 'up') },
          // The same owner may take it again: a durable replay repeats a lock step that was cut off after the put.
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now OR #owner = :me',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':now': epochSeconds(now, 'down'), ':me': owner },
        }),
      ),
    );
    return result !== CONDITION_FAILED;
  }

  async releaseLock(instanceId: string, owner: string): Promise<void> {
    // Someone else's lock (ours expired and was taken over) fails the condition: nothing to release.
    await this.send('release the lock', () =>
      this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { pk: instanceKey(instanceId), sk: 'LOCK' },
          ConditionExpression: '#owner = :me',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':me': owner },
        }),
      ),
    );
  }

  async restarts(instanceId: string): Promise<string[]> {
    return (await this.readRestarts(instanceId)).restarts;
  }

  async recordRestart(instanceId: string, at: string): Promise<void> {
    // Read, append and prune, then write only if nobody else wrote in between (version check); retry otherwise.
    for (let attempt = 0; attempt < RESTART_WRITE_ATTEMPTS; attempt++) {
      const current = await this.readRestarts(instanceId);
      const restarts = appendRestart(current.restarts, at, this.clock());
      const newest = Date.parse(restarts.at(-1) ?? at);
      const result = await this.send('record a restart', () =>
        this.client.send(
          new PutCommand({
            TableName: this.tableName,
            Item: {
              pk: instanceKey(instanceId),
              sk: 'RESTARTS',
              restarts,
              version: current.version + 1,
              expiresAt: epochSeconds(newest + RESTART_HISTORY_MS, 'up'),
            },
            ConditionExpression: current.version === 0 ? 'attribute_not_exists(pk)' : 'version = :version',
            ...(current.version !== 0 && { ExpressionAttributeValues: { ':version': current.version } }),
          }),
        ),
      );
      if (result !== CONDITION_FAILED) return;
    }
    throw new StateStoreError(
      `DynamoDB table ${this.tableName}: restart history of ${instanceId} changed concurrently ${RESTART_WRITE_ATTEMPTS} times`,
    );
  }

  async claimEvent(eventId: string, ttlSeconds: number): Promise<boolean> {
    const now = this.clock().getTime();
    const result = await this.send('claim the event', () =>
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: `EVENT#${eventId}`, sk: 'EVENT', expiresAt: epochSeconds(now + ttlSeconds * 1000, 'up') },
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now',
          ExpressionAttributeValues: { ':now': epochSeconds(now, 'down') },
        }),
      ),
    );
    return result !== CONDITION_FAILED;
  }

  async saveIncident(record: IncidentRecord): Promise<void> {
    const updated = Date.parse(record.updatedAt);
    const base = Number.isNaN(updated) ? this.clock().getTime() : updated;
    await this.send('save the incident', () =>
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...withoutUndefined({ ...record }),
            pk: instanceKey(record.instanceId),
            sk: 'INCIDENT',
            expiresAt: epochSeconds(base + INCIDENT_RETENTION_SECONDS * 1000, 'up'),
          },
        }),
      ),
    );
  }

  async loadIncident(instanceId: string): Promise<IncidentRecord | undefined> {
    const output = await this.send('load the incident', () =>
      this.client.send(
        new GetCommand({ TableName: this.tableName, Key: { pk: instanceKey(instanceId), sk: 'INCIDENT' }, ConsistentRead: true }),
      ),
    );
    if (output === CONDITION_FAILED || output.Item === undefined) return undefined;
    const { pk: _pk, sk: _sk, expiresAt: _expiresAt, ...record } = output.Item;
    return parseIncidentRecord(record, `DynamoDB table ${this.tableName} item ${instanceKey(instanceId)}/INCIDENT`);
  }

  private async readRestarts(instanceId: string): Promise<{ restarts: string[]; version: number }> {
    const output = await this.send('read the restart history', () =>
      this.client.send(
        new GetCommand({ TableName: this.tableName, Key: { pk: instanceKey(instanceId), sk: 'RESTARTS' }, ConsistentRead: true }),
      ),
    );
    if (output === CONDITION_FAILED || output.Item === undefined) return { restarts: [], version: 0 };
    const { restarts, version } = output.Item as { restarts?: unknown; version?: unknown };
    if (!Array.isArray(restarts) || !restarts.every((at) => typeof at === 'string') || typeof version !== 'number') {
      throw new StateStoreError(
        `DynamoDB table ${this.tableName} item ${instanceKey(instanceId)}/RESTARTS: expected restarts (list of ISO times) and version (number)`,
      );
    }
    return { restarts: restarts as string[], version };
  }

  /**
   * Runs one call; a failed condition is a domain answer (CONDITION_FAILED), anything else a StateStoreError with
   * the SDK error as cause. Matched by name: a second copy of the SDK in the bundle breaks `instanceof`.
   */
  private async send<T>(what: string, call: () => Promise<T>): Promise<T | typeof CONDITION_FAILED> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return CONDITION_FAILED;
      const name = error instanceof Error ? error.name : 'error';
      throw new StateStoreError(`DynamoDB table ${this.tableName}: could not ${what} (${name})`, { cause: error });
    }
  }
}

function instanceKey(instanceId: string): string {
  return `INSTANCE#${instanceId}`;
}

/** TTL attributes are epoch seconds: expiries round up, "now" rounds down, so nothing expires early. */
function epochSeconds(ms: number, round: 'up' | 'down'): number {
  return round === 'up' ? Math.ceil(ms / 1000) : Math.floor(ms / 1000);
}
