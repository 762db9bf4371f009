/**
 * The detector's items in the responder's table (dynamodb-state-store.ts has the key schema and the other items):
 *
 * | item | pk | sk | attributes |
 * |---|---|---|---|
 * | error counter | `INSTANCE#<id>` | `ERRORS` | per bucket (start in epoch ms): `b<ms>` count, `f<ms>` first error, `d<ms>` batch ids; expiresAt |
 * | incident claim | `INSTANCE#<id>` | `OPEN` | incidentId, firstErrorAt, expiresAt |
 *
 * Every count is one UpdateItem on one item (DynamoDB serialises writes to an item), conditional on the batch id not
 * being in its bucket yet, returning the whole item: the add and the read of the window are one atomic step.
 * The claim is one conditional put. As everywhere in this table, an item whose `expiresAt` has passed is absent.
 */
import { DeleteCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Bucket, CounterAdd, CounterState, DetectionStore } from '../../core/detect.ts';
import type { IncidentClaim } from '../../core/ports.ts';
import { closedAt, StateStoreError } from '../../core/incident.ts';
import { DynamoDbStateStore } from './dynamodb-state-store.ts';

export interface DynamoDbDetectionStoreOptions {
  /** Shared, created once at module scope by the handler. */
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** @default () => new Date() */
  readonly clock?: () => Date;
}

/** DynamoDB-backed {@link DetectionStore}. */
export class DynamoDbDetectionStore implements DetectionStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly clock: () => Date;
  /** The responder's incident records, read through its own store so both parse them alike. */
  private readonly incidents: DynamoDbStateStore;

  constructor(options: DynamoDbDetectionStoreOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.clock = options.clock ?? (() => new Date());
    this.incidents = new DynamoDbStateStore(options);
  }

  async addErrors(instanceId: string, add: CounterAdd): Promise<CounterState> {
    const names: Record<string, string> = { '#b': `b${add.bucket}`, '#d': `d${add.bucket}`, '#f': `f${add.bucket}` };
    const removals: string[] = [];
    add.expired.forEach((bucket, index) => {
      for (const prefix of ['b', 'd', 'f']) {
        names[`#x${prefix}${index}`] = `${prefix}${bucket}`;
        removals.push(`#x${prefix}${index}`);
      }
    });
    const passed = await this.conditional('count gateway errors', () =>
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: instanceKey(instanceId), sk: 'ERRORS' },
          UpdateExpression: `ADD #b :n, #d :batch SET #f = if_not_exists(#f, :first), expiresAt = :ttl${removals.length > 0 ? ` REMOVE ${removals.join(', ')}` : ''}`,
          ConditionExpression: 'NOT contains(#d, :batchId)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ':n': add.count, ':first': add.firstAt, ':batch': new Set([add.batchId]), ':batchId': add.batchId, ':ttl': epochSeconds(add.expiresAt, 'up') },
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    if (passed === undefined) return { duplicate: true };
    const item = passed.Attributes ?? {};
    const buckets = new Map<number, Bucket>();
    for (const [name, count] of Object.entries(item)) {
      const start = /^b(\d+)$/.exec(name)?.[1];
      const firstAt = item[`f${start}`];
      if (start && typeof count === 'number') buckets.set(Number(start), { count, firstAt: typeof firstAt === 'number' ? firstAt : Number(start) });
    }
    return { duplicate: false, buckets };
  }

  async claimIncident(claim: IncidentClaim): Promise<boolean> {
    const now = this.clock().getTime();
    const passed = await this.conditional('claim the instance', () =>
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: instanceKey(claim.instanceId),
            sk: 'OPEN',
            incidentId: claim.incidentId,
            firstErrorAt: claim.firstErrorAt,
            expiresAt: epochSeconds(claim.expiresAt, 'up'),
          },
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now OR incidentId = :me',
          ExpressionAttributeValues: { ':now': epochSeconds(now, 'down'), ':me': claim.incidentId },
        }),
      ),
    );
    return passed !== undefined;
  }

  async releaseIncident(instanceId: string, incidentId: string): Promise<void> {
    // A claim that expired and was taken by another incident fails the condition: not ours to release.
    await this.conditional('release the claim', () =>
      this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { pk: instanceKey(instanceId), sk: 'OPEN' },
          ConditionExpression: 'incidentId = :me',
          ExpressionAttributeValues: { ':me': incidentId },
        }),
      ),
    );
  }

  async lastClosedAt(instanceId: string): Promise<Date | undefined> {
    return closedAt(await this.incidents.loadIncident(instanceId));
  }

  /**
   * Runs one conditional call: its output, undefined when the condition failed, a StateStoreError (SDK error as
   * cause) for anything else. Matched by name, as in the state store: a second SDK copy breaks `instanceof`.
   */
  private async conditional<T>(what: string, call: () => Promise<T>): Promise<T | undefined> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return undefined;
      throw new StateStoreError(`DynamoDB table ${this.tableName}: could not ${what} (${error instanceof Error ? error.name : 'error'})`, {
        cause: error,
      });
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
