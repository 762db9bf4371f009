/** Rules for an app that listens where nginx connects but does not answer in time: slow routes, or hung. */
import { commonLines, deployLines, errorLines, listenerLines, probeLines, quote, statusLine, upstreamText } from './evidence-text.ts';
import { probeAnswered, timeOf } from './facts.ts';
import { defineRule, type DiagnosisRule } from './rule.ts';

/** nginx's default proxy_read_timeout. */
const DEFAULT_READ_TIMEOUT_S = 60;
const MAX_SLOW_REQUESTS = 3;

/** The app answers, but some requests outlast proxy_read_timeout and nginx answers 504. */
export function upstreamTimeoutRule(): DiagnosisRule {
  return defineRule('upstream_timeout', (evidence, facts) => {
    if (!facts.onlineListeners) return undefined;
    const inWindow = (at: string): boolean => {
      const ms = timeOf(at);
      return ms !== undefined && ms >= facts.startMs && ms <= facts.endMs;
    };
    const timeouts = evidence.errorLog.filter((entry) => entry.kind === 'upstream_timeout' && inWindow(entry.at));
    const gateway504 = evidence.access.filter((entry) => entry.status === 504 && inWindow(entry.at));
    const upstreamProbe = evidence.snapshot.probes.upstream;
    if ((timeouts.length === 0 && gateway504.length === 0) || !probeAnswered(upstreamProbe)) return undefined;
    const name = evidence.app;
    const readTimeout = evidence.snapshot.proxy?.readTimeoutSeconds ?? DEFAULT_READ_TIMEOUT_S;
    const count = Math.max(timeouts.length, gateway504.length);
    const slow = slowRequests([...timeouts.map((entry) => entry.request), ...(timeouts.length === 0 ? gateway504.map((entry) => entry.request) : [])]);
    const slowText = slow.length > 0 ? slow.map(({ request, count: n }) => `${quote(request)} (${n}×)`).join(', ') : 'not named in the logs';
    const probeAnswer = `HTTP ${upstreamProbe!.status} in ${Math.round(upstreamProbe!.timeMs)} ms`;
    return {
      summary: `${name} is up but too slow: ${count} request${count === 1 ? '' : 's'} outlasted proxy_read_timeout (${readTimeout} s) and nginx answered 504, while the app still answers (${probeAnswer}).`,
      advice: [
        `Slow requests: ${slowText}.`,
        'Make them faster: cache or pre-render them (ISR with `revalidate`), move long work to a background job, and profile the route (`node --cpu-prof`).',
        `If they are legitimately slow, raise \`proxy_read_timeout\` (now ${readTimeout} s) for those routes only, in their own \`location\` block.`,
        'Reflex does not restart for this: a restart would drop in-flight requests and not make the routes faster.',
      ],
      evidence: [
        statusLine(evidence, facts),
        ...errorLines(evidence, (entry) => entry.kind === 'upstream_timeout'),
        ...probeLines(evidence),
        ...deployLines(facts.recentDeploys),
      ],
    };
  });
}

/** The app is online and listens where nginx connects, but does not answer: hung. */
export function appHungRule(): DiagnosisRule {
  return defineRule('app_hung', (evidence, facts) => {
    const right = facts.upstreamListeners;
    if (right.length === 0 || !facts.servesUpstream) return undefined;
    const probe = evidence.snapshot.probes.upstream;
    const silent = probe !== undefined && probe.status === 0 && (probe.error === 'timeout' || probe.error === 'empty_reply' || probe.error === 'reset');
    if (!silent) return undefined;
    const name = evidence.app;
    const how = probe.error === 'timeout' ? `timed out after ${Math.round(probe.timeMs)} ms` : `got ${probe.error === 'reset' ? 'a reset' : 'an empty reply'}`;
    const pid = facts.app?.pid ? String(facts.app.pid) : '<pid>';
    return {
      summary: `${name} is online and listens on ${upstreamText(evidence.upstream)} but does not answer (the upstream probe ${how}): it is hung.`,
      advice: [
        `Restart it now: \`pm2 restart ${name}\`.`,
        `Next time, capture what it was doing before the restart: start node with \`--heapsnapshot-signal=SIGUSR2\` and run \`kill -USR2 ${pid}\`, or take a CPU profile (\`--cpu-prof\`).`,
        'Look for event-loop blocking: synchronous work in request handlers (huge JSON, sync fs, crypto, pathological regexes); measure it with `perf_hooks.monitorEventLoopDelay`.',
      ],
      evidence: commonLines(evidence, facts, listenerLines(evidence, right)),
    };
  });
}

/** The requests named most often, most first. */
function slowRequests(requests: (string | undefined)[]): { request: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const request of requests) if (request) counts.set(request, (counts.get(request) ?? 0) + 1);
  return [...counts.entries()]
    .map(([request, count]) => ({ request, count }))
    .sort((a, b) => b.count - a.count)
    .slice(0, MAX_SLOW_REQUESTS);
}
