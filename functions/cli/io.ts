/**
 * The command line's streams: every command writes through an `Io`, so tests capture what a user would see.
 * Its own module so that `main.ts` and the commands it loads share the type without importing each other.
 */

/** Where a command writes its output and its errors, one line per call, and whether it may use colour. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  readonly color: boolean;
}

/** The process's stdout and stderr; colour only on a terminal, and never when NO_COLOR is set. */
export const processIo: Io = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  color: process.stdout.isTTY === true && !process.env.NO_COLOR,
};
