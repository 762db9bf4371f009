/**
 * What both Slack notifiers share: the delivery result, the retry settings, and a bounded wait on 429 Retry-After.
 */

/** The result of one Slack delivery. A failure is a value, never an exception. */
export interface SlackDelivery {
  readonly channel: 'slack';
  readonly ok: boolean;
  /** One sentence for a human; never a secret, never a raw stack. */
  readonly error?: string;
}

export interface SlackRetryOptions {
  /** Retries after a 5xx answer or a network failure (the client's own p-retry policy). @default 2 */
  readonly retries?: number;
  /** First back-off of those retries, ms. @default 500 */
  readonly minTimeoutMs?: number;
  /** A 429 is waited out and retried only when its Retry-After is at most this many seconds. @default 30 */
  readonly maxRetryAfterSeconds?: number;
  /** How many 429s in a row are waited out. @default 2 */
  readonly rateLimitRetries?: number;
  /** Per-request timeout, ms. @default 10000 */
  readonly timeoutMs?: number;
}

export const DEFAULT_RETRY: Required<SlackRetryOptions> = {
  retries: 2,
  minTimeoutMs: 500,
  maxRetryAfterSeconds: 30,
  rateLimitRetries: 2,
  timeoutMs: 10_000,
};

/** The p-retry policy the Slack clients take as `retryConfig`: few, quick retries; an incident does not wait. */
export function retryConfig(options: Required<SlackRetryOptions>): { retries: number; minTimeout: number; maxTimeout: number; factor: number } {
  return { retries: options.retries, minTimeout: options.minTimeoutMs, maxTimeout: options.minTimeoutMs * 4, factor: 2 };
}

export type Sleep = (ms: number) => Promise<void>;

export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `attempt`; when it fails with a rate limit (`retryAfterOf` gives the Retry-After seconds) that is short enough,
 * waits that long and tries again, up to `rateLimitRetries` times. Any other failure, or a rate limit too long to
 * wait inside a Lambda invocation, is rethrown for the caller to turn into a failed delivery.
 */
export async function withRateLimitRetry<T>(
  attempt: () => Promise<T>,
  retryAfterOf: (error: unknown) => number | undefined,
  options: Required<SlackRetryOptions>,
  sleep: Sleep,
): Promise<T> {
  for (let waited = 0; ; waited++) {
    try {
      return await attempt();
    } catch (error) {
      const seconds = retryAfterOf(error);
      if (seconds === undefined || seconds > options.maxRetryAfterSeconds || waited >= options.rateLimitRetries) throw error;
      await sleep(seconds * 1000);
    }
  }
}

/** Retry-After as seconds: a number of seconds or an HTTP date. */
export function parseRetryAfter(header: string | null | undefined, now: Date = new Date()): number | undefined {
  if (header === null || header === undefined || header.trim() === '') return undefined;
  if (/^\d+$/.test(header.trim())) return Number.parseInt(header, 10);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now.getTime()) / 1000));
}

/** Runs tasks one after the other, in the order they came: a Slack update never overtakes the message it edits. */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}
