/**
 * The benchmark's own fault injectors. The sandbox's fault methods wait until the app is down and PM2 says so,
 * which never happens when PM2's autorestart brings it straight back; the benchmark needs the same, bare action
 * for every responder, timed at the moment it takes effect. Each injector calls `mark()` just before that moment.
 */
import { execFile } from 'node:child_process';
import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, type Sandbox } from '../../../functions/sandbox/sandbox.ts';

const PM2_BIN = fileURLToPath(new URL('../../../node_modules/.bin/pm2', import.meta.url));
const APP = 'web';

export class FaultError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'FaultError';
  }
}

export const FAULT_NAMES = ['crashed', 'stopped', 'missing', 'daemon-gone', 'hung', 'oom', 'upstream-timeout', 'port-mismatch'] as const;
export type FaultName = (typeof FAULT_NAMES)[number];

export interface Fault {
  readonly name: FaultName;
  /** For tables: what happened to the app. */
  readonly label: string;
  /** true: a restart (or start) through PM2 fixes it; false: a restart is wrong (it would be harmful). */
  readonly restartFixes: boolean;
  /** PM2 starts the injection itself causes (not a responder's). */
  readonly ownStarts: number;
  /** Puts the fault in place; calls `mark()` right before the action that breaks the app. */
  inject(box: Sandbox, mark: () => void): Promise<void>;
}

/** What `pm2 restart web` (or start) cannot fix: slow pages is the app's own latency, port mismatch is nginx's or the deploy's. */
export const FAULTS: Readonly<Record<FaultName, Fault>> = {
  crashed: {
    name: 'crashed',
    label: 'crashed (exit 1)',
    restartFixes: true,
    ownStarts: 0,
    inject: async (box, mark) => {
      mark();
      await control(box, '/__demo/crash?code=1');
    },
  },
  stopped: {
    name: 'stopped',
    label: 'stopped (pm2 stop)',
    restartFixes: true,
    ownStarts: 0,
    inject: async (box, mark) => {
      mark();
      await pm2(box, ['stop', APP]);
    },
  },
  missing: {
    name: 'missing',
    label: 'missing (pm2 delete)',
    restartFixes: true,
    ownStarts: 0,
    inject: async (box, mark) => {
      mark();
      await pm2(box, ['delete', APP]);
    },
  },
  'daemon-gone': {
    name: 'daemon-gone',
    label: 'PM2 daemon gone (pm2 kill)',
    restartFixes: true,
    ownStarts: 0,
    inject: async (box, mark) => {
      mark();
      await pm2(box, ['kill']);
    },
  },
  hung: {
    name: 'hung',
    label: 'hung event loop',
    restartFixes: true,
    ownStarts: 0,
    inject: async (box, mark) => {
      mark();
      await control(box, '/__demo/hang');
    },
  },
  oom: {
    name: 'oom',
    label: 'OOM-killed',
    restartFixes: true,
    ownStarts: 0,
    inject: async (box, mark) => {
      const pid = await box.appPid();
      if (pid === 0) throw new FaultError('oom: the app is not running, nothing to kill');
      const line = await oomLine(pid);
      mark();
      await oomKill(box, pid, line);
    },
  },
  'upstream-timeout': {
    name: 'upstream-timeout',
    label: 'upstream timeout (slow pages)',
    restartFixes: false,
    ownStarts: 0,
    inject: async (box, mark) => {
      mark();
      // 3 s per page against nginx's proxy_read_timeout of 2 s: every page is a 504, /api/health stays fast.
      await control(box, '/__demo/slow?ms=3000');
    },
  },
  'port-mismatch': {
    name: 'port-mismatch',
    label: 'port mismatch (app moved)',
    restartFixes: false,
    ownStarts: 1,
    inject: async (box, mark) => {
      let port = await freePort();
      while (port === box.appPort || port === box.nginxPort) port = await freePort();
      mark();
      // A deploy that changed PORT: the app comes back on another port, nginx still proxies to the old one.
      await pm2(box, ['restart', APP, '--update-env'], { PORT: String(port), HOSTNAME: '127.0.0.1' });
    },
  },
};

/** Fault names from a comma list; one clear error naming the unknown one. */
export function parseFaults(list: string | undefined): Fault[] {
  if (list === undefined || list.trim() === '') return FAULT_NAMES.map((name) => FAULTS[name]);
  return list.split(',').map((raw) => {
    const name = raw.trim();
    if (!(FAULT_NAMES as readonly string[]).includes(name)) {
      throw new FaultError(`--faults: unknown fault "${name}"; choose from ${FAULT_NAMES.join(', ')}`);
    }
    return FAULTS[name as FaultName];
  });
}

/** Asks the demo app itself (on its own port) to misbehave. */
async function control(box: Sandbox, path: string): Promise<void> {
  const status = await box.request(path, { via: 'app', method: 'POST', timeoutMs: 3000 });
  if (status !== 200) throw new FaultError(`the demo app did not accept ${path} (status ${status})`);
}

/** The repo's pm2 in the sandbox's PM2_HOME; extra variables (PORT…) are passed as environment, never as text. */
function pm2(box: Sandbox, args: string[], extraEnv: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(PM2_BIN, args, { env: { ...box.env, ...extraEnv }, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new FaultError(`pm2 ${args[0]} failed: ${String(stderr || stdout).trim().split('\n')[0] ?? ''}`, { cause: error }));
      else resolve();
    });
  });
}

/**
 * The line the kernel writes for an OOM kill of `pid` (`Out of memory: Killed process …`), with the process's real
 * sizes, stamped like `dmesg --time-format iso`. The benchmark's sandboxes write OOM kills to a file (simulated).
 */
async function oomLine(pid: number): Promise<(at: Date) => string> {
  const comm = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => 'node\n')).trim();
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return (at) =>
    `${at.toISOString().slice(0, 19)},${String(at.getUTCMilliseconds() * 1000).padStart(6, '0')}+00:00 ` +
    `Out of memory: Killed process ${pid} (${comm}) total-vm:${kb('VmSize')}kB, anon-rss:${kb('RssAnon')}kB, ` +
    `file-rss:${kb('RssFile')}kB, shmem-rss:${kb('RssShmem')}kB, UID:${process.getuid?.() ?? 0} pgtables:${kb('VmPTE')}kB oom_score_adj:0`;
}

async function oomKill(box: Sandbox, pid: number, line: (at: Date) => string): Promise<void> {
  const kernelLog = box.profile.kernelLog;
  if (!kernelLog) throw new FaultError('oom: the sandbox has no kernel log file; start it with oom: "simulated"');
  await appendFile(kernelLog, `${line(new Date())}\n`);
  process.kill(pid, 'SIGKILL');
}


/** Lines of pm2.log that record a start of the app (first start, restart, autorestart), after byte `offset`. */
export async function startsSince(box: Sandbox, offset: number): Promise<number> {
  const text = await readFile(join(box.pm2Home, 'pm2.log')).catch(() => Buffer.alloc(0));
  return text.subarray(offset).toString('utf8').match(/App \[web:\d+\] starting in/g)?.length ?? 0;
}

/** The current size of pm2.log: the offset to count starts from. */
export async function pm2LogSize(box: Sandbox): Promise<number> {
  return (await readFile(join(box.pm2Home, 'pm2.log')).catch(() => Buffer.alloc(0))).length;
}
