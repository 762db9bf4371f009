/**
 * The fleet use case: one alarm (or a detector start, or a manual event) → the affected instances → evidence in
 * parallel → remediation in waves (a canary, then 2, 4, 8, … at once), each instance verified, the rollout halted at
 * the first that does not recover → a report per instance on every notifier.
 * Everything goes through ports, and nothing here knows Lambda or AWS: the Lambda wires it (responder/run.ts) as a
 * durable execution (its Checkpoints), and the CLI drives it in-process.
 */
import { inProcess, mapLimit, type Checkpoints } from './checkpoints.ts';
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
import type { Modes } from './modes.ts';
import { investigate, offerOverride, remediateAndClose, targetAt, type AppLocation, type Closed, type Investigation, type RespondDeps } from './respond.ts';
import type { Trigger } from './trigger.ts';
import type { Report } from './types.ts';

/** Parallel evidence gathering is bounded: SSM and Logs throttle per account. */
export const INVESTIGATION_CONCURRENCY = 10;
/** Processed-event records outlive EventBridge's retries (max event age is hours, not days). */
const EVENT_TTL_SECONDS = 24 * 60 * 60;
/** The largest wave when none is configured: instances remediated at once, after the canary and the waves before. */
export const DEFAULT_MAX_WAVE = 16;

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
  /** Where the incident's progress is kept: the durable execution in Lambda; default: this process. */
  readonly checkpoints?: Checkpoints;
  readonly progress?: Progress;
  /** A new journal for each instance: every instance is its own incident (incident record, Slack message). */
  readonly newJournal: () => FleetJournal;
}

export interface FleetOptions {
  readonly layout: AppLayout;
  /** How far back before the trigger instances are looked for, and how far back each investigation reads logs. */
  readonly windowMs: number;
  /** How long verification may go on for each instance. */
  readonly verifyMs: number;
  /** Nothing is changed; a manual event can also ask for it. */
  readonly dryRun: boolean;
  readonly budget: RestartBudget;
  /** The largest wave (see waveSizes). Default DEFAULT_MAX_WAVE. */
  readonly maxWave?: number;
  /** Per cause: auto, approve or observe (default auto). */
  readonly modes?: Modes;
  /** How long a proposal waits for a click. Default 15 min. */
  readonly approvalMs?: number;
}

export type FleetResult =
  | { readonly status: 'duplicate'; readonly reason: string }
  | { readonly status: 'handled'; readonly reports: Report[]; readonly notified: { channel: string; ok: boolean }[] };

/**
 * The wave sizes for `count` instances: a canary of one, then doubling (1, 2, 4, 8, …) up to `max`, then `max`
 * until all are covered. `waveSizes(50, 16)` is 1, 2, 4, 8, 16, 16, 3.
 */
export function waveSizes(count: number, max: number): number[] {
  const cap = Math.max(1, Math.floor(max));
  const sizes: number[] = [];
  for (let left = count, size = 1; left > 0; size = Math.min(size * 2, cap)) {
    sizes.push(Math.min(size, left));
    left -= size;
  }
  return sizes;
}

/**
 * Responds to one trigger across the fleet. A replayed event (already claimed in the store) does nothing.
 * Never throws for what happens on a host; each instance ends in its own report.
 * Remediation goes in waves: the canary first, verified, then waves of growing size; the first instance that does
 * not recover halts the rollout, and the rest are reported as held back. Each step is a checkpoint: after a cut-off,
 * a replay carries on where the run stopped, and no action is issued twice.
 */
export async function respondFleet(trigger: FleetTrigger, deps: FleetDeps, options: FleetOptions): Promise<FleetResult> {
  const { logger } = deps;
  const checkpoints = deps.checkpoints ?? inProcess(deps.clock);
  const admitted = await checkpoints.step('admit', () => admitInstances(trigger, deps, options));
  if (admitted.duplicate) return { status: 'duplicate', reason: admitted.duplicate };
  const { owners, at } = admitted;
  logger.info('responding', { trigger: trigger.kind, instances: owners.length, underAnotherIncident: admitted.found - owners.length });
  if (owners.length === 0) return { status: 'handled', reports: [], notified: [] };

  const respondOptions = {
    dryRun: options.dryRun || (trigger.kind === 'manual' && trigger.dryRun === true),
    lookbackMs: options.windowMs,
    budget: options.budget,
    verifyDeadlineMs: options.verifyMs,
    ...(options.modes && { modes: options.modes }),
    ...(options.approvalMs !== undefined && { approvalMs: options.approvalMs }),
  };
  // One journal per instance, from its investigation to its report (a replay starts new ones: they carry on from the record).
  const journals = new Map<string, FleetJournal>();
  const journalOf = (instanceId: string): FleetJournal => journals.get(instanceId) ?? journals.set(instanceId, deps.newJournal()).get(instanceId)!;
  const incidentDeps = (own: Checkpoints, instanceId: string): RespondDeps & { journal: FleetJournal } => ({
    host: deps.host,
    logs: deps.logs,
    clock: deps.clock,
    logger,
    checkpoints: own,
    ...(deps.progress && { progress: deps.progress }),
    // The core reads the restart budget and the per-instance lock from `state`.
    ...(deps.store && { state: deps.store }),
    journal: journalOf(instanceId),
  });

  const investigations = await checkpoints.map('investigate', owners, INVESTIGATION_CONCURRENCY, ([instanceId], own) =>
    own.step('investigate', async () => {
      const notBefore = closedAt(await deps.store?.loadIncident(instanceId));
      const target = targetAt({ instanceId, ...options.layout });
      const firstErrorAt = trigger.kind === 'detector' ? { firstErrorAt: new Date(trigger.firstErrorAt) } : {};
      const incidentId = `${trigger.eventId ?? Date.parse(at)}-${instanceId}`;
      return investigate(target, incidentDeps(own, instanceId), { ...respondOptions, incidentId, ...firstErrorAt, ...(notBefore && { notBefore }) });
    }),
  );
  const ownerOf = new Map(owners);

  /** Reports a closed incident on every channel (the claim is given back first: the instance is free again). */
  const report = async (closed: Closed, own: Checkpoints, name: string): Promise<Finished['notified']> => {
    const notified = await own.step(name, async () => {
      const owner = ownerOf.get(closed.report.instanceId);
      if (owner) await deps.claims?.releaseIncident(closed.report.instanceId, owner).catch((error: unknown) => logger.warn('could not release the claim', { instanceId: closed.report.instanceId, error: String(error) }));
      return publish(closed.report, deps);
    });
    return [...notified, ...(closed.slack ? [{ channel: 'slack', ok: closed.slack.ok }] : [])];
  };
  /** Remediates (or holds back) one instance, and reports it. */
  const finish = async (investigation: Investigation, own: Checkpoints): Promise<Finished> => {
    const closed = await remediateAndClose(investigation, incidentDeps(own, investigation.target.instanceId), respondOptions);
    return { investigation, closed, report: closed.report, notified: await report(closed, own, 'publish') };
  };

  const results: Finished[] = [];
  let halted: string | undefined;
  let next = 0;
  for (const [index, size] of waveSizes(investigations.length, options.maxWave ?? DEFAULT_MAX_WAVE).entries()) {
    const wave = investigations.slice(next, next + size);
    next += size;
    const done = await checkpoints.map(`wave-${index + 1}`, wave, size, (investigation, own) =>
      finish(halted ? holdBack(investigation, halted) : investigation, own),
    );
    results.push(...done);
    const failed = done.find(({ report }) => report.action.executed && report.outcome !== 'recovered');
    if (failed && !halted) {
      halted = `${failed.report.instanceId} did not recover after the ${failed.report.action.kind}`;
      logger.warn('rollout halted', { reason: halted, heldBack: investigations.length - next });
      const rest = investigations.slice(next);
      results.push(...(await checkpoints.map('held-back', rest, INVESTIGATION_CONCURRENCY, (investigation, own) => finish(holdBack(investigation, halted!), own))));
      break;
    }
  }
  // "Restart anyway" for the escalations a person may override, after every wave: waiting for a click never holds
  // up a rollout. An override that is taken is a second report of the same incident.
  const offers = results.filter(({ closed }) => closed.overridable !== undefined);
  const overridden = await checkpoints.map('override', offers, INVESTIGATION_CONCURRENCY, async (offer, own) => {
    const closed = await offerOverride(offer.investigation, offer.closed, incidentDeps(own, offer.report.instanceId), respondOptions);
    return closed ? { ...offer, closed, report: closed.report, notified: [...offer.notified, ...(await report(closed, own, 'publish-override'))] } : offer;
  });
  const final = results.map((result) => overridden.find((offer) => offer.report.instanceId === result.report.instanceId) ?? result);
  return { status: 'handled', reports: final.map(({ report: last }) => last), notified: final.flatMap(({ notified }) => notified) };
}

/** One instance at the end: its investigation, how it closed, its report and where the report went. */
interface Finished {
  readonly investigation: Investigation;
  readonly closed: Closed;
  readonly report: Report;
  readonly notified: { channel: string; ok: boolean }[];
}

/** Who this run responds to: each instance with the claim it gives back at the end (null: none), or why nothing. */
interface Admitted {
  readonly duplicate?: string;
  readonly owners: [string, string | null][];
  /** Instances found with gateway errors, admitted or not. */
  readonly found: number;
  /** When the run began (ISO): the incident ids of a manual run without an event id. */
  readonly at: string;
}

async function admitInstances(trigger: FleetTrigger, deps: FleetDeps, options: FleetOptions): Promise<Admitted> {
  const { clock, logger, store } = deps;
  const now = clock.now();
  const at = now.toISOString();
  if (trigger.eventId && store && !(await store.claimEvent(trigger.eventId, EVENT_TTL_SECONDS))) {
    logger.info('event already processed', { eventId: trigger.eventId });
    return { duplicate: `event ${trigger.eventId} was already processed`, owners: [], found: 0, at };
  }
  const window = { start: new Date(Date.parse(trigger.time) - options.windowMs), end: now };
  const found = trigger.kind === 'alarm' ? await deps.findInstances(window) : trigger.instanceIds;
  if (trigger.kind === 'alarm' && found.length === 0) {
    logger.warn('alarm fired but no instance log stream has gateway errors in the window');
    return { owners: [], found: 0, at };
  }
  // A claim lasts as long as an incident may: verification plus the margins of every wave before it.
  const expiresAt = now.getTime() + CLAIM_TTL_MS;
  const owners = await admit(trigger, found, window.start, deps, expiresAt);
  return { owners: [...owners].map(([id, owner]) => [id, owner ?? null]), found: found.length, at };
}

/** How long an incident's claim on an instance lasts when the incident never gives it back (its run died). */
export const CLAIM_TTL_MS = 60 * 60 * 1000;

/**
 * The instances this run responds to, each with the claim it gives back at the end (none for a manual event).
 * The detector claimed its instance before starting this run: the run renews that claim for as long as it may take
 * (the start may have waited in the queue). An alarm run takes an instance only when it can claim it and no
 * incident was opened on it since the alarm's window began: otherwise the detector is handling, or has handled, the
 * very errors that raised the alarm.
 */
async function admit(trigger: FleetTrigger, found: readonly string[], windowStart: Date, deps: FleetDeps, expiresAt: number): Promise<Map<string, string | undefined>> {
  const { claims, store, logger } = deps;
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
