/**
 * decodeSubscription on payloads encoded as CloudWatch Logs sends them (gzip + base64), holding real access lines,
 * and on the bad payloads a forged or broken delivery could bring: each is dropped with a reason, none throws.
 */
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeSubscription, MAX_ENCODED_CHARS } from '../../../functions/detector/decode.ts';
import { controlEvent, encoded, subscriptionEvent } from '../../helpers/subscription.ts';

const A = 'i-0abc12345def67890';
const REAL_LINES = readFileSync(new URL('../../fixtures/logs/nginx-access-json.log', import.meta.url), 'utf8').split('\n').filter(Boolean);

describe('decodeSubscription', () => {
  it('reads a DATA_MESSAGE: the log stream is the instance, each event keeps its time and line', () => {
    // Prepare
    const events = REAL_LINES.slice(0, 3).map((message, index) => ({ timestamp: 1_764_000_000_000 + index, message }));
    // Act
    const decoded = decodeSubscription(subscriptionEvent({ logStream: A, events }));
    // Assess
    expect(decoded).toMatchObject({ kind: 'batch', batch: { instanceId: A, events } });
  });

  it('gives a redelivered payload the same batch id, and another batch of the same stream another one', () => {
    // Prepare
    const events = [{ timestamp: 1_764_000_000_000, message: REAL_LINES[0]! }];
    const later = [{ timestamp: 1_764_000_000_500, message: REAL_LINES[0]! }];
    // Act
    const first = decodeSubscription(subscriptionEvent({ logStream: A, events }));
    const again = decodeSubscription(subscriptionEvent({ logStream: A, events }));
    const other = decodeSubscription(subscriptionEvent({ logStream: A, events: later }));
    // Assess
    const id = (decoded: ReturnType<typeof decodeSubscription>): string => (decoded.kind === 'batch' ? decoded.batch.batchId : decoded.kind);
    expect(id(first)).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(id(again)).toBe(id(first));
    expect(id(other)).not.toBe(id(first));
  });

  it('recognises the CONTROL_MESSAGE CloudWatch Logs sends when the subscription is created', () => {
    expect(decodeSubscription(controlEvent())).toEqual({ kind: 'control' });
  });

  it.each([
    ['no awslogs at all', { Records: [] }, 'no awslogs.data'],
    ['not an object', 'hello', 'no awslogs.data'],
    ['not base64', { awslogs: { data: '%%% not base64 %%%' } }, 'not base64 of gzip'],
    ['base64 but not gzip', { awslogs: { data: Buffer.from('{"messageType":"DATA_MESSAGE"}').toString('base64') } }, 'not base64 of gzip'],
    ['gzip but not JSON', encoded('this is not json'), 'not a CloudWatch Logs subscription payload'],
    ['JSON without the fields', encoded('{"messageType":"DATA_MESSAGE"}'), 'not a CloudWatch Logs subscription payload'],
    ['an unknown message type', encoded(JSON.stringify({ messageType: 'OTHER', owner: '1', logGroup: 'g', logStream: A, subscriptionFilters: [], logEvents: [{ id: '1', timestamp: 1, message: 'x' }] })), 'unknown messageType'],
    ['oversized as sent', { awslogs: { data: 'A'.repeat(MAX_ENCODED_CHARS + 4) } }, 'over'],
    ['oversized once decompressed', { awslogs: { data: gzipSync(Buffer.alloc(9 * 1024 * 1024, 0x20)).toString('base64') } }, 'decompresses to 9437184 bytes'],
  ])('drops %s with a reason, without throwing', (_name, event, reason) => {
    // Act
    const decoded = decodeSubscription(event);
    // Assess
    expect(decoded).toMatchObject({ kind: 'bad', reason: expect.stringContaining(reason) });
  });
});
