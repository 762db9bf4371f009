/**
 * Kernel OOM kills for the sandbox's app: real, through a small memory cgroup, when this process may make one
 * (root with a writable memory controller, and a readable dmesg); else simulated, by writing the line the kernel
 * would write to a kernel log file and sending the kernel's SIGKILL.
 */
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SandboxError } from './errors.ts';
import { isAlive, run, until } from './processes.ts';

/** The memory cgroup limit: small, so the kernel kills the leaking app within a second. */
const OOM_LIMIT_BYTES = 64 * 1024 * 1024;

interface CgroupPlan {
  readonly version: 1 | 2;
  readonly root: string;
}

export class OomKiller {
  #plan: CgroupPlan | undefined;
  /** The cgroup made for a kill, removed on `cleanup()`. */
  #cgroupDir: string | undefined;

  /** How `kill()` will kill: `simulated` until `prepare()` finds a memory cgroup. */
  get mode(): 'cgroup' | 'simulated' {
    return this.#plan ? 'cgroup' : 'simulated';
  }

  /** Looks for a memory cgroup to use; `simulated` never looks. */
  async prepare(option: 'auto' | 'simulated'): Promise<void> {
    this.#plan = option === 'simulated' ? undefined : await findCgroup();
  }

  /**
   * Kills `pid` as the kernel does when memory runs out. `leak` makes the app allocate without bound (cgroup mode);
   * `kernelLog` is the file the simulated kill writes its line to.
   */
  async kill(pid: number, leak: () => Promise<void>, kernelLog: string | undefined): Promise<void> {
    if (this.#plan) await this.#killInCgroup(this.#plan, pid, leak);
    else await killSimulated(pid, kernelLog);
  }

  /** Removes the cgroup of a kill, once the kernel has emptied it. */
  async cleanup(): Promise<void> {
    const cgroup = this.#cgroupDir;
    if (!cgroup) return;
    await until('the sandbox cgroup to empty', 5000, async () => rmdir(cgroup).then(() => true, () => false)).catch(() => undefined);
  }

  /** A real kernel OOM kill: the app moves into a small memory cgroup, then allocates until the kernel kills it. */
  async #killInCgroup(plan: CgroupPlan, pid: number, leak: () => Promise<void>): Promise<void> {
    const dir = join(plan.root, `reflex-sandbox-${process.pid}-${pid}`);
    await mkdir(dir);
    this.#cgroupDir = dir;
    if (plan.version === 1) {
      await writeFile(join(dir, 'memory.limit_in_bytes'), String(OOM_LIMIT_BYTES));
      // With swap, the cgroup would swap instead of killing.
      await writeFile(join(dir, 'memory.memsw.limit_in_bytes'), String(OOM_LIMIT_BYTES)).catch(() => undefined);
    } else {
      await writeFile(join(dir, 'memory.max'), String(OOM_LIMIT_BYTES));
      await writeFile(join(dir, 'memory.swap.max'), '0').catch(() => undefined);
    }
    await writeFile(join(dir, 'cgroup.procs'), String(pid));
    await leak();
    await until('the kernel to kill the app', 15_000, async () => !(await isAlive(pid)));
    const pattern = new RegExp(`Killed process ${pid} `);
    await until('the OOM kill in dmesg', 5000, async () => pattern.test((await run('dmesg', ['--time-format', 'iso'])).stdout));
  }
}

/** Without a writable memory cgroup: the line the kernel would write, then the kernel's SIGKILL. */
async function killSimulated(pid: number, kernelLog: string | undefined): Promise<void> {
  if (!kernelLog) throw new SandboxError('no kernel log file in the profile');
  const comm = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => 'node\n')).trim();
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  const line =
    `${dmesgStamp(new Date())} Out of memory: Killed process ${pid} (${comm}) total-vm:${kb('VmSize')}kB, ` +
    `anon-rss:${kb('RssAnon')}kB, file-rss:${kb('RssFile')}kB, shmem-rss:${kb('RssShmem')}kB, UID:${process.getuid?.() ?? 0} ` +
    `pgtables:${kb('VmPTE')}kB oom_score_adj:0`;
  await appendFile(kernelLog, `${line}\n`);
  process.kill(pid, 'SIGKILL');
}

/** A memory cgroup this process may create children in, or undefined (then kills are simulated). */
async function findCgroup(): Promise<CgroupPlan | undefined> {
  if ((await run('dmesg', ['--time-format', 'iso'])).code !== 0) return undefined;
  const candidates: CgroupPlan[] = [];
  if (existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes')) candidates.push({ version: 1, root: '/sys/fs/cgroup/memory' });
  const controllers = await readFile('/sys/fs/cgroup/cgroup.subtree_control', 'utf8').catch(() => '');
  if (controllers.split(/\s+/).includes('memory')) candidates.push({ version: 2, root: '/sys/fs/cgroup' });
  for (const plan of candidates) {
    const probe = join(plan.root, `reflex-probe-${process.pid}-${Date.now()}`);
    const ok = await mkdir(probe).then(
      async () => {
        const limitFile = join(probe, plan.version === 1 ? 'memory.limit_in_bytes' : 'memory.max');
        const writable = await stat(limitFile).then(
          () => writeFile(limitFile, String(OOM_LIMIT_BYTES)).then(() => true, () => false),
          () => false,
        );
        await rmdir(probe).catch(() => undefined);
        return writable;
      },
      () => false,
    );
    if (ok) return plan;
  }
  return undefined;
}

/** The timestamp `dmesg --time-format iso` prints: `2026-11-24T10:00:00,123456+00:00`. */
function dmesgStamp(at: Date): string {
  return `${at.toISOString().slice(0, 19)},${String(at.getUTCMilliseconds() * 1000).padStart(6, '0')}+00:00`;
}
