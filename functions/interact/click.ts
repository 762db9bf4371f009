/**
 * A button click as Slack posts it to the interactivity Request URL: `application/x-www-form-urlencoded` with one
 * field, `payload`, a JSON `block_actions` payload (https://docs.slack.dev/reference/interaction-payloads/block_actions-payload).
 * Only read once the signature is verified (signature.ts). Pure.
 */
import { SLACK_USER_ID } from '../contract/lambda-env.ts';
import { decisionOf, decodeButtonValue, type ButtonValue } from '../contract/slack-actions.ts';
import type { Person } from '../core/types.ts';

/** A public or private channel, or a DM, as Slack ids them. */
const CHANNEL_ID = /^[CGD][A-Z0-9]{2,20}$/;
/** parseAnswer's limit on a person's name. */
const NAME_CHARS = 80;

/** One click on one of Reflex's buttons. */
export interface Click extends ButtonValue {
  readonly user: Person;
  readonly channelId: string;
  /** The channel's name without `#`, when Slack gives it. */
  readonly channelName?: string;
}

export type ParsedClick =
  | { readonly kind: 'click'; readonly click: Click }
  /** A well-formed interaction that is not a click on Reflex's buttons (another type, another action). */
  | { readonly kind: 'ignored'; readonly reason: string }
  | { readonly kind: 'malformed'; readonly reason: string };

const malformed = (reason: string): ParsedClick => ({ kind: 'malformed', reason });

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** Reads the click out of the (verified) form body. Reasons name fields, never their values. */
export function parseClick(body: string): ParsedClick {
  const text = new URLSearchParams(body).get('payload');
  if (text === null) return malformed('no payload field');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return malformed('payload is not JSON');
  }
  const payload = record(data);
  if (!payload) return malformed('payload is not an object');
  if (typeof payload['type'] !== 'string') return malformed('payload has no type');
  if (payload['type'] !== 'block_actions') return { kind: 'ignored', reason: 'not a button click' };

  const actions = payload['actions'];
  if (!Array.isArray(actions) || actions.length !== 1) return malformed('a click must carry exactly one action');
  const action = record(actions[0]);
  if (!action) return malformed('action is not an object');
  const decision = decisionOf(action['action_id']);
  if (!decision) return { kind: 'ignored', reason: 'not one of Reflex\'s actions' };
  const value = decodeButtonValue(action['value']);
  if (!value) return malformed('the button value is not one Reflex wrote');
  if (value.decision !== decision) return malformed('the button value does not match its action');

  const user = record(payload['user']);
  const userId = user?.['id'];
  if (typeof userId !== 'string' || !SLACK_USER_ID.test(userId)) return malformed('user.id is not a Slack user id');
  const rawName = user?.['username'] ?? user?.['name'];
  const name = typeof rawName === 'string' && rawName.trim() !== '' ? rawName.trim().slice(0, NAME_CHARS) : undefined;

  const channel = record(payload['channel']);
  const container = record(payload['container']);
  const channelId = channel?.['id'] ?? container?.['channel_id'];
  if (typeof channelId !== 'string' || !CHANNEL_ID.test(channelId)) return malformed('channel.id is not a Slack channel id');
  const channelName = typeof channel?.['name'] === 'string' ? channel['name'] : undefined;

  return {
    kind: 'click',
    click: { ...value, user: { id: userId, ...(name !== undefined && { name }) }, channelId, ...(channelName !== undefined && { channelName }) },
  };
}

/**
 * Whether the click came from the channel Reflex posts to. The secret's `channel` is an id (`C0123…`, compared with
 * the click's channel id) or a name (`#incidents`, compared with the name Slack gives; an id is the stronger check,
 * since a channel can be renamed).
 */
export function fromChannel(click: Click, configured: string): boolean {
  if (CHANNEL_ID.test(configured)) return click.channelId === configured;
  const name = configured.replace(/^#/, '').toLowerCase();
  return click.channelName !== undefined && click.channelName.toLowerCase() === name;
}
