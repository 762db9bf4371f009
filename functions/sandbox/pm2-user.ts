/**
 * A PM2 that runs as a user of its own, as on a host deployed with `pm2 startup`: a fresh system user made for one
 * sandbox, who owns PM2_HOME and the app, and is deleted again on stop.
 */
import { randomBytes } from 'node:crypto';
import { chmod, chown, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SandboxError } from './errors.ts';
import { firstLine, killAndWait, run, sleep } from './processes.ts';

export class Pm2User {
  /** The user's name, once made; set first, so that `remove()` works even if what follows it failed. */
  name: string | undefined;
  #owner: { uid: number; gid: number } | undefined;

  /** @param home the user's home, where its PM2_HOME (`.pm2`) lives. */
  constructor(private readonly home: string) {}

  /** Makes the user with useradd (root only) and checks that it can run `pm2Bin`. */
  async create(pm2Bin: string): Promise<void> {
    if (process.getuid?.() !== 0) throw new SandboxError('pm2AsUser needs root: it makes a user with useradd');
    for (let attempt = 0; attempt < 20; attempt++) {
      const name = `reflex-${randomBytes(4).toString('hex')}`;
      const made = await run('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', this.home, '--shell', '/bin/sh', name]);
      if (made.code === 0) {
        this.name = name;
        this.#owner = await idsOf(name);
        const reach = await run('runuser', ['-u', name, '--', 'test', '-x', pm2Bin]);
        if (reach.code !== 0) {
          throw new SandboxError(`the PM2 user cannot run ${pm2Bin}: install pm2 globally (npm install -g pm2), or keep the repository where other users can read it`);
        }
        return;
      }
      // 9: the name is taken (try another); 1 and 10: /etc/passwd or /etc/group is locked by another useradd.
      if (![1, 9, 10].includes(made.code)) throw new SandboxError(`useradd failed: ${firstLine(made.stderr)}`);
      await sleep(100 + attempt * 50);
    }
    throw new SandboxError('useradd failed 20 times: /etc/passwd stayed locked');
  }

  /** Gives `paths` to the user, then makes its home private, as Ubuntu makes homes (root still reads it). */
  async own(paths: readonly string[]): Promise<void> {
    const owner = this.#owner;
    if (!owner) return;
    for (const path of paths) await chown(path, owner.uid, owner.gid);
    await chmod(this.home, 0o750);
  }

  /**
   * Ends what still runs as the user with this PM2_HOME: a daemon that something (a host script, a test) spawned
   * after the one stop() knew of. Otherwise it would outlive the sandbox, and keep userdel from working.
   */
  async stopLeftovers(pm2Home: string): Promise<void> {
    const owner = this.#owner;
    if (!owner) return;
    const marker = `PM2_HOME=${pm2Home}\0`;
    for (const entry of await readdir('/proc').catch(() => [] as string[])) {
      const pid = Number(entry);
      if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) continue;
      const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
      if (Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? -1) !== owner.uid) continue;
      const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
      if (environ.includes(marker)) await killAndWait(pid);
    }
  }

  /** Removes the user once its processes are gone (userdel refuses while one runs, and while /etc/passwd is locked). */
  async remove(): Promise<void> {
    const name = this.name;
    if (!name) return;
    for (let attempt = 0; attempt < 20; attempt++) {
      const removed = await run('userdel', attempt < 19 ? [name] : ['--force', name]);
      // 6: no such user (already removed).
      if (removed.code === 0 || removed.code === 6) return;
      await sleep(100 + attempt * 50);
    }
  }
}

/** A directory and everything under it. */
export async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return [dir, ...entries.map((entry) => join(dir, entry))];
}

/** A user's uid and gid, from the passwd database. */
async function idsOf(name: string): Promise<{ uid: number; gid: number }> {
  const entry = (await run('getent', ['passwd', name])).stdout.trim().split(':');
  const uid = Number(entry[2]);
  const gid = Number(entry[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new SandboxError(`getent passwd ${name}: no such user`);
  return { uid, gid };
}
