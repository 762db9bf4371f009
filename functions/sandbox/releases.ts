/**
 * Bad releases of the app for the deploy faults: a copy of the app's directory as a deploy that skipped a step
 * leaves it. `modules`: no `npm ci` (no node_modules reachable, so server.js cannot load `next`). `build`: no
 * `next build` (no `.next`; node_modules linked to the app's own, so Next.js starts and finds no build).
 */
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, symlink } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { SandboxError } from './errors.ts';

/** The server a release runs, as the ecosystem file names it. */
export interface AppFiles {
  readonly script: string;
  readonly cwd: string;
}

/** Copies `app` into a fresh directory under `dir`/releases, without what the skipped step would have made. */
export async function badRelease(dir: string, app: AppFiles, skipped: 'modules' | 'build'): Promise<AppFiles> {
  const releases = join(dir, 'releases');
  await mkdir(releases, { recursive: true, mode: 0o755 });
  const release = await mkdtemp(join(releases, `${skipped === 'modules' ? 'no-npm-ci' : 'no-next-build'}-`));
  // The PM2 user runs it: the copy keeps the (readable) modes of the build, the new directory must be enterable too.
  await chmod(release, 0o755);
  const left = skipped === 'modules' ? 'node_modules' : '.next';
  await cp(app.cwd, release, { recursive: true, verbatimSymlinks: true, filter: (path) => basename(path) !== left });
  if (skipped === 'modules') {
    const reached = nodeModulesOf(release);
    if (reached) throw new SandboxError(`the release in ${release} still reaches next in ${reached}: give the sandbox a dir outside it`);
  } else {
    const modules = nodeModulesOf(app.cwd);
    if (!modules) throw new SandboxError(`no node_modules above ${app.cwd}: the app cannot start even with a build`);
    await symlink(modules, join(release, 'node_modules'));
  }
  return { script: join(release, relative(app.cwd, app.script)), cwd: release };
}

/** The nearest node_modules that Node's resolution would find from `dir`, or undefined. */
function nodeModulesOf(dir: string): string | undefined {
  for (let current = dir; ; current = dirname(current)) {
    const candidate = join(current, 'node_modules');
    if (existsSync(join(candidate, 'next'))) return candidate;
    if (dirname(current) === current) return undefined;
  }
}
