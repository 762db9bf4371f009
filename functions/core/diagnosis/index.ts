/**
 * Diagnosis: small rules over the evidence, evaluated in priority order; the first that matches names the cause.
 * Each rule states what is wrong in one sentence, what a human should do, and the few lines that prove it.
 * Adding a cause is one file with its rule (see rule.ts) and one row in {@link RULES}.
 */
import type { Diagnosis, Evidence } from '../types.ts';
import { crashLoopRule } from './crash-loop.ts';
import { factsOf } from './facts.ts';
import { healthyRule } from './healthy.ts';
import { portMismatchRule, proxyMisconfigRule } from './listener.ts';
import { oomKilledRule } from './oom.ts';
import { processCrashedRule, processMissingRule, processStoppedRule } from './process-down.ts';
import type { DiagnosisRule } from './rule.ts';
import { unknownDiagnosis } from './unknown.ts';
import { appHungRule, upstreamTimeoutRule } from './upstream.ts';

export { probeAnswered, probeOk, type Facts } from './facts.ts';
export type { DiagnosisRule, Finding } from './rule.ts';
export {
  appHungRule,
  crashLoopRule,
  healthyRule,
  oomKilledRule,
  portMismatchRule,
  processCrashedRule,
  processMissingRule,
  processStoppedRule,
  proxyMisconfigRule,
  unknownDiagnosis,
  upstreamTimeoutRule,
};

/** The rules in priority order: process state first, then where it listens, then how it answers. */
export const RULES: readonly DiagnosisRule[] = [
  processMissingRule(),
  oomKilledRule(),
  crashLoopRule(),
  processCrashedRule(),
  processStoppedRule(),
  portMismatchRule(),
  proxyMisconfigRule(),
  upstreamTimeoutRule(),
  appHungRule(),
  healthyRule(),
];

/** The first rule that matches names the cause; when none does, `unknown` with what was seen. */
export function diagnose(evidence: Evidence, rules: readonly DiagnosisRule[] = RULES): Diagnosis {
  const facts = factsOf(evidence);
  for (const rule of rules) {
    const found = rule.evaluate(evidence, facts);
    if (found) return found;
  }
  return unknownDiagnosis(evidence, facts);
}
