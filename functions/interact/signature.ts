/**
 * Slack's request signature (https://docs.slack.dev/authentication/verifying-requests-from-slack), checked before
 * anything in the request is parsed: `X-Slack-Signature` is `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{raw body}`
 * under the app's signing secret, and `X-Slack-Request-Timestamp` must be within five minutes of now, so a captured
 * request cannot be replayed later. The comparison is constant-time. Pure: the clock is passed in.
 *
 * Written here rather than taken from @slack/bolt: Bolt's receivers bring an HTTP framework into a bundle that
 * needs twenty lines of node:crypto, and its AwsLambdaReceiver expects API Gateway events, not a function URL's.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** How far the request's timestamp may be from now, either way (Slack's own advice). */
export const MAX_SKEW_SECONDS = 5 * 60;

const TIMESTAMP = /^\d{1,12}$/;
const SIGNATURE = /^v0=[0-9a-f]{64}$/;

export interface SignedRequest {
  /** The app's signing secret: never logged, never in a result. */
  readonly signingSecret: string;
  /** `X-Slack-Request-Timestamp`: Unix seconds. */
  readonly timestamp: string | undefined;
  /** `X-Slack-Signature`. */
  readonly signature: string | undefined;
  /** The body exactly as received (decoded from base64 when the function URL encoded it). */
  readonly body: Buffer;
  readonly now: Date;
}

/** Why a request was refused; none of these says anything about the secret. */
export type SignatureRejection = 'missing signature headers' | 'malformed timestamp' | 'stale timestamp' | 'malformed signature' | 'bad signature';

export type SignatureCheck = { readonly ok: true } | { readonly ok: false; readonly reason: SignatureRejection };

/** Slack's signature of `body` sent at `timestamp`: `v0=<hex>`. */
export function slackSignature(signingSecret: string, timestamp: string, body: Buffer): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:`).update(body).digest('hex')}`;
}

/** Checks the request came from Slack, now. */
export function verifySlackSignature(request: SignedRequest): SignatureCheck {
  const { timestamp, signature } = request;
  if (!timestamp || !signature) return { ok: false, reason: 'missing signature headers' };
  if (!TIMESTAMP.test(timestamp)) return { ok: false, reason: 'malformed timestamp' };
  if (Math.abs(request.now.getTime() / 1000 - Number(timestamp)) > MAX_SKEW_SECONDS) return { ok: false, reason: 'stale timestamp' };
  if (!SIGNATURE.test(signature)) return { ok: false, reason: 'malformed signature' };
  const expected = Buffer.from(slackSignature(request.signingSecret, timestamp, request.body), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  // Same length by the pattern above (timingSafeEqual throws otherwise); the comparison itself is constant-time.
  return given.length === expected.length && timingSafeEqual(given, expected) ? { ok: true } : { ok: false, reason: 'bad signature' };
}
