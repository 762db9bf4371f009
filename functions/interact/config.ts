/**
 * The interactivity endpoint's configuration, parsed once at cold start (a bad variable fails the cold start with
 * its name), and its Slack settings, read once per cold start from the Slack secret.
 */
import { loadSlackSecret } from '../adapters/slack/secrets.ts';
import { envReader } from '../contract/env-reader.ts';
import { INTERACT_ENV, SLACK_USER_ID } from '../contract/lambda-env.ts';

export interface InteractConfig {
  readonly slackSecretArn: string;
  /** Slack user ids allowed to answer; empty: anyone in the channel. */
  readonly approvers: readonly string[];
}

/** What the endpoint needs from the Slack secret. */
export interface InteractSettings {
  /** A secret: never logged. */
  readonly signingSecret: string;
  /** The channel Reflex posts to: clicks from anywhere else are refused. */
  readonly channel: string;
}

export class InteractConfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'InteractConfigError';
  }
}

const ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$/;
const APPROVERS = /^[A-Z0-9, ]{0,4000}$/;

/** @throws InteractConfigError naming the variable. */
export function parseInteractConfig(env: Readonly<Record<string, string | undefined>>): InteractConfig {
  const { required, optional } = envReader(env, (message) => new InteractConfigError(message));
  const slackSecretArn = required(INTERACT_ENV.slackSecretArn, ARN);
  const list = optional(INTERACT_ENV.approvers, APPROVERS) ?? '';
  const approvers = list
    .split(',')
    .map((id) => id.trim())
    .filter((id) => id !== '');
  const bad = approvers.find((id) => !SLACK_USER_ID.test(id));
  if (bad !== undefined) throw new InteractConfigError(`${INTERACT_ENV.approvers} must be Slack user ids (U0123ABC), comma-separated`);
  return { slackSecretArn, approvers: [...new Set(approvers)] };
}

/**
 * Reads the signing secret and the channel from the Slack secret (Powertools Parameters, cached for the life of the
 * execution environment).
 * @throws InteractConfigError (or SlackConfigError) naming the secret or the field, never a value.
 */
export async function loadInteractSettings(slackSecretArn: string): Promise<InteractSettings> {
  const slack = await loadSlackSecret(slackSecretArn);
  if (slack?.kind !== 'bot' || slack.signingSecret === undefined) {
    throw new InteractConfigError(`Slack secret ${slackSecretArn}: approve mode needs "botToken", "channel" and "signingSecret"`);
  }
  return { signingSecret: slack.signingSecret, channel: slack.channel };
}
