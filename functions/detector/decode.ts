/**
 * A CloudWatch Logs subscription payload → one LogBatch, or the reason it is dropped. The payload is
 * `{ awslogs: { data } }`, data base64 of gzip of JSON; Powertools Parser's CloudWatch Logs schema decodes and checks
 * it. Nothing here throws: a bad payload cannot be fixed by a retry, so it is reported and dropped.
 */
import { createHash } from 'node:crypto';
import { parse } from '@aws-lambda-powertools/parser';
import { CloudWatchLogsSchema } from '@aws-lambda-powertools/parser/schemas';
import type { LogBatch } from '../core/detect.ts';

/**
 * Longest `awslogs.data` accepted, in characters: above Lambda's 1 MB asynchronous payload, so only a forged
 * payload reaches it.
 */
export const MAX_ENCODED_CHARS = 1024 * 1024;
/** Largest decompressed payload accepted (gzip's size trailer is read before decompressing: no gzip bomb). */
export const MAX_DECODED_BYTES = 8 * 1024 * 1024;

export type Decoded =
  | { readonly kind: 'batch'; readonly batch: LogBatch }
  /** CloudWatch Logs checks that it can reach the destination: nothing to count. */
  | { readonly kind: 'control' }
  | { readonly kind: 'bad'; readonly reason: string };

/** Decodes one subscription event. */
export function decodeSubscription(event: unknown): Decoded {
  const data = (event as { awslogs?: { data?: unknown } } | null)?.awslogs?.data;
  if (typeof data !== 'string') return { kind: 'bad', reason: 'no awslogs.data string' };
  if (data.length > MAX_ENCODED_CHARS) return { kind: 'bad', reason: `awslogs.data is ${data.length} characters, over ${MAX_ENCODED_CHARS}` };
  const size = gzipSize(data);
  if (size === undefined) return { kind: 'bad', reason: 'awslogs.data is not base64 of gzip' };
  if (size > MAX_DECODED_BYTES) return { kind: 'bad', reason: `awslogs.data decompresses to ${size} bytes, over ${MAX_DECODED_BYTES}` };
  const parsed = parse(event, undefined, CloudWatchLogsSchema, true);
  if (!parsed.success) return { kind: 'bad', reason: `not a CloudWatch Logs subscription payload (${firstIssue(parsed.error)})` };
  const message = parsed.data.awslogs.data;
  if (message.messageType === 'CONTROL_MESSAGE') return { kind: 'control' };
  if (message.messageType !== 'DATA_MESSAGE') return { kind: 'bad', reason: `unknown messageType ${JSON.stringify(message.messageType.slice(0, 40))}` };
  const ids = message.logEvents.map((logEvent) => logEvent.id).join(',');
  // A redelivery carries the same events of the same stream: the same id, kept short because it is stored.
  const batchId = createHash('sha256').update(`${message.logGroup}\n${message.logStream}\n${ids}`).digest('base64url').slice(0, 22);
  return {
    kind: 'batch',
    batch: {
      instanceId: message.logStream,
      batchId,
      events: message.logEvents.map(({ timestamp, message: line }) => ({ timestamp, message: line })),
    },
  };
}

/** The uncompressed size gzip records in its last four bytes (modulo 2^32), or undefined when it is not gzip. */
function gzipSize(data: string): number | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data)) return undefined;
  const bytes = Buffer.from(data, 'base64');
  if (bytes.length < 18 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return undefined;
  return bytes.readUInt32LE(bytes.length - 4);
}

/** The first issue of a parse error, without the payload (it can hold request paths with secrets). */
function firstIssue(error: Error): string {
  const cause = error.cause as { issues?: { path?: unknown[]; message?: string }[] } | undefined;
  const issue = cause?.issues?.[0];
  return issue ? `${(issue.path ?? []).join('.')}: ${issue.message ?? 'invalid'}` : error.message;
}
