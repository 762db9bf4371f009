/**
 * Where an incident keeps its progress. In Lambda, each incident is a durable execution: a step's result is
 * checkpointed, a cut-off invocation is replayed from the top, and a step that completed returns its recorded result
 * instead of running again (responder/durable-checkpoints.ts). Locally, nothing outlives the process: steps just run.
 * The core only knows this port, so it needs no durable SDK.
 *
 * Replay rules for the code that uses it: everything outside a step must be deterministic (no clock read, no id, no
 * I/O), and step results must be JSON data (a Date comes back as a string).
 */
import type { Clock } from './ports.ts';

export interface Checkpoints {
  /** Runs `fn` and records its result; a replay returns the recorded result without running `fn` again. */
  step<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /**
   * Runs `fn` at most once, ever: the start is recorded before `fn` runs, and a replay of a step that started but
   * did not finish throws StepInterrupted instead of running it again. For a side effect that must never be repeated.
   */
  once<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /** Waits `ms`. Durable: the invocation suspends, and no compute is billed while waiting. */
  wait(name: string, ms: number): Promise<void>;
  /** Runs `fn` over `items`, at most `concurrency` at once, each with checkpoints of its own; results in order. */
  map<T, R>(name: string, items: readonly T[], concurrency: number, fn: (item: T, checkpoints: Checkpoints) => Promise<R>): Promise<R[]>;
  /**
   * Hands a fresh callback id to `submit` (which puts it where a person can answer, e.g. Slack buttons), then waits for
   * the answer sent to that id, at most `timeoutMs`. Durable: the wait bills no compute, and outlives any invocation.
   * Resolves the answer's text, or undefined when nobody answered in time.
   */
  callback(name: string, submit: (callbackId: string) => Promise<void>, timeoutMs: number): Promise<string | undefined>;
}

/** A step that started and never finished (its invocation was cut off): whether its side effect happened is unknown. */
export class StepInterrupted extends Error {
  constructor(readonly step: string) {
    super(`step ${step} was interrupted before it finished: its effect is unknown`);
    this.name = 'StepInterrupted';
  }
}

/**
 * Checkpoints for one process (local mode, the CLI): steps run as they come, waits sleep. A callback needs someone
 * in this process to answer it (`answer`, e.g. a terminal prompt); without one, nobody can, and it times out at once.
 */
export function inProcess(clock: Pick<Clock, 'sleep'>, answer?: (callbackId: string, timeoutMs: number) => Promise<string | undefined>): Checkpoints {
  let callbacks = 0;
  const checkpoints: Checkpoints = {
    step: (_name, fn) => fn(),
    once: (_name, fn) => fn(),
    wait: (_name, ms) => clock.sleep(ms),
    map: (_name, items, concurrency, fn) => mapLimit(items, concurrency, (item) => fn(item, checkpoints)),
    callback: async (name, submit, timeoutMs) => {
      const callbackId = `local-${name}-${++callbacks}`;
      await submit(callbackId);
      return answer ? answer(callbackId, timeoutMs) : undefined;
    },
  };
  return checkpoints;
}

/** Runs `fn` over `items` with at most `limit` at once, keeping the order of results. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return results;
}
