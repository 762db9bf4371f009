/**
 * How the rules for an app that died say why, in the app's own words: what its error line means, what to do about
 * it, and the lines that prove it.
 */
import type { AppError, AppErrorKind, Evidence, EvidenceLine } from '../types.ts';
import { quote } from './evidence-text.ts';
import type { Facts } from './facts.ts';

/** What each kind of error line means, as the end of a sentence about the app. */
const MEANING: Readonly<Record<AppErrorKind, string>> = {
  port_in_use: 'another process already holds its port',
  missing_build: 'there is no production build in `.next` (a deploy skipped `next build`)',
  module_not_found: 'a module it requires is missing (a deploy skipped `npm ci`, or copied an incomplete build)',
  heap_exhausted: 'the V8 heap ran out of memory',
  disk_full: 'the disk is full',
  permission_denied: 'it was denied permission',
  uncaught_exception: 'an exception nobody caught',
};

/** Whether a restart can help: a missing build or module, a full disk or a denied permission come back the same way. */
export const RESTART_CANNOT_FIX: ReadonlySet<AppErrorKind> = new Set(['port_in_use', 'missing_build', 'module_not_found', 'disk_full', 'permission_denied']);

/** `its error output says \`Error: …\`: the V8 heap ran out of memory`. */
export function appErrorSentence(error: AppError): string {
  return `its error output says ${quote(error.text, 160)}: ${MEANING[error.kind]}`;
}

/** What to do about the error, naming the app, its directory and its port. */
export function appErrorAdvice(error: AppError, evidence: Evidence, facts: Facts): string {
  const name = evidence.app;
  const cwd = facts.app?.cwd ?? '<app directory>';
  switch (error.kind) {
    case 'port_in_use':
      return `Find what holds port ${evidence.upstream.port}: \`ss -tlnp 'sport = :${evidence.upstream.port}'\`; stop it if it is an old copy of ${name}, then \`pm2 restart ${name}\`.`;
    case 'missing_build':
      return `Build before starting: \`npm run build\` (next build) in ${cwd}, then \`pm2 restart ${name}\`; make the deploy fail when the build fails.`;
    case 'module_not_found':
      return `Install the dependencies: \`npm ci\` in ${cwd} (for a standalone build, copy the whole \`.next/standalone\` output), then \`pm2 restart ${name}\`.`;
    case 'heap_exhausted':
      return `Give the heap room or find the leak: raise \`node_args: '--max-old-space-size=<MB>'\` for ${name} (below the host's memory), set \`max_memory_restart\` a little below it so PM2 restarts it gracefully, and take a heap snapshot of the growing process (\`--heapsnapshot-signal=SIGUSR2\`).`;
    case 'disk_full':
      return `Free disk space: \`df -h\`, then rotate or remove old logs (\`pm2 flush\`, \`pm2 install pm2-logrotate\`), then \`pm2 restart ${name}\`.`;
    case 'permission_denied':
      return `Give ${name}'s user the permission it lacks: the file or directory named above, or for a port below 1024 a higher port behind nginx; then \`pm2 restart ${name}\`.`;
    case 'uncaught_exception':
      return `Fix the exception where its stack trace points (\`pm2 logs ${name} --err --lines 50\`); until then PM2 restarts it after each crash.`;
  }
}

/** The app's error line and the one or two before it, as evidence lines. */
export function appLines(evidence: Evidence, facts: Facts): EvidenceLine[] {
  return (facts.appError?.lines ?? []).map((line) => ({ source: 'app', at: line.at ?? evidence.snapshot.takenAt, text: line.text }));
}

/** `{ appError }` for a diagnosis of an app that died, when its output says why. */
export function appErrorField(facts: Facts): { appError?: AppError } {
  return facts.appError ? { appError: facts.appError.error } : {};
}
