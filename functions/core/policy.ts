/**
 * Policy: what to do about a diagnosis. Only what a restart can fix is restarted, and never more often than the
 * per-instance budget allows (supervisors such as systemd and Kubernetes bound restarts the same way).
 */
import { WHOLE_NUMBER_SETTINGS } from '../contract/lambda-env.ts';
import { RESTART_CANNOT_FIX, probeOk } from './diagnosis/index.ts';
import type { Decision, Diagnosis, Evidence } from './types.ts';
import { InputError } from './validate.ts';

/** How often Reflex may restart (or start) the app of one instance. */
export interface RestartBudget {
  /** At most this many automatic restarts/starts in a rolling hour. */
  readonly maxRestartsPerHour: number;
  /** At least this many minutes between two of them. */
  readonly minMinutesBetweenRestarts: number;
}

/** The safety rules' budget: at most 3 automatic restarts in a rolling hour, at least 5 minutes apart. */
export const DEFAULT_BUDGET: RestartBudget = {
  maxRestartsPerHour: WHOLE_NUMBER_SETTINGS.maxRestartsPerHour.default,
  minMinutesBetweenRestarts: WHOLE_NUMBER_SETTINGS.minMinutesBetweenRestarts.default,
};

/** A decision, and when an action was wanted but the budget refused it, which limit refused it. */
export interface PolicyDecision extends Decision {
  readonly refusedBy?: 'budget' | 'spacing';
  /** What the budget refused: a person may still ask for it ("restart anyway"). */
  readonly wanted?: 'restart' | 'start';
}

/** What the policy reads: the diagnosis, its evidence, and Reflex's own restart history for the instance. */
export interface PolicyInput {
  readonly diagnosis: Diagnosis;
  readonly evidence: Evidence;
  readonly now: Date;
  /** ISO times of Reflex's own past restarts/starts of this instance. */
  readonly restarts: string[];
  readonly budget: RestartBudget;
  /** true when an ecosystem file is configured. Without one, a missing app is started from PM2's saved list. */
  readonly hasEcosystem: boolean;
}

const HOUR_MS = 60 * 60 * 1000;
const MINUTE_MS = 60 * 1000;

/** Decides restart, start or none for the diagnosis, then applies the restart budget. */
export function decide(input: PolicyInput): PolicyDecision {
  checkBudget(input.budget);
  const wanted = byCause(input);
  if (wanted.kind === 'none') return wanted;
  return applyBudget(wanted, input);
}

/** true when the policy wanted to act but the restart budget or spacing refused. */
export function isBudgetRefusal(decision: Decision): boolean {
  return (decision as PolicyDecision).refusedBy !== undefined;
}

function byCause({ diagnosis, evidence, hasEcosystem }: PolicyInput): PolicyDecision {
  const app = evidence.app;
  switch (diagnosis.cause) {
    case 'process_crashed': {
      const error = diagnosis.appError;
      if (error && RESTART_CANNOT_FIX.has(error.kind)) {
        return { kind: 'none', reason: `${app} crashed with ${error.kind} (its own error output says so); a restart would die the same way until a human fixes that.` };
      }
      return { kind: 'restart', reason: `${app} crashed and PM2 did not bring it back; a restart serves users again.` };
    }
    case 'process_stopped':
      return { kind: 'restart', reason: `${app} is stopped and nothing started it again; a restart serves users again.` };
    case 'app_hung':
      return { kind: 'restart', reason: `${app} is hung; a restart is the fastest way to serve users again.` };
    case 'oom_killed': {
      const process = evidence.snapshot.processes.find((candidate) => candidate.name === app);
      const nginx = evidence.snapshot.probes.nginx;
      const nginxFailed = nginx !== undefined && !probeOk(nginx);
      if (process?.status !== 'online' || nginxFailed) {
        return { kind: 'restart', reason: `${app} was killed by the OOM killer and is still not serving; a restart brings it back.` };
      }
      return { kind: 'none', reason: `PM2 already brought ${app} back after the OOM kill and nginx serves again; the memory limit needs fixing, not a restart.` };
    }
    case 'process_missing':
      if (hasEcosystem) return { kind: 'start', reason: `${app} is not running under PM2; start it from its ecosystem file.` };
      if (evidence.snapshot.savedApps?.includes(app)) {
        return { kind: 'start', reason: `${app} is not running under PM2; start it from PM2's saved process list (pm2 save), as PM2 does at boot.` };
      }
      return {
        kind: 'none',
        reason: `${app} is not running under PM2, no ecosystem file is configured and PM2's saved list (pm2 save) does not name it, so Reflex cannot start it; start it by hand, then run pm2 save.`,
      };
    case 'crash_loop':
      return { kind: 'none', reason: `${app} dies again right after each start; Reflex never fights a crash loop, a human must fix the cause first.` };
    case 'port_in_use':
      return { kind: 'none', reason: `another process, not ${app} under PM2, holds its port; Reflex never kills a process it did not start through PM2, and a restart would fail the same way.` };
    case 'port_mismatch':
      return { kind: 'none', reason: `${app} listens on another port than nginx proxies to; a restart would bring it back on the same port.` };
    case 'proxy_misconfig':
      return { kind: 'none', reason: `${app} listens on an address nginx does not connect to; a restart would bind the same address again.` };
    case 'upstream_timeout':
      return { kind: 'none', reason: `${app} is alive but slow; a restart would drop in-flight requests and not make it faster.` };
    case 'header_too_big':
      return { kind: 'none', reason: `${app}'s response headers on some pages exceed nginx's proxy_buffer_size; nginx's configuration needs changing, a restart sends the same headers.` };
    case 'keepalive_race':
      return { kind: 'none', reason: `${app} closes idle connections before nginx stops reusing them; the keep-alive timeouts need changing, a restart keeps them the same.` };
    case 'healthy':
      return { kind: 'none', reason: `nginx and ${app} answer again; nothing to fix.` };
    case 'unknown':
      return { kind: 'none', reason: 'the cause is unclear and Reflex does not act on a guess; a human should look at the evidence.' };
  }
}

function applyBudget(wanted: PolicyDecision, { now, restarts, budget }: PolicyInput): PolicyDecision {
  const nowMs = now.getTime();
  // Times Reflex wrote itself; an unreadable one is ignored rather than blocking every future restart.
  const times = restarts
    .map((iso) => Date.parse(iso))
    .filter((ms) => !Number.isNaN(ms))
    .sort((a, b) => a - b);
  const lastHour = times.filter((ms) => ms > nowMs - HOUR_MS);
  const instead = `wanted to ${wanted.kind} (${wanted.reason}) but a human must decide`;
  if (lastHour.length >= budget.maxRestartsPerHour) {
    const at = lastHour.map((ms) => `${new Date(ms).toISOString().slice(11, 19)}Z`).join(', ');
    const plural = lastHour.length === 1 ? 'restart' : 'restarts';
    return {
      kind: 'none',
      refusedBy: 'budget',
      wanted: wanted.kind as 'restart' | 'start',
      reason: `restart budget spent: ${lastHour.length} ${plural} in the last hour${at ? ` (at ${at})` : ''}; ${instead}.`,
    };
  }
  const last = times.at(-1);
  if (last !== undefined && nowMs - last < budget.minMinutesBetweenRestarts * MINUTE_MS) {
    const minutes = Math.floor((nowMs - last) / MINUTE_MS);
    const ago = minutes < 1 ? 'less than 1 min ago' : `${minutes} min ago`;
    return {
      kind: 'none',
      refusedBy: 'spacing',
      wanted: wanted.kind as 'restart' | 'start',
      reason: `last restart ${ago}; at least ${budget.minMinutesBetweenRestarts} min apart; ${instead}.`,
    };
  }
  return wanted;
}

function checkBudget(budget: RestartBudget): void {
  if (!Number.isInteger(budget.maxRestartsPerHour) || budget.maxRestartsPerHour < 0) {
    throw new InputError(`budget.maxRestartsPerHour: must be a whole number ≥ 0, got ${budget.maxRestartsPerHour}`, 'maxRestartsPerHour');
  }
  if (!Number.isFinite(budget.minMinutesBetweenRestarts) || budget.minMinutesBetweenRestarts < 0) {
    throw new InputError(
      `budget.minMinutesBetweenRestarts: must be a number ≥ 0, got ${budget.minMinutesBetweenRestarts}`,
      'minMinutesBetweenRestarts',
    );
  }
}
