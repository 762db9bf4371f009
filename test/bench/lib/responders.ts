/**
 * The three responders the recovery benchmark compares, each started on a fresh sandbox and stopped after the run:
 * Reflex (`watch` + `respond` in this process, as `reflex watch --local` runs them), monit (its own process), and
 * PM2 alone (autorestart on, nothing else: the sandbox is started with it).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { localWiring } from '../../../functions/cli/local.ts';
import { loadProfile } from '../../../functions/cli/profile-file.ts';
import { targetOf } from '../../../functions/core/profile.ts';
import { watch } from '../../../functions/cli/watch.ts';
import { exitCodeFor, respond } from '../../../functions/core/respond.ts';
import type { Report } from '../../../functions/core/types.ts';
import type { Sandbox } from '../../../functions/sandbox/sandbox.ts';
import { MonitProcess } from './monit.ts';

export const RESPONDER_NAMES = ['reflex', 'monit', 'pm2'] as const;
export type ResponderName = (typeof RESPONDER_NAMES)[number];

export const RESPONDER_LABELS: Readonly<Record<ResponderName, string>> = {
  reflex: 'Reflex',
  monit: 'monit',
  pm2: 'PM2 alone',
};

/** Reflex's settings in the benchmark: those of `reflex watch --local` with the demo's threshold. */
export const REFLEX_SETTINGS = {
  threshold: 5,
  windowMs: 60_000,
  pollMs: 100,
  verifyDeadlineMs: 30_000,
  /** The runs restart once each on a fresh sandbox; the budget must not be what stops Reflex. */
  policy: { maxRestartsPerHour: 10, minMinutesBetweenRestarts: 0 },
} as const;

/** One incident Reflex handled during a run. */
export interface ReflexIncident {
  readonly alarmAt: number;
  readonly report: Report;
}

export interface RunningResponder {
  readonly name: ResponderName;
  /** Reflex only: the incidents handled so far. */
  readonly incidents: readonly ReflexIncident[];
  /** Stops the responder and waits for whatever it was doing (an incident, a restart script) to end. */
  stop(): Promise<void>;
}

export class ResponderError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ResponderError';
  }
}

/** Responder names from a comma list; one clear error naming the unknown one. */
export function parseResponders(list: string | undefined): ResponderName[] {
  if (list === undefined || list.trim() === '') return [...RESPONDER_NAMES];
  return list.split(',').map((raw) => {
    const name = raw.trim();
    if (!(RESPONDER_NAMES as readonly string[]).includes(name)) {
      throw new ResponderError(`--responders: unknown responder "${name}"; choose from ${RESPONDER_NAMES.join(', ')}`);
    }
    return name as ResponderName;
  });
}

/** Starts the responder on the sandbox (PM2 alone: nothing to start, the sandbox runs with autorestart). */
export async function startResponder(name: ResponderName, box: Sandbox): Promise<RunningResponder> {
  if (name === 'reflex') return startReflex(box);
  if (name === 'monit') {
    const monit = await MonitProcess.start(box);
    return { name, incidents: [], stop: () => monit.stop() };
  }
  return { name, incidents: [], stop: async () => undefined };
}

async function startReflex(box: Sandbox): Promise<RunningResponder> {
  // The sandbox's profile, with the state file in the sandbox and a budget that allows the run's restarts.
  const profilePath = join(box.dir, 'bench-host.json');
  await writeFile(profilePath, JSON.stringify({ ...box.profile, stateFile: join(box.dir, 'state.json'), policy: REFLEX_SETTINGS.policy }, null, 2));
  const profile = await loadProfile(profilePath, box.env);
  const target = targetOf(profile);
  const incidents: ReflexIncident[] = [];
  const controller = new AbortController();
  const watching = watch({
    accessLog: profile.nginx.accessLog,
    threshold: REFLEX_SETTINGS.threshold,
    windowMs: REFLEX_SETTINGS.windowMs,
    pollMs: REFLEX_SETTINGS.pollMs,
    signal: controller.signal,
    onAlarm: async ({ at }) => {
      const { deps, budget } = localWiring(profile, { env: box.env });
      const report = await respond(target, deps, { budget, verifyDeadlineMs: REFLEX_SETTINGS.verifyDeadlineMs });
      incidents.push({ alarmAt: at.getTime(), report });
      // As `reflex watch` does: an incident that leaves the app serving puts the watcher back to OK at once.
      return exitCodeFor(report) === 0;
    },
  });
  return {
    name: 'reflex',
    incidents,
    stop: async () => {
      controller.abort();
      await watching;
    },
  };
}
