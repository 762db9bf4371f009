/**
 * monit as a careful user would set it up for this app: a 5 s cycle, an HTTP check of /api/health through nginx,
 * and a restart through PM2 (`pm2 restart web || pm2 start <ecosystem> --only web`). It runs as its own foreground
 * process (`monit -c <rc> -I`) with every file it writes (log, pid, id, state) in the sandbox directory, so the
 * system's monit (/etc/monit/monitrc, /run/monit.pid, /var/lib/monit) is never read nor touched. Stopped by pid.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Sandbox } from '../../../functions/sandbox/sandbox.ts';

const RESTART_SCRIPT = fileURLToPath(new URL('./monit-restart.sh', import.meta.url));
const PM2_BIN_DIR = fileURLToPath(new URL('../../../node_modules/.bin', import.meta.url));
/** monit splits an exec string on spaces: every path in it must be plain. */
const PLAIN_PATH = /^\/[A-Za-z0-9._/-]+$/;

export class MonitError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'MonitError';
  }
}

/** monit's poll cycle, seconds. */
export const MONIT_CYCLE_SECONDS = 5;

export interface MonitFiles {
  readonly dir: string;
  readonly rc: string;
  readonly log: string;
}

/** The control file for one sandbox: the text that is also printed with the results. */
export function monitrc(box: Pick<Sandbox, 'nginxPort' | 'pm2Home'> & { profile: { pm2: { ecosystem?: string } } }, dir: string): string {
  const ecosystem = box.profile.pm2.ecosystem;
  if (!ecosystem) throw new MonitError('the sandbox profile names no ecosystem file: monit would have nothing to start');
  const paths = [dir, RESTART_SCRIPT, PM2_BIN_DIR, dirname(process.execPath), box.pm2Home, ecosystem];
  const bad = paths.find((path) => !PLAIN_PATH.test(path));
  if (bad) throw new MonitError(`monit cannot take the path ${JSON.stringify(bad)} (spaces or special characters)`);
  const command = ['/bin/sh', RESTART_SCRIPT, PM2_BIN_DIR, dirname(process.execPath), box.pm2Home, ecosystem].join(' ');
  return [
    '# Reflex benchmark: monit configured as a careful user would, generated per sandbox.',
    `set daemon ${MONIT_CYCLE_SECONDS}`,
    `set log ${join(dir, 'monit.log')}`,
    `set pidfile ${join(dir, 'monit.pid')}`,
    `set idfile ${join(dir, 'monit.id')}`,
    `set statefile ${join(dir, 'monit.state')}`,
    '',
    'check host app with address 127.0.0.1',
    `  if failed port ${box.nginxPort} protocol http request "/api/health" then exec "${command}"`,
    '',
  ].join('\n');
}

/** A monit process watching one sandbox. */
export class MonitProcess {
  private constructor(
    readonly files: MonitFiles,
    private readonly child: ChildProcess,
    private readonly exited: Promise<void>,
  ) {}

  /** Writes the control file (mode 0600: monit refuses a looser one), checks it with `monit -t`, starts monit. */
  static async start(box: Sandbox): Promise<MonitProcess> {
    const dir = join(box.dir, 'monit');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const files: MonitFiles = { dir, rc: join(dir, 'monitrc'), log: join(dir, 'monit.log') };
    await writeFile(files.rc, monitrc(box, dir), { mode: 0o600 });
    const check = await run('monit', ['-t', '-c', files.rc]);
    if (check.code !== 0) throw new MonitError(`monit rejected its control file: ${check.output.trim().split('\n')[0] ?? ''}`);

    const child = spawn('monit', ['-c', files.rc, '-I'], { stdio: 'ignore', env: { PATH: '/usr/bin:/bin' } });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const monit = new MonitProcess(files, child, exited);
    // monit checks once at start, then every cycle; wait for that first check so the fault lands in a running cycle.
    const deadline = Date.now() + 10_000;
    while (!/Monit [\d.]+ started/.test(await monit.log())) {
      if (Date.now() > deadline || child.exitCode !== null) {
        await monit.stop();
        throw new MonitError(`monit did not start: ${(await monit.log()).trim().split('\n').slice(-1)[0] ?? 'no log'}`);
      }
      await sleep(50);
    }
    return monit;
  }

  async log(): Promise<string> {
    return readFile(this.files.log, 'utf8').catch(() => '');
  }

  /**
   * Stops monit (SIGTERM, then SIGKILL) and waits for any restart script it started to finish, so that no pm2
   * call outlives the sandbox (a late `pm2 restart` would spawn a daemon in a removed PM2_HOME).
   */
  async stop(): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined) return;
    const scripts = await restartScripts(pid);
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const quit = await Promise.race([this.exited.then(() => true), sleep(5000).then(() => false)]);
      if (!quit) {
        this.child.kill('SIGKILL');
        await this.exited;
      }
    }
    for (const script of scripts) await waitGone(script, 30_000);
  }
}

function run(file: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 10_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output: `${String(stdout)}${String(stderr)}` });
    });
  });
}

/**
 * The restart scripts monit started that still run. Once a script ends, its pm2 calls have ended too; a PM2
 * daemon it spawned is the sandbox's to stop.
 */
async function restartScripts(monitPid: number): Promise<number[]> {
  const below = await descendants(monitPid);
  const scripts: number[] = [];
  for (const pid of below) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(RESTART_SCRIPT)) scripts.push(pid);
  }
  return scripts;
}

/** Every process below `pid` (children, grandchildren…). */
async function descendants(pid: number): Promise<number[]> {
  const { output } = await run('ps', ['-e', '-o', 'pid=,ppid=']);
  const parents = new Map<number, number[]>();
  for (const line of output.split('\n')) {
    const [child, parent] = line.trim().split(/\s+/).map(Number);
    if (!child || !parent) continue;
    parents.set(parent, [...(parents.get(parent) ?? []), child]);
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of parents.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

async function waitGone(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    if (stat === '' || stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') return;
    await sleep(100);
  }
}
