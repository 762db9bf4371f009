/**
 * The Lambda `interact`, behind a function URL (AuthType NONE: Slack cannot sign AWS requests, so the URL is open and
 * every request must carry Slack's signature instead, interact.ts): approve mode's button clicks → the waiting
 * incident's durable callback. Wiring only. Configuration is parsed and the Lambda client created at cold start;
 * the Slack secret is read on the first request and kept for the cold start.
 *
 * Fast by construction (Slack gives up after 3 s): no Slack call, one Lambda call with a short timeout and one retry.
 */
import { CallbackTimeoutException, LambdaClient, ResourceNotFoundException, InvalidParameterValueException, SendDurableExecutionCallbackSuccessCommand } from '@aws-sdk/client-lambda';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { LambdaFunctionURLEvent, LambdaFunctionURLResult } from 'aws-lambda';
import { SERVICE_NAME } from '../contract/telemetry.ts';
import { loadInteractSettings, parseInteractConfig, type InteractSettings } from './config.ts';
import { handleInteraction, type HttpRequest, type InteractDeps, type Sent } from './interact.ts';

const logger = new Logger({ serviceName: SERVICE_NAME });
const config = parseInteractConfig(process.env);
const lambda = new LambdaClient({ maxAttempts: 2, requestHandler: { connectionTimeout: 1000, requestTimeout: 1500 } });

/** Sends the answer; maps Lambda's refusals to what they mean for a click. */
export function callbackSender(client: LambdaClient): InteractDeps['answer'] {
  return async (callbackId, result): Promise<Sent> => {
    try {
      await client.send(new SendDurableExecutionCallbackSuccessCommand({ CallbackId: callbackId, Result: result }));
      return 'sent';
    } catch (error) {
      // "The callback ID token has either expired or the callback associated with the token has already been closed."
      if (error instanceof CallbackTimeoutException) return 'closed';
      if (error instanceof ResourceNotFoundException) return 'gone';
      if (error instanceof InvalidParameterValueException) return 'refused';
      throw error;
    }
  };
}

let settings: Promise<InteractSettings> | undefined;
/** Once per cold start; a failure is not kept, so the next click tries again (say, once the secret is filled in). */
function slackSettings(): Promise<InteractSettings> {
  settings ??= loadInteractSettings(config.slackSecretArn).catch((error: unknown) => {
    settings = undefined;
    throw error;
  });
  return settings;
}

/** The function URL's event as a plain request: the raw body bytes, whatever the URL's encoding. */
export function requestOf(event: LambdaFunctionURLEvent): HttpRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) headers[name.toLowerCase()] = value;
  const raw = event.body ?? '';
  return { method: event.requestContext.http.method, headers, body: Buffer.from(raw, event.isBase64Encoded ? 'base64' : 'utf8') };
}

export const deps: InteractDeps = { config, settings: slackSettings, answer: callbackSender(lambda), now: () => new Date(), logger };

export const handler = middy(async (event: LambdaFunctionURLEvent): Promise<LambdaFunctionURLResult> => handleInteraction(requestOf(event), deps))
  // Never the event: its body is the click, its headers the signature (POWERTOOLS_LOGGER_LOG_EVENT cannot turn it on).
  .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }));
