/**
 * The fleet use case: one alarm (or a detector start, or a manual event) → the affected instances → evidence in parallel → remediation one
 * instance at a time (rolling), each verified before the next → a report per instance on every notifier.
 * Everything goes through ports, and nothing here knows Lambda or AWS: the Lambda wires it (responder/run.ts), and
 * the CLI could drive a fleet through it the same way.
 */
import { closedAt } from './incident.ts';
import type { RestartBudget } from './policy.ts';
import type {
  Clock,
  CoreLogger,
  Delivery,
  FleetJournal,
  HostRunner,
  IncidentClaims,
  IncidentStore,
  LogSource,
  LogWindow,
  Notifier,
  Progress,
} from './ports.ts';
import { investigate, remediate, targetAt, type AppLocation, type Investigation, type RespondDeps } from './respond.ts';
import type { Trigger } from './trigger.ts';
import type { Report } from './types.ts';

/** Parallel evidence gathering is bounded: SSM and Logs throttle per account. */
export const INVESTIGATION_CONCURRENCY = 10;
/** Processed-event records outlive EventBridge's retries (max event age is hours, not days). */
const EVENT_TTL_SECONDS = 24 * 60 * 60;
/** Time kept back for reporting after the last step. */
export const REPORT_MARGIN_MS = 15_000;
/** Time kept back for the action itself before verification starts: the lock, the restart record, the remediate script. */
export const ACTION_MARGIN_MS = 10_000;
/** A verification shorter than this could not see the app serve again: the action is held back instead. */
export const MIN_VERIFY_MS = 10_000;

/** A trigger that asks for a response (an ignored one never reaches the fleet). */
export type FleetTrigger = Exclude<Trigger, { kind: 'ignored' }>;

/** Where the app lives on every instance: the same layout across the fleet. */
export type AppLayout = Omit<AppLocation, 'instanceId'>;

export interface FleetDeps {
  readonly host: HostRunner;
  readonly logs: LogSource;
  /** Instances with gateway errors in the window (an alarm names none). */
  readonly findInstances: (window: LogWindow) => Promise<string[]>;
  readonly notifiers: readonly Notifier[];
  /** Processed events, restart history, lock and incident records; without one, only this run's own actions count. */
  readonly store?: IncidentStore;
  /** One open incident per instance, shared with the detector; without it, an alarm run takes every instance it finds. */
  readonly claims?: IncidentClaims;
  readonly clock: Clock;
  readonly logger: CoreLogger;
  /** Milliseconds left before the run is stopped from outside (Lambda's timeout); the rollout stays inside it. */
  readonly remainingMs: () => number;
  readonly progress?: Progress;
  /** A new journal for each instance: every instance is its own incident (incident record, Slack message). */
  readonly newJournal: () => FleetJournal;
}

export interface FleetOptions {
  readonly layout: AppLayout;
  /** How far back before the trigger instances are looked for, and how far back each investigation reads logs. */
  readonly windowMs: number;
  /** How long verification may poll, when the time left allows it. */
  readonly verifyMs: number;
  /** Nothing is changed; a manual event can also ask for it. */
  readonly dryRun: boolean;
  readonly budget: RestartBudget;
}

export type FleetResult =
  | { readonly status: 'duplicate'; readonly reason: string }
  | { readonly status: 'handled'; readonly reports: Report[]; readonly notified: { channel: string; ok: boolean }[] };

/**
 * Responds to one trigger across the fleet. A replayed event (already claimed in the store) does nothing.
 * Never throws for what happens on a host; each instance ends in its own report.
 */
export async function respondFleet(trigger: FleetTrigger, deps: FleetDeps, options: FleetOptions): Promise<FleetResult> {
  const { clock, logger, store } = deps;
  const now = clock.now();
  if (trigger.eventId && store && !(await store.claimEvent(trigger.eventId, EVENT_TTL_SECONDS))) {
    logger.info('event already processed', { eventId: trigger.eventId });
    return { status: 'duplicate', reason: `event ${trigger.eventId} was already processed` };
  }

  const window = { start: new Date(Date.parse(trigger.time) - options.windowMs), end: now };
  const found = trigger.kind === 'alarm' ? await deps.findInstances(window) : trigger.instanceIds;
  if (trigger.kind === 'alarm' && found.length === 0) {
    logger.warn('alarm fired but no instance log stream has gateway errors in the window');
    return { status: 'handled', reports: [], notified: [] };
  }
  const owners = await admit(trigger, found, window.start, deps, now);
  const instanceIds = [...owners.keys()];
  logger.info('responding', { trigger: trigger.kind, instances: instanceIds.length, underAnotherIncident: found.length - instanceIds.length });
  if (instanceIds.length === 0) return { status: 'handled', reports: [], notified: [] };
  const respondOptions = {
    dryRun: options.dryRun || (trigger.kind === 'manual' && trigger.dryRun === true),
    lookbackMs: options.windowMs,
    budget: options.budget,
  };
  const incidentDeps = (): RespondDeps & { journal: FleetJournal } => ({
    host: deps.host,
    logs: deps.logs,
    clock,
    logger,
    ...(deps.progress && { progress: deps.progress }),
    // The core reads the restart budget and the per-instance lock from `state`.
    ...(store && { state: store }),
    journal: deps.newJournal(),
  });

  const investigations = await mapLimit(instanceIds, INVESTIGATION_CONCURRENCY, async (instanceId) => {
    const own = incidentDeps();
    const incidentId = `${trigger.eventId ?? now.getTime()}-${instanceId}`;
    const notBefore = closedAt(await store?.loadIncident(instanceId));
    const target = targetAt({ instanceId, ...options.layout });
    const firstErrorAt = trigger.kind === 'detector' ? { firstErrorAt: new Date(trigger.firstErrorAt) } : {};
    const investigation = await investigate(target, own, { ...respondOptions, incidentId, ...firstErrorAt, ...(notBefore && { notBefore }) });
    return { own, investigation };
  });

  // Rolling: one instance at a time, verified before the next; a fix that does not work stops the rollout.
  const reports: Report[] = [];
  const notified: { channel: string; ok: boolean }[] = [];
  let halted: string | undefined;
  for (const { own, investigation } of investigations) {
    const left = deps.remainingMs() - REPORT_MARGIN_MS;
    const verifyDeadlineMs = Math.min(options.verifyMs, left - ACTION_MARGIN_MS);
    const stop = halted ?? (verifyDeadlineMs < MIN_VERIFY_MS ? 'the Lambda is about to time out' : undefined);
    const report = stop
      ? await remediate(holdBack(investigation, stop), own, respondOptions)
      : await remediate(investigation, own, { ...respondOptions, verifyDeadlineMs });
    if (report.action.executed && report.outcome !== 'recovered') halted = `${report.instanceId} did not recover after the ${report.action.kind}`;
    // Closed: the instance is free for its next incident (a claim not given back expires with the run).
    const owner = owners.get(report.instanceId);
    if (owner) await deps.claims?.releaseIncident(report.instanceId, owner).catch((error: unknown) => logger.warn('could not release the claim', { instanceId: report.instanceId, error: String(error) }));
    reports.push(report);
    notified.push(...(await publish(report, deps)));
    if (own.journal.slackDelivery) notified.push({ channel: 'slack', ok: own.journal.slackDelivery.ok });
  }
  return { status: 'handled', reports, notified };
}

/**
 * The instances this run responds to, each with the claim it gives back at the end (none for a manual event).
 * The detector claimed its instance before starting this run: the run renews that claim for as long as it may take
 * (the start may have waited in the queue). An alarm run takes an instance only when it can claim it and no
 * incident was opened on it since the alarm's window began: otherwise the detector is handling, or has handled, the
 * very errors that raised the alarm.
 */
async function admit(trigger: FleetTrigger, found: readonly string[], windowStart: Date, deps: FleetDeps, now: Date): Promise<Map<string, string | undefined>> {
  const { claims, store, logger } = deps;
  const expiresAt = now.getTime() + deps.remainingMs();
  if (trigger.kind === 'detector') {
    const [instanceId] = trigger.instanceIds;
    const renewed = !claims || (await claims.claimIncident({ incidentId: trigger.eventId, instanceId, firstErrorAt: trigger.firstErrorAt, expiresAt }));
    if (!renewed) logger.info('instance under another open incident', { instanceId });
    return renewed ? new Map([[instanceId, trigger.eventId]]) : new Map();
  }
  if (trigger.kind === 'manual' || !claims) return new Map(found.map((id) => [id, undefined]));
  const admitted = await mapLimit(found, INVESTIGATION_CONCURRENCY, async (instanceId) => {
    const incidentId = `${trigger.eventId}-${instanceId}`;
    const last = await store?.loadIncident(instanceId);
    if (last && Date.parse(last.openedAt) >= windowStart.getTime()) {
      logger.info('instance already handled since the alarm window began', { instanceId, incidentId: last.incidentId });
      return undefined;
    }
    const claim = { incidentId, instanceId, firstErrorAt: windowStart.toISOString(), expiresAt };
    if (!(await claims.claimIncident(claim))) {
      logger.info('instance under another open incident', { instanceId });
      return undefined;
    }
    return instanceId;
  });
  return new Map(admitted.filter((id): id is string => id !== undefined).map((id) => [id, `${trigger.eventId}-${id}`]));
}

/** The same investigation with its action withheld, saying why (the report says it too). */
function holdBack(investigation: Investigation, why: string): Investigation {
  if (investigation.decision.kind === 'none') return investigation;
  return {
    ...investigation,
    decision: { kind: 'none', reason: `would ${investigation.decision.kind}, but held back: ${why}` },
  };
}

/** Sends the report on every notifier; a notifier that throws counts as a failed delivery, logged, never rethrown. */
async function publish(report: Report, deps: Pick<FleetDeps, 'notifiers' | 'logger'>): Promise<{ channel: string; ok: boolean }[]> {
  const results = await Promise.all(
    deps.notifiers.map((notifier) =>
      notifier.publish(report).catch((error: unknown): Delivery[] => [{ channel: 'unknown', ok: false, error: String(error) }]),
    ),
  );
  const flat = results.flat();
  for (const failure of flat.filter((result) => !result.ok)) {
    deps.logger.warn('notification failed', { channel: failure.channel, error: failure.error });
  }
  return flat.map(({ channel, ok }) => ({ channel, ok }));
}

/** Runs `fn` over `items` with at most `limit` at once, keeping the order of results. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
