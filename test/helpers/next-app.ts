/**
 * The real Next.js app of the end-to-end tests (test/fixtures/next-app), built with `next build` (output:
 * 'standalone') once and cached by a hash of its sources and the installed next and react versions, under
 * <tmpdir>/reflex-next-app/<hash>/: outside the repository, so that a non-root PM2 user can read it wherever the
 * clone is (a clone under a private home directory is out of that user's reach).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, cp, lstat, mkdir, mkdtemp, readdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SOURCE = join(REPO, 'test', 'fixtures', 'next-app');
const CACHE = join(tmpdir(), 'reflex-next-app');
// Builds run outside node_modules (Turbopack compiles no JSX in files under a node_modules directory) but inside the
// repository: Next.js takes the repository (its lockfile) as the build's root, and that root must hold node_modules.
const SCRATCH = join(REPO, '.reflex-next-build');
const NEXT_BIN = join(REPO, 'node_modules', 'next', 'dist', 'bin', 'next');
/** Written into each cache entry before it is renamed into place: where server.js is, which next built it. */
const MANIFEST = 'reflex-next-app.json';
const BUILD_TIMEOUT_MS = 10 * 60_000;

/** A built standalone server, ready for `node <script>` (or PM2) with `cwd` as working directory. */
export interface NextServer {
  /** Absolute path of the standalone `server.js`. */
  readonly script: string;
  /** Its directory; holds `.next/BUILD_ID`, `.next/static` and `public`. */
  readonly cwd: string;
  /** The next version that built it, e.g. `16.4.6`. */
  readonly version: string;
  /** The content of `.next/BUILD_ID`. */
  readonly buildId: string;
}

export class NextAppBuildError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'NextAppBuildError';
  }
}

interface Manifest {
  /** server.js's directory inside the entry: Next.js keeps the app's path relative to the build root. */
  readonly app: string;
  readonly version: string;
}

const pending = new Map<string, Promise<NextServer>>();

/**
 * The app's standalone server, built now if the cache has no entry for the current sources and next version.
 * Safe to call from several processes at once: each builds in its own scratch directory and the first rename into
 * the cache wins; the others use the winner's entry.
 */
export async function nextServer(): Promise<NextServer> {
  const versions = { next: await packageVersion('next'), react: await packageVersion('react') };
  const key = await sourceHash(`next@${versions.next} react@${versions.react}`);
  let result = pending.get(key);
  if (!result) {
    const entry = join(CACHE, key);
    result = (async () => (await cached(entry)) ?? build(entry, versions.next))();
    pending.set(key, result);
    // A failed build must not stick: the next call tries again.
    result.catch(() => pending.delete(key));
  }
  return result;
}

async function packageVersion(name: string): Promise<string> {
  const file = join(REPO, 'node_modules', name, 'package.json');
  const text = await readFile(file, 'utf8').catch((error: unknown) => {
    throw new NextAppBuildError(`${file} is missing: run npm ci`, { cause: error });
  });
  return (JSON.parse(text) as { version: string }).version;
}

/** sha256 over every source file (path and content, in a stable order) and `salt`; 16 hex digits. */
async function sourceHash(salt: string): Promise<string> {
  const hash = createHash('sha256').update(salt).update('\0');
  for (const file of await sourceFiles(SOURCE)) {
    hash.update(relative(SOURCE, file)).update('\0').update(await readFile(file)).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

/** Build output someone left in the source directory (`next dev` there) is not source. */
function isSource(path: string): boolean {
  const name = basename(path);
  return name !== '.next' && name !== 'node_modules';
}

async function sourceFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (!isSource(path)) continue;
    if (entry.isDirectory()) files.push(...(await sourceFiles(path)));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}

/** The cache entry, or undefined when there is none (an entry only appears complete, by rename). */
async function cached(entry: string): Promise<NextServer | undefined> {
  const text = await readFile(join(entry, MANIFEST), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const manifest = JSON.parse(text) as Manifest;
  const cwd = join(entry, manifest.app);
  const buildId = (await readFile(join(cwd, '.next', 'BUILD_ID'), 'utf8')).trim();
  return { script: join(cwd, 'server.js'), cwd, version: manifest.version, buildId };
}

async function build(entry: string, version: string): Promise<NextServer> {
  await mkdir(SCRATCH, { recursive: true });
  const work = await mkdtemp(join(SCRATCH, `${basename(entry)}-`));
  try {
    const started = Date.now();
    await cp(SOURCE, work, { recursive: true, filter: isSource });
    await runNextBuild(work);
    const standalone = await assemble(work, version);
    const won = await publish(standalone, entry);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`next-app: next build took ${seconds} s; ${won ? 'cached in' : 'another process had already cached it in'} ${entry}`);
  } finally {
    await rm(work, { recursive: true, force: true });
    // Only when empty: another process may be building there.
    await rmdir(SCRATCH).catch(() => undefined);
  }
  const result = await cached(entry);
  if (!result) throw new NextAppBuildError(`${join(entry, MANIFEST)} is missing after the build`);
  return result;
}

function runNextBuild(dir: string): Promise<void> {
  // A test runner's NODE_OPTIONS and NODE_ENV must not reach the build.
  const { NODE_OPTIONS: _options, NODE_ENV: _env, ...inherited } = process.env;
  const env = { ...inherited, NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1' };
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [NEXT_BIN, 'build'],
      { cwd: dir, env, timeout: BUILD_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (!error) return resolve();
        const tail = `${stdout}\n${stderr}`.trim().split('\n').slice(-20).join('\n');
        reject(new NextAppBuildError(`next build failed in ${dir}:\n${tail}`, { cause: error }));
      },
    );
  });
}

/**
 * Completes `.next/standalone` as Next.js's docs say (it leaves out `.next/static` and `public`, which a CDN may
 * serve), writes the manifest, and makes it all readable by others: tests run PM2 as a non-root user on it.
 */
async function assemble(work: string, version: string): Promise<string> {
  const standalone = join(work, '.next', 'standalone');
  const app = relative(REPO, work);
  const appDir = join(standalone, app);
  await lstat(join(appDir, 'server.js')).catch((error: unknown) => {
    throw new NextAppBuildError(`next build wrote no ${join(appDir, 'server.js')}: is output 'standalone' set?`, { cause: error });
  });
  await cp(join(work, '.next', 'static'), join(appDir, '.next', 'static'), { recursive: true });
  await cp(join(work, 'public'), join(appDir, 'public'), { recursive: true });
  const manifest: Manifest = { app, version };
  await writeFile(join(standalone, MANIFEST), `${JSON.stringify(manifest)}\n`);
  await makeReadable(standalone);
  return standalone;
}

async function makeReadable(path: string): Promise<void> {
  const info = await lstat(path);
  if (info.isSymbolicLink()) return;
  if (!info.isDirectory()) return chmod(path, info.mode & 0o111 ? 0o755 : 0o644);
  await chmod(path, 0o755);
  for (const name of await readdir(path)) await makeReadable(join(path, name));
}

/**
 * Copies the finished build next to the cache entry (the cache may be on another file system than the repository),
 * then renames it into place; false when another process got there first (its entry stays).
 */
async function publish(standalone: string, entry: string): Promise<boolean> {
  await mkdir(CACHE, { recursive: true });
  await chmod(CACHE, 0o755);
  const part = await mkdtemp(`${entry}.part-`);
  await cp(standalone, part, { recursive: true, verbatimSymlinks: true });
  await chmod(part, 0o755);
  try {
    await rename(part, entry);
    return true;
  } catch (error) {
    await rm(part, { recursive: true, force: true });
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTEMPTY') return false;
    throw new NextAppBuildError(`cannot move the build to ${entry}`, { cause: error });
  }
}
