import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { loadSlackConfig, loadSlackSecret, SlackConfigError } from '../../../functions/adapters/slack/secrets.ts';

const WEBHOOK = 'https://hooks.slack.com/services/T000/B000/verysecretvalue';
const TOKEN = 'xoxb-1234567890-verysecretvalue';
const SIGNING_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';

describe('loadSlackConfig from the secret', () => {
  it('reads a webhook URL', () => {
    // Prepare
    const secretString = JSON.stringify({ webhookUrl: WEBHOOK });
    // Act
    const config = loadSlackConfig({ secretString });
    // Assess
    expect(config).toEqual({ kind: 'webhook', url: WEBHOOK });
  });

  it('reads a bot token and channel, preferred over a webhook', () => {
    // Prepare
    const secretString = JSON.stringify({ webhookUrl: WEBHOOK, botToken: TOKEN, channel: 'C0123ABC' });
    // Act
    const config = loadSlackConfig({ secretString });
    // Assess
    expect(config).toEqual({ kind: 'bot', token: TOKEN, channel: 'C0123ABC' });
  });

  it('reads the signing secret approve mode needs, with a bot token', () => {
    // Prepare
    const secretString = JSON.stringify({ botToken: TOKEN, channel: 'C0123ABC', signingSecret: SIGNING_SECRET });
    // Act
    const config = loadSlackConfig({ secretString });
    // Assess
    expect(config).toEqual({ kind: 'bot', token: TOKEN, channel: 'C0123ABC', signingSecret: SIGNING_SECRET });
  });

  it('treats the empty secret the stack creates ({}) as Slack off', () => {
    expect(loadSlackConfig({ secretString: '{}' })).toBeUndefined();
  });

  it.each([
    ['not JSON', `{"webhookUrl": "${WEBHOOK}"`, 'Slack secret: must be a JSON object'],
    ['misspelt field', JSON.stringify({ webhookURL: WEBHOOK }), 'Slack secret: must hold "webhookUrl", or "botToken" and "channel"'],
    ['token without channel', JSON.stringify({ botToken: TOKEN }), 'Slack secret field channel: required with a bot token'],
    ['bad token', JSON.stringify({ botToken: 'verysecretvalue', channel: 'C1' }), 'Slack secret field botToken: must be a Slack bot token (xoxb-…)'],
    ['plain http webhook', JSON.stringify({ webhookUrl: 'http://hooks.slack.com/verysecretvalue' }), 'Slack secret field webhookUrl: must be an https URL'],
    ['number field', JSON.stringify({ webhookUrl: 42 }), 'Slack secret field webhookUrl: must be a string'],
    ['bad signing secret', JSON.stringify({ botToken: TOKEN, channel: 'C1', signingSecret: 'verysecretvalue with spaces' }), 'Slack secret field signingSecret: must be'],
    ['signing secret alone', JSON.stringify({ signingSecret: 'verysecretvalue0000' }), 'Slack secret: must hold "webhookUrl", or "botToken" and "channel"'],
  ])('rejects %s with an error naming the field, never the value', (_case, secretString, message) => {
    // Prepare
    const act = () => loadSlackConfig({ secretString });
    // Act
    const error = (() => {
      try {
        act();
      } catch (caught) {
        return caught as Error;
      }
      return undefined;
    })();
    // Assess
    expect(error).toBeInstanceOf(SlackConfigError);
    expect(error?.message).toContain(message);
    expect(error?.message).not.toContain('verysecretvalue');
    expect(error?.cause).toBeUndefined();
  });
});

describe('loadSlackConfig from the environment', () => {
  it('returns undefined when nothing is set: Slack is optional', () => {
    // Prepare
    const env = { HOME: '/home/ubuntu', REFLEX_SLACK_WEBHOOK_URL: '' };
    // Act
    const config = loadSlackConfig({ env });
    // Assess
    expect(config).toBeUndefined();
  });

  it('reads the webhook URL, and accepts plain http on loopback for local tests', () => {
    // Prepare
    const env = { REFLEX_SLACK_WEBHOOK_URL: 'http://127.0.0.1:8080/hook' };
    // Act
    const config = loadSlackConfig({ env });
    // Assess
    expect(config).toEqual({ kind: 'webhook', url: 'http://127.0.0.1:8080/hook' });
  });

  it('reads a bot token and channel', () => {
    // Prepare
    const env = { REFLEX_SLACK_BOT_TOKEN: TOKEN, REFLEX_SLACK_CHANNEL: '#incidents' };
    // Act
    const config = loadSlackConfig({ env });
    // Assess
    expect(config).toEqual({ kind: 'bot', token: TOKEN, channel: '#incidents' });
  });

  it('names the missing variable when the channel has no token', () => {
    // Prepare
    const env = { REFLEX_SLACK_CHANNEL: '#incidents' };
    // Act
    const act = () => loadSlackConfig({ env });
    // Assess
    expect(act).toThrow('REFLEX_SLACK_BOT_TOKEN: required when REFLEX_SLACK_CHANNEL is set');
  });
});

describe('loadSlackSecret', () => {
  const secrets = mockClient(SecretsManagerClient);

  beforeEach(() => {
    secrets.reset();
  });

  it('reads the secret once and serves later calls from the cache', async () => {
    // Prepare
    const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:reflex-slack-once';
    secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ webhookUrl: WEBHOOK }) });
    // Act
    const first = await loadSlackSecret(arn);
    const second = await loadSlackSecret(arn);
    // Assess
    expect(first).toEqual({ kind: 'webhook', url: WEBHOOK });
    expect(second).toEqual(first);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(secrets.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({ SecretId: arn });
  });

  it('returns undefined without calling AWS when no secret is configured', async () => {
    // Prepare
    const arn = '';
    // Act
    const config = await loadSlackSecret(arn);
    // Assess
    expect(config).toBeUndefined();
    expect(secrets.calls()).toHaveLength(0);
  });

  it('turns a read failure into a SlackConfigError naming the secret', async () => {
    // Prepare
    const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:reflex-slack-missing';
    secrets.on(GetSecretValueCommand).rejects(new ResourceNotFoundException({ message: 'not found', $metadata: {} }));
    // Act
    const act = loadSlackSecret(arn);
    // Assess
    await expect(act).rejects.toThrow(SlackConfigError);
    await expect(loadSlackSecret(arn)).rejects.toThrow(`Slack secret ${arn}: could not be read`);
  });

  it('rejects a secret without a usable value, without echoing it', async () => {
    // Prepare
    const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:reflex-slack-bad';
    secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ webhookUrl: 'ftp://verysecretvalue' }) });
    // Act
    const error = await loadSlackSecret(arn).catch((caught: unknown) => caught as Error);
    // Assess
    expect(error).toBeInstanceOf(SlackConfigError);
    expect((error as Error).message).not.toContain('verysecretvalue');
  });
});
