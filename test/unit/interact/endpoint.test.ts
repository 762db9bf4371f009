/**
 * The interactivity endpoint end to end inside the process: the exported `handler` gets function-URL events carrying
 * clicks signed as Slack signs them (real HMAC, the signing secret from the Slack secret, Secrets Manager mocked), on
 * buttons drawn by the real renderer; the Lambda client is mocked with aws-sdk-client-mock, so every callback answer
 * is seen exactly as it is sent. Each refusal gets its status, sends nothing, and is logged without the body.
 */
import { createHmac } from 'node:crypto';
import {
  CallbackTimeoutException,
  LambdaClient,
  ResourceNotFoundException,
  SendDurableExecutionCallbackSuccessCommand,
  TooManyRequestsException,
} from '@aws-sdk/client-lambda';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { LambdaFunctionURLEvent, LambdaFunctionURLResult } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { localContext } from '../../../functions/cli/invoke.ts';
import { INTERACT_ENV } from '../../../functions/contract/lambda-env.ts';
import { parseAnswer } from '../../../functions/core/approval.ts';
import type { Report } from '../../../functions/core/types.ts';
import { proposalBlocks, type SlackButton } from '../../../functions/report/slack-blocks.ts';
import { reportFixture } from '../../helpers/report.ts';

const lambda = mockClient(LambdaClient);
const secrets = mockClient(SecretsManagerClient);

/**
 * Powertools caches a secret by name for the life of the process (node_modules are not reloaded with the handler), so
 * each cold start here reads a secret of its own name.
 */
let coldStarts = 0;
let secretArn = '';
const SIGNING_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const TOKEN = 'xoxb-1234567890-abcdefghij';
const CHANNEL = 'C0INCIDENTS';
const APPROVER = { id: 'U0APPROVER', username: 'ana', name: 'ana', team_id: 'T0TEAM' };
const CALLBACK_ID = Buffer.from(JSON.stringify({ executionId: 'a6c1f0e2-5d3b-4c8e', operationId: 'approval' })).toString('base64');

type Handler = (event: LambdaFunctionURLEvent, context: ReturnType<typeof localContext>) => Promise<LambdaFunctionURLResult & { statusCode: number; body: string }>;

// ---------------------------------------------------------------- the process's stdout (Powertools writes there)

let output: string[] = [];
let spies: { mockRestore(): void }[] = [];

beforeEach(() => {
  output = [];
  lambda.reset();
  secrets.reset();
  lambda.on(SendDurableExecutionCallbackSuccessCommand).resolves({});
  secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ botToken: TOKEN, channel: CHANNEL, signingSecret: SIGNING_SECRET }) });
  // Powertools writes info to stdout, warnings and errors to stderr.
  const record = (chunk: string | Uint8Array): boolean => {
    output.push(String(chunk));
    return true;
  };
  spies = [vi.spyOn(process.stdout, 'write').mockImplementation(record), vi.spyOn(process.stderr, 'write').mockImplementation(record)];
});

afterEach(() => {
  for (const spy of spies) spy.mockRestore();
});

afterAll(() => {
  vi.unstubAllEnvs();
});

/** The JSON log lines the handler wrote. */
function logs(): Record<string, unknown>[] {
  return output
    .join('')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function loadHandler(approvers = 'U0APPROVER,U0OTHER'): Promise<Handler> {
  vi.resetModules();
  secretArn = `arn:aws:secretsmanager:eu-west-1:123456789012:secret:reflex-web-slack-${++coldStarts}-AbCdEf`;
  const env = {
    [INTERACT_ENV.slackSecretArn]: secretArn,
    [INTERACT_ENV.approvers]: approvers,
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    POWERTOOLS_LOG_LEVEL: 'INFO',
    // Even asked to, the handler never logs the event.
    POWERTOOLS_LOGGER_LOG_EVENT: 'true',
  };
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  const module = await import('../../../functions/interact/handler.ts');
  return module.handler as unknown as Handler;
}

// ---------------------------------------------------------------- clicks as Slack posts them

/** The buttons of a real proposal, expiring `expiresInMs` from now. */
function buttons(expiresInMs = 15 * 60_000): { approve: SlackButton; dismiss: SlackButton } {
  const now = Date.now();
  const report: Report = {
    ...reportFixture({ action: { executed: false }, outcome: 'pending' }),
    approval: { kind: 'approve', action: 'restart', proposedAt: new Date(now - 60_000).toISOString(), expiresAt: new Date(now + expiresInMs).toISOString() },
  };
  const [approve, dismiss] = proposalBlocks(report, CALLBACK_ID).blocks.flatMap((block) => (block.type === 'actions' ? block.elements : []));
  return { approve: approve!, dismiss: dismiss! };
}

/** A block_actions payload, as Slack sends it for a click on a message button. */
function payload(button: SlackButton, overrides: { user?: object; channel?: object; type?: string } = {}): Record<string, unknown> {
  return {
    type: overrides.type ?? 'block_actions',
    user: overrides.user ?? APPROVER,
    api_app_id: 'A0REFLEX',
    token: 'deprecated-verification-token',
    container: { type: 'message', message_ts: '1764000000.000001', channel_id: CHANNEL, is_ephemeral: false },
    trigger_id: '1764000131.123.abc',
    team: { id: 'T0TEAM', domain: 'example' },
    channel: overrides.channel ?? { id: CHANNEL, name: 'incidents' },
    message: { type: 'message', ts: '1764000000.000001', text: 'web on i-0123456789abcdef0: process_crashed, restart awaiting approval' },
    state: { values: {} },
    response_url: 'https://hooks.slack.com/actions/T0TEAM/1/responseurlsecret',
    actions: [{ ...button, block_id: 'reflex_approval', action_ts: '1764000131.000100' }],
  };
}

function form(data: unknown): string {
  return new URLSearchParams({ payload: JSON.stringify(data) }).toString();
}

function signature(secret: string, timestamp: string, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

interface Sending {
  readonly body?: string;
  /** Seconds from now of the request's timestamp. */
  readonly skewSeconds?: number;
  readonly secret?: string;
  readonly headers?: Record<string, string | undefined>;
  readonly base64?: boolean;
  readonly method?: string;
}

/** A function URL event for a click, signed as Slack signs it. */
function event(button: SlackButton, sending: Sending = {}): LambdaFunctionURLEvent {
  const body = sending.body ?? form(payload(button));
  const timestamp = String(Math.floor(Date.now() / 1000) + (sending.skewSeconds ?? 0));
  const headers: Record<string, string | undefined> = {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': timestamp,
    'x-slack-signature': signature(sending.secret ?? SIGNING_SECRET, timestamp, body),
    'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
    ...sending.headers,
  };
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/',
    rawQueryString: '',
    headers: Object.fromEntries(Object.entries(headers).filter(([, value]) => value !== undefined)) as Record<string, string>,
    requestContext: {
      accountId: 'anonymous',
      apiId: 'abcdefghij',
      domainName: 'abcdefghij.lambda-url.eu-west-1.on.aws',
      domainPrefix: 'abcdefghij',
      http: { method: sending.method ?? 'POST', path: '/', protocol: 'HTTP/1.1', sourceIp: '3.0.0.1', userAgent: 'Slackbot 1.0' },
      requestId: 'req-1',
      routeKey: '$default',
      stage: '$default',
      time: '24/Nov/2026:10:02:11 +0000',
      timeEpoch: Date.now(),
    },
    body: sending.base64 ? Buffer.from(body).toString('base64') : body,
    isBase64Encoded: sending.base64 ?? false,
  } as LambdaFunctionURLEvent;
}

function sends(): { CallbackId?: string; Result?: unknown }[] {
  return lambda.commandCalls(SendDurableExecutionCallbackSuccessCommand).map((call) => call.args[0].input);
}

/** Nothing of the request reached the logs: not the body, the callback id, the signature, nor a secret. */
function expectNothingOfTheRequestLogged(sent: LambdaFunctionURLEvent): void {
  const all = output.join('');
  for (const secret of [SIGNING_SECRET, TOKEN, CALLBACK_ID, sent.headers['x-slack-signature'], 'responseurlsecret', 'deprecated-verification-token', sent.body]) {
    expect(all).not.toContain(secret);
  }
  // Nor any piece of the payload: the message it quotes, the team, the trigger.
  for (const piece of ['restart awaiting approval', 'T0TEAM', '1764000131.123.abc']) expect(all).not.toContain(piece);
}

// ---------------------------------------------------------------- tests

describe('a valid click', () => {
  it('approve: one SendDurableExecutionCallbackSuccess to the button’s callback id, with an answer parseAnswer accepts', async () => {
    // Prepare
    const handler = await loadHandler();
    const { approve } = buttons();
    const click = event(approve);

    // Act
    const before = Date.now();
    const response = await handler(click, localContext(3000));

    // Assess
    expect(response).toMatchObject({ statusCode: 200, body: 'approved' });
    expect(sends()).toHaveLength(1);
    expect(sends()[0]?.CallbackId).toBe(CALLBACK_ID);
    const answer = parseAnswer(String(sends()[0]?.Result));
    expect(answer).toEqual({ decision: 'approve', by: { id: 'U0APPROVER', name: 'ana' }, at: expect.any(String) });
    expect(Date.parse(answer!.at)).toBeGreaterThanOrEqual(before - 1000);
    expect(logs().find((line) => line['message'] === 'answer sent')).toMatchObject({ userId: 'U0APPROVER', channelId: CHANNEL, decision: 'approve', incidentId: 'evt-6a7e8f' });
    expectNothingOfTheRequestLogged(click);
  });

  it('dismiss: the answer says dismiss', async () => {
    // Prepare
    const handler = await loadHandler();
    // Act
    const response = await handler(event(buttons().dismiss), localContext(3000));
    // Assess
    expect(response).toMatchObject({ statusCode: 200, body: 'dismissed' });
    expect(parseAnswer(String(sends()[0]?.Result))?.decision).toBe('dismiss');
  });

  it('a body the function URL base64-encoded is verified on its decoded bytes', async () => {
    // Prepare
    const handler = await loadHandler();
    // Act
    const response = await handler(event(buttons().approve, { base64: true }), localContext(3000));
    // Assess
    expect(response.statusCode).toBe(200);
    expect(sends()).toHaveLength(1);
  });

  it('anyone in the channel may answer when no approvers are configured', async () => {
    // Prepare
    const handler = await loadHandler('');
    const click = event(buttons().approve, { body: form(payload(buttons().approve, { user: { id: 'U0ANYONE', username: 'cy' } })) });
    // Act
    const response = await handler(click, localContext(3000));
    // Assess
    expect(response.statusCode).toBe(200);
    expect(parseAnswer(String(sends()[0]?.Result))?.by).toEqual({ id: 'U0ANYONE', name: 'cy' });
  });

  it('reads the Slack secret once per cold start', async () => {
    // Prepare
    const handler = await loadHandler();
    // Act
    await handler(event(buttons().approve), localContext(3000));
    await handler(event(buttons().dismiss), localContext(3000));
    // Assess
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });
});

describe('the same click delivered twice', () => {
  it('acts once: Lambda refuses the second answer (CallbackTimeoutException), which gets 200 “already answered” and nothing more', async () => {
    // Prepare: the callback closes with the first answer, as Lambda's does
    lambda
      .on(SendDurableExecutionCallbackSuccessCommand)
      .resolvesOnce({})
      .rejects(new CallbackTimeoutException({ message: 'Callback already completed', Type: 'User', $metadata: { httpStatusCode: 400 } }));
    const handler = await loadHandler();
    const click = event(buttons().approve);

    // Act: the same signed request, twice
    const first = await handler(click, localContext(3000));
    const second = await handler(click, localContext(3000));

    // Assess
    expect(first).toMatchObject({ statusCode: 200, body: 'approved' });
    expect(second).toMatchObject({ statusCode: 200, body: 'already answered' });
    expect(lambda.calls()).toHaveLength(2);
    expect(sends().map((input) => input.CallbackId)).toEqual([CALLBACK_ID, CALLBACK_ID]);
    expect(logs().map((line) => line['message'])).toEqual(['answer sent', 'proposal already answered: nothing more done']);
    expect(logs().every((line) => line['level'] !== 'ERROR')).toBe(true);
    expectNothingOfTheRequestLogged(click);
  });
});

describe('refused: nothing sent, logged without the body', () => {
  it.each([
    ['a stale timestamp (over 5 minutes old)', { skewSeconds: -301 }, 'stale timestamp'],
    ['a timestamp from the future', { skewSeconds: 301 }, 'stale timestamp'],
    ['a forged signature (another secret)', { secret: 'forged0000000000000000000000000000' }, 'bad signature'],
    ['no signature header', { headers: { 'x-slack-signature': undefined } }, 'missing signature headers'],
    ['no timestamp header', { headers: { 'x-slack-request-timestamp': undefined } }, 'missing signature headers'],
  ])('401 for %s', async (_case, sending: Sending, reason) => {
    // Prepare
    const handler = await loadHandler();
    const click = event(buttons().approve, sending);

    // Act
    const response = await handler(click, localContext(3000));

    // Assess
    expect(response).toMatchObject({ statusCode: 401, body: 'unauthorized' });
    expect(lambda.calls()).toHaveLength(0);
    expect(logs()).toEqual([expect.objectContaining({ level: 'WARN', message: 'interaction rejected', status: 401, reason })]);
    // Nothing of the click at all: it was not parsed
    expect(logs()[0]).not.toHaveProperty('userId');
    expectNothingOfTheRequestLogged(click);
  });

  it('401 for a body changed after Slack signed it', async () => {
    // Prepare
    const handler = await loadHandler();
    const signed = event(buttons().dismiss);
    const tampered = { ...signed, body: form(payload(buttons().approve)) };

    // Act
    const response = await handler(tampered, localContext(3000));

    // Assess
    expect(response.statusCode).toBe(401);
    expect(lambda.calls()).toHaveLength(0);
    expectNothingOfTheRequestLogged(tampered);
  });

  it.each([
    ['a user not among the approvers', { user: { id: 'U0STRANGER', username: 'eve' } }, 'not an approver'],
    ['another channel', { channel: { id: 'C0ELSEWHERE', name: 'random' } }, "not from Reflex's channel"],
  ])('403 for %s', async (_case, overrides, reason) => {
    // Prepare
    const handler = await loadHandler();
    const click = event(buttons().approve, { body: form(payload(buttons().approve, overrides)) });

    // Act
    const response = await handler(click, localContext(3000));

    // Assess
    expect(response).toMatchObject({ statusCode: 403, body: 'forbidden' });
    expect(lambda.calls()).toHaveLength(0);
    expect(logs()).toEqual([expect.objectContaining({ level: 'WARN', message: 'interaction rejected', status: 403, reason })]);
    expectNothingOfTheRequestLogged(click);
  });

  it.each([
    ['a body without a payload field', 'nothing=here'],
    ['a payload that is not JSON', new URLSearchParams({ payload: '{"type":"block_actions",' }).toString()],
    ['a button value Reflex did not write', form({ ...payload(buttons().approve), actions: [{ action_id: 'reflex_approve', type: 'button', value: 'restart-everything' }] })],
    ['an action that contradicts its value', form({ ...payload(buttons().dismiss), actions: [{ ...buttons().dismiss, action_id: 'reflex_approve' }] })],
    ['a user id that is not Slack’s', form(payload(buttons().approve, { user: { id: '../../etc' } }))],
    ['two actions at once', form({ ...payload(buttons().approve), actions: [buttons().approve, buttons().dismiss] })],
  ])('400 for %s', async (_case, body) => {
    // Prepare: signed correctly, so the payload itself is what is wrong
    const handler = await loadHandler();
    const click = event(buttons().approve, { body });

    // Act
    const response = await handler(click, localContext(3000));

    // Assess
    expect(response).toMatchObject({ statusCode: 400, body: 'bad request' });
    expect(lambda.calls()).toHaveLength(0);
    expect(logs()).toEqual([expect.objectContaining({ level: 'WARN', message: 'interaction rejected', status: 400 })]);
    expectNothingOfTheRequestLogged(click);
  });

  it('405 for anything but a POST', async () => {
    // Prepare
    const handler = await loadHandler();
    // Act
    const response = await handler(event(buttons().approve, { method: 'GET' }), localContext(3000));
    // Assess
    expect(response.statusCode).toBe(405);
    expect(lambda.calls()).toHaveLength(0);
  });
});

describe('answered without acting', () => {
  it('a click after the proposal expired: 200 saying so, nothing sent', async () => {
    // Prepare
    const handler = await loadHandler();
    const { approve } = buttons(-1000);

    // Act
    const response = await handler(event(approve), localContext(3000));

    // Assess
    expect(response.statusCode).toBe(200);
    expect(response.body).toMatch(/^expired at .+: nothing was done$/);
    expect(lambda.calls()).toHaveLength(0);
  });

  it('an execution Lambda no longer has: 200 “no longer waiting”', async () => {
    // Prepare
    lambda.on(SendDurableExecutionCallbackSuccessCommand).rejects(new ResourceNotFoundException({ message: 'no such execution', $metadata: {} }));
    const handler = await loadHandler();
    // Act
    const response = await handler(event(buttons().approve), localContext(3000));
    // Assess
    expect(response).toMatchObject({ statusCode: 200, body: 'no longer waiting' });
  });

  it('another interaction of the app (not block_actions, not our buttons): 200, ignored', async () => {
    // Prepare
    const handler = await loadHandler();
    const other = { ...payload(buttons().approve), actions: [{ ...buttons().approve, action_id: 'someone_elses_button' }] };
    // Act
    const shortcut = await handler(event(buttons().approve, { body: form({ type: 'shortcut', callback_id: 'x' }) }), localContext(3000));
    const foreign = await handler(event(buttons().approve, { body: form(other) }), localContext(3000));
    // Assess
    expect([shortcut.statusCode, shortcut.body, foreign.statusCode, foreign.body]).toEqual([200, 'ignored', 200, 'ignored']);
    expect(lambda.calls()).toHaveLength(0);
  });
});

describe('failures', () => {
  it('Lambda throttles: 502 so the person clicks again; logged by error name only', async () => {
    // Prepare
    lambda.on(SendDurableExecutionCallbackSuccessCommand).rejects(new TooManyRequestsException({ message: 'Rate exceeded', $metadata: {} }));
    const handler = await loadHandler();
    const click = event(buttons().approve);
    // Act
    const response = await handler(click, localContext(3000));
    // Assess
    expect(response.statusCode).toBe(502);
    expect(logs()).toEqual([expect.objectContaining({ level: 'ERROR', message: 'could not send the answer', error: 'TooManyRequestsException' })]);
    expectNothingOfTheRequestLogged(click);
  });

  it('a Slack secret without a signing secret: 500, nothing sent, the secret’s values never logged', async () => {
    // Prepare
    secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ botToken: TOKEN, channel: CHANNEL }) });
    const handler = await loadHandler();
    const click = event(buttons().approve);
    // Act
    const response = await handler(click, localContext(3000));
    // Assess
    expect(response).toMatchObject({ statusCode: 500, body: 'not configured' });
    expect(lambda.calls()).toHaveLength(0);
    expect(logs()[0]?.['reason']).toBe(`Slack secret ${secretArn}: approve mode needs "botToken", "channel" and "signingSecret"`);
    expectNothingOfTheRequestLogged(click);
  });
});
