/** nginx and the app both answer now. */
import { commonLines } from './evidence-text.ts';
import { probeAnswered, probeOk } from './facts.ts';
import { defineRule, type DiagnosisRule } from './rule.ts';

/** nginx and the app both answer now: the errors were transient. */
export function healthyRule(): DiagnosisRule {
  return defineRule('healthy', (evidence, facts) => {
    const { nginx, upstream } = evidence.snapshot.probes;
    if (!probeOk(nginx) || !probeAnswered(upstream)) return undefined;
    const errors = evidence.gatewayErrors.reduce((sum, count) => sum + count.count, 0);
    const seen = errors > 0 ? `the ${errors} gateway error${errors === 1 ? ' was' : 's were'} transient` : 'no gateway error persists';
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
