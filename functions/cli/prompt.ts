/**
 * Approve mode on a terminal (`reflex respond|watch --local … --approve`): the proposal is printed, and a person
 * answers y or N before it expires. What the answer becomes is the same text a Slack click sends (core/approval.ts),
 * so the core cannot tell the two apart. Without a terminal nobody can answer: the command refuses to start.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { answerText } from '../core/approval.ts';
import type { Report } from '../core/types.ts';
import { InputError } from '../core/validate.ts';
import type { Io } from './io.ts';

export interface TerminalApprover {
  /** The journal's `propose`: prints what would be done, and asks. */
  propose(report: Report, callbackId: string): Promise<void>;
  /** The in-process answer to a callback: the person's line, or undefined when the proposal expired first. */
  answer(callbackId: string, timeoutMs: number): Promise<string | undefined>;
}

export interface TerminalOptions {
  readonly io: Io;
  /** Where the answers come from. @default process.stdin */
  readonly input?: Readable & { isTTY?: boolean };
  /** Who answers, for the audit trail. */
  readonly who: string;
  readonly now?: () => Date;
}

/** @throws InputError when there is no terminal to ask on. */
export function terminalApprover(options: TerminalOptions): TerminalApprover {
  const input = options.input ?? process.stdin;
  if (input.isTTY !== true) throw new InputError('--approve needs a terminal to ask on (stdin is not a TTY); run without --approve, or with --dry-run', '--approve');
  const now = options.now ?? (() => new Date());
  const { io } = options;
  let lines: LineReader | undefined;
  return {
    async propose(report) {
      const approval = report.approval;
      if (!approval) return;
      const what = approval.kind === 'override' ? `${approval.action} ${report.app} anyway` : `${approval.action} ${report.app}`;
      io.out(`approve? ${what} on ${report.instanceId}: ${report.diagnosis.cause}, ${report.action.reason}`);
      io.out(`answer y to ${approval.action}, anything else to dismiss, before ${approval.expiresAt.slice(11, 19)}Z [y/N]`);
    },
    answer: (_callbackId, timeoutMs) => (lines ??= new LineReader(input)).next(timeoutMs).then((line) => {
      if (line === undefined) return undefined;
      const decision = /^\s*y(es)?\s*$/i.test(line) ? 'approve' : 'dismiss';
      return answerText({ decision, by: { id: 'terminal', name: options.who }, at: now().toISOString() });
    }),
  };
}

/** The lines a person types, one at a time: each `next` takes the next line, or undefined after `timeoutMs`. */
class LineReader {
  readonly #lines: string[] = [];
  #waiting: ((line: string | undefined) => void) | undefined;
  #closed = false;

  constructor(input: Readable) {
    const lines = createInterface({ input, terminal: false });
    lines.on('line', (line) => {
      const waiting = this.#waiting;
      this.#waiting = undefined;
      if (waiting) waiting(line);
      else this.#lines.push(line);
    });
    lines.once('close', () => {
      this.#closed = true;
      this.#waiting?.(undefined);
    });
  }

  next(timeoutMs: number): Promise<string | undefined> {
    const buffered = this.#lines.shift();
    if (buffered !== undefined || this.#closed) return Promise.resolve(buffered);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.#waiting = (line) => {
        clearTimeout(timer);
        resolve(line);
      };
    });
  }
}
