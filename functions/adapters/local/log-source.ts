/**
 * Local log files as a LogSource: the tail of each file; the core keeps what falls in the window.
 */
import { open } from 'node:fs/promises';
import type { LogSource } from '../../core/ports.ts';
import type { LogBundle } from '../../core/types.ts';

export interface LogFiles {
  readonly accessLog: string;
  readonly errorLog: string;
  /** `$PM2_HOME/pm2.log`. */
  readonly pm2Log: string;
  /** A kernel log file; undefined: the live snapshot reads the ring buffer instead. */
  readonly kernelLog?: string;
}

/** Reading the last 1 MiB bounds memory and time on a busy access log; the window is minutes long. */
const TAIL_BYTES = 1024 * 1024;

export class FileLogSource implements LogSource {
  constructor(private readonly files: LogFiles) {}

  async fetch(): Promise<LogBundle> {
    const [accessLines, errorLines, pm2Lines, kernelLines] = await Promise.all([
      tailLines(this.files.accessLog),
      tailLines(this.files.errorLog),
      tailLines(this.files.pm2Log),
      this.files.kernelLog ? tailLines(this.files.kernelLog) : Promise.resolve([]),
    ]);
    return { accessLines, errorLines, pm2Lines, kernelLines };
  }
}

/** The complete lines in the last `bytes` of a file; a missing file has none (a fresh host may not have logged yet). */
export async function tailLines(path: string, bytes = TAIL_BYTES): Promise<string[]> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - bytes);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    const lines = buffer.toString('utf8').split('\n');
    if (start > 0) lines.shift(); // the first line is cut
    return lines.filter((line) => line.trim() !== '');
  } finally {
    await handle.close();
  }
}
