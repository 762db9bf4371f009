/**
 * Incident state beyond the lock and the restart history: the open incident of an instance, and the rules its stores
 * share. The port, IncidentStore, is in ports.ts; the file store (local) and the DynamoDB store (AWS) implement it
 * with the same semantics, checked by one shared behavioural test suite.
 */
import type { ActionKind, Outcome } from './types.ts';

/** Where an incident is: each step is recorded before the next one starts, so a later run can resume safely. */
export const INCIDENT_PHASES = ['diagnosing', 'acting', 'verifying', 'closed'] as const;
export type IncidentPhase = (typeof INCIDENT_PHASES)[number];

/** The Slack message that tracks an incident (bot token mode), so a later run updates it instead of posting again. */
export interface SlackMessageRef {
  readonly channel: string;
  readonly ts: string;
}

/** The open (or last) incident of one instance. Times are ISO-8601 UTC. */
export interface IncidentRecord {
  readonly incidentId: string;
  readonly instanceId: string;
  readonly openedAt: string;
  readonly updatedAt: string;
  readonly phase: IncidentPhase;
  readonly cause?: string;
  /** Set before the restart/start is sent: a run that finds it knows the side effect may already have happened. */
  readonly actionIssuedAt?: string;
  readonly actionKind?: ActionKind;
  readonly outcome?: Outcome;
  readonly slack?: SlackMessageRef;
}

/** When the instance's last incident closed: evidence from before then belongs to that incident. */
export function closedAt(record: IncidentRecord | undefined): Date | undefined {
  return record?.phase === 'closed' ? new Date(record.updatedAt) : undefined;
}

/** A state store failed for a reason other than a conditional check (I/O, permissions, a corrupt file). */
export class StateStoreError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StateStoreError';
  }
}

const ACTION_KINDS: readonly ActionKind[] = ['restart', 'start', 'none'];
const OUTCOMES: readonly Outcome[] = ['healthy', 'recovered', 'escalated', 'dry_run'];

/** How long restart history is kept: the policy looks back one hour; a day leaves room for reporting. */
export const RESTART_HISTORY_MS = 24 * 60 * 60 * 1000;

/**
 * Restart history after adding `at`: sorted oldest first, without entries older than 24 h before `now`
 * (and without exact duplicates, so a retried write does not count twice).
 * @throws StateStoreError when `at` is not a time.
 */
export function appendRestart(history: readonly string[], at: string, now: Date): string[] {
  if (Number.isNaN(Date.parse(at))) throw new StateStoreError(`restart time: must be an ISO time, got ${JSON.stringify(at).slice(0, 40)}`);
  const cutoff = now.getTime() - RESTART_HISTORY_MS;
  const kept = [...new Set([...history, at])].filter((time) => Date.parse(time) >= cutoff);
  return kept.sort((a, b) => Date.parse(a) - Date.parse(b));
}

/**
 * Checks a stored incident record (JSON file, DynamoDB item) and returns it with only the known fields.
 * @throws StateStoreError naming `where` and the bad field.
 */
export function parseIncidentRecord(value: unknown, where: string): IncidentRecord {
  if (typeof value !== 'object' || value === null) throw new StateStoreError(`${where}: incident is not an object`);
  const item = value as Record<string, unknown>;
  const text = (field: string, required: boolean): string | undefined => {
    const raw = item[field];
    if (raw === undefined && !required) return undefined;
    if (typeof raw !== 'string' || raw === '') throw new StateStoreError(`${where}: incident field ${field} must be a non-empty string`);
    return raw;
  };
  const phase = text('phase', true);
  if (!INCIDENT_PHASES.includes(phase as IncidentPhase)) {
    throw new StateStoreError(`${where}: incident field phase must be one of ${INCIDENT_PHASES.join(', ')}`);
  }
  const slack = item['slack'];
  let slackRef: SlackMessageRef | undefined;
  if (slack !== undefined) {
    const ref = slack as Record<string, unknown> | null;
    if (typeof ref !== 'object' || ref === null || typeof ref['channel'] !== 'string' || typeof ref['ts'] !== 'string') {
      throw new StateStoreError(`${where}: incident field slack must be { channel, ts }`);
    }
    slackRef = { channel: ref['channel'], ts: ref['ts'] };
  }
  const actionKind = text('actionKind', false);
  if (actionKind !== undefined && !ACTION_KINDS.includes(actionKind as ActionKind)) {
    throw new StateStoreError(`${where}: incident field actionKind must be one of ${ACTION_KINDS.join(', ')}`);
  }
  const outcome = text('outcome', false);
  if (outcome !== undefined && !OUTCOMES.includes(outcome as Outcome)) {
    throw new StateStoreError(`${where}: incident field outcome must be one of ${OUTCOMES.join(', ')}`);
  }
  const optional = {
    cause: text('cause', false),
    actionIssuedAt: text('actionIssuedAt', false),
    actionKind: actionKind as ActionKind | undefined,
    outcome: outcome as Outcome | undefined,
    slack: slackRef,
  };
  return {
    incidentId: text('incidentId', true) as string,
    instanceId: text('instanceId', true) as string,
    openedAt: text('openedAt', true) as string,
    updatedAt: text('updatedAt', true) as string,
    phase: phase as IncidentPhase,
    ...withoutUndefined(optional),
  };
}

/** A copy without undefined values (DynamoDB's marshaller rejects them unless told otherwise; JSON drops them). */
export function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
