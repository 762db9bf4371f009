/**
 * Diagnosis: small rules over the evidence, evaluated in priority order; the first that matches names the cause.
 * Each rule states what is wrong in one sentence, what a human should do, and the few lines that prove it.
 * Adding a cause is one file with its rule (see rule.ts) and one row in {@link RULES}.
 */
import type { Diagnosis, Evidence } from '../types.ts';
import { crashLoopRule } from './crash-loop.ts';
import { factsOf } from './facts.ts';
import { headerTooBigRule } from './header-too-big.ts';
import { healthyRule } from './healthy.ts';
import { keepaliveRaceRule } from './keepalive-race.ts';
import { portMismatchRule, proxyMisconfigRule } from './listener.ts';
import { oomKilledRule } from './oom.ts';
import { portInUseRule } from './port-in-use.ts';
import { processCrashedRule, processMissingRule, processStoppedRule } from './process-down.ts';
import type { DiagnosisRule } from './rule.ts';
import { unknownDiagnosis } from './unknown.ts';
import { appHungRule, upstreamTimeoutRule } from './upstream.ts';

export { probeAnswered, probeOk, type Facts, type OngoingErrors } from './facts.ts';
export type { DiagnosisRule, Finding } from './rule.ts';
export { RESTART_CANNOT_FIX } from './app-error.ts';
export {
  appHungRule,
  crashLoopRule,
  headerTooBigRule,
  healthyRule,
  keepaliveRaceRule,
  oomKilledRule,
  portInUseRule,
  portMismatchRule,
  processCrashedRule,
  processMissingRule,
  processStoppedRule,
  proxyMisconfigRule,
  unknownDiagnosis,
  upstreamTimeoutRule,
};

/**
 * The rules in priority order: process state first (an orphan on the port before the crash loop it causes), then
 * where it listens, then how it answers, then what nginx says of an app that answers; healthy last.
 */
export const RULES: readonly DiagnosisRule[] = [
  processMissingRule(),
  oomKilledRule(),
  portInUseRule(),
  crashLoopRule(),
  processCrashedRule(),
  processStoppedRule(),
  portMismatchRule(),
  proxyMisconfigRule(),
  upstreamTimeoutRule(),
  appHungRule(),
  headerTooBigRule(),
  keepaliveRaceRule(),
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
