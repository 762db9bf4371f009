/** The diagnosis when no rule matched: what was seen, and where to look. */
import type { Diagnosis, Evidence, ProbeResult, UpstreamErrorKind } from '../types.ts';
import { accessLines, clock, commonLines, listenerLines, oomLine, quote, upstreamText } from './evidence-text.ts';
import { factsOf, type Facts } from './facts.ts';

/** The diagnosis when no rule matched: the app's state, the probes and nginx's errors in one sentence, and where to look. */
export function unknownDiagnosis(evidence: Evidence, facts: Facts = factsOf(evidence)): Diagnosis {
  const app = facts.app;
  const state = !evidence.snapshot.pm2Ok ? 'PM2 does not answer' : app ? `${evidence.app} is ${app.status} in PM2` : `${evidence.app} is not in PM2`;
  const { nginx, upstream } = evidence.snapshot.probes;
  const probe = (name: string, result: ProbeResult | undefined): string =>
    result ? `${name} probe ${result.status > 0 ? `HTTP ${result.status}` : `no answer (${result.error ?? 'other'})`}` : `no ${name} probe`;
  const kinds = kindCounts(evidence.errorLog.map((entry) => entry.kind));
  const listening = facts.listeners;
  const listens = app?.status === 'online' && listening.length === 0 ? `, nothing listens for it (nginx proxies to ${upstreamText(evidence.upstream)})` : '';
  const ongoing = facts.ongoing;
  const goesOn = ongoing
    ? `; gateway errors go on: ${ongoing.count} in the last minute (the last at ${clock(ongoing.lastAt)})${
        ongoing.pages.length > 0 ? ` on ${ongoing.pages.map(({ request, count }) => `${quote(request)} (${count}×)`).join(', ')}` : ''
      }`
    : '';
  return {
    cause: 'unknown',
    summary: `No rule matched: ${state}${listens}, ${probe('nginx', nginx)}, ${probe('upstream', upstream)}, ${kinds}${goesOn}.`,
    advice: [
      'Look at the evidence lines and the timeline below.',
      `Then on the host: \`pm2 logs ${evidence.app} --lines 50\`, the nginx error log, and \`ss -tlnp\`.`,
      ...(ongoing ? ['The errors have not stopped: users still get them, so this is not transient.'] : []),
    ],
    evidence: [
      ...commonLines(evidence, facts, [...listenerLines(evidence, listening), ...accessLines(ongoing?.entries ?? [])]),
      ...evidence.oomKills.slice(-1).map((kill) => oomLine(kill, evidence)),
    ],
  };
}

/** `4 nginx error lines (connection_refused×3, upstream_timeout×1)`. */
function kindCounts(kinds: UpstreamErrorKind[]): string {
  if (kinds.length === 0) return 'no nginx upstream error';
  const counts = new Map<UpstreamErrorKind, number>();
  for (const kind of kinds) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  const parts = [...counts.entries()].map(([kind, count]) => `${kind}×${count}`);
  return `${kinds.length} nginx error line${kinds.length === 1 ? '' : 's'} (${parts.join(', ')})`;
}
