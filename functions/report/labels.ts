/**
 * The words every rendering uses for outcomes, actions and the steps of an incident in progress: one wording each,
 * so the terminal, Slack, the HTML page and SNS say the same thing. Causes are shown by their id everywhere
 * (`process_crashed`): the vocabulary is a public contract. Subjects and chat keywords show outcome ids too.
 */
import type { IncidentPhase } from '../core/incident.ts';
import type { ActionKind, ActionResult, Outcome, Report } from '../core/types.ts';
import { duration } from './format.ts';

/** One wording per outcome. A draft (`pending`) is in progress, never an outcome. */
export const OUTCOME_LABELS: Readonly<Record<Outcome, string>> = {
  healthy: 'healthy, no action needed',
  recovered: 'recovered',
  escalated: 'escalated, needs a human',
  dry_run: 'dry run, no action taken',
  pending: 'in progress',
};

/** What became of the action: `restart, done`, `start, not executed`, `restart failed: <error>`, `none`. */
export function actionLabel(action: ActionResult): string {
  if (action.kind === 'none') return 'none';
  if (action.error !== undefined) return `${action.kind} failed: ${action.error}`;
  return `${action.kind}, ${action.executed ? 'done' : 'not executed'}`;
}

/** The action and why: `restart, done (web crashed…)`. */
export function actionSentence(action: ActionResult): string {
  return `${actionLabel(action)} (${action.reason})`;
}

/** Time to recover: the duration, or why there is none. */
export function timeToRecover(report: Pick<Report, 'outcome' | 'timings'>): string {
  if (report.timings.recoveredMs !== undefined) return duration(report.timings.recoveredMs);
  if (report.outcome === 'pending') return 'in progress';
  return report.outcome === 'healthy' ? 'already serving' : 'not recovered';
}

/** A phase of an incident still in progress. */
export type StepPhase = Exclude<IncidentPhase, 'closed'>;

/** What Reflex is doing at a step: `diagnosing`, `restarting` or `starting`, `verifying recovery`. */
export function stepLabel(phase: StepPhase, action: ActionKind): string {
  if (phase === 'diagnosing') return 'diagnosing';
  if (phase === 'verifying') return 'verifying recovery';
  return action === 'start' ? 'starting' : 'restarting';
}
