/** Rules for an app that listens where nginx connects but does not answer in time: slow routes, or hung. */
import { commonLines, deployLines, errorLines, listenerLines, probeLines, quote, statusLine, upstreamText } from './evidence-text.ts';
import { probeAnswered, timeOf } from './facts.ts';
import type { EvidenceLine, ListenerSample, ProbeResult } from '../types.ts';
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

/**
 * CPU share (of one core) from which a silent event loop is called spinning rather than blocked. A spinning loop
 * shows ~100 % on an idle machine, less on a busy one (62 % measured with the benchmark running beside it); one
 * blocked in a wait shows ~0 %.
 */
const SPINNING_CPU_PERCENT = 50;

/** The app is online and listens where nginx connects, but does not answer: hung. */
export function appHungRule(): DiagnosisRule {
  return defineRule('app_hung', (evidence, facts) => {
    const right = facts.upstreamListeners;
    if (right.length === 0 || !facts.servesUpstream) return undefined;
    const probe = evidence.snapshot.probes.upstream;
    const silent = probe !== undefined && probe.status === 0 && (probe.error === 'timeout' || probe.error === 'empty_reply' || probe.error === 'reset');
    if (!silent) return undefined;
    const name = evidence.app;
    const pid = facts.app?.pid ? String(facts.app.pid) : '<pid>';
    const stalled = stalledLoop(probe);
    const restart = `Restart it now: \`pm2 restart ${name}\`.`;
    const capture = `Next time, capture what it was doing before the restart: start node with \`--heapsnapshot-signal=SIGUSR2\` and run \`kill -USR2 ${pid}\`, or take a CPU profile (\`--cpu-prof\`).`;
    if (stalled) {
      const { cpuPercent, windowMs } = stalled;
      const spinning = cpuPercent >= SPINNING_CPU_PERCENT;
      return {
        summary:
          `${name} is online and listens on ${upstreamText(evidence.upstream)} but does not answer: in ${windowMs} ms its event loop did not even read the probe's request ` +
          `(no read or write call) ${spinning ? `while it spun at ${cpuPercent} % of a core` : `and it used ${cpuPercent} % of a core, blocked in a wait`}: it is hung.`,
        advice: [
          restart,
          capture,
          spinning
            ? 'A spinning event loop is synchronous code that does not end: an endless loop, a pathological regex (catastrophic backtracking), huge JSON or crypto work in a request handler; measure it with `perf_hooks.monitorEventLoopDelay`.'
            : 'An event loop blocked without CPU waits in a synchronous call: `Atomics.wait`, `execSync`/`spawnSync`, sync fs on a slow or network disk, a native addon; look for event-loop blocking with `perf_hooks.monitorEventLoopDelay`.',
        ],
        evidence: commonLines(evidence, facts, [...listenerLines(evidence, right), stalledLine(probe, stalled)]),
      };
    }
    const how = probe.error === 'timeout' ? `timed out after ${Math.round(probe.timeMs)} ms` : `got ${probe.error === 'reset' ? 'a reset' : 'an empty reply'}`;
    return {
      summary: `${name} is online and listens on ${upstreamText(evidence.upstream)} but does not answer (the upstream probe ${how}): it is hung.`,
      advice: [
        restart,
        capture,
        'Look for event-loop blocking: synchronous work in request handlers (huge JSON, sync fs, crypto, pathological regexes); measure it with `perf_hooks.monitorEventLoopDelay`.',
      ],
      evidence: commonLines(evidence, facts, listenerLines(evidence, right)),
    };
  });
}

/**
 * The snapshot's proof that the event loop does not turn: its short first try timed out and the processes on the
 * port made no read or write call meanwhile (a turning loop reads the probe's request). With any call, the snapshot
 * tried again with the full timeout, and the rule reads that answer, or that timeout, as it always did.
 */
function stalledLoop(probe: ProbeResult): ListenerSample | undefined {
  const sample = probe.listener;
  return probe.error === 'timeout' && sample !== undefined && sample.ioCalls === 0 ? sample : undefined;
}

function stalledLine(probe: ProbeResult, sample: ListenerSample): EvidenceLine {
  return { source: 'probe', at: probe.at, text: `processes on the port during the probe: CPU ${sample.cpuPercent} % of a core, ${sample.ioCalls} read/write calls in ${sample.windowMs} ms` };
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
