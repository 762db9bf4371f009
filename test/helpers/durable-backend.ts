/**
 * An in-memory stand-in for the Lambda durable execution service, so that tests drive the real durable handler the
 * way the service does: invoke it with the operations checkpointed so far, fire due timers (waits, step retries), and
 * invoke again until the execution is no longer PENDING. A test can also abandon an invocation mid-step (a crash, a
 * timeout) and re-invoke: the handler replays from the top with what was checkpointed, as after a real cut-off.
 *
 * The testing SDK's LocalDurableTestRunner runs executions well, but it cannot cut one off and resume it (a handler that
 * throws or never returns rejects its run; it never re-invokes), so the kill-and-resume tests need this.
 * It models the checkpoint API only as far as Reflex uses it (steps, waits, child contexts of a map).
 */
import type { Context } from 'aws-lambda';
import {
  DurableExecutionInvocationInputWithClient,
  type CheckpointDurableExecutionRequest,
  type CheckpointDurableExecutionResponse,
  type DurableExecutionClient,
  type DurableExecutionInvocationOutput,
  type GetDurableExecutionStateResponse,
  type WireOperation,
} from '@aws/durable-execution-sdk-js';

/** A durable handler as Lambda calls it (the real export is middy-wrapped, so its type is looser). */
export type DurableHandler = (event: unknown, context: Context) => Promise<unknown>;

export class DurableBackend implements DurableExecutionClient {
  readonly arn: string;
  readonly ops = new Map<string, WireOperation>();
  /** Every Update the handler sent, in order: what a test reads to see what was checkpointed when. */
  readonly updates: { action: string; name?: string; type?: string }[] = [];
  invocations = 0;
  #token = 0;

  constructor(payload: unknown, name = 'incident') {
    this.arn = `arn:aws:lambda:eu-west-1:123456789012:function:reflex-responder:live/durable-execution/${name}/0`;
    this.ops.set('exec', { Id: 'exec', Type: 'EXECUTION', Status: 'STARTED', StartTimestamp: new Date(), ExecutionDetails: { InputPayload: JSON.stringify(payload) } } as WireOperation);
  }

  async getExecutionState(): Promise<GetDurableExecutionStateResponse> {
    return { Operations: [...this.ops.values()] };
  }

  async checkpoint(request: CheckpointDurableExecutionRequest): Promise<CheckpointDurableExecutionResponse> {
    const changed: WireOperation[] = [];
    for (const update of request.Updates ?? []) {
      this.updates.push({ action: String(update.Action), ...(update.Name && { name: update.Name }), ...(update.Type && { type: String(update.Type) }) });
      const previous = this.ops.get(update.Id!);
      const op = { ...(previous ?? { Id: update.Id, ParentId: update.ParentId, Name: update.Name, Type: update.Type, SubType: update.SubType, StartTimestamp: new Date() }) } as WireOperation;
      const attempt = previous?.StepDetails?.Attempt ?? 0;
      switch (update.Action) {
        case 'START':
          op.Status = 'STARTED';
          if (update.Type === 'STEP') op.StepDetails = { ...previous?.StepDetails, Attempt: attempt };
          if (update.Type === 'WAIT') op.WaitDetails = { ScheduledEndTimestamp: new Date(Date.now() + (update.WaitOptions?.WaitSeconds ?? 0) * 1000) };
          break;
        case 'SUCCEED':
          op.Status = 'SUCCEEDED';
          op.EndTimestamp = new Date();
          if (update.Type === 'STEP') op.StepDetails = { Attempt: attempt, Result: update.Payload };
          if (update.Type === 'CONTEXT') op.ContextDetails = { Result: update.Payload };
          break;
        case 'FAIL':
          op.Status = 'FAILED';
          op.EndTimestamp = new Date();
          if (update.Type === 'STEP') op.StepDetails = { Attempt: attempt, Error: update.Error };
          if (update.Type === 'CONTEXT') op.ContextDetails = { Error: update.Error };
          break;
        case 'RETRY':
          op.Status = 'PENDING';
          op.StepDetails = { Attempt: attempt + 1, Error: update.Error, NextAttemptTimestamp: new Date(Date.now() + (update.StepOptions?.NextAttemptDelaySeconds ?? 1) * 1000) };
          break;
        default:
          throw new Error(`durable backend: ${String(update.Action)} is not modelled`);
      }
      this.ops.set(op.Id!, op);
      changed.push(op);
    }
    return { CheckpointToken: `t${++this.#token}`, NewExecutionState: { Operations: changed } };
  }

  /** One invocation, as the service makes it now, with everything checkpointed so far. */
  invoke(handler: DurableHandler, context: Context): Promise<DurableExecutionInvocationOutput> {
    this.invocations++;
    const input = { DurableExecutionArn: this.arn, CheckpointToken: `t${this.#token}`, InitialExecutionState: { Operations: [...this.ops.values()] } };
    return handler(new DurableExecutionInvocationInputWithClient(input, this), context) as Promise<DurableExecutionInvocationOutput>;
  }

  /** What the service does when timers are due: pending step retries become ready, waits succeed. */
  fireTimers(): void {
    for (const op of this.ops.values()) {
      if (op.Type === 'STEP' && op.Status === 'PENDING') op.Status = 'READY';
      if (op.Type === 'WAIT' && op.Status === 'STARTED') op.Status = 'SUCCEEDED';
    }
  }

  /** Invokes (firing timers in between) until the execution is no longer PENDING; returns the handler's result. */
  async drive(handler: DurableHandler, context: () => Context, maxInvocations = 200): Promise<unknown> {
    for (let i = 0; i < maxInvocations; i++) {
      const out = await this.invoke(handler, context());
      if (out.Status === 'SUCCEEDED') return out.Result === undefined ? undefined : (JSON.parse(out.Result) as unknown);
      if (out.Status === 'FAILED') throw new Error(`the durable execution failed: ${out.Error.ErrorType}: ${out.Error.ErrorMessage}`);
      this.fireTimers();
    }
    throw new Error(`the durable execution is still PENDING after ${maxInvocations} invocations`);
  }

  /** The status of the operation named `name` (the first one, or the one under the parent named `parent`). */
  statusOf(name: string): string | undefined {
    return [...this.ops.values()].find((op) => op.Name === name)?.Status;
  }

  /** The operations named `name`, in any context. */
  named(name: string): WireOperation[] {
    return [...this.ops.values()].filter((op) => op.Name === name);
  }
}

/** Runs one event through the real durable handler to the end, as Lambda would, and returns its result. */
export async function runDurably<T>(handler: DurableHandler, event: unknown, context: () => Context): Promise<T> {
  return (await new DurableBackend(event).drive(handler, context)) as T;
}
