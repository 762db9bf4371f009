/**
 * Loopback load for the recovery benchmark: steady user traffic through nginx, and an independent probe loop that
 * tells when users are served again. Both are bounded in rate, in flight and in count, and stop with their signal.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { httpStatus } from '../../../functions/sandbox/network.ts';

/** One answered (or failed) request: when it left, when its answer came, and its status (0: none in time). */
export interface ProbeResult {
  readonly sentAt: number;
  readonly doneAt: number;
  readonly status: number;
}

/** The status of one GET to 127.0.0.1:port, 0 when no answer came in time. A fresh connection each time. */
export function get(port: number, path: string, timeoutMs: number): Promise<number> {
  return httpStatus({ host: '127.0.0.1', port, path, method: 'GET', timeoutMs });
}

export interface LoopOptions {
  readonly port: number;
  readonly path: string;
  /** Requests per second. */
  readonly rate: number;
  readonly timeoutMs: number;
  /** At most this many requests wait for an answer at once; a send is skipped when it is reached. */
  readonly maxInFlight: number;
  /** Stops after this many sends even when the signal has not aborted. */
  readonly maxRequests: number;
  readonly signal: AbortSignal;
}

/** A running request loop: `results` fills as answers come in; `done` resolves once the last one is in. */
export interface RunningLoop {
  readonly results: ProbeResult[];
  readonly done: Promise<void>;
}

/** Sends GETs at a fixed rate (not waiting for answers, like independent users) until the signal aborts. */
export function startLoop(options: LoopOptions): RunningLoop {
  const results: ProbeResult[] = [];
  const run = async (): Promise<void> => {
    const inFlight = new Set<Promise<void>>();
    const interval = 1000 / options.rate;
    const start = Date.now();
    for (let sent = 0; sent < options.maxRequests && !options.signal.aborted; sent++) {
      if (inFlight.size < options.maxInFlight) {
        const sentAt = Date.now();
        const request = get(options.port, options.path, options.timeoutMs).then((status) => {
          results.push({ sentAt, doneAt: Date.now(), status });
        });
        inFlight.add(request);
        void request.finally(() => inFlight.delete(request));
      }
      // Scheduled against the start, so a slow tick does not lower the rate.
      const wait = start + (sent + 1) * interval - Date.now();
      if (wait > 0) await sleep(wait, undefined, { signal: options.signal }).catch(() => undefined);
    }
    await Promise.all(inFlight);
  };
  return { results, done: run() };
}

/**
 * When users were served again after a fault: the answer time of the first of `streak` consecutive 200s (in send
 * order) that all left after the fault showed (the first non-200 sent at or after `faultAt`). Undefined when the
 * fault never showed or service never came back.
 */
export function sustainedRecovery(results: readonly ProbeResult[], faultAt: number, streak = 3): { shownAt: number; recoveredAt: number } | undefined {
  const after = results.filter((result) => result.sentAt >= faultAt).sort((a, b) => a.sentAt - b.sentAt);
  const firstBad = after.findIndex((result) => result.status !== 200);
  if (firstBad < 0) return undefined;
  let run = 0;
  for (let index = firstBad + 1; index < after.length; index++) {
    run = after[index]!.status === 200 ? run + 1 : 0;
    if (run === streak) {
      return { shownAt: after[firstBad]!.sentAt, recoveredAt: after[index - streak + 1]!.doneAt };
    }
  }
  return undefined;
}

/** The first probe sent at or after `faultAt` that failed: when users were first affected (to the probe's resolution). */
export function firstFailure(results: readonly ProbeResult[], faultAt: number): ProbeResult | undefined {
  return [...results].sort((a, b) => a.sentAt - b.sentAt).find((result) => result.sentAt >= faultAt && result.status !== 200);
}
