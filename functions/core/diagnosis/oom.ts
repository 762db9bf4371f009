/** The kernel's OOM killer killed the app. */
import type { Evidence, OomKill, Pm2LogEvent } from '../types.ts';
import { appErrorField, appLines } from './app-error.ts';
import { clock, commonLines, eventLine, megabytes, oomLine } from './evidence-text.ts';
import { isNodeProcess, probeOk, timeOf, type Facts } from './facts.ts';
import { defineRule, type DiagnosisRule } from './rule.ts';

/** OOM kills shortly before the window still explain it: the alarm lags the kill. */
const OOM_LOOKBACK_MS = 60_000;
/** How close PM2's `exited … via signal [SIGKILL]` must be to the kernel's kill to be the same event. */
const OOM_EXIT_TOLERANCE_MS = 10_000;

/** The kernel's OOM killer killed the app (whatever PM2 did afterwards). */
export function oomKilledRule(): DiagnosisRule {
  return defineRule('oom_killed', (evidence, facts) => {
    const app = facts.app;
    if (!app) return undefined;
    const found = appOomKill(evidence, facts);
    if (!found) return undefined;
    const { kill, exit } = found;
    const down = app.status !== 'online';
    // Back online since the kill, yet users still get errors (a failing probe, timeouts since): the kill is
    // history, something else is wrong now.
    const timeoutsSince = evidence.errorLog.some((entry) => entry.kind === 'upstream_timeout' && kill.at !== undefined && entry.at > kill.at);
    if (!down && (!probeOk(evidence.snapshot.probes.nginx) || timeoutsSince)) return undefined;
    const state = down ? `it is still down (PM2 status ${app.status})` : 'PM2 brought it back and it is online';
    const rss = kill.anonRssKb !== undefined ? `, ${megabytes(kill.anonRssKb)} resident` : '';
    const summary = `The kernel's OOM killer killed ${evidence.app} (${kill.process}, pid ${kill.pid}${rss}) at ${clock(kill.at)}; ${state}.`;
    const memory = evidence.snapshot.memory;
    const host = memory ? ` on a host with ${megabytes(memory.totalKb)} of memory (${megabytes(memory.availableKb)} available now)` : '';
    const limit = kill.anonRssKb !== undefined ? `${Math.max(1, Math.floor((kill.anonRssKb * 0.8) / 1024))}M` : '<80% of the size at the kill>';
    const advice = [
      kill.anonRssKb !== undefined
        ? `The kernel killed it with ${megabytes(kill.anonRssKb)} of anonymous memory (anon-rss:${kill.anonRssKb}kB)${host}.`
        : `The kernel killed it${host}; the kernel line does not say how big it was.`,
      `Set \`max_memory_restart: '${limit}'\` for ${evidence.app} in the ecosystem file so PM2 restarts it gracefully before the kernel kills it.`,
      'Cap the V8 heap below what the host can spare (`node_args: \'--max-old-space-size=<MB>\'`), and look for a leak if memory grows steadily.',
      'If the app really needs this much memory, move to a larger instance size (or run fewer processes on this one).',
    ];
    // A kernel kill leaves the app no time to write anything: only an error line stamped after the window began is
    // about this death (an unstamped one may be days old).
    const own = facts.appError?.stamped && (timeOf(facts.appError.error.at) ?? 0) >= facts.startMs ? facts : undefined;
    const specific = [oomLine(kill, evidence), ...(exit ? [eventLine(exit)] : []), ...(own ? appLines(evidence, own) : [])];
    return { summary, advice, evidence: commonLines(evidence, facts, specific), ...(own && appErrorField(own)) };
  });
}

/**
 * The latest OOM kill of a node/next-server process that is the app's: its pid is one of the app's, or PM2 saw
 * the app die by SIGKILL within seconds of it. A kill without a time counts only by pid.
 */
function appOomKill(evidence: Evidence, facts: Facts): { kill: OomKill; exit?: Pm2LogEvent } | undefined {
  const since = facts.startMs - OOM_LOOKBACK_MS;
  const sigkills = facts.events.filter((event) => event.kind === 'exited' && event.signal === 'SIGKILL');
  for (const kill of evidence.oomKills.toReversed()) {
    if (!isNodeProcess(kill.process)) continue;
    const killMs = timeOf(kill.at);
    if (killMs !== undefined && killMs < since) continue;
    const exit =
      killMs === undefined ? undefined : sigkills.find((event) => Math.abs((timeOf(event.at) ?? Number.NaN) - killMs) <= OOM_EXIT_TOLERANCE_MS);
    if (facts.pids.has(kill.pid) || exit) return { kill, ...(exit && { exit }) };
  }
  return undefined;
}
