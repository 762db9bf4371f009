/**
 * Per-instance detection on AWS: gateway-error lines arrive from a CloudWatch Logs subscription in batches (one log
 * stream, that is one instance, per batch), possibly twice and many at once. Each batch is counted in a sliding
 * window shared by every invocation; the batch that takes an instance's window from below the threshold to at or
 * above it asks for the instance's incident, and one conditional claim per instance makes that start happen once.
 *
 * Counting: the window is `windowMs` of `bucketMs` buckets ending at the detector's clock. A batch lands whole in the
 * bucket of its newest error (a batch spans seconds, a bucket ten), so one atomic add on one item both counts it and
 * returns the whole window: the store serialises the adds, and exactly one add sees the crossing of a rising edge.
 * Errors older than the window are not counted, so a batch redelivered late cannot open a second incident.
 */
import { DETECT_BUCKET_SECONDS, DETECTOR_SETTINGS } from '../contract/lambda-env.ts';
import { isGatewayError, parseAccessLine } from './evidence/access-log.ts';
import type { CoreLogger, IncidentClaims } from './ports.ts';
import { PATTERNS } from './validate.ts';

/** What the detector needs to decide; the Lambda reads it from its environment. */
export interface DetectSettings {
  /** Gateway errors of one instance within the window that open its incident. */
  readonly threshold: number;
  readonly windowMs: number;
  /** Width of one counting bucket; divides `windowMs`. */
  readonly bucketMs: number;
  /** How long the claim holds the instance until the responder renews it: how long its start may wait in the queue. */
  readonly claimTtlMs: number;
}

/** The contract's defaults: the alarm's threshold and period per instance, 10 s buckets, the longest responder run. */
export const DEFAULT_DETECT_SETTINGS: DetectSettings = {
  threshold: DETECTOR_SETTINGS.threshold.default,
  windowMs: DETECTOR_SETTINGS.windowSeconds.default * 1000,
  bucketMs: DETECT_BUCKET_SECONDS * 1000,
  claimTtlMs: DETECTOR_SETTINGS.claimSeconds.default * 1000,
};

/** One decoded subscription batch: the lines of one log stream. */
export interface LogBatch {
  /** The log stream: the instance id the CloudWatch agent names it after. */
  readonly instanceId: string;
  /** Identifies the batch across redeliveries (derived from its event ids). */
  readonly batchId: string;
  readonly events: readonly { readonly timestamp: number; readonly message: string }[];
}

/** One atomic add to an instance's counter. */
export interface CounterAdd {
  readonly bucket: number;
  readonly count: number;
  /** The batch's first error (epoch ms): the bucket keeps the first one it was given. */
  readonly firstAt: number;
  readonly batchId: string;
  /** Buckets that have left the window, removed in the same write so the item stays small. */
  readonly expired: readonly number[];
  /** Epoch ms after which the whole counter may go (TTL). */
  readonly expiresAt: number;
}

/** One bucket of the counter: its errors, and the first error of the first batch counted in it (epoch ms). */
export interface Bucket {
  readonly count: number;
  readonly firstAt: number;
}

/** The counter after an add: every bucket it holds (by start, epoch ms), or `duplicate` when this batch was counted before. */
export type CounterState = { readonly duplicate: true } | { readonly duplicate: false; readonly buckets: ReadonlyMap<number, Bucket> };

/** Where counters and claims live (DynamoDB on AWS); the claims are the responder's too. */
export interface DetectionStore extends IncidentClaims {
  /** Adds `add.count` to the bucket unless `add.batchId` was already counted in it; atomic per instance. */
  addErrors(instanceId: string, add: CounterAdd): Promise<CounterState>;
  /** When the instance's last incident closed, if it has closed: errors before then were that incident's. */
  lastClosedAt(instanceId: string): Promise<Date | undefined>;
}

/** Starts an instance's incident (asynchronously: the detector does not wait for it). */
export type StartIncident = (start: DetectorStart) => Promise<void>;

/** What the responder is told: which instance, since when it fails, and the incident id that dedupes a retry. */
export interface DetectorStart {
  readonly incidentId: string;
  readonly instanceId: string;
  readonly firstErrorAt: string;
  readonly time: string;
  /** When the detector's claim runs out: a start still queued then is stale (someone else may hold the instance). */
  readonly claimExpiresAt: string;
}

export interface DetectDeps {
  readonly store: DetectionStore;
  readonly start: StartIncident;
  readonly now: () => Date;
  readonly logger: CoreLogger;
  readonly settings: DetectSettings;
}

/** What became of one batch; `started` is the only outcome with a side effect beyond counting. */
export type DetectOutcome =
  | { readonly status: 'invalid'; readonly reason: string }
  | { readonly status: 'quiet'; readonly instanceId: string }
  | { readonly status: 'duplicate'; readonly instanceId: string }
  | { readonly status: 'counted'; readonly instanceId: string; readonly inWindow: number }
  | { readonly status: 'claimed-elsewhere' | 'already-handled'; readonly instanceId: string; readonly inWindow: number }
  | { readonly status: 'started'; readonly instanceId: string; readonly incidentId: string; readonly inWindow: number }
  | { readonly status: 'start-failed'; readonly instanceId: string; readonly error: string };

/** The gateway errors of a batch that still fall in the window ending at `now`, as epoch ms, oldest first. */
export function recentErrors(batch: LogBatch, now: number, settings: DetectSettings): number[] {
  const start = windowStart(now, settings);
  return batch.events
    .filter((event) => {
      const entry = parseAccessLine(event.message);
      return entry !== undefined && isGatewayError(entry.status);
    })
    // The agent's clock may run ahead of ours: a future error counts now, not in a bucket the window never reaches.
    .map((event) => Math.min(event.timestamp, now))
    .filter((at) => at >= start)
    .sort((a, b) => a - b);
}

/** The first bucket inside the window ending at `now`. */
export function windowStart(now: number, settings: DetectSettings): number {
  return bucketOf(now, settings) - settings.windowMs + settings.bucketMs;
}

/** The start (epoch ms) of the bucket holding `at`. */
export function bucketOf(at: number, settings: DetectSettings): number {
  return Math.floor(at / settings.bucketMs) * settings.bucketMs;
}

/** The add that counts `errors` (non-empty, in the window) at `now`. */
export function counterAdd(errors: readonly number[], batchId: string, now: number, settings: DetectSettings): CounterAdd {
  const start = windowStart(now, settings);
  const buckets = settings.windowMs / settings.bucketMs;
  // The window's length again before its start: what a steady stream of adds leaves behind, one bucket at a time.
  const expired = Array.from({ length: buckets }, (_, index) => start - (index + 1) * settings.bucketMs);
  return {
    bucket: bucketOf(errors.at(-1)!, settings),
    count: errors.length,
    firstAt: errors[0]!,
    batchId,
    expired,
    expiresAt: now + 2 * settings.windowMs,
  };
}

/** Errors in the window ending at `now`, from the counter's buckets. */
export function inWindow(buckets: ReadonlyMap<number, Bucket>, now: number, settings: DetectSettings): number {
  return windowBuckets(buckets, now, settings).reduce((sum, bucket) => sum + bucket.count, 0);
}

/**
 * The first gateway error of the window: the earliest first error its buckets recorded. A bucket keeps the first
 * error of the first batch counted in it, so a batch that overtook an earlier one can shift it by that batch's span.
 */
export function firstErrorOf(buckets: ReadonlyMap<number, Bucket>, now: number, settings: DetectSettings): number {
  return Math.min(...windowBuckets(buckets, now, settings).map((bucket) => bucket.firstAt));
}

function windowBuckets(buckets: ReadonlyMap<number, Bucket>, now: number, settings: DetectSettings): Bucket[] {
  const start = windowStart(now, settings);
  return [...buckets].filter(([bucket, { count }]) => bucket >= start && bucket <= now && count > 0).map(([, bucket]) => bucket);
}

/** True when adding `added` took the window from below the threshold to at or above it: a rising edge. */
export function crossed(after: number, added: number, threshold: number): boolean {
  return after >= threshold && after - added < threshold;
}

/**
 * The incident id of a crossing: the same instance and bucket give the same id, so a retried start is the
 * responder's duplicate (it claims the event id) rather than a second incident.
 */
export function detectionId(instanceId: string, bucket: number): string {
  return `detect-${instanceId}-${bucket}`;
}

/**
 * Counts one batch and, on the rising edge of its instance's window, starts the incident once.
 * Never throws for the batch's content; store and invoke failures are the caller's to log (a store failure throws,
 * so Lambda retries the batch, which its batch id makes safe; a failed start releases the claim and is reported).
 */
export async function detect(batch: LogBatch, deps: DetectDeps): Promise<DetectOutcome> {
  const { settings, store, logger } = deps;
  if (!PATTERNS.instanceId.test(batch.instanceId)) {
    return { status: 'invalid', reason: `log stream ${JSON.stringify(batch.instanceId.slice(0, 64))} is not an EC2 instance id` };
  }
  const now = deps.now().getTime();
  const errors = recentErrors(batch, now, settings);
  if (errors.length === 0) return { status: 'quiet', instanceId: batch.instanceId };

  const add = counterAdd(errors, batch.batchId, now, settings);
  const state = await store.addErrors(batch.instanceId, add);
  if (state.duplicate) return { status: 'duplicate', instanceId: batch.instanceId };
  const count = inWindow(state.buckets, now, settings);
  if (!crossed(count, add.count, settings.threshold)) return { status: 'counted', instanceId: batch.instanceId, inWindow: count };

  const firstErrorAt = Math.min(firstErrorOf(state.buckets, now, settings), errors[0]!);
  const closed = await store.lastClosedAt(batch.instanceId);
  // Lines of an incident that just closed can still be arriving: they are that incident's, not a new one.
  if (closed && closed.getTime() >= errors.at(-1)!) return { status: 'already-handled', instanceId: batch.instanceId, inWindow: count };

  const incidentId = detectionId(batch.instanceId, windowStart(now, settings));
  const claim = { incidentId, instanceId: batch.instanceId, firstErrorAt: new Date(firstErrorAt).toISOString(), expiresAt: now + settings.claimTtlMs };
  if (!(await store.claimIncident(claim))) return { status: 'claimed-elsewhere', instanceId: batch.instanceId, inWindow: count };
  try {
    const time = new Date(now).toISOString();
    await deps.start({ incidentId, instanceId: batch.instanceId, firstErrorAt: claim.firstErrorAt, time, claimExpiresAt: new Date(claim.expiresAt).toISOString() });
  } catch (error) {
    // Without a responder run nobody would ever release the claim: give it back, the alarm path still covers.
    await store.releaseIncident(batch.instanceId, incidentId);
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return { status: 'start-failed', instanceId: batch.instanceId, error: text };
  }
  logger.info('incident started', { instanceId: batch.instanceId, incidentId, inWindow: count, firstErrorAt: claim.firstErrorAt });
  return { status: 'started', instanceId: batch.instanceId, incidentId, inWindow: count };
}
