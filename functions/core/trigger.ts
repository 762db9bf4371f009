/**
 * What started a response: a CloudWatch alarm through EventBridge, the detector (one instance crossed its
 * threshold), or a manual event.
 * Any JSON value may arrive here; malformed ones get one clear InputError and nothing else happens.
 */
import type { DetectorStart } from './detect.ts';
import { InputError, PATTERNS, describe } from './validate.ts';

export const ALARM_SOURCE = 'aws.cloudwatch';
export const ALARM_DETAIL_TYPE = 'CloudWatch Alarm State Change';
export const MANUAL_SOURCE = 'reflex.manual';
export const MANUAL_DETAIL_TYPE = 'Reflex Manual Invoke';
export const DETECTOR_SOURCE = 'reflex.detector';
export const DETECTOR_DETAIL_TYPE = 'Reflex Instance Detected';

/** At most this many instances in one manual event: a fleet-wide action should be deliberate. */
export const MAX_MANUAL_INSTANCES = 50;

export type Trigger =
  | {
      readonly kind: 'alarm';
      /** EventBridge event id: the key that makes a replay do nothing. */
      readonly eventId: string;
      readonly alarmName: string;
      readonly time: string;
    }
  | {
      readonly kind: 'manual';
      /** Absent for a direct `aws lambda invoke` of a hand-written event. */
      readonly eventId?: string;
      readonly instanceIds: string[];
      readonly dryRun?: boolean;
      readonly time: string;
    }
  | {
      readonly kind: 'detector';
      /** The detector's incident id: the instance's claim holds it, and a retried start is a duplicate. */
      readonly eventId: string;
      readonly instanceIds: [string];
      /** The first gateway error of the instance's window: where `timings.detectedMs` starts. */
      readonly firstErrorAt: string;
      readonly time: string;
      /** The detector's claim on the instance runs out then; the responder renews it while it works. */
      readonly claimExpiresAt: string;
    }
  | { readonly kind: 'ignored'; readonly reason: string };

export interface TriggerContext {
  /** The alarm this responder owns. */
  readonly alarmName: string;
  /** Events older than this are stale: their incident is over or handled. */
  readonly maxAgeSeconds: number;
  readonly now: Date;
}

export function parseTrigger(event: unknown, context: TriggerContext): Trigger {
  const root = object(event, 'event');
  const source = root.source;
  const detailType = root['detail-type'];
  if (source === ALARM_SOURCE && detailType === ALARM_DETAIL_TYPE) return parseAlarm(root, context);
  if (source === MANUAL_SOURCE && detailType === MANUAL_DETAIL_TYPE) return parseManual(root, context);
  if (source === DETECTOR_SOURCE && detailType === DETECTOR_DETAIL_TYPE) return parseDetector(root, context);
  throw new InputError(
    `event: expected source "${ALARM_SOURCE}" with detail-type "${ALARM_DETAIL_TYPE}", source "${MANUAL_SOURCE}" with detail-type "${MANUAL_DETAIL_TYPE}", or source "${DETECTOR_SOURCE}" with detail-type "${DETECTOR_DETAIL_TYPE}"; got source ${describe(source)}, detail-type ${describe(detailType)}`,
    'source',
  );
}

/** The event the detector sends the responder (asynchronous invoke), in the EventBridge shape the others have. */
export function detectorEvent(start: DetectorStart): Record<string, unknown> {
  return {
    version: '0',
    id: start.incidentId,
    source: DETECTOR_SOURCE,
    'detail-type': DETECTOR_DETAIL_TYPE,
    time: start.time,
    detail: { instanceIds: [start.instanceId], firstErrorAt: start.firstErrorAt, claimExpiresAt: start.claimExpiresAt },
  };
}

function parseDetector(root: Record<string, unknown>, context: TriggerContext): Trigger {
  const eventId = text(root.id, 'id', /^[A-Za-z0-9-]{1,128}$/, 'a detector incident id');
  const time = isoTime(root.time, 'time');
  const detail = object(root.detail, 'detail');
  const ids = detail.instanceIds;
  if (!Array.isArray(ids) || ids.length !== 1) {
    throw new InputError(`detail.instanceIds: must be a list of exactly one EC2 instance id, got ${describe(ids)}`, 'detail.instanceIds');
  }
  const instanceId = text(ids[0], 'detail.instanceIds[0]', PATTERNS.instanceId, 'an EC2 instance id like "i-0abc12345def67890"');
  const firstErrorAt = isoTime(detail.firstErrorAt, 'detail.firstErrorAt');
  if (Date.parse(firstErrorAt) > Date.parse(time)) {
    throw new InputError(`detail.firstErrorAt: must not be after the event's time ${time}, got ${describe(detail.firstErrorAt)}`, 'detail.firstErrorAt');
  }
  const claimExpiresAt = isoTime(detail.claimExpiresAt, 'detail.claimExpiresAt');
  // Starts wait in Lambda's asynchronous queue while the responder handles others (a fleet-wide outage). Until the
  // claim runs out the instance is still this incident's; after it, an alarm run may have taken it over.
  if (context.now.getTime() >= Date.parse(claimExpiresAt)) {
    return { kind: 'ignored', reason: `stale detector event: its claim on ${instanceId} ran out at ${claimExpiresAt}` };
  }
  return { kind: 'detector', eventId, instanceIds: [instanceId], firstErrorAt, time, claimExpiresAt };
}

function parseAlarm(root: Record<string, unknown>, context: TriggerContext): Trigger {
  const eventId = text(root.id, 'id', /^[A-Za-z0-9-]{1,128}$/, 'an EventBridge event id');
  const time = isoTime(root.time, 'time');
  const detail = object(root.detail, 'detail');
  const alarmName = text(detail.alarmName, 'detail.alarmName', /^[^\u0000-\u001f]{1,255}$/, 'an alarm name');
  const state = object(detail.state, 'detail.state');
  const value = text(state.value, 'detail.state.value', /^(OK|ALARM|INSUFFICIENT_DATA)$/, 'OK, ALARM or INSUFFICIENT_DATA');
  if (alarmName !== context.alarmName) return { kind: 'ignored', reason: `alarm "${alarmName}" is not this responder's ("${context.alarmName}")` };
  if (value !== 'ALARM') return { kind: 'ignored', reason: `alarm state is ${value}, not ALARM` };
  const ageSeconds = (context.now.getTime() - Date.parse(time)) / 1000;
  if (ageSeconds > context.maxAgeSeconds) {
    return { kind: 'ignored', reason: `stale event: ${Math.round(ageSeconds)} s old, older than the ${context.maxAgeSeconds} s alarm window` };
  }
  return { kind: 'alarm', eventId, alarmName, time };
}

function parseManual(root: Record<string, unknown>, context: TriggerContext): Trigger {
  const detail = object(root.detail, 'detail');
  const ids = detail.instanceIds;
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_MANUAL_INSTANCES) {
    throw new InputError(`detail.instanceIds: must be a list of 1 to ${MAX_MANUAL_INSTANCES} EC2 instance ids, got ${describe(ids)}`, 'detail.instanceIds');
  }
  // Array.from visits holes too: a sparse list must fail on its missing entry, not slip through as undefined.
  const instanceIds = Array.from(ids, (id: unknown, index) => text(id, `detail.instanceIds[${index}]`, PATTERNS.instanceId, 'an EC2 instance id like "i-0abc12345def67890"'));
  const dryRun = detail.dryRun;
  if (dryRun !== undefined && typeof dryRun !== 'boolean') {
    throw new InputError(`detail.dryRun: must be true or false, got ${describe(dryRun)}`, 'detail.dryRun');
  }
  const eventId = root.id === undefined ? undefined : text(root.id, 'id', /^[A-Za-z0-9-]{1,128}$/, 'an EventBridge event id');
  const time = root.time === undefined ? context.now.toISOString() : isoTime(root.time, 'time');
  return {
    kind: 'manual',
    ...(eventId && { eventId }),
    instanceIds: [...new Set(instanceIds)],
    ...(dryRun !== undefined && { dryRun }),
    time,
  };
}

function object(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InputError(`${field}: must be a JSON object, got ${describe(value)}`, field);
  }
  return value as Record<string, unknown>;
}

function text(value: unknown, field: string, pattern: RegExp, what: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) throw new InputError(`${field}: must be ${what}, got ${describe(value)}`, field);
  return value;
}

function isoTime(value: unknown, field: string): string {
  const raw = text(value, field, /^\d{4}-\d{2}-\d{2}T[0-9:.]+(Z|[+-]\d{2}:?\d{2})$/, 'an ISO-8601 time');
  const ms = Date.parse(raw);
  if (Number.isNaN(ms)) throw new InputError(`${field}: must be an ISO-8601 time, got ${describe(value)}`, field);
  return new Date(ms).toISOString();
}
