/**
 * The local twin of the CloudWatch metric filter + alarm: gateway errors counted over a sliding window.
 * Like the alarm, it fires on the change from OK to ALARM only: a fault that goes on after an escalation does not
 * open a new incident every few seconds, it opens one, and the next only after the errors have stopped.
 */
import { isGatewayError } from './evidence/access-log.ts';
import type { AccessEntry } from './types.ts';

export interface DetectorOptions {
  /** Gateway errors in the window that open an incident. Default 5. */
  readonly threshold?: number;
  /** Default 60 s, the alarm period. */
  readonly windowMs?: number;
  /** After an incident that did not end with the app serving, this long without a gateway error means OK again. Default 10 s. */
  readonly quietMs?: number;
}

export class GatewayErrorDetector {
  readonly threshold: number;
  readonly windowMs: number;
  readonly quietMs: number;
  #times: number[] = [];
  #ignoreUntil = 0;
  #alarmed = false;
  #lastError = 0;

  constructor(options: DetectorOptions = {}) {
    this.threshold = options.threshold ?? 5;
    this.windowMs = options.windowMs ?? 60_000;
    this.quietMs = options.quietMs ?? 10_000;
  }

  /**
   * Counts one access entry; true when the window reaches the threshold while the detector is OK (the alarm fires).
   * `now` is when the line was read: nginx stamps whole seconds, which would blur a short window.
   */
  observe(entry: AccessEntry, now: number): boolean {
    this.tick(now);
    if (!isGatewayError(entry.status) || Date.parse(entry.at) < this.#ignoreUntil) return false;
    this.#lastError = now;
    if (this.#alarmed) return false;
    this.#times.push(now);
    while (this.#times.length > 0 && this.#times[0]! <= now - this.windowMs) this.#times.shift();
    return this.#times.length >= this.threshold;
  }

  /** Lets time pass without a line: back to OK once the errors of an unresolved incident have stopped long enough. */
  tick(now: number): void {
    if (this.#alarmed && now - this.#lastError >= this.quietMs) this.#alarmed = false;
  }

  /**
   * The incident that fired is over. When the app serves again the detector is OK at once; when it does not (a
   * human must look), it stays in ALARM until the errors stop.
   */
  handled(now: number, serving: boolean): void {
    this.#times = [];
    // Lines of the handled incident can still be arriving; nginx stamps whole seconds.
    this.#ignoreUntil = Math.floor(now / 1000) * 1000;
    this.#alarmed = !serving;
    this.#lastError = now;
  }

  get count(): number {
    return this.#times.length;
  }

  get alarmed(): boolean {
    return this.#alarmed;
  }
}
