/**
 * `reflex invoke <event.json> [--dry-run]`: runs the Lambda handler on this machine, against the AWS account of the
 * default credential chain (region from AWS_REGION or the profile), with the same configuration variables as the
 * deployed function (REFLEX_APP_NAME, REFLEX_TOPIC_ARN…: functions/contract/lambda-env.ts; copy them from
 * `aws lambda get-function-configuration`). Wiring only: read the event, fake a Lambda context, print the result.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { Context } from 'aws-lambda';
import { MANUAL_SOURCE } from '../core/trigger.ts';
import { InputError } from '../core/validate.ts';
import { ConfigError, parseConfig } from '../responder/config.ts';
import { ENV, LAMBDA_MARGIN_SECONDS } from '../contract/lambda-env.ts';
import type { ResponderResult } from '../responder/run.ts';
import type { Io } from './io.ts';

export const INVOKE_USAGE = 'reflex invoke <event.json> [--dry-run]';

/**
 * Runs the handler once on the event in `args[0]`. Exit codes: 0 handled (every incident healthy, recovered or a
 * dry run) or ignored/duplicate; 1 an incident escalated or the handler failed; 2 bad input (file, event,
 * configuration). `--dry-run` forces REFLEX_DRY_RUN=true (and `detail.dryRun` on a manual event): nothing is changed.
 * @throws InputError for bad arguments, an unreadable file or a bad configuration variable, naming it.
 */
export async function invokeCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { 'dry-run': { type: 'boolean' } }, allowPositionals: true, strict: true });
  if (positionals.length !== 1) throw new InputError(`invoke takes one event file (usage: ${INVOKE_USAGE})`, 'event');
  const path = positionals[0] as string;
  const event = await readEvent(path);
  const dryRun = values['dry-run'] === true;
  if (dryRun) {
    process.env[ENV.dryRun] = 'true';
    markDryRun(event);
  }
  // stdout is for the result: Powertools' info logs and EMF metrics would mix into it (a user may set them back).
  process.env['POWERTOOLS_LOG_LEVEL'] ??= 'WARN';
  process.env['POWERTOOLS_METRICS_DISABLED'] ??= 'true';

  let verifySeconds: number;
  try {
    // The handler parses the same variables when it loads; checking first keeps a bad one an input error.
    verifySeconds = parseConfig(process.env).verifySeconds;
  } catch (error) {
    if (error instanceof ConfigError) throw new InputError(`${error.message} (invoke reads the responder's configuration from the environment)`, 'environment');
    throw error;
  }
  const { handleInProcess: handler } = await import('../responder/handler.ts');

  let result: ResponderResult;
  try {
    result = (await handler(event, localContext((verifySeconds + LAMBDA_MARGIN_SECONDS) * 1000))) as ResponderResult;
  } catch (error) {
    const name = error instanceof Error ? error.name : 'Error';
    const message = error instanceof Error ? error.message : String(error);
    io.err(`reflex: the handler failed (${name}: ${message.split('\n')[0]}); check your AWS credentials, region and the configured names`);
    return 1;
  }
  io.out(JSON.stringify(result, null, 2));
  return exitCodeOf(result);
}

/** 0 handled or nothing to do, 1 a human must look, 2 the event was invalid. */
export function exitCodeOf(result: ResponderResult): 0 | 1 | 2 {
  if (result.status === 'invalid') return 2;
  if (result.status === 'handled' && result.incidents.some((incident) => incident.outcome === 'escalated')) return 1;
  return 0;
}

async function readEvent(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new InputError(`${path}: cannot read the event file (${code})`, path, { cause: error });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InputError(`${path}: not valid JSON (${(error as Error).message})`, path, { cause: error });
  }
}

/** A manual event says dry run itself, so the trigger and the report say it too. Other events are left as they are. */
function markDryRun(event: unknown): void {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return;
  const root = event as Record<string, unknown>;
  const detail = root['detail'];
  if (root['source'] === MANUAL_SOURCE && typeof detail === 'object' && detail !== null && !Array.isArray(detail)) {
    (detail as Record<string, unknown>)['dryRun'] = true;
  }
}

/** A Lambda context for a local run: its remaining time runs down from the deployed function's timeout. */
export function localContext(timeoutMs: number): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'reflex-responder-local',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:reflex-responder-local',
    memoryLimitInMB: '512',
    awsRequestId: `local-${deadline}`,
    logGroupName: 'local',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
