/**
 * Approve mode's Slack buttons, defined once: their action ids and what each button's `value` carries. The renderer
 * (report/slack-blocks.ts) writes the value, the interactivity endpoint (interact/) reads it back from the click
 * Slack signed. Both ends import this module, so the format cannot drift.
 *
 * The value carries the durable callback id the answer goes to, the decision, and when the proposal expires (so the
 * endpoint can refuse a late click and tell an expired proposal from one already answered: Lambda answers both with
 * CallbackTimeoutException). Slack caps a button value at 2,000 characters; Lambda caps a callback id at 1,024.
 */

/** The `action_id` of each button; the endpoint acts on these and nothing else. */
export const ACTION_IDS = { approve: 'reflex_approve', dismiss: 'reflex_dismiss' } as const;
export type Decision = keyof typeof ACTION_IDS;

/** The `block_id` of the actions block that holds the two buttons. */
export const APPROVAL_BLOCK_ID = 'reflex_approval';

/** Slack's limit on a button's `value`. */
export const BUTTON_VALUE_MAX_CHARS = 2000;

/**
 * A callback id as Lambda's SendDurableExecutionCallbackSuccess takes it (API reference: 1 to 1,024 characters of
 * base64). Anything else cannot be answered through Lambda: no button is drawn for it (a local-mode id, say).
 */
export const CALLBACK_ID = /^(?=.{1,1024}$)[A-Za-z0-9+/]+={0,2}$/;
const INCIDENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** What one button carries. */
export interface ButtonValue {
  readonly decision: Decision;
  readonly callbackId: string;
  /** When the proposal expires (ISO): a click after it does nothing. */
  readonly expiresAt: string;
  /** For the endpoint's log line only; never trusted for anything else. */
  readonly incidentId?: string;
}

/** The decision a button's action id stands for; undefined for an action that is not one of ours. */
export function decisionOf(actionId: unknown): Decision | undefined {
  if (actionId === ACTION_IDS.approve) return 'approve';
  if (actionId === ACTION_IDS.dismiss) return 'dismiss';
  return undefined;
}

/**
 * The button's value: compact JSON, at most 1,024 + ~100 characters, well within Slack's 2,000.
 * @throws RangeError when the callback id is not one Lambda accepts, or the expiry is not a time.
 */
export function encodeButtonValue(value: ButtonValue): string {
  if (!CALLBACK_ID.test(value.callbackId)) throw new RangeError('callback id: not a Lambda durable callback id');
  if (Number.isNaN(Date.parse(value.expiresAt))) throw new RangeError('expiresAt: not a time');
  const incident = value.incidentId !== undefined && INCIDENT_ID.test(value.incidentId) ? { i: value.incidentId } : {};
  const text = JSON.stringify({ d: value.decision, c: value.callbackId, x: new Date(value.expiresAt).toISOString(), ...incident });
  if (text.length > BUTTON_VALUE_MAX_CHARS) throw new RangeError('button value: over Slack\'s 2,000 characters');
  return text;
}

/** Reads a button's value back; undefined for anything this module did not write. */
export function decodeButtonValue(text: unknown): ButtonValue | undefined {
  if (typeof text !== 'string' || text.length > BUTTON_VALUE_MAX_CHARS) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  const { d, c, x, i } = data as Record<string, unknown>;
  if (d !== 'approve' && d !== 'dismiss') return undefined;
  if (typeof c !== 'string' || !CALLBACK_ID.test(c)) return undefined;
  if (typeof x !== 'string' || Number.isNaN(Date.parse(x))) return undefined;
  if (i !== undefined && (typeof i !== 'string' || !INCIDENT_ID.test(i))) return undefined;
  return { decision: d, callbackId: c, expiresAt: x, ...(i !== undefined && { incidentId: i }) };
}
