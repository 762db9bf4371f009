/**
 * One invocation of the responder: event → instances → evidence in parallel → remediation one
 * instance at a time (rolling) → a report per instance on every channel. The handler only wires it.
 */
import { closedAt, withoutUndefined } from '../core/incident.ts';
import type { Clock, CoreLogger, HostRunner, IncidentStore, LogSource, LogWindow, Notifier, Progress } from '../core/ports.ts';
import { investigate, remediate, targetAt, type Investigation, type RespondTarget } from '../core/respond.ts';
import { parseTrigger } from '../core/trigger.ts';
import type { Outcome, Report } from '../core/types.ts';
import { InputError } from '../core/validate.ts';
import { Journal } from '../adapters/incident-journal.ts';
import type { SlackConfig } from '../adapters/slack/secrets.ts';
import type { ResponderConfig } from './config.ts';

export interface ResponderDeps {
  readonly config: ResponderConfig;
  readonly host: HostRunner;
  readonly logs: LogSource;
  /** Instances with gateway errors in the window (Logs Insights, with a FilterLogEvents fallback). */
  readonly findInstances: (window: LogWindow) => Promise<string[]>;
  readonly notifiers: readonly Notifier[];
  readonly store?: IncidentStore;
  readonly clock: Clock;
  readonly logger: CoreLogger;
  /** Milliseconds left before Lambda stops this invocation. */
  readonly remainingMs: () => number;
  readonly progress?: Progress;
  /** Slack, when configured: one message per incident, kept up to date (bot) or opened and closed (webhook). */
  readonly slack?: SlackConfig;
  readonly slackApiUrl?: string;
}

export type ResponderResult =
  | { readonly status: 'invalid'; readonly error: string }
  | { readonly status: 'ignored' | 'duplicate'; readonly reason: string }
  | { readonly status: 'handled'; readonly incidents: IncidentSummary[]; readonly notified: { channel: string; ok: boolean }[] };

export interface IncidentSummary {
  readonly instanceId: string;
  readonly cause: string;
  readonly action: string;
  readonly executed: boolean;
  readonly outcome: Outcome;
}

/** Parallel evidence gathering is bounded: SSM and Logs throttle per account. */
const INVESTIGATION_CONCURRENCY = 10;
/** Processed-event records outlive EventBridge's retries (max event age is hours, not days). */
const EVENT_TTL_SECONDS = 24 * 60 * 60;
/** Time kept back for reporting after the last step. */
const REPORT_MARGIN_MS = 15_000;

export async function handleEvent(event: unknown, deps: ResponderDeps): Promise<ResponderResult> {
  const { config, clock, logger } = deps;
  const now = clock.now();
  let trigger;
  try {
    trigger = parseTrigger(event, { alarmName: config.alarmName, maxAgeSeconds: config.windowSeconds, now });
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    logger.warn('invalid event', { field: error.field, reason: error.message });
    return { status: 'invalid', error: error.message };
  }
  if (trigger.kind === 'ignored') {
    logger.info('event ignored', { reason: trigger.reason });
    return { status: 'ignored', reason: trigger.reason };
  }
  if (trigger.eventId && deps.store && !(await deps.store.claimEvent(trigger.eventId, EVENT_TTL_SECONDS))) {
    logger.info('event already processed', { eventId: trigger.eventId });
    return { status: 'duplicate', reason: `event ${trigger.eventId} was already processed` };
  }

  const window = { start: new Date(Date.parse(trigger.time) - config.windowSeconds * 1000), end: now };
  const instanceIds = trigger.kind === 'manual' ? trigger.instanceIds : await deps.findInstances(window);
  logger.info('responding', { trigger: trigger.kind, instances: instanceIds.length });
  if (instanceIds.length === 0) {
    logger.warn('alarm fired but no instance log stream has gateway errors in the window');
    return { status: 'handled', incidents: [], notified: [] };
  }
  const dryRun = config.dryRun || (trigger.kind === 'manual' && trigger.dryRun === true);
  const options = {
    dryRun,
    lookbackMs: config.windowSeconds * 1000,
    budget: config.budget,
    ...(trigger.eventId && { incidentId: trigger.eventId }),
  };

  // Each instance is its own incident, with its own journal (incident record, Slack message).
  const incidentDeps = (): ResponderDeps & { journal: Journal } => ({
    ...deps,
    // The core reads the restart budget and the per-instance lock from `state`.
    ...(deps.store && { state: deps.store }),
    journal: new Journal({
      ...(deps.store && { store: deps.store }),
      ...(deps.slack && { slack: deps.slack }),
      ...(deps.slackApiUrl && { slackApiUrl: deps.slackApiUrl }),
      logger,
      now: () => clock.now(),
    }),
  });
  const investigations = await mapLimit(instanceIds, INVESTIGATION_CONCURRENCY, async (instanceId) => {
    const own = incidentDeps();
    const incidentId = `${options.incidentId ?? now.getTime()}-${instanceId}`;
    const notBefore = closedAt(await deps.store?.loadIncident(instanceId));
    const investigation = await investigate(targetFor(config, instanceId), own, { ...options, incidentId, ...(notBefore && { notBefore }) });
    return { deps: own, investigation };
  });

  // Rolling: one instance at a time, verified before the next; a fix that does not work stops the rollout.
  const reports: Report[] = [];
  const notified: { channel: string; ok: boolean }[] = [];
  let halted: string | undefined;
  for (const { deps: own, investigation } of investigations) {
    const left = deps.remainingMs() - REPORT_MARGIN_MS;
    const verifyDeadlineMs = Math.min(config.verifySeconds * 1000, left - 10_000);
    const stop = halted ?? (verifyDeadlineMs < 10_000 ? 'the Lambda is about to time out' : undefined);
    const report = stop
      ? await remediate(holdBack(investigation, stop), own, options)
      : await remediate(investigation, own, { ...options, verifyDeadlineMs });
    if (report.action.executed && report.outcome !== 'recovered') halted = `${report.instanceId} did not recover after the ${report.action.kind}`;
    reports.push(report);
    notified.push(...(await publish(report, deps)));
    if (own.journal.slackDelivery) notified.push({ channel: 'slack', ok: own.journal.slackDelivery.ok });
  }
  return { status: 'handled', incidents: reports.map(summarize), notified };
}

/** The same investigation with its action withheld, saying why (the report says it too). */
function holdBack(investigation: Investigation, why: string): Investigation {
  if (investigation.decision.kind === 'none') return investigation;
  return {
    ...investigation,
    decision: { kind: 'none', reason: `would ${investigation.decision.kind}, but held back: ${why}` },
  };
}

async function publish(report: Report, deps: ResponderDeps): Promise<{ channel: string; ok: boolean }[]> {
  const results = await Promise.all(
    deps.notifiers.map((notifier) =>
      notifier.publish(report).catch((error: unknown) => [{ channel: 'unknown', ok: false, error: String(error) }]),
    ),
  );
  const flat = results.flat();
  for (const failure of flat.filter((result) => !result.ok)) {
    deps.logger.warn('notification failed', { channel: failure.channel, error: failure.error });
  }
  return flat.map(({ channel, ok }) => ({ channel, ok }));
}

function summarize(report: Report): IncidentSummary {
  return {
    instanceId: report.instanceId,
    cause: report.diagnosis.cause,
    action: report.action.kind,
    executed: report.action.executed,
    outcome: report.outcome,
  };
}

/** What the host scripts need on every instance: the same app layout across the fleet. */
export function targetFor(config: ResponderConfig, instanceId: string): RespondTarget {
  const { appName, healthUrl, upstream, pm2Home, pm2User, ecosystem, nginxConfig, nginxErrorLog } = config;
  return targetAt(withoutUndefined({ instanceId, app: appName, healthUrl, upstream, pm2Home, pm2User, ecosystem, nginxConfig, nginxErrorLog }));
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
