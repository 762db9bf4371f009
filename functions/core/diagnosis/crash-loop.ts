/** The app dies right after each start. */
import type { Pm2LogEvent } from '../types.ts';
import { appErrorAdvice, appErrorField, appErrorSentence, appLines } from './app-error.ts';
import { clock, deployLines, errorLines, eventLine, probeLines, statusLine } from './evidence-text.ts';
import { stoppedOnPurpose, timeOf, type Facts } from './facts.ts';
import { defineRule, type DiagnosisRule } from './rule.ts';

const CRASH_LOOP_WINDOW_MS = 5 * 60_000;
/** An exit this soon after `online` is a crash at start-up. */
const QUICK_EXIT_MS = 10_000;
const QUICK_EXITS_FOR_LOOP = 3;
/** A build this long before the loop's first crash may be the deploy that broke it; a trailing BUILD_ID mtime still counts. */
const DEPLOY_LOOKBACK_MS = 15 * 60_000;
const DEPLOY_TRAIL_MS = 60_000;

/** The app dies right after each start: PM2 gave up (errored), is about to retry, or pm2.log shows quick exits. */
export function crashLoopRule(): DiagnosisRule {
  return defineRule('crash_loop', (evidence, facts) => {
    const app = facts.app;
    if (!app) return undefined;
    const retrying = (app.status === 'launching' || app.status === 'waiting restart') && app.unstableRestarts >= 2;
    const quick = quickExits(facts);
    const gaveUp = facts.events.filter((event) => event.kind === 'errored').slice(-1);
    // `errored` alone is also what a script that fails once to launch shows: process_crashed. It is a loop when
    // PM2 says it gave up after unstable restarts, or pm2.log shows the quick exits.
    const looped = gaveUp.length > 0 || quick.length >= QUICK_EXITS_FOR_LOOP;
    if (!retrying && !looped) return undefined;
    const name = evidence.app;
    const summary =
      app.status === 'errored'
        ? `${name} is in a crash loop: PM2 gave up restarting it and marked it errored after ${app.restartTime} restarts`
        : retrying
          ? `${name} is in a crash loop: PM2 is restarting it again (${app.unstableRestarts} unstable restarts, status ${app.status})`
          : `${name} is in a crash loop: it exited ${quick.length} times within seconds of starting in the last 5 minutes`;
    // Every deploy marker, not only those just before the first gateway error.
    const deploys = facts.deploys;
    const deployAdvice =
      deploys.length > 0
        ? `Look at the last deploy (${deploys.map((marker) => marker.text).join('; ')}): roll back if it broke the app.`
        : 'Look at what changed last (deploy, ecosystem env, .env files, a dependency such as the database).';
    const error = facts.appError?.error;
    const deploy = error ? deployBefore(facts) : undefined;
    const why = error ? `: ${appErrorSentence(error)}${deploy ? `, since ${deploy.text}` : ''}` : '';
    const specific = [...quick.slice(-3).map(eventLine), ...gaveUp.map(eventLine), ...deployLines(deploys), ...appLines(evidence, facts)];
    return {
      summary: `${summary}${why}.`,
      advice: [
        error ? appErrorAdvice(error, evidence, facts) : `Read why it dies: \`pm2 logs ${name} --err --lines 50\`.`,
        deployAdvice,
        `Do not restart it again until the cause is fixed: it dies the same way each time. Then \`pm2 restart ${name}\`.`,
      ],
      evidence: [statusLine(evidence, facts), ...specific, ...errorLines(evidence), ...probeLines(evidence)],
      ...appErrorField(facts),
    };
  });
}

/**
 * The deploy that came just before the loop: a `.next/BUILD_ID` change up to 15 minutes before the loop's first
 * crash, else the PM2 start that preceded that crash (a `pm2 restart` or `reload` by the deploy).
 */
function deployBefore(facts: Facts): { text: string } | undefined {
  const firstCrash = facts.events.find((event) => event.kind === 'exited' && !stoppedOnPurpose(facts, event));
  const loopMs = timeOf(firstCrash?.at) ?? facts.endMs;
  const build = facts.deploys
    .filter((marker) => marker.text.startsWith('.next/BUILD_ID'))
    .find((marker) => {
      const ms = timeOf(marker.at);
      return ms !== undefined && ms <= loopMs + DEPLOY_TRAIL_MS && ms >= loopMs - DEPLOY_LOOKBACK_MS;
    });
  if (build) return { text: `the deploy at ${clock(build.at)} (.next/BUILD_ID changed)` };
  const index = firstCrash ? facts.events.indexOf(firstCrash) : -1;
  const start = facts.events.slice(0, Math.max(0, index)).findLast((event) => event.kind === 'starting' || event.kind === 'online');
  return start ? { text: `PM2 started it at ${clock(start.at)}` } : undefined;
}

/** `exited` events of the last 5 minutes that came less than 10 s after the preceding `online`, not asked for. */
function quickExits(facts: Facts): Pm2LogEvent[] {
  const quick: Pm2LogEvent[] = [];
  let onlineMs: number | undefined;
  for (const event of facts.events) {
    const ms = timeOf(event.at);
    if (event.kind === 'online') onlineMs = ms;
    if (event.kind !== 'exited' || ms === undefined) continue;
    // An exit that follows `pm2 stop`/`restart`/`delete` was asked for: a deploy, an operator, Reflex itself.
    const quickly = onlineMs !== undefined && ms - onlineMs < QUICK_EXIT_MS;
    if (ms >= facts.endMs - CRASH_LOOP_WINDOW_MS && quickly && !stoppedOnPurpose(facts, event)) quick.push(event);
    onlineMs = undefined;
  }
  return quick;
}
