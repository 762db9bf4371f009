/**
 * One invocation of the responder, wired: parse the event, hand it to the fleet use case (core/respond-fleet.ts) with
 * a journal per instance, and summarize what it did. The handler builds the adapters and calls this.
 */
import { inProcess } from '../core/checkpoints.ts';
import { withoutUndefined } from '../core/incident.ts';
import { respondFleet, type AppLayout, type FleetDeps } from '../core/respond-fleet.ts';
import { targetAt, type RespondTarget } from '../core/respond.ts';
import { parseTrigger } from '../core/trigger.ts';
import type { Outcome, Report } from '../core/types.ts';
import { InputError } from '../core/validate.ts';
import { Journal } from '../adapters/incident-journal.ts';
import type { SlackConfig } from '../adapters/slack/secrets.ts';
import type { ResponderConfig } from './config.ts';

/** The fleet's ports, except the journal: it is built here, one per instance, from the Slack settings. */
export interface ResponderDeps extends Omit<FleetDeps, 'newJournal'> {
  readonly config: ResponderConfig;
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
  /** First gateway error → incident start (see Report.timings), so the `incident` log line answers "how fast". */
  readonly detectedMs?: number;
}

/**
 * Handles one event (an alarm, a detector start or a manual event). A malformed event is `invalid`, another alarm's or a
 * stale one `ignored`, a replay `duplicate`; otherwise each affected instance ends in a report on every channel.
 */
export async function handleEvent(event: unknown, deps: ResponderDeps): Promise<ResponderResult> {
  const { config, clock, logger } = deps;
  const checkpoints = deps.checkpoints ?? inProcess(clock);
  // A step: whether the event is stale depends on the clock, and a durable execution resumed after the alarm window
  // (a long fleet, a wait for a click) must read its own event as it did when it started.
  const parsed = await checkpoints.step('trigger', async () => {
    try {
      return { trigger: parseTrigger(event, { alarmName: config.alarmName, maxAgeSeconds: config.windowSeconds, now: clock.now() }) };
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      logger.warn('invalid event', { field: error.field, reason: error.message });
      return { invalid: error.message };
    }
  });
  if (parsed.invalid !== undefined) return { status: 'invalid', error: parsed.invalid };
  const trigger = parsed.trigger!;
  if (trigger.kind === 'ignored') {
    logger.info('event ignored', { reason: trigger.reason });
    return { status: 'ignored', reason: trigger.reason };
  }

  const { store, slack, slackApiUrl } = deps;
  const newJournal = (): Journal =>
    new Journal({ ...(store && { store }), ...(slack && { slack }), ...(slackApiUrl && { slackApiUrl }), logger, now: () => clock.now() });
  const result = await respondFleet(trigger, { ...deps, checkpoints, newJournal }, {
    layout: layoutOf(config),
    windowMs: config.windowSeconds * 1000,
    verifyMs: config.verifySeconds * 1000,
    dryRun: config.dryRun,
    budget: config.budget,
    maxWave: config.maxWave,
    modes: config.modes,
    approvalMs: config.approvalMinutes * 60_000,
  });
  if (result.status === 'duplicate') return result;
  return { status: 'handled', incidents: result.reports.map(summarize), notified: result.notified };
}

function summarize(report: Report): IncidentSummary {
  return {
    instanceId: report.instanceId,
    cause: report.diagnosis.cause,
    action: report.action.kind,
    executed: report.action.executed,
    outcome: report.outcome,
    ...(report.timings.detectedMs !== undefined && { detectedMs: report.timings.detectedMs }),
  };
}

/** Where the app lives on every instance, from the configuration: the same app layout across the fleet. */
function layoutOf(config: ResponderConfig): AppLayout {
  const { appName, healthUrl, upstream, pm2Home, pm2User, ecosystem, nginxConfig, nginxErrorLog } = config;
  return withoutUndefined({ app: appName, healthUrl, upstream, pm2Home, pm2User, ecosystem, nginxConfig, nginxErrorLog });
}

/** What the host scripts need on one instance of the fleet. */
export function targetFor(config: ResponderConfig, instanceId: string): RespondTarget {
  return targetAt({ instanceId, ...layoutOf(config) });
}
