/**
 * CloudWatch Logs subscription payloads as Lambda receives them: the JSON message gzipped with node's zlib, then
 * base64, under `awslogs.data`. The lines are real access-log lines in the `reflex` JSON format (infra/nginx/reflex.conf).
 */
import { gzipSync } from 'node:zlib';

export const ACCESS_GROUP = '/reflex/web/nginx-access';

/** One access line of infra/nginx/reflex.conf's format, as nginx writes it. */
export function accessLine(status: number, at: Date, path = '/'): string {
  const upstream = status === 504 ? '"upstream_status":"504","upstream_addr":"127.0.0.1:3000","upstream_response_time":"60.001","request_time":60.001' : `"upstream_status":"${status}","upstream_addr":"127.0.0.1:3000","upstream_response_time":"0.000","request_time":0.000`;
  return `{"time":"${at.toISOString().replace(/\.\d{3}Z$/, '+00:00')}","status":${status},"request":"GET ${path} HTTP/1.1",${upstream}}`;
}

/** The decoded message of a DATA_MESSAGE for one log stream. */
export interface SubscriptionMessage {
  readonly logStream: string;
  readonly events: readonly { readonly id?: string; readonly timestamp: number; readonly message: string }[];
  readonly messageType?: string;
}

/** The event Lambda receives for `message`, encoded as CloudWatch Logs does. */
export function subscriptionEvent(message: SubscriptionMessage): { awslogs: { data: string } } {
  const json = {
    messageType: message.messageType ?? 'DATA_MESSAGE',
    owner: '123456789012',
    logGroup: ACCESS_GROUP,
    logStream: message.logStream,
    subscriptionFilters: ['reflex-gateway-errors'],
    logEvents: message.events.map((event, index) => ({
      // CloudWatch event ids are 56-digit strings, unique per event.
      id: event.id ?? `${event.timestamp}${String(index).padStart(10, '0')}`.padEnd(56, '0'),
      timestamp: event.timestamp,
      message: event.message,
    })),
  };
  return encoded(JSON.stringify(json));
}

/** Any text, gzipped and base64-encoded under `awslogs.data`. */
export function encoded(text: string): { awslogs: { data: string } } {
  return { awslogs: { data: gzipSync(Buffer.from(text)).toString('base64') } };
}

/** `count` gateway errors on `logStream`, one every `everyMs` from `start`. */
export function errorBatch(logStream: string, start: Date, count: number, everyMs = 20, status = 502): { awslogs: { data: string } } {
  const events = Array.from({ length: count }, (_, index) => {
    const at = new Date(start.getTime() + index * everyMs);
    return { timestamp: at.getTime(), message: accessLine(status, at) };
  });
  return subscriptionEvent({ logStream, events });
}

/** CloudWatch Logs' health check of a new subscription. */
export function controlEvent(): { awslogs: { data: string } } {
  return encoded(
    JSON.stringify({
      messageType: 'CONTROL_MESSAGE',
      owner: 'CloudwatchLogs',
      logGroup: '',
      logStream: '',
      subscriptionFilters: [],
      logEvents: [{ id: '', timestamp: 1_764_000_000_000, message: 'CWL CONTROL MESSAGE: Checking health of destination Lambda function.' }],
    }),
  );
}
