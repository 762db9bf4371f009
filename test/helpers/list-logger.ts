/** A CoreLogger that keeps its warnings as lines (message and extras), for tests that check what was logged. */
import type { CoreLogger } from '../../functions/core/ports.ts';

export class WarningLogger implements CoreLogger {
  readonly lines: string[] = [];
  debug(): void {}
  info(): void {}
  warn(message: string, ...extra: unknown[]): void {
    this.lines.push(`${message} ${JSON.stringify(extra)}`);
  }
}
