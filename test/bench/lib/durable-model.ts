/**
 * The responder's durable execution (functions/responder/durable-checkpoints.ts on @aws/durable-execution-sdk-js),
 * as the fleet benchmark charges it: the core's Checkpoints port run in one process on the virtual clock, with what
 * the durable SDK adds on the way.
 *
 * - Every step is a durable operation with a START and a SUCCEED checkpoint. As the SDK does, a step (at least once)
 *   sends its START without waiting for it, an at-most-once step (`once`: the restart) waits for its START before it
 *   runs, and every step waits for its SUCCEED before the code goes on.
 * - Checkpoints go out in batches, one CheckpointDurableExecution call at a time (the SDK's queue: whatever was queued
 *   while a call was in flight goes in the next one, at most 250 updates a call), each call `checkpointMs` long.
 * - A map is one operation, and each of its items a child context: one more each, with its own START and SUCCEED.
 * - A wait is one operation; it lasts whole seconds, at least one, as durable-checkpoints.ts asks for, and it is a
 *   durable sleep of the virtual clock: while nothing but durable waits is pending, the invocation is suspended and
 *   no compute is billed (VirtualClock.idleStretches).
 * - Step results are JSON round-tripped, as the SDK stores them.
 * Not modelled: replays (every step runs once here; a cut-off invocation would replay from the top, substituting the
 * recorded results), and the time Lambda takes to invoke the function again after a suspension.
 */
import { mapLimit, type Checkpoints } from '../../../functions/core/checkpoints.ts';
import type { ApiCalls } from './fleet-model.ts';
import type { VirtualClock } from './virtual-clock.ts';

/** Updates one CheckpointDurableExecution call carries at most (the SDK's MAX_ITEMS_IN_BATCH). */
const MAX_UPDATES_PER_CALL = 250;

export interface DurableCounts {
  /** Durable operations, as Lambda meters them: the execution, each step, wait, map and map item (child context). */
  operations: number;
  steps: number;
  waits: number;
  /** Checkpoint updates (START, SUCCEED) and the CheckpointDurableExecution calls that carried them. */
  updates: number;
  calls: number;
}

export class ModelCheckpoints implements Checkpoints {
  readonly counts: DurableCounts = { operations: 1, steps: 0, waits: 0, updates: 0, calls: 0 };
  readonly #queue: (() => void)[] = [];
  #sending = false;

  constructor(
    private readonly clock: VirtualClock,
    private readonly checkpointMs: number,
    private readonly apiCalls: ApiCalls,
  ) {}

  async step<T>(_name: string, fn: () => Promise<T>): Promise<T> {
    this.counts.operations++;
    this.counts.steps++;
    void this.#checkpoint();
    const value = roundTrip(await fn());
    await this.#checkpoint();
    return value;
  }

  async once<T>(_name: string, fn: () => Promise<T>): Promise<T> {
    this.counts.operations++;
    this.counts.steps++;
    await this.#checkpoint();
    const value = roundTrip(await fn());
    await this.#checkpoint();
    return value;
  }

  async wait(_name: string, ms: number): Promise<void> {
    this.counts.operations++;
    this.counts.waits++;
    await this.#checkpoint();
    await this.clock.sleep(Math.max(1, Math.ceil(ms / 1000)) * 1000, { durable: true });
  }

  async map<T, R>(_name: string, items: readonly T[], concurrency: number, fn: (item: T, checkpoints: Checkpoints) => Promise<R>): Promise<R[]> {
    this.counts.operations++;
    void this.#checkpoint();
    const results = await mapLimit(items, concurrency, async (item) => {
      this.counts.operations++;
      void this.#checkpoint();
      const value = roundTrip(await fn(item, this));
      await this.#checkpoint();
      return value;
    });
    await this.#checkpoint();
    return results;
  }

  /** The fleet bench runs in auto mode: nobody is asked, so a callback is never answered. */
  async callback(_name: string, submit: (callbackId: string) => Promise<void>): Promise<string | undefined> {
    this.counts.operations++;
    await this.#checkpoint();
    await submit('model-callback');
    return undefined;
  }

  /** Queues one update; resolves once the call that carried it is answered. */
  #checkpoint(): Promise<void> {
    this.counts.updates++;
    return new Promise((resolve) => {
      this.#queue.push(resolve);
      if (!this.#sending) void this.#send();
    });
  }

  async #send(): Promise<void> {
    this.#sending = true;
    // The SDK starts its call on the next turn (setImmediate): updates queued meanwhile go in the same call.
    await this.clock.sleep(0);
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, MAX_UPDATES_PER_CALL);
      this.counts.calls++;
      this.apiCalls.checkpoint++;
      await this.clock.sleep(this.checkpointMs);
      for (const resolve of batch) resolve();
    }
    this.#sending = false;
  }
}

/** A step's result as the durable SDK hands it back: through JSON (a Date comes back as a string). */
function roundTrip<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}
