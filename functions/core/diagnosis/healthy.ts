/** nginx and the app both answer now, and the gateway errors have stopped. */
import { isGatewayError } from '../evidence/index.ts';
import { clock, commonLines } from './evidence-text.ts';
import { probeAnswered, probeOk } from './facts.ts';
import { defineRule, type DiagnosisRule } from './rule.ts';

/**
 * nginx and the app both answer now and the gateway errors have stopped: they were transient. Errors that go on
 * (facts.ongoing), even on a few pages while the health URL answers, are a finding for another rule or `unknown`.
 */
export function healthyRule(): DiagnosisRule {
  return defineRule('healthy', (evidence, facts) => {
    const { nginx, upstream } = evidence.snapshot.probes;
    if (!probeOk(nginx) || !probeAnswered(upstream) || facts.ongoing) return undefined;
    const errors = evidence.gatewayErrors.reduce((sum, count) => sum + count.count, 0);
    const last = evidence.access.findLast((entry) => isGatewayError(entry.status))?.at;
    const seen =
      errors > 0
        ? `the ${errors} gateway error${errors === 1 ? ' was' : 's were'} transient${last ? ` (the last at ${clock(last)})` : ''}`
        : 'no gateway error persists';
    return {
      summary: `nginx and ${evidence.app} answer now (nginx HTTP ${nginx!.status}, app HTTP ${upstream!.status}): ${seen}.`,
      advice: [
        'Nothing to do now.',
        'If it repeats, look at the timeline around the errors (deploys, restarts, traffic spikes) and at `pm2 logs --lines 50`.',
      ],
      evidence: commonLines(evidence, facts),
    };
  });
}
