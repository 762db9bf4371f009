/**
 * findAffectedInstances with a real CloudWatchLogsClient against a local HTTP server that answers as CloudWatch
 * Logs does (awsJson1_1). aws-sdk-client-mock replaces `send`, so the SDK's own retries never run under it; here
 * they do, and the test counts the requests that reach the "service".
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findAffectedInstances } from '../../functions/adapters/aws/cloudwatch-logs.ts';

const window = { start: new Date('2026-11-24T10:00:00.000Z'), end: new Date('2026-11-24T10:05:00.000Z') };
const seen: string[] = [];
let server: http.Server;
let client: CloudWatchLogsClient;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const action = String(req.headers['x-amz-target'] ?? '').replace('Logs_20140328.', '');
      seen.push(action);
      res.setHeader('content-type', 'application/x-amz-json-1.1');
      if (action === 'StartQuery') {
        // What the service answers when the account's concurrent Logs Insights queries are used up.
        res.statusCode = 400;
        res.end(JSON.stringify({ __type: 'LimitExceededException', message: 'Account maximum query concurrency limit of [30] reached.' }));
      } else if (action === 'FilterLogEvents') {
        const message = '{"time":"2026-11-24T10:00:01+00:00","status":502,"request":"GET / HTTP/1.1"}';
        res.end(JSON.stringify({ events: [{ logStreamName: 'i-0aaaaaaaaaaaaaaaa', message, timestamp: 1 }], searchedLogStreams: [] }));
      } else {
        res.statusCode = 400;
        res.end(JSON.stringify({ __type: 'InvalidOperationException', message: `unexpected ${action} ${body.length}` }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  client = new CloudWatchLogsClient({
    region: 'eu-west-1',
    endpoint: `http://127.0.0.1:${port}`,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' },
  });
});

afterAll(async () => {
  client.destroy();
  await new Promise((resolve) => server.close(resolve));
});

describe('findAffectedInstances on the wire', () => {
  it('goes straight to FilterLogEvents when Insights is at its query limit: StartQuery is sent once, not retried', async () => {
    // Act
    const found = await findAffectedInstances({ client, accessGroup: '/reflex/web/nginx-access', window });

    // Assess
    expect(found.via).toBe('filter');
    expect(found.instances).toEqual([{ instanceId: 'i-0aaaaaaaaaaaaaaaa', gatewayErrors: 1 }]);
    expect(seen).toEqual(['StartQuery', 'FilterLogEvents']);
  });
});
