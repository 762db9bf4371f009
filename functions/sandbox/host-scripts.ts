/**
 * Runs the host scripts (functions/host/*.sh) against a sandbox, with the REFLEX_* variables its profile implies.
 * For the fixture recorder and the end-to-end tests; Reflex itself goes through its HostRunner adapters.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { hostVariables } from '../contract/host-inputs.ts';
import { targetOf, type HostProfile } from '../core/profile.ts';
import type { CommandResult } from './processes.ts';

const HOST_DIR = fileURLToPath(new URL('../host/', import.meta.url));

/**
 * The host scripts' variables for a profile: app, PM2 (home, user), probes, nginx, kernel log, ecosystem.
 * A variable the profile has no value for is left out, as the Lambda leaves it out: the scripts then work it out.
 */
export function profileVariables(profile: HostProfile): Record<string, string> {
  const target = targetOf(profile);
  return hostVariables({ ...target.snapshot, ...target.remediate });
}

/**
 * Runs `bash functions/host/<script>.sh` with exactly `env` (argv array, no shell): the variables are the only input.
 * Never throws for a failing script: the exit code is in the result.
 */
export function runHostScript(script: 'snapshot' | 'remediate', env: Readonly<Record<string, string>>, timeoutMs = 60_000): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile('bash', [`${HOST_DIR}${script}.sh`], { env, timeout: timeoutMs, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}
