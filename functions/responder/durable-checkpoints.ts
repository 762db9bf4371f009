/**
 * The core's Checkpoints on a Lambda durable execution (@aws/durable-execution-sdk-js): a step is a durable step,
 * a wait a durable wait (the invocation suspends, no compute billed), a map a durable map of child contexts.
 * Step results are JSON round-tripped by the SDK, which the core already expects.
 */
import { CallbackTimeoutError, StepError, StepSemantics, type DurableContext } from '@aws/durable-execution-sdk-js';
import { StepInterrupted, type Checkpoints } from '../core/checkpoints.ts';

/** Our steps report what fails on a host as values; a step that throws is a defect or an outage: not retried blindly. */
const NO_RETRY = { retryStrategy: () => ({ shouldRetry: false }) } as const;

export function durableCheckpoints(context: DurableContext): Checkpoints {
  return {
    step: (name, fn) => context.step(name, () => fn(), NO_RETRY),
    once: async (name, fn) => {
      try {
        return await context.step(name, () => fn(), { ...NO_RETRY, semantics: StepSemantics.AtMostOncePerRetry });
      } catch (error) {
        if (interrupted(error)) throw new StepInterrupted(name);
        throw error;
      }
    },
    // Durable waits are whole seconds, at least one.
    wait: (name, ms) => context.wait(name, { seconds: Math.max(1, Math.ceil(ms / 1000)) }),
    callback: async (name, submit, timeoutMs) => {
      try {
        return await context.waitForCallback(name, (callbackId) => submit(callbackId), { timeout: { seconds: Math.max(1, Math.ceil(timeoutMs / 1000)) }, ...NO_RETRY });
      } catch (error) {
        if (error instanceof CallbackTimeoutError) return undefined;
        throw error;
      }
    },
    map: async (name, items, concurrency, fn) => {
      const batch = await context.map(name, [...items], (child, item) => fn(item, durableCheckpoints(child)), { maxConcurrency: Math.max(1, concurrency) });
      batch.throwIfError();
      return [...batch.all].sort((a, b) => a.index - b.index).map((item) => item.result as Awaited<ReturnType<typeof fn>>);
    },
  };
}

/** The SDK's way of saying that an at-most-once step started in a run that was cut off, and was not run again. */
function interrupted(error: unknown): boolean {
  if (!(error instanceof StepError)) return false;
  const cause = error.cause as { name?: string } | undefined;
  return cause?.name === 'StepInterruptedError' || /failed to reach completion due to an interruption/.test(error.message);
}
