/** Rules for an app that is online but listens where nginx does not connect: another port, or another address. */
import type { Listener } from '../types.ts';
import { commonLines, deployLines, errorLines, hostPort, listenerLines, probeLines, quote, statusLine, upstreamText } from './evidence-text.ts';
import { defineRule, type DiagnosisRule } from './rule.ts';

/** The app listens, but not on the port nginx proxies to. */
export function portMismatchRule(): DiagnosisRule {
  return defineRule('port_mismatch', (evidence, facts) => {
    const listeners = facts.onlineListeners;
    const port = evidence.upstream.port;
    if (!listeners || listeners.length === 0 || listeners.some((listener) => listener.port === port)) return undefined;
    const name = evidence.app;
    const ports = portsText(listeners);
    const first = listeners[0]!;
    const envPort = facts.app?.port !== undefined && facts.app.port !== port ? ` (its PM2 env has PORT=${facts.app.port})` : '';
    return {
      summary: `nginx proxies to ${upstreamText(evidence.upstream)} but ${name} listens on ${ports}${envPort}.`,
      advice: [
        `Make the app listen where nginx proxies: set PORT=${port} in ${name}'s env in the ecosystem file, then \`pm2 startOrReload <ecosystem> --only ${name} --update-env\`.`,
        `Or point nginx at the app: \`proxy_pass http://${hostPort(evidence.upstream.host, first.port)};\`, then \`nginx -t && nginx -s reload\`.`,
        `A plain restart will not help: ${name} comes back on port ${ports}.`,
      ],
      evidence: commonLines(evidence, facts, listenerLines(evidence, listeners)),
    };
  });
}

/**
 * The app listens on the right port but on an address nginx does not connect to (127.0.0.2, ::1, the host's private
 * address), or only on half of those `localhost` resolves to.
 */
export function proxyMisconfigRule(): DiagnosisRule {
  return defineRule('proxy_misconfig', (evidence, facts) => {
    const { host, port } = evidence.upstream;
    const onPort = facts.upstreamListeners;
    if (onPort.length === 0 || facts.servesUpstream) return undefined;
    const name = evidence.app;
    const bound = onPort.map((listener) => hostPort(listener.address, listener.port));
    const isLocalhost = host.toLowerCase() === 'localhost';
    const summary = isLocalhost
      ? `nginx proxies to localhost:${port}, which resolves to both 127.0.0.1 and ::1, but ${name} listens only on ${bound.join(', ')}: connections to the other address are refused.`
      : `nginx proxies to ${upstreamText(evidence.upstream)} but ${name} listens only on ${bound.join(', ')}, so nginx's connections are refused.`;
    const wantsV6 = host.includes(':');
    const bindTo = wantsV6 ? '::1 (or ::)' : '127.0.0.1 (or 0.0.0.0)';
    const envHost = facts.app?.hostname !== undefined ? ` (its PM2 env has HOSTNAME=${quote(facts.app.hostname, 60)})` : '';
    const refused = errorLines(
      evidence,
      (entry) => entry.kind === 'connection_refused' && (entry.upstream === undefined || entry.upstream.includes(`:${port}`)),
    );
    return {
      summary,
      advice: [
        `${name} binds ${bound.join(', ')}; nginx connects to ${upstreamText(evidence.upstream)}. Next's standalone server binds the address in its HOSTNAME environment variable (0.0.0.0 when unset), and a login shell on RHEL or Amazon Linux exports HOSTNAME as the host's own name.`,
        `Bind the app where nginx connects: set HOSTNAME=${bindTo} in ${name}'s env in the ecosystem file${envHost}, then \`pm2 startOrReload <ecosystem> --only ${name} --update-env\`.`,
        `Or point nginx at the address the app binds: \`proxy_pass http://${bound[0]};\` instead of \`proxy_pass http://${upstreamText(evidence.upstream)};\`, then \`nginx -t && nginx -s reload\`.`,
        'A plain restart will not help: the app binds the same address again.',
      ],
      evidence: [statusLine(evidence, facts), ...listenerLines(evidence, onPort), ...refused, ...probeLines(evidence), ...deployLines(facts.recentDeploys)],
    };
  });
}

function portsText(listeners: Listener[]): string {
  return [...new Set(listeners.map((listener) => listener.port))].sort((a, b) => a - b).join(', ');
}
