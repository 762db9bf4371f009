/**
 * DynamoDB for tests: dynalite (an in-process DynamoDB) on a free loopback port, with the responder's table created
 * through the real SDK, so the stores are tested through the same client calls they make in production.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

const require = createRequire(import.meta.url);
// dynalite is CommonJS without types; `createTableMs: 0` makes a new table ACTIVE at once.
const dynalite = require('dynalite') as (options: { createTableMs?: number }) => Server;

/** A running dynalite with one table. */
export interface Dynalite {
  readonly client: DynamoDBClient;
  readonly documentClient: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Destroys the clients and closes the server. */
  stop(): Promise<void>;
}

/** Where to run it. */
export interface DynaliteOptions {
  /** @default 'reflex-state' */
  readonly tableName?: string;
  /** The region the client signs for (dynalite accepts any). @default 'us-east-1' */
  readonly region?: string;
}

/**
 * Starts dynalite on 127.0.0.1 and creates the table the CDK stack defines: `pk` (hash) and `sk` (range) strings,
 * on-demand billing.
 */
export async function startDynalite(options: DynaliteOptions = {}): Promise<Dynalite> {
  const tableName = options.tableName ?? 'reflex-state';
  const server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const client = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: options.region ?? 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const stop = async (): Promise<void> => {
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { client, documentClient: DynamoDBDocumentClient.from(client), tableName, stop };
}
