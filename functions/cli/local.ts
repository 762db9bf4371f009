/**
 * Local mode wiring: the host's files, bash running the host scripts, a state file, the system clock.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Journal } from '../adapters/incident-journal.ts';
import { FileStateStore, defaultStatePath } from '../adapters/local/file-state-store.ts';
import { SlackConfigError, loadSlackConfig } from '../adapters/slack/secrets.ts';
import { FileLogSource } from '../adapters/local/log-source.ts';
import { LocalHostRunner } from '../adapters/local/host-runner.ts';
import { DEFAULT_BUDGET, type RestartBudget } from '../core/policy.ts';
import type { Clock, IncidentJournal, Progress } from '../core/ports.ts';
import type { HostProfile } from '../core/profile.ts';
import { targetOf } from '../core/profile.ts';
import { closedAt } from '../core/incident.ts';
import { inProcess } from '../core/checkpoints.ts';
import { approveAll } from '../core/modes.ts';
import { respond, type RespondDeps } from '../core/respond.ts';
import type { TerminalApprover } from './prompt.ts';
import type { Report } from '../core/types.ts';
import { InputError } from '../core/validate.ts';

export const systemClock: Clock = { now: () => new Date(), sleep: (ms) => sleep(ms) };

export interface LocalWiring {
  readonly deps: RespondDeps;
  readonly budget: RestartBudget;
  readonly state: FileStateStore;
}

/** One incident on this host, as `respond`, `watch` and the demo run it. */
export async function respondLocally(
  profile: HostProfile,
  options: { progress?: Progress; dryRun?: boolean; verifyDeadlineMs?: number; env?: NodeJS.ProcessEnv; approver?: TerminalApprover } = {},
): Promise<Report> {
  const { deps, budget, state } = localWiring(profile, options);
  const notBefore = closedAt(await state.loadIncident(profile.instanceId));
  const { approver } = options;
  const policy = profile.policy ?? {};
  // With a person at the terminal, every restart-fixable cause asks first; the proposal and the answer go through
  // the same callback the Lambda waits on, answered in this process.
  const modes = approver ? approveAll(policy.modes) : policy.modes;
  const journal = deps.journal;
  const phase: IncidentJournal['phase'] = (at, report) => journal?.phase(at, report) ?? Promise.resolve();
  // Locally only the terminal can answer: a Slack bot's buttons need the AWS endpoint. Without --approve, nothing
  // is proposed (approve mode observes, and no "restart anyway" is offered).
  const answering: RespondDeps = approver
    ? {
        ...deps,
        checkpoints: inProcess(deps.clock, (callbackId, timeoutMs) => approver.answer(callbackId, timeoutMs)),
        journal: { phase, propose: (report, callbackId) => approver.propose(report, callbackId) },
      }
    : { ...deps, journal: { phase } };
  return respond(targetOf(profile), answering, {
    budget,
    ...(modes && { modes }),
    ...(policy.approvalMinutes !== undefined && { approvalMs: policy.approvalMinutes * 60_000 }),
    ...(options.dryRun && { dryRun: true }),
    ...(options.verifyDeadlineMs !== undefined && { verifyDeadlineMs: options.verifyDeadlineMs }),
    ...(notBefore && { notBefore }),
  });
}

/**
 * Adapters for one incident on this host. Slack comes from REFLEX_SLACK_WEBHOOK_URL, or REFLEX_SLACK_BOT_TOKEN
 * with REFLEX_SLACK_CHANNEL; a bad value is bad input (InputError), found before anything runs.
 */
export function localWiring(profile: HostProfile, options: { progress?: Progress; env?: NodeJS.ProcessEnv } = {}): LocalWiring {
  const env = options.env ?? process.env;
  const stateFile = profile.stateFile ?? defaultStatePath(profile.instanceId, env, homedir());
  const state = new FileStateStore(stateFile);
  let slack;
  try {
    slack = loadSlackConfig({ env });
  } catch (error) {
    if (error instanceof SlackConfigError) throw new InputError(error.message, 'slack');
    throw error;
  }
  return {
    deps: {
      host: new LocalHostRunner({ env }),
      logs: new FileLogSource({
        accessLog: profile.nginx.accessLog,
        errorLog: profile.nginx.errorLog,
        pm2Log: join(profile.pm2.home, 'pm2.log'),
        ...(profile.kernelLog && { kernelLog: profile.kernelLog }),
      }),
      clock: systemClock,
      state,
      journal: new Journal({ store: state, ...(slack && { slack }) }),
      ...(options.progress && { progress: options.progress }),
    },
    budget: {
      maxRestartsPerHour: profile.policy?.maxRestartsPerHour ?? DEFAULT_BUDGET.maxRestartsPerHour,
      minMinutesBetweenRestarts: profile.policy?.minMinutesBetweenRestarts ?? DEFAULT_BUDGET.minMinutesBetweenRestarts,
    },
    state,
  };
}
