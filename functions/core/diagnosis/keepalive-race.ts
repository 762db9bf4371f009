/** nginx reuses idle connections the app is closing: random 502s from a healthy app. */
import { configLines, errorLines, listenerLines, probeLines, statusLine, upstreamText } from './evidence-text.ts';
import { probeAnswered, timeOf } from './facts.ts';
import { defineRule, type DiagnosisRule } from './rule.ts';

/** nginx's default `keepalive_timeout` for upstream connections, seconds. */
const NGINX_DEFAULT_S = 60;
/** Node's default `server.keepAliveTimeout`, milliseconds. */
const NODE_DEFAULT_MS = 5_000;

/**
 * The app is up and answers, nginx keeps idle connections to it (`keepalive` in the upstream block) longer than the
 * app does, and nginx's error log shows connections closed or reset while it waited for the response header.
 */
export function keepaliveRaceRule(): DiagnosisRule {
  return defineRule('keepalive_race', (evidence, facts) => {
    const proxy = evidence.snapshot.proxy;
    if (!facts.onlineListeners || !facts.servesUpstream || !probeAnswered(evidence.snapshot.probes.upstream) || proxy?.keepalive === undefined) return undefined;
    const closed = (kind: string): boolean => kind === 'premature_close' || kind === 'connection_reset';
    const inWindow = (at: string): boolean => (timeOf(at) ?? 0) >= facts.startMs;
    const races = evidence.errorLog.filter((entry) => closed(entry.kind) && inWindow(entry.at));
    if (races.length === 0) return undefined;
    const nginxS = proxy.keepaliveTimeoutSeconds ?? NGINX_DEFAULT_S;
    const appMs = facts.app?.keepAliveTimeoutMs ?? NODE_DEFAULT_MS;
    // An app that keeps idle connections longer than nginx does is not racing it: something else closes them.
    if (appMs >= nginxS * 1000) return undefined;
    const name = evidence.app;
    const set = facts.app?.keepAliveTimeoutMs !== undefined;
    const appText = set
      ? `${seconds(appMs)} (KEEP_ALIVE_TIMEOUT=${appMs} in its PM2 env, milliseconds)`
      : `${seconds(appMs)} (Node's default server.keepAliveTimeout; KEEP_ALIVE_TIMEOUT is not set)`;
    const nginxText = `${nginxS} s${proxy.keepaliveTimeoutSeconds === undefined ? " (nginx's default keepalive_timeout)" : ' (keepalive_timeout in the upstream block)'}`;
    const below = Math.floor(appMs / 1000) - 1;
    const advice = [
      `nginx keeps idle connections to ${upstreamText(evidence.upstream)} open for ${nginxText}; ${name} closes them after ${appText}, and Node closes an idle connection about 1 s after its keep-alive timeout. A request nginx sends on a connection the app is closing fails with a 502.`,
      below >= 1
        ? `Fix it in nginx: \`keepalive_timeout ${below}s;\` in the \`upstream\` block (below ${name}'s ${seconds(appMs)}), then \`nginx -t && nginx -s reload\`.`
        : `nginx cannot go below ${name}'s ${seconds(appMs)}: raise the app's timeout instead.`,
      `Or fix it in the app: KEEP_ALIVE_TIMEOUT=${(nginxS + 5) * 1000} in ${name}'s env (milliseconds, above nginx's ${nginxS} s; \`next start --keepAliveTimeout ${(nginxS + 5) * 1000}\` for next start), then \`pm2 startOrReload <ecosystem> --only ${name} --update-env\`.${set && appMs < 1000 ? ` KEEP_ALIVE_TIMEOUT=${appMs} means ${appMs} ms, not ${appMs} s.` : ''}`,
      'A restart will not help: the timeouts stay the same.',
    ];
    return {
      summary: `${name} is up and answers, but nginx reuses idle connections (upstream keepalive ${proxy.keepalive}, ${nginxS} s) that ${name} closes after ${seconds(appMs)}: ${races.length} request${races.length === 1 ? '' : 's'} hit a closed or reset connection (502).`,
      advice,
      evidence: [
        statusLine(evidence, facts),
        ...configLines(evidence, /^keepalive(_timeout)? /),
        ...errorLines(evidence, (entry) => closed(entry.kind)),
        ...listenerLines(evidence, facts.upstreamListeners),
        ...probeLines(evidence),
      ],
    };
  });
}

/** `5 s`, `5 ms`, `65 s`, `1.5 s`. */
function seconds(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  return `${Number((ms / 1000).toFixed(1))} s`;
}
