/**
 * The sandbox's PM2: which pm2 binary runs, how it is called (as the PM2 user when there is one), and the
 * ecosystem file it starts the app from.
 */
import { existsSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SandboxError } from './errors.ts';
import { firstLine, isAlive, readPidFile, run, type CommandResult } from './processes.ts';

/** The PATH the SSM agent gives a script on Linux; a real host's global pm2 (`npm install -g pm2`) is on it. */
export const AGENT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const REPO_PM2 = fileURLToPath(new URL('../../node_modules/.bin/pm2', import.meta.url));

/** The PM2 app name of the sandbox's app. */
export const APP = 'web';

/** One entry of `pm2 jlist`, as far as the sandbox reads it. */
export interface Pm2Process {
  readonly name: string;
  readonly pid: number;
  readonly pm2_env?: { readonly status?: string };
}

/** The pm2 the sandbox runs: a global one for a PM2 user (it may not reach into the repository), else the repo's. */
export function pm2Binary(asUser: boolean): string {
  const global = AGENT_PATH.split(delimiter).map((d) => join(d, 'pm2')).find((file) => existsSync(file));
  return asUser && global ? global : REPO_PM2;
}

/** pm2 commands in one PM2_HOME, as the PM2 user when `user()` names one. */
export class Pm2 {
  constructor(
    readonly bin: string,
    private readonly home: string,
    private readonly env: Readonly<Record<string, string>>,
    private readonly user: () => string | undefined,
  ) {}

  run(args: string[], extraEnv: Record<string, string> = {}, timeoutMs = 60_000): Promise<CommandResult> {
    const env = { ...this.env, ...extraEnv };
    const user = this.user();
    if (!user) return run(this.bin, args, { env, timeoutMs });
    // As remediate.sh does it, from a directory the user can enter: PM2 spawns its daemon in the caller's cwd.
    const asUser = ['-u', user, '--', 'env', `PM2_HOME=${this.home}`, this.bin, ...args];
    return run('runuser', asUser, { env, timeoutMs, cwd: dirname(this.home) });
  }

  /** Runs pm2; throws SandboxError naming `what` and pm2's first complaint when it fails. */
  async expect(args: string[], extraEnv: Record<string, string> = {}, what = `pm2 ${args[0]}`): Promise<void> {
    const result = await this.run(args, extraEnv);
    if (result.code !== 0) throw new SandboxError(`${what} failed: ${firstLine(result.stderr || result.stdout)}`);
  }

  /** The daemon's pid, 0 when none runs. */
  async daemonPid(): Promise<number> {
    const pid = await readPidFile(join(this.home, 'pm2.pid'));
    return pid > 0 && (await isAlive(pid)) ? pid : 0;
  }

  /** `pm2 jlist`; empty when no daemon runs (it never spawns one). */
  async jlist(): Promise<Pm2Process[]> {
    if ((await this.daemonPid()) === 0) return [];
    const result = await this.run(['jlist']);
    const line = result.stdout.split('\n').find((l) => l.startsWith('['));
    if (result.code !== 0 || !line) return [];
    return JSON.parse(line) as Pm2Process[];
  }
}

/** What the ecosystem file says about the app. */
export interface EcosystemApp {
  readonly script: string;
  readonly cwd: string;
  readonly autorestart: boolean;
  /** PM2's `node_args`: flags for the node that runs the script. */
  readonly nodeArgs: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

/** The ecosystem file (`ecosystem.config.cjs`) of the app. */
export function ecosystemSource(app: EcosystemApp): string {
  const entry = {
    name: APP,
    script: app.script,
    cwd: app.cwd,
    exec_mode: 'fork',
    instances: 1,
    // false by default: a crash stays down, as it does in production once PM2 has used up max_restarts.
    autorestart: app.autorestart,
    // Small bounds so that a crash loop ends `errored` within seconds.
    max_restarts: 5,
    min_uptime: 1000,
    ...(app.nodeArgs.length > 0 && { node_args: app.nodeArgs }),
    env: app.env,
  };
  return `// Reflex sandbox: generated, throw-away.\nmodule.exports = ${JSON.stringify({ apps: [entry] }, null, 2)};\n`;
}
