/**
 * Test helpers around the host scripts and the sandbox: run a script against a sandbox, split a snapshot into
 * its sections, and look at processes and sockets the way an operator would.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Report } from '../../functions/core/types.ts';
import { profileVariables, runHostScript } from '../../functions/sandbox/host-scripts.ts';
import type { CommandResult, Sandbox } from '../../functions/sandbox/sandbox.ts';

export { isAlive } from '../../functions/sandbox/processes.ts';

const CLI = fileURLToPath(new URL('../../functions/cli/reflex.js', import.meta.url));

/** Put in the demo app's environment; no snapshot may ever contain it. */
export const SECRET = 's3cr3t-value';

/** Runs a host script against the sandbox's profile, with `extra` variables on top. */
export function runScript(box: Sandbox, script: 'snapshot' | 'remediate', extra: Record<string, string> = {}): Promise<CommandResult> {
  return runHostScript(script, { ...box.env, ...profileVariables(box.profile), ...extra });
}

/** A snapshot split into its sections, in order: `@@probe nginx` → key `probe nginx`. */
export function sections(output: string): Map<string, string[]> {
  const result = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of output.split('\n')) {
    if (line.startsWith('@@')) {
      current = [];
      result.set(line.slice(2), current);
    } else if (line !== '' && current) {
      current.push(line);
    }
  }
  return result;
}

/** The reduced PM2 entry of the app in a snapshot's `@@pm2` section. */
export interface SnapshotPm2 {
  name: string;
  pid: number;
  pm2_env: { status: string; exit_code?: number; restart_time: number; env: { PORT?: string; HOSTNAME?: string } };
}

export function pm2Section(parts: Map<string, string[]>): SnapshotPm2[] | { error: string } {
  return JSON.parse(parts.get('pm2')?.[0] ?? 'null') as SnapshotPm2[] | { error: string };
}

/** `ss -tlnpH` lines. */
export async function listeners(): Promise<string[]> {
  return (await command('ss', ['-tlnpH'])).stdout.split('\n').filter((line) => line.trim() !== '');
}

export async function readPid(file: string): Promise<number> {
  return Number((await readFile(file, 'utf8').catch(() => '0')).trim()) || 0;
}

export function command(file: string, args: string[], env?: Record<string, string>): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(file, args, { env: env ?? process.env, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Polls until `check` holds (for states a process reaches asynchronously); false at the deadline. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return check();
}

/** The real uid of a process (/proc/<pid>/status), -1 when it is gone. */
export async function uidOf(pid: number): Promise<number> {
  const line = (await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')).split('\n').find((l) => l.startsWith('Uid:'));
  return line ? Number(line.split(/\s+/)[1]) : -1;
}

/** A user's uid from the passwd database, -1 when there is no such user. */
export async function uidOfUser(name: string): Promise<number> {
  const entry = (await command('getent', ['passwd', name])).stdout.trim().split(':');
  return entry.length > 2 ? Number(entry[2]) : -1;
}

export interface CliRun {
  readonly code: number;
  readonly report: Report;
  readonly stderr: string;
}

/**
 * `reflex respond --local <profile> --json` as a user runs it on the host: the sandbox's PATH (pm2, nginx), its own
 * state directory, `cwd` as the working directory. PM2_HOME is left out: the profile is the only source.
 * Throws when stdout is not exactly one JSON report (with stderr, to see why).
 */
export async function respondLocal(box: Sandbox, options: { profile?: string; cwd?: string; flags?: string[] } = {}): Promise<CliRun> {
  const { PM2_HOME: _home, ...env } = box.env;
  const args = [CLI, 'respond', '--local', options.profile ?? box.profilePath, '--json', ...(options.flags ?? [])];
  const { code, stdout, stderr } = await new Promise<CommandResult>((resolve) => {
    execFile(
      process.execPath,
      args,
      { env: { ...env, XDG_STATE_HOME: join(box.dir, 'state') }, cwd: options.cwd ?? process.cwd(), timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (error, out, err) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout: String(out), stderr: String(err) }),
    );
  });
  const lines = stdout.trim().split('\n');
  if (lines.length !== 1 || !lines[0]?.startsWith('{')) {
    throw new Error(`reflex respond: expected one JSON report, got exit ${code}, stdout ${stdout.slice(0, 500)}, stderr ${stderr.slice(0, 1500)}`);
  }
  return { code, report: JSON.parse(lines[0]) as Report, stderr };
}
