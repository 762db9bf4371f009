/**
 * Verification after a restart/start: a sequence of observations (the app's PM2 record and a probe through nginx).
 * Recovered after a few consecutive good observations; a crash loop as soon as the app is seen dying again. Pure:
 * the observations come from remediate.sh verifying on the host (its `@@verify` lines, one SSM round trip), or from
 * light snapshots when that did not decide; the caller owns the deadline.
 */
import type { HostSnapshot, Pm2Status } from './types.ts';

/** One look at the app after the action. */
export interface Observation {
  readonly at: string;
  /** false when the PM2 daemon did not answer: the observation says nothing about the app. */
  readonly pm2Ok: boolean;
  /** The app's PM2 record; undefined when PM2 does not list it. */
  readonly app?: { readonly status: Pm2Status | string; readonly pid: number; readonly restartTime: number; readonly startedAt?: string };
  /** The probe of the health URL through nginx: its HTTP status (0: no answer), and why there was none. */
  readonly nginx?: { readonly status: number; readonly timeMs: number; readonly error?: string };
}

/** The observation a light snapshot makes of `app`. */
export function observationOf(snapshot: HostSnapshot, app: string): Observation {
  const process = snapshot.processes.find((candidate) => candidate.name === app);
  const probe = snapshot.probes.nginx;
  return {
    at: snapshot.takenAt,
    pm2Ok: snapshot.pm2Ok,
    ...(process && {
      app: { status: process.status, pid: process.pid, restartTime: process.restartTime, ...(process.startedAt && { startedAt: process.startedAt }) },
    }),
    ...(probe && { nginx: { status: probe.status, timeMs: probe.timeMs, ...(probe.error && { error: probe.error }) } }),
  };
}

/** pending: keep polling; recovered: users are served again; crash_loop: the app died again, stop and escalate. */
export type VerifyVerdict = 'pending' | 'recovered' | 'crash_loop';

/** Plain data, so a caller may keep it anywhere between polls. */
export interface VerifyState {
  readonly app: string;
  readonly requiredPasses: number;
  /** PM2's restart_time of the app just before the action. */
  readonly restartTimeAtAction?: number;
  /** When the action was issued (ISO). */
  readonly actedAt?: string;
  readonly observations: number;
  /** Consecutive observations with the app online and nginx answering 2xx/3xx. */
  readonly passes: number;
  /** The app was seen online since the action. */
  readonly seenOnline: boolean;
  /** restart_time at the first observation that showed the app, the baseline when none was given. */
  readonly firstRestartTime?: number;
  /** The last non-zero pid seen, and how often it changed. */
  readonly lastPid?: number;
  readonly pidChanges: number;
  readonly verdict: VerifyVerdict;
  /** Why the verdict is crash_loop, for a human. */
  readonly reason?: string;
}

const DEFAULT_REQUIRED_PASSES = 3;
/** Extra restarts beyond the action's own that mean PM2 is restarting a dying app. */
const RESTARTS_FOR_LOOP = 2;

/** The state before the first observation. */
export function startVerify(baseline: { app: string; restartTimeAtAction?: number; actedAt?: string; requiredPasses?: number }): VerifyState {
  const requiredPasses = baseline.requiredPasses ?? DEFAULT_REQUIRED_PASSES;
  return {
    app: baseline.app,
    requiredPasses: Math.max(1, Math.floor(requiredPasses)),
    ...(baseline.restartTimeAtAction !== undefined && { restartTimeAtAction: baseline.restartTimeAtAction }),
    ...(baseline.actedAt !== undefined && { actedAt: baseline.actedAt }),
    observations: 0,
    passes: 0,
    seenOnline: false,
    pidChanges: 0,
    verdict: 'pending',
  };
}

/** Folds one observation into the state. A final verdict (recovered, crash_loop) stays final. */
export function observe(state: VerifyState, observation: Observation): { state: VerifyState; verdict: VerifyVerdict } {
  if (state.verdict !== 'pending') return { state, verdict: state.verdict };
  const observations = state.observations + 1;
  // An unreachable daemon says nothing about the app: neither a pass nor a death.
  if (!observation.pm2Ok) return pending({ ...state, observations, passes: 0 });

  const app = observation.app;
  const online = app?.status === 'online';
  if (state.seenOnline && !online) {
    return loop({ ...state, observations }, `${state.app} was online after the action, then ${app ? app.status : 'gone from PM2'}`);
  }
  // An app that dies within a poll interval of its start is never seen online: PM2's start time tells. (Host and
  // responder clocks are NTP-synced; PM2 stamps the start after the restart command began, which leaves margin.)
  if (app && diedSince(app.status) && state.actedAt !== undefined && app.startedAt !== undefined && app.startedAt >= state.actedAt) {
    return loop({ ...state, observations }, `${state.app} started after the action (${app.startedAt}) and is ${app.status} again`);
  }

  let next: VerifyState = { ...state, observations, seenOnline: state.seenOnline || online };
  if (app) {
    if (next.firstRestartTime === undefined) next = { ...next, firstRestartTime: app.restartTime };
    if (app.pid > 0) {
      const changed = next.lastPid !== undefined && next.lastPid !== app.pid;
      next = { ...next, lastPid: app.pid, pidChanges: next.pidChanges + (changed ? 1 : 0) };
    }
    const extra = extraRestarts(next, app.restartTime);
    if (extra >= RESTARTS_FOR_LOOP) return loop(next, `PM2 restarted ${state.app} ${extra} more times after the action`);
    if (next.pidChanges > 1) return loop(next, `${state.app} changed pid ${next.pidChanges} times after the action`);
  }

  const pass = online && servedOk(observation.nginx?.status ?? 0);
  next = { ...next, passes: pass ? next.passes + 1 : 0 };
  if (next.passes >= next.requiredPasses) return { state: { ...next, verdict: 'recovered' }, verdict: 'recovered' };
  return pending(next);
}

/**
 * Restarts beyond what the action caused. `pm2 restart` adds one to restart_time when the app was online and
 * none when it was not, so one is allowed; without a baseline, the first observation is the baseline.
 */
function extraRestarts(state: VerifyState, restartTime: number): number {
  if (state.restartTimeAtAction !== undefined) return Math.max(0, restartTime - state.restartTimeAtAction - 1);
  return restartTime - (state.firstRestartTime ?? restartTime);
}

/** A 2xx or 3xx through nginx, as the diagnosis's probeOk counts it. */
function servedOk(status: number): boolean {
  return status >= 200 && status < 400;
}

function diedSince(status: string): boolean {
  return status === 'stopped' || status === 'errored';
}

function pending(state: VerifyState): { state: VerifyState; verdict: VerifyVerdict } {
  return { state, verdict: 'pending' };
}

function loop(state: VerifyState, reason: string): { state: VerifyState; verdict: VerifyVerdict } {
  return { state: { ...state, verdict: 'crash_loop', reason }, verdict: 'crash_loop' };
}
