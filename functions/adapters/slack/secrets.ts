/**
 * Slack configuration: from the Secrets Manager secret in AWS, from environment variables locally.
 * Secret values never appear in an error or a log line: errors name the field only.
 */
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';

/** How Reflex talks to Slack: an incoming webhook (two messages), or a bot token (one message updated in place). */
export type SlackConfig =
  | { readonly kind: 'webhook'; readonly url: string }
  | {
      readonly kind: 'bot';
      readonly token: string;
      readonly channel: string;
      /**
       * Slack's signing secret of the app (Basic Information → App Credentials): the interactivity endpoint checks
       * each button click's signature with it. Only approve mode needs it; a secret, never logged.
       */
      readonly signingSecret?: string;
    };

/** Local environment variable names (the CLI passes their values). */
export const SLACK_ENV = {
  webhookUrl: 'REFLEX_SLACK_WEBHOOK_URL',
  botToken: 'REFLEX_SLACK_BOT_TOKEN',
  channel: 'REFLEX_SLACK_CHANNEL',
} as const;

/**
 * Where the values come from: the secret string (`{"webhookUrl":…}` or `{"botToken":…,"channel":…}`, and for
 * approve mode `"signingSecret"`), or the
 * environment (the caller passes `process.env` or a copy; this module never reads it itself).
 */
export type SlackConfigSource =
  | { readonly secretString: string }
  | { readonly env: Readonly<Record<string, string | undefined>> };

/** The Slack configuration is unusable. The message names the field, never its value. */
export class SlackConfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SlackConfigError';
  }
}

const TOKEN = /^xox[bp]-[A-Za-z0-9-]{10,}$/;
/** A channel id (`C0123…`) or a name (`#incidents`, `incidents`). */
const CHANNEL = /^#?[A-Za-z0-9._-]{1,80}$/;
/** Slack's signing secrets are 32 hex characters today; any long token of letters and digits is accepted. */
const SIGNING_SECRET = /^[A-Za-z0-9]{16,128}$/;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Reads and checks the Slack configuration. Returns undefined when nothing is configured (Slack is optional);
 * throws SlackConfigError when something is configured but unusable. A bot token wins over a webhook when both are
 * set (it can update one message in place).
 */
export function loadSlackConfig(source: SlackConfigSource): SlackConfig | undefined {
  const values = 'secretString' in source ? fromSecret(source.secretString) : fromEnv(source.env);
  if (values.botToken !== undefined || values.channel !== undefined) {
    if (values.botToken === undefined) throw new SlackConfigError(`${values.names.botToken}: required when ${values.names.channel} is set`);
    if (values.channel === undefined) throw new SlackConfigError(`${values.names.channel}: required with a bot token`);
    if (!TOKEN.test(values.botToken)) throw new SlackConfigError(`${values.names.botToken}: must be a Slack bot token (xoxb-…)`);
    if (!CHANNEL.test(values.channel)) throw new SlackConfigError(`${values.names.channel}: must be a channel id or name`);
    const { signingSecret } = values;
    if (signingSecret !== undefined && !SIGNING_SECRET.test(signingSecret)) {
      throw new SlackConfigError('Slack secret field signingSecret: must be the app\'s signing secret (letters and digits)');
    }
    return { kind: 'bot', token: values.botToken, channel: values.channel, ...(signingSecret !== undefined && { signingSecret }) };
  }
  if (values.webhookUrl !== undefined) {
    if (!isWebhookUrl(values.webhookUrl)) {
      throw new SlackConfigError(`${values.names.webhookUrl}: must be an https URL (http only on a loopback address)`);
    }
    return { kind: 'webhook', url: values.webhookUrl };
  }
  // The stack creates the secret as `{}` for the user to fill: empty means Slack is off. Anything else that
  // names neither field is a mistake (a typo such as `webhookURL`). A signing secret alone configures nothing.
  if ('secretString' in source && !values.empty) {
    throw new SlackConfigError('Slack secret: must hold "webhookUrl", or "botToken" and "channel"');
  }
  return undefined;
}

interface Values {
  readonly webhookUrl?: string;
  readonly botToken?: string;
  readonly channel?: string;
  /** Only in the secret: local mode has no interactivity endpoint. */
  readonly signingSecret?: string;
  /** The secret is `{}`: nothing configured yet. */
  readonly empty?: boolean;
  /** How each field is called where it came from, for error messages. */
  readonly names: { readonly webhookUrl: string; readonly botToken: string; readonly channel: string };
}

function fromSecret(secretString: string): Values {
  let data: unknown;
  try {
    data = JSON.parse(secretString);
  } catch {
    // No cause attached: the parser's message quotes part of the secret.
    throw new SlackConfigError('Slack secret: must be a JSON object');
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new SlackConfigError('Slack secret: must be a JSON object');
  const record = data as Record<string, unknown>;
  const text = (field: string): string | undefined => {
    const value = record[field];
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string') throw new SlackConfigError(`Slack secret field ${field}: must be a string`);
    return value.trim();
  };
  return {
    webhookUrl: text('webhookUrl'),
    botToken: text('botToken'),
    channel: text('channel'),
    signingSecret: text('signingSecret'),
    empty: Object.keys(record).length === 0,
    names: { webhookUrl: 'Slack secret field webhookUrl', botToken: 'Slack secret field botToken', channel: 'Slack secret field channel' },
  };
}

function fromEnv(env: Readonly<Record<string, string | undefined>>): Values {
  const text = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  return {
    webhookUrl: text(SLACK_ENV.webhookUrl),
    botToken: text(SLACK_ENV.botToken),
    channel: text(SLACK_ENV.channel),
    names: SLACK_ENV,
  };
}

function isWebhookUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname));
}

/**
 * Cached for the life of the execution environment: the secret is read once per cold start (Powertools caches 5 s
 * by default). A rotated webhook takes effect on the next cold start.
 */
const SECRET_MAX_AGE_SECONDS = 365 * 24 * 3600;

/**
 * Reads the Slack secret through Powertools Parameters and checks it. Returns undefined for an empty secret ARN
 * (Slack not configured).
 * @throws SlackConfigError when the secret is missing, binary or unusable (the message names the ARN, not the value).
 */
export async function loadSlackSecret(secretArn: string): Promise<SlackConfig | undefined> {
  if (secretArn === '') return undefined;
  let secret: unknown;
  try {
    secret = await getSecret(secretArn, { maxAge: SECRET_MAX_AGE_SECONDS });
  } catch (error) {
    throw new SlackConfigError(`Slack secret ${secretArn}: could not be read (${error instanceof Error ? error.name : 'error'})`, {
      cause: error,
    });
  }
  if (typeof secret !== 'string') throw new SlackConfigError(`Slack secret ${secretArn}: has no string value; store JSON text`);
  return loadSlackConfig({ secretString: secret });
}
