import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultStatePath, FileStateStore } from '../../../functions/adapters/local/file-state-store.ts';
import { StateStoreError } from '../../../functions/core/incident.ts';
import { InputError } from '../../../functions/core/validate.ts';

const run = promisify(execFile);
const STORE_MODULE = fileURLToPath(new URL('../../../functions/adapters/local/file-state-store.ts', import.meta.url));
const ID = 'i-0123456789abcdef0';

describe('defaultStatePath', () => {
  it('uses XDG_STATE_HOME when it is absolute', () => {
    // Prepare
    const env = { XDG_STATE_HOME: '/var/state' };
    // Act
    const path = defaultStatePath(ID, env, '/home/ubuntu');
    // Assess
    expect(path).toBe(`/var/state/reflex/${ID}.json`);
  });

  it('falls back to ~/.local/state when XDG_STATE_HOME is unset or relative', () => {
    // Prepare
    const relative = { XDG_STATE_HOME: 'state' };
    // Act
    const paths = [defaultStatePath(ID, {}, '/home/ubuntu'), defaultStatePath(ID, relative, '/home/ubuntu')];
    // Assess
    expect(paths).toEqual([`/home/ubuntu/.local/state/reflex/${ID}.json`, `/home/ubuntu/.local/state/reflex/${ID}.json`]);
  });

  it('rejects an instance id that could leave the directory', () => {
    // Prepare
    const hostile = '../../etc/passwd';
    // Act
    const act = () => defaultStatePath(hostile, {}, '/home/ubuntu');
    // Assess
    expect(act).toThrow(InputError);
    expect(act).toThrow(/instanceId/);
  });
});

describe('FileStateStore', () => {
  let dir: string;
  let path: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reflex-file-state-'));
    path = join(dir, 'nested', `${ID}.json`);
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates its directory and leaves only the state file behind after writes', async () => {
    // Prepare
    const store = new FileStateStore(path);
    // Act
    await store.recordRestart(ID, new Date().toISOString());
    await store.claimEvent('evt-1', 60);
    // Assess
    expect(await readdir(join(dir, 'nested'))).toEqual([`${ID}.json`]);
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ version: 1, events: { 'evt-1': expect.any(String) } });
  });

  it('fails with an error naming the file when the state file is corrupt, and leaves it untouched', async () => {
    // Prepare
    const store = new FileStateStore(path);
    await store.recordRestart(ID, new Date().toISOString());
    await writeFile(path, '{"version":1,"restarts":');
    // Act
    const act = store.recordRestart(ID, new Date().toISOString());
    // Assess
    await expect(act).rejects.toThrow(StateStoreError);
    await expect(store.restarts(ID)).rejects.toThrow(`${path}: corrupt state file`);
    expect(await readFile(path, 'utf8')).toBe('{"version":1,"restarts":');
  });

  it('rejects a state file with the wrong shape, naming the field', async () => {
    // Prepare
    const store = new FileStateStore(path);
    await store.claimEvent('evt-1', 60);
    await writeFile(path, JSON.stringify({ version: 1, restarts: { [ID]: 'yesterday' } }));
    // Act
    const act = store.restarts(ID);
    // Assess
    await expect(act).rejects.toThrow(`restarts.${ID} must be a list of ISO times`);
  });

  it('writes the lock file with the owner and expiry inside', async () => {
    // Prepare
    const store = new FileStateStore(path, { clock: () => new Date('2026-11-24T10:00:00.000Z') });
    // Act
    await store.acquireLock(ID, 'evt-1', 60_000);
    // Assess
    expect(JSON.parse(await readFile(`${path}.lock`, 'utf8'))).toEqual({
      instanceId: ID,
      owner: 'evt-1',
      expiresAt: '2026-11-24T10:01:00.000Z',
    });
  });

  it('takes over a lock file left empty by a crash once it is old, not while it is fresh', async () => {
    // Prepare
    const store = new FileStateStore(path);
    await store.claimEvent('evt-0', 60);
    await writeFile(`${path}.lock`, '');
    // Act
    const fresh = await store.acquireLock(ID, 'evt-1', 60_000);
    const old = new Date(Date.now() - 60_000);
    await utimes(`${path}.lock`, old, old);
    const stale = await store.acquireLock(ID, 'evt-1', 60_000);
    // Assess
    expect([fresh, stale]).toEqual([false, true]);
  });

  it('removes a guard left behind by a crashed process', async () => {
    // Prepare
    const store = new FileStateStore(path);
    await store.claimEvent('evt-0', 60);
    await writeFile(`${path}.guard`, '12345');
    const old = new Date(Date.now() - 60_000);
    await utimes(`${path}.guard`, old, old);
    // Act
    const claimed = await store.claimEvent('evt-1', 60);
    // Assess
    expect(claimed).toBe(true);
  });

  it('refuses, with a clear error, to lock another instance in a file locked for one instance', async () => {
    // Prepare
    const store = new FileStateStore(path);
    await store.acquireLock(ID, 'evt-1', 60_000);
    // Act
    const act = store.acquireLock('i-0fedcba9876543210', 'evt-2', 60_000);
    // Assess
    await expect(act).rejects.toThrow(/use one state file per instance/);
  });

  it('holds the lock across processes', async () => {
    // Prepare: another Node process takes the lock through its own store.
    const script = [
      `import { FileStateStore } from ${JSON.stringify(STORE_MODULE)};`,
      `const store = new FileStateStore(${JSON.stringify(path)});`,
      `console.log(await store.acquireLock(${JSON.stringify(ID)}, 'other-process', 600000));`,
    ].join('\n');
    const child = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd() });
    const store = new FileStateStore(path);
    // Act
    const here = await store.acquireLock(ID, 'this-process', 60_000);
    await store.releaseLock(ID, 'this-process');
    const afterForeignRelease = await store.acquireLock(ID, 'this-process', 60_000);
    // Assess
    expect(child.stdout.trim()).toBe('true');
    expect([here, afterForeignRelease]).toEqual([false, false]);
  });
});
