/**
 * A clock for the fleet benchmark that skips waiting but not working. `now()` is the real time plus an offset;
 * `sleep(ms)` registers a timer. `run(work)` drives the work: whenever nothing is left to do but wait (no pending
 * microtask), the offset jumps to the earliest timer and wakes it. So every modelled latency counts exactly, the
 * real CPU time of the real code (parsing, diagnosis, rendering) counts as it passes, and a 200-instance incident
 * with 1 s SSM round trips takes seconds of wall time instead of minutes.
 *
 * It is only honest when everything the work waits for goes through `sleep` (no real I/O, no real timer): the
 * fleet benchmark's adapters are in-process models, so that holds there.
 *
 * A sleep may be marked `durable` (a Lambda durable wait: the invocation suspends and no compute is billed). The
 * clock records every stretch of virtual time during which nothing but durable sleeps was pending: the stretches a
 * durable execution spends suspended, between invocations.
 */
import type { Clock } from '../../../functions/core/ports.ts';

interface Timer {
  readonly due: number;
  readonly order: number;
  readonly durable: boolean;
  readonly wake: () => void;
}

/** A stretch of virtual time (epoch ms) during which only durable sleeps were pending. */
export interface IdleStretch {
  readonly from: number;
  readonly to: number;
}

/** The work waited on something the virtual clock cannot wake (real I/O, a real timer). */
export class VirtualClockError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'VirtualClockError';
  }
}

/** A Clock whose waits are skipped by `run`, while real work time still counts. */
export class VirtualClock implements Clock {
  #offset: number;
  #order = 0;
  readonly #timers: Timer[] = [];
  readonly #idle: IdleStretch[] = [];

  /** @param start the virtual time at construction (e.g. the time of recorded fixtures) */
  constructor(start: Date = new Date()) {
    this.#offset = start.getTime() - Date.now();
  }

  now(): Date {
    return new Date(this.nowMs());
  }

  nowMs(): number {
    return Date.now() + this.#offset;
  }

  /** @param options.durable a durable wait: while only such sleeps are pending, the work counts as suspended */
  sleep(ms: number, options: { durable?: boolean } = {}): Promise<void> {
    return new Promise((resolve) => {
      this.#timers.push({ due: this.nowMs() + Math.max(0, ms), order: this.#order++, durable: options.durable === true, wake: resolve });
    });
  }

  /** The stretches so far during which nothing but durable sleeps was pending, in time order. */
  get idleStretches(): readonly IdleStretch[] {
    return this.#idle;
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.#timers.length;
  }

  /**
   * Runs `work` to the end, advancing virtual time over every wait. Rejects with the work's error; rejects when the
   * work waits on something other than this clock (nothing to wake for a whole real second).
   */
  async run<T>(work: () => Promise<T>): Promise<T> {
    let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
    work().then(
      (value) => {
        outcome = { ok: true, value };
      },
      (error: unknown) => {
        outcome = { ok: false, error };
      },
    );
    let idleSince: number | undefined;
    for (;;) {
      // setImmediate runs after the microtask queue is empty: everything that could run without waiting has run.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (outcome) break;
      const next = this.#takeEarliest();
      if (!next) {
        idleSince ??= Date.now();
        if (Date.now() - idleSince > 1000) throw new VirtualClockError('the work waits on something other than the virtual clock (real I/O or a real timer)');
        continue;
      }
      idleSince = undefined;
      const suspended = next.durable && this.#timers.every((timer) => timer.durable);
      const from = this.nowMs();
      const lag = next.due - from;
      if (lag > 0) {
        this.#offset += lag;
        if (suspended) this.#idle.push({ from, to: next.due });
      }
      next.wake();
    }
    if (outcome.ok) return outcome.value;
    throw outcome.error;
  }

  #takeEarliest(): Timer | undefined {
    if (this.#timers.length === 0) return undefined;
    let best = 0;
    for (let index = 1; index < this.#timers.length; index++) {
      const timer = this.#timers[index]!;
      const current = this.#timers[best]!;
      if (timer.due < current.due || (timer.due === current.due && timer.order < current.order)) best = index;
    }
    return this.#timers.splice(best, 1)[0];
  }
}
