/**
 * SSM Run Command adapter: runs a host script on an instance through Reflex's own Command documents and turns
 * every SSM outcome into a HostRunResult a human can act on. Never AWS-RunShellScript: the documents take
 * validated parameters only, and IAM scopes ssm:SendCommand to them.
 */
import {
  GetCommandInvocationCommand,
  SendCommandCommand,
  waitUntilCommandExecuted,
  type GetCommandInvocationCommandOutput,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import type { HostParams, HostRunResult, HostRunner, HostScript } from '../../core/ports.ts';
import { InputError, PATTERNS, checkPattern } from '../../core/validate.ts';
import { inputsOf } from '../../contract/host-inputs.ts';
import { awsErrorName, isAccessDenied, isThrottling } from './errors.ts';

/** The SSM agent cuts stdout at 24,000 characters and ends it with this marker. */
const MAX_STDOUT_CHARS = 24_000;
const TRUNCATION_MARKER = '--output truncated--';
/** SendCommand rejects a TimeoutSeconds below 30. */
const MIN_DELIVERY_TIMEOUT_SECONDS = 30;

export interface SsmHostRunnerOptions {
  readonly client: SSMClient;
  /** Names (or ARNs) of the two Command documents the stack deploys. */
  readonly documents: { readonly snapshot: string; readonly remediate: string };
  /**
   * SendCommand `TimeoutSeconds`: how long SSM keeps trying to deliver the command before giving up
   * (`DeliveryTimedOut`). The execution limit itself is the document's `timeoutSeconds`. @default 30
   */
  readonly deliveryTimeoutSeconds?: number;
  /** How long the waiter polls GetCommandInvocation before giving up. @default 90 */
  readonly maxWaitSeconds?: number;
  /** First poll delay of the waiter (it backs off up to `maxDelaySeconds`). @default 2 */
  readonly minDelaySeconds?: number;
  /** @default 10 */
  readonly maxDelaySeconds?: number;
}

/** Runs `snapshot` or `remediate` on one instance through SSM Run Command and waits for its result. */
export class SsmHostRunner implements HostRunner {
  private readonly client: SSMClient;
  private readonly documents: { readonly snapshot: string; readonly remediate: string };
  private readonly deliveryTimeoutSeconds: number;
  private readonly maxWaitSeconds: number;
  private readonly minDelaySeconds: number;
  private readonly maxDelaySeconds: number;

  constructor(options: SsmHostRunnerOptions) {
    this.client = options.client;
    this.documents = options.documents;
    this.deliveryTimeoutSeconds = Math.max(MIN_DELIVERY_TIMEOUT_SECONDS, Math.ceil(options.deliveryTimeoutSeconds ?? 30));
    this.maxWaitSeconds = options.maxWaitSeconds ?? 90;
    this.minDelaySeconds = options.minDelaySeconds ?? 2;
    this.maxDelaySeconds = Math.max(this.minDelaySeconds, options.maxDelaySeconds ?? 10);
    // The waiter rejects these at its first call; say it at construction, naming the option.
    if (!(this.minDelaySeconds > 0)) {
      throw new InputError(`minDelaySeconds: must be greater than 0, got ${this.minDelaySeconds}`, 'minDelaySeconds');
    }
    if (!(this.maxWaitSeconds > this.minDelaySeconds)) {
      throw new InputError(
        `maxWaitSeconds: must be greater than minDelaySeconds (${this.minDelaySeconds}), got ${this.maxWaitSeconds}`,
        'maxWaitSeconds',
      );
    }
  }

  /**
   * Sends the script's document to the instance and waits for it to end. Bad input throws an InputError before
   * any call; every SSM outcome (failure, timeout, unreachable agent, throttling…) comes back as a result.
   */
  async run(instanceId: string, script: HostScript, params: HostParams): Promise<HostRunResult> {
    checkPattern('instanceId', instanceId, PATTERNS.instanceId, 'an EC2 instance id like i-0123456789abcdef0');
    const documentName = this.documents[script];
    const parameters = documentParameters(script, params);

    let commandId: string | undefined;
    try {
      const sent = await this.client.send(
        new SendCommandCommand({
          DocumentName: documentName,
          InstanceIds: [instanceId],
          Parameters: parameters,
          TimeoutSeconds: this.deliveryTimeoutSeconds,
          Comment: `reflex ${script}`,
        }),
      );
      commandId = sent.Command?.CommandId;
    } catch (error) {
      return sendFailure(error, script, instanceId, documentName);
    }
    if (!commandId) {
      return failed('NoCommandId', `SSM accepted the ${script} command for ${instanceId} but returned no command id; run Reflex again.`);
    }

    const input = { CommandId: commandId, InstanceId: instanceId };
    let waiterTimedOut = false;
    try {
      // The waiter retries InvocationDoesNotExist (the invocation appears shortly after SendCommand) and
      // Pending/InProgress/Delayed; it throws on Failed/TimedOut/Cancelled, which GetCommandInvocation explains below.
      await waitUntilCommandExecuted(
        { client: this.client, maxWaitTime: this.maxWaitSeconds, minDelay: this.minDelaySeconds, maxDelay: this.maxDelaySeconds },
        input,
      );
    } catch (error) {
      waiterTimedOut = awsErrorName(error) === 'TimeoutError';
    }

    let invocation: GetCommandInvocationCommandOutput;
    try {
      invocation = await this.client.send(new GetCommandInvocationCommand(input));
    } catch (error) {
      if (waiterTimedOut) return waiterTimeout(script, instanceId, commandId, this.maxWaitSeconds);
      return failed(
        awsErrorName(error),
        `Reflex could not read the result of the ${script} command ${commandId} on ${instanceId} (${awsErrorName(error)}); see it in Systems Manager Run Command.`,
      );
    }
    if (waiterTimedOut) return waiterTimeout(script, instanceId, commandId, this.maxWaitSeconds, invocation);
    return fromInvocation(invocation, script, instanceId, commandId, this.deliveryTimeoutSeconds);
  }
}

/** HostParams → the document's parameters, each a one-element list; a missing optional value is sent empty. */
function documentParameters(script: HostScript, params: HostParams): Record<string, string[]> {
  const parameters: Record<string, string[]> = {};
  for (const [field, input] of inputsOf(script)) {
    const value = params[field];
    // A required input is checked even when missing: the call would fail anyway, and this names the field.
    if ((value !== undefined && value !== '') || input.required) {
      checkPattern(`params.${field}`, value, input.pattern, input.shape);
    }
    parameters[input.parameter] = [value ?? ''];
  }
  return parameters;
}

function failed(status: string, error: string, stdout = '', stderr = ''): HostRunResult {
  return { ok: false, stdout, stderr, status, error };
}

/** SendCommand itself failed: the command never reached the instance, so nothing ran there. */
function sendFailure(error: unknown, script: HostScript, instanceId: string, documentName: string): HostRunResult {
  return { ...sendFailureOf(error, script, instanceId, documentName), notRun: true };
}

function sendFailureOf(error: unknown, script: HostScript, instanceId: string, documentName: string): HostRunResult {
  const name = awsErrorName(error);
  if (name === 'InvalidInstanceId') {
    return failed(
      name,
      `${instanceId} cannot receive SSM commands: it is not managed by Systems Manager, its SSM agent is offline, or it is in another region; check it in Fleet Manager.`,
    );
  }
  if (name === 'InvalidDocument' || name === 'InvalidDocumentVersion') {
    return failed(name, `SSM document ${documentName} does not exist in this account and region; deploy the Reflex stack or fix the configured document name.`);
  }
  if (name === 'InvalidParameters') {
    return failed(name, `SSM document ${documentName} rejected the ${script} parameters; the deployed document does not match this Reflex version: redeploy the stack.`);
  }
  if (name === 'UnsupportedPlatformType') {
    return failed(name, `${instanceId} is not a Linux instance; the Reflex documents run shell scripts only.`);
  }
  if (isThrottling(error)) {
    return failed(name, `SSM throttled the ${script} command for ${instanceId}; nothing ran, retry in a minute.`);
  }
  if (isAccessDenied(error)) {
    return failed(
      name,
      `the responder may not run ${documentName} on ${instanceId}; check the instance carries the opt-in tag and the role's ssm:SendCommand scope.`,
    );
  }
  return failed(name, `sending the ${script} command to ${instanceId} failed (${name}); nothing ran, retry or check the responder's logs.`);
}

function waiterTimeout(
  script: HostScript,
  instanceId: string,
  commandId: string,
  maxWaitSeconds: number,
  invocation?: GetCommandInvocationCommandOutput,
): HostRunResult {
  const last = invocation ? ` (last status ${statusOf(invocation)})` : '';
  return failed(
    'WaiterTimedOut',
    `the ${script} command ${commandId} on ${instanceId} did not finish within ${maxWaitSeconds} s${last}; check the instance and the command in Systems Manager Run Command.`,
    invocation?.StandardOutputContent ?? '',
    invocation?.StandardErrorContent ?? '',
  );
}

/** StatusDetails names the terminal cause (`Undeliverable`, `DeliveryTimedOut`…) that Status folds into Failed/TimedOut. */
function statusOf(invocation: GetCommandInvocationCommandOutput): string {
  return (invocation.StatusDetails || invocation.Status || 'Unknown').replace(/\s+/g, '');
}

function fromInvocation(
  invocation: GetCommandInvocationCommandOutput,
  script: HostScript,
  instanceId: string,
  commandId: string,
  deliveryTimeoutSeconds: number,
): HostRunResult {
  const stdout = invocation.StandardOutputContent ?? '';
  const stderr = invocation.StandardErrorContent ?? '';
  const status = statusOf(invocation);
  const seeCommand = `see command ${commandId} in Systems Manager Run Command`;

  if (invocation.Status === 'Success') {
    if (stdout.endsWith(TRUNCATION_MARKER) || stdout.length >= MAX_STDOUT_CHARS) {
      return {
        ok: true,
        stdout,
        stderr,
        status: 'Success (output truncated)',
        error: `the ${script} output reached SSM's 24,000-character limit and was cut; the last sections may be missing.`,
      };
    }
    return { ok: true, stdout, stderr, status: 'Success' };
  }

  switch (status) {
    case 'Failed': {
      const exit = invocation.ResponseCode !== undefined ? ` with exit code ${invocation.ResponseCode}` : '';
      const line = firstLine(stderr);
      return failed(status, `the ${script} script failed on ${instanceId}${exit}${line ? `: ${line}` : ''}; ${seeCommand}.`, stdout, stderr);
    }
    case 'Undeliverable':
      return failed(
        status,
        `the ${script} command could not be delivered to ${instanceId}: its SSM agent is offline or the instance is stopped; check the instance state and its agent.`,
        stdout,
        stderr,
      );
    case 'DeliveryTimedOut':
      return failed(
        status,
        `the ${script} command was not delivered to ${instanceId} within ${deliveryTimeoutSeconds} s: its SSM agent is offline or the instance is stopped; check the instance state and its agent.`,
        stdout,
        stderr,
      );
    case 'ExecutionTimedOut':
    case 'TimedOut':
      return failed(status, `the ${script} script on ${instanceId} ran past its time limit and was stopped; check for a hung pm2 or curl on the host, ${seeCommand}.`, stdout, stderr);
    case 'Cancelled':
    case 'Canceled':
    case 'Cancelling':
      return failed(status, `the ${script} command on ${instanceId} was cancelled before it finished; run Reflex again if it is still needed.`, stdout, stderr);
    default:
      return failed(status, `the ${script} command on ${instanceId} ended with status ${status}; ${seeCommand}.`, stdout, stderr);
  }
}

/** The first non-empty stderr line, without control characters, cut short: a hint, not a dump. */
function firstLine(text: string): string {
  const line = text.split('\n').find((candidate) => candidate.trim() !== '') ?? '';
  const clean = line.replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
  return clean.length > 200 ? `${clean.slice(0, 197)}...` : clean;
}
