/**
 * The local twin of the CloudWatch metric filter + alarm: gateway errors counted over a sliding window.
 */
import { isGatewayError } from './evidence/access-log.ts';
import type { AccessEntry } from './types.ts';

export interface DetectorOptions {
  /** Gateway errors in the window that open an incident. Default 5. */
  readonly threshold?: number;
  /** Default 60 s, the alarm period. */
  readonly windowMs?: number;
}

export class GatewayErrorDetector {
  readonly threshold: number;
  readonly windowMs: number;
  #times: number[] = [];
  #ignoreUntil = 0;

  constructor(options: DetectorOptions = {}) {
    this.threshold = options.threshold ?? 5;
    this.windowMs = options.windowMs ?? 60_000;
  }

  /**
   * Counts one access entry; true when the window has reached the threshold (the alarm fires).
   * `now` is when the line was read: nginx stamps whole seconds, which would blur a short window.
   */
  observe(entry: AccessEntry, now: number): boolean {
    if (!isGatewayError(entry.status) || Date.parse(entry.at) < this.#ignoreUntil) return false;
    this.#times.push(now);
    while (this.#times.length > 0 && this.#times[0]! <= now - this.windowMs) this.#times.shift();
    return this.#times.length >= this.threshold;
  }

  /** Forgets the errors seen so far: they belong to the incident just handled. */
  reset(now: number): void {
    this.#times = [];
    // Lines of the handled incident can still be arriving; nginx stamps whole seconds.
    this.#ignoreUntil = Math.floor(now / 1000) * 1000;
  }

  get count(): number {
    return this.#times.length;
  }
}
