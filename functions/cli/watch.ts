/**
 * `reflex watch --local`: follows the nginx access log like the metric filter + alarm would, and runs
 * `respond` when gateway errors reach the threshold within the window. One incident at a time.
 */
import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { GatewayErrorDetector } from '../core/detector.ts';
import { parseAccessLine } from '../core/evidence/index.ts';

export interface WatchOptions {
  readonly accessLog: string;
  readonly threshold?: number;
  readonly windowMs?: number;
  /** How often the log is read. Default 100 ms: detection should fire on the first errors. */
  readonly pollMs?: number;
  readonly signal?: AbortSignal;
  /** Runs one incident; watch waits for it before reading on. Resolves whether the app serves at the end. */
  readonly onAlarm: (alarm: { at: Date; count: number }) => Promise<boolean>;
  /** Called when a line is not an access log line (counted, never fatal). */
  readonly onSkipped?: (line: string) => void;
}

/** Watches until the signal aborts. Starts at the end of the log: old errors are not a new incident. */
export async function watch(options: WatchOptions): Promise<void> {
  const detector = new GatewayErrorDetector({
    ...(options.threshold !== undefined && { threshold: options.threshold }),
    ...(options.windowMs !== undefined && { windowMs: options.windowMs }),
  });
  const reader = new LineFollower(options.accessLog);
  await reader.skipToEnd();
  while (!options.signal?.aborted) {
    detector.tick(Date.now());
    for (const line of await reader.readNew()) {
      const entry = parseAccessLine(line);
      if (!entry) {
        options.onSkipped?.(line);
        continue;
      }
      if (detector.observe(entry, Date.now())) {
        const serving = await options.onAlarm({ at: new Date(), count: detector.count });
        detector.handled(Date.now(), serving);
        await reader.skipToEnd();
        break;
      }
    }
    await sleep(options.pollMs ?? 100, undefined, { signal: options.signal }).catch(() => undefined);
  }
}

/** Reads the lines appended to a file since the last read; copes with truncation and rotation. */
export class LineFollower {
  #offset = 0;
  #partial = '';

  constructor(private readonly path: string) {}

  async skipToEnd(): Promise<void> {
    this.#offset = await this.#size();
    this.#partial = '';
  }

  async readNew(): Promise<string[]> {
    const size = await this.#size();
    if (size < this.#offset) {
      // Rotated or truncated: start over from the top of the new file.
      this.#offset = 0;
      this.#partial = '';
    }
    if (size === this.#offset) return [];
    const handle = await open(this.path, 'r');
    try {
      const length = Math.min(size - this.#offset, 4 * 1024 * 1024);
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, this.#offset);
      this.#offset += bytesRead;
      const text = this.#partial + buffer.subarray(0, bytesRead).toString('utf8');
      const lines = text.split('\n');
      this.#partial = lines.pop() ?? '';
      return lines.filter((line) => line.trim() !== '');
    } finally {
      await handle.close();
    }
  }

  async #size(): Promise<number> {
    const handle = await open(this.path, 'r').catch(() => undefined);
    if (!handle) return 0;
    try {
      return (await handle.stat()).size;
    } finally {
      await handle.close();
    }
  }
}
