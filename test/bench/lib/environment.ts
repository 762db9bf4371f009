/**
 * What the figures were measured on: exact versions, the machine, its load. Printed and written with the results,
 * because a time to recover means little without them.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface Environment {
  readonly node: string;
  readonly kernel: string;
  readonly os: string;
  readonly cpus: string;
  readonly memoryGiB: number;
  /** Versions of the tools the benchmark ran; `not installed` when absent. */
  readonly tools: Readonly<Record<string, string>>;
  readonly loadAverage: { readonly atStart: readonly number[]; atEnd?: readonly number[] };
}

/** Runs a command and returns its combined output, or undefined when it cannot run. */
function output(file: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 10_000 }, (error, stdout, stderr) => {
      const text = `${String(stdout)}${String(stderr)}`.trim();
      resolve(error && text === '' ? undefined : text);
    });
  });
}

async function osName(): Promise<string> {
  const text = await readFile('/etc/os-release', 'utf8').catch(() => '');
  return /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(text)?.[1] ?? 'unknown';
}

/** The repo's pm2 version from its package.json: `pm2 --version` would spawn a daemon. */
async function pm2Version(): Promise<string> {
  const text = await readFile(`${REPO_ROOT}node_modules/pm2/package.json`, 'utf8').catch(() => '');
  return text ? `pm2 ${(JSON.parse(text) as { version: string }).version}` : 'not installed';
}

/** Versions of node, the kernel, nginx, pm2 and (when asked) monit, and the load average now. */
export async function describeEnvironment(options: { monit?: boolean } = {}): Promise<Environment> {
  const [nginx, pm2, monit, os] = await Promise.all([
    // nginx -v writes to stderr: `nginx version: nginx/1.22.1`.
    output('nginx', ['-v']).then((text) => text ?? output('/usr/sbin/nginx', ['-v'])),
    pm2Version(),
    options.monit ? output('monit', ['-V']) : Promise.resolve(undefined),
    osName(),
  ]);
  const cpuList = cpus();
  return {
    node: process.version,
    kernel: release(),
    os,
    cpus: `${cpuList.length} × ${cpuList[0]?.model.trim() ?? 'unknown'}`,
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    tools: {
      // `nginx version: nginx/1.22.1` → `nginx/1.22.1`; `This is Monit version 5.33.0` → `monit 5.33.0`.
      nginx: nginx?.split('\n')[0]?.replace(/^nginx version:\s*/, '') ?? 'not installed',
      pm2,
      ...(options.monit && { monit: monit?.split('\n')[0]?.replace(/^This is Monit version\s*/, 'monit ') ?? 'not installed' }),
    },
    loadAverage: { atStart: loadAverageNow() },
  };
}

/** 1, 5 and 15 minute load averages, two decimals. */
export function loadAverageNow(): number[] {
  return loadavg().map((value) => Math.round(value * 100) / 100);
}

/** Markdown bullet lines describing the environment. */
export function environmentLines(environment: Environment): string[] {
  const load = (values: readonly number[] | undefined): string => (values ? values.join(' / ') : '–');
  return [
    `- Node ${environment.node}, ${Object.values(environment.tools).join(', ')}`,
    `- ${environment.os}, kernel ${environment.kernel}, ${environment.cpus}, ${environment.memoryGiB} GiB`,
    `- Load average (1/5/15 min) at start ${load(environment.loadAverage.atStart)}, at end ${load(environment.loadAverage.atEnd)}`,
  ];
}
