/**
 * Process helpers of the sandbox and the end-to-end tests: run a command, poll until a state is reached, and tell
 * whether a pid still runs, by pid only (never by name: other sandboxes may run alongside).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { SandboxError } from './errors.ts';

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `file` with `args` (no shell). Never throws: a failure or a timeout (SIGKILL) is a non-zero code. */
export function run(file: string, args: string[], options: { env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        env: options.env ?? process.env,
        timeout: options.timeoutMs ?? 30_000,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
        ...(options.cwd && { cwd: options.cwd }),
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it is truthy; throws SandboxError naming `what` at the deadline. */
export async function until(what: string, timeoutMs: number, check: () => Promise<boolean>, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new SandboxError(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** The first non-blank line of a command's output, for an error message. */
export function firstLine(text: string): string {
  return text.split('\n').find((line) => line.trim() !== '')?.trim().slice(0, 200) ?? '';
}

/** The pid in a pid file; 0 when the file is missing or holds no pid. */
export async function readPidFile(file: string): Promise<number> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : 0;
}

/** Alive and not a zombie (a zombie still answers signal 0). */
export async function isAlive(pid: number): Promise<boolean> {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // Field 3, after the parenthesised command name (which may itself contain spaces and parentheses).
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return stat !== '' && state !== 'Z';
}

/** SIGKILL, then up to 3 s for the pid to be gone. */
export async function killAndWait(pid: number): Promise<void> {
  if (!(await isAlive(pid))) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  await until(`pid ${pid} to exit`, 3000, async () => !(await isAlive(pid))).catch(() => undefined);
}

/** How often `pattern` (global) occurs in a file; 0 when the file is missing. */
export async function countMatches(file: string, pattern: RegExp): Promise<number> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.match(pattern)?.length ?? 0;
}
