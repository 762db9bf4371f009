/**
 * One request to the interactivity endpoint, from the raw HTTP request to the answer Slack gets, within Slack's 3 s:
 *
 *   1. the signature, before anything is parsed (signature.ts): forged, missing or stale → 401;
 *   2. the click (click.ts): malformed → 400; an interaction that is not one of Reflex's buttons → 200, ignored;
 *   3. who and where: a channel other than Reflex's, or a user not among the approvers (when there is a list) → 403;
 *   4. a proposal past its expiry → 200 "expired", nothing sent;
 *   5. the answer to the waiting incident (`answer`: SendDurableExecutionCallbackSuccess) → 200. The same click twice
 *      sends twice and Lambda refuses the second (CallbackTimeoutException: the callback is closed) → 200 "already
 *      answered", nothing more. Lambda is the arbiter: of two people clicking at once, the first answer wins.
 *
 * The message is not touched here: the incident, resumed by the answer, updates its own message (no Slack token
 * here). Rejections are logged with their reason, never with the body, a header value or the callback id.
 */
import { answerText } from '../core/approval.ts';
import { fromChannel, parseClick } from './click.ts';
import type { InteractConfig, InteractSettings } from './config.ts';
import { verifySlackSignature } from './signature.ts';

export interface HttpRequest {
  readonly method: string;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: Buffer;
}

export interface HttpResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** The narrow logger this module writes to (Powertools Logger fits it). */
export interface InteractLogger {
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

/** How sending an answer went, as the caller's Lambda client saw it. */
export type Sent = 'sent' | 'closed' | 'gone' | 'refused';

export interface InteractDeps {
  readonly config: InteractConfig;
  /** The signing secret and channel (read once per cold start); throws when Slack is not set up for approve mode. */
  readonly settings: () => Promise<InteractSettings>;
  /**
   * Sends `result` to the callback. `closed`: Lambda says the callback is no longer open (answered, or timed out);
   * `gone`: no such execution any more; `refused`: Lambda refused the id. Throws for anything worth a retry.
   */
  readonly answer: (callbackId: string, result: string) => Promise<Sent>;
  readonly now: () => Date;
  readonly logger: InteractLogger;
}

function reply(statusCode: number, body: string): HttpResponse {
  return { statusCode, headers: { 'content-type': 'text/plain; charset=utf-8' }, body };
}

export async function handleInteraction(request: HttpRequest, deps: InteractDeps): Promise<HttpResponse> {
  const { logger } = deps;
  if (request.method !== 'POST') {
    logger.warn('interaction rejected', { status: 405, reason: 'not a POST' });
    return reply(405, 'method not allowed');
  }
  let settings: InteractSettings;
  try {
    settings = await deps.settings();
  } catch (error) {
    // The message names the secret or the field, never a value (secrets.ts, config.ts).
    logger.error('interaction refused: Slack is not set up for approve mode', { status: 500, reason: error instanceof Error ? error.message : 'unknown' });
    return reply(500, 'not configured');
  }

  const now = deps.now();
  const signed = verifySlackSignature({
    signingSecret: settings.signingSecret,
    timestamp: request.headers['x-slack-request-timestamp'],
    signature: request.headers['x-slack-signature'],
    body: request.body,
    now,
  });
  if (!signed.ok) {
    logger.warn('interaction rejected', { status: 401, reason: signed.reason });
    return reply(401, 'unauthorized');
  }

  const parsed = parseClick(request.body.toString('utf8'));
  if (parsed.kind === 'malformed') {
    logger.warn('interaction rejected', { status: 400, reason: parsed.reason });
    return reply(400, 'bad request');
  }
  if (parsed.kind === 'ignored') {
    logger.info('interaction ignored', { status: 200, reason: parsed.reason });
    return reply(200, 'ignored');
  }
  const { click } = parsed;
  const who = { userId: click.user.id, channelId: click.channelId, decision: click.decision, ...(click.incidentId && { incidentId: click.incidentId }) };
  if (!fromChannel(click, settings.channel)) {
    logger.warn('interaction rejected', { status: 403, reason: 'not from Reflex\'s channel', ...who });
    return reply(403, 'forbidden');
  }
  if (deps.config.approvers.length > 0 && !deps.config.approvers.includes(click.user.id)) {
    logger.warn('interaction rejected', { status: 403, reason: 'not an approver', ...who });
    return reply(403, 'forbidden');
  }
  if (now.getTime() >= Date.parse(click.expiresAt)) {
    logger.info('proposal expired: nothing sent', { status: 200, expiresAt: click.expiresAt, ...who });
    return reply(200, `expired at ${click.expiresAt}: nothing was done`);
  }

  const result = answerText({ decision: click.decision, by: click.user, at: now.toISOString() });
  let sent: Sent;
  try {
    sent = await deps.answer(click.callbackId, result);
  } catch (error) {
    logger.error('could not send the answer', { status: 502, error: error instanceof Error ? error.name : 'unknown', ...who });
    return reply(502, 'could not deliver the answer: click again');
  }
  switch (sent) {
    case 'sent':
      logger.info('answer sent', { status: 200, ...who });
      return reply(200, click.decision === 'approve' ? 'approved' : 'dismissed');
    case 'closed':
      // Answered already (another click, another person) or, a moment before its expiry, timed out.
      logger.info('proposal already answered: nothing more done', { status: 200, ...who });
      return reply(200, 'already answered');
    case 'gone':
      logger.info('proposal no longer waiting: nothing done', { status: 200, ...who });
      return reply(200, 'no longer waiting');
    case 'refused':
      logger.warn('interaction rejected', { status: 400, reason: 'Lambda refused the callback id', ...who });
      return reply(400, 'bad request');
  }
}
