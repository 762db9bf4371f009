/**
 * A throw-away host on this machine: a real nginx (one file, or Debian's layout) in front of a real PM2 daemon (as
 * root, or as a user of its own) running the demo app or a given server, on free loopback ports, in a fresh
 * directory. It reproduces each failure Reflex diagnoses, for the demo and the end-to-end tests. Everything it
 * starts is stopped by pid in `stop()`.
 *
 * The entry point: `startSandbox` and the public types. The parts live beside it, one concern each: nginx.ts (its
 * configuration in both layouts), pm2.ts and pm2-user.ts (PM2, as root or as its own user), oom.ts (kernel OOM
 * kills), faults.ts, processes.ts and network.ts (helpers), local-sandbox.ts (the sandbox that ties them together).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalSandbox } from './local-sandbox.ts';
import { findNginx } from './nginx.ts';
import type { Sandbox, SandboxOptions } from './types.ts';

export { NginxMissingError, SandboxError } from './errors.ts';
export { freePort } from './network.ts';
export { AGENT_PATH } from './pm2.ts';
export type { CommandResult } from './processes.ts';
export type { RequestOptions, Sandbox, SandboxFaults, SandboxOptions, SandboxProfile } from './types.ts';

/**
 * Starts nginx and PM2 (with the demo app) in a fresh directory and waits until the app answers through nginx.
 * Throws NginxMissingError when nginx is not installed; on any other failure it cleans up before throwing.
 */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const nginxBin = findNginx(options.nginxBin);
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'reflex-sandbox-')));
  const sandbox = new LocalSandbox(dir, nginxBin, options);
  try {
    await sandbox.start();
    return sandbox;
  } catch (error) {
    await sandbox.stop();
    throw error;
  }
}
