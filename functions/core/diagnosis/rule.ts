/** The one shape every diagnosis rule has: adding a cause is a file with a rule like this and a row in index.ts. */
import type { Cause, Diagnosis, Evidence } from '../types.ts';
import { factsOf, type Facts } from './facts.ts';

/** What a rule found: the diagnosis without its cause, which is the rule's id. */
export type Finding = Omit<Diagnosis, 'cause'>;

/** One diagnosis rule: a diagnosis when the evidence shows its cause, else undefined. */
export interface DiagnosisRule {
  readonly id: Cause;
  /** `facts` come from `diagnose`, derived once for all rules; a rule tried alone derives them itself. */
  evaluate(evidence: Evidence, facts?: Facts): Diagnosis | undefined;
}

/** A rule named by its cause; `find` says what it sees, or undefined when the evidence does not show that cause. */
export function defineRule(id: Cause, find: (evidence: Evidence, facts: Facts) => Finding | undefined): DiagnosisRule {
  return {
    id,
    evaluate(evidence, facts = factsOf(evidence)) {
      const finding = find(evidence, facts);
      return finding && { cause: id, ...finding };
    },
  };
}
