/**
 * One run of the recovery benchmark: a fresh sandbox, the app's boot time measured, one responder started, steady
 * traffic and an independent probe through nginx, one fault, then until the app serves again (or the cap), what the
 * responder did. Everything started here is stopped here, by pid, whatever happens.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cause } from '../../../functions/core/types.ts';
import { SandboxError, startSandbox, type Sandbox } from '../../../functions/sandbox/sandbox.ts';
import { loadAverageNow } from './environment.ts';
import { pm2LogSize, startsSince, type Fault } from './faults.ts';
import { startResponder, type ResponderName, type RunningResponder } from './responders.ts';
import { firstFailure, get, startLoop, sustainedRecovery } from './traffic.ts';

/** The load and the limits of every run, printed with the results. */
export const RUN_SETTINGS = {
  bootMs: 1000,
  traffic: { path: '/', rate: 20, timeoutMs: 5000, maxInFlight: 40 },
  probe: { path: '/api/health', rate: 10, timeoutMs: 3000, maxInFlight: 40, streak: 3 },
  /** Steady traffic before the fault. */
  warmupMs: 1000,
  /**
   * The fault comes at least this long after the boot measurement's `pm2 stop`: pm2.log stamps whole seconds, and
   * Reflex reads an exit within 5 s of a `Stopping app` line as asked for (a stop, not a crash).
   */
  quietAfterStopMs: 7000,
  /** After recovery: a restart that comes late still counts. */
  settleMs: 2000,
} as const;

export interface RunLimits {
  /** A fault a restart fixes that is not fixed within this is "not recovered". */
  readonly capMs: number;
  /** How long a fault a restart must not touch is watched for restarts. */
  readonly observeMs: number;
}

export interface ReflexRunDetail {
  /** Fault took effect → alarm (the watcher saw the threshold of gateway errors). */
  readonly detectMs?: number;
  /** Alarm → diagnosis. */
  readonly diagnosedMs?: number;
  /** Alarm → restart issued (the responder's own overhead). */
  readonly actedMs?: number;
  /** The first incident's diagnosis. */
  readonly cause?: Cause;
  /** Every distinct diagnosis over the run's incidents, in order (the watcher raises a new alarm while errors go on). */
  readonly causes: readonly Cause[];
  readonly action?: string;
  readonly executed?: boolean;
  readonly outcome?: string;
  readonly incidents: number;
}

export interface RunResult {
  readonly run: number;
  readonly fault: Fault['name'];
  readonly responder: ResponderName;
  /** The floor on this sandbox: `pm2 start` → first 200 through nginx. */
  readonly bootMs?: number;
  /** When the fault's action started (`pm2 stop` is a CLI start of ~0.5 s before the app stops). */
  readonly faultAt?: string;
  /** Fault's action → the first failed probe: when the fault took effect, the start of every time below. */
  readonly takeEffectMs?: number;
  /** Fault took effect → first of 3 consecutive 200s through nginx; undefined when not within the cap (or not applicable). */
  readonly recoveredMs?: number;
  /** Fault's action → recovery, for reference. */
  readonly recoveredFromActionMs?: number;
  /** Whether the probe saw the fault at all (a failed /api/health through nginx). */
  readonly faultShown?: boolean;
  /** PM2 starts after the fault that the injection did not cause itself. */
  readonly restarts?: number;
  /** Restarts during a fault a restart must not touch. */
  readonly harmful?: number;
  /** Faults a restart must not touch: no restart and the same app process at the end. */
  readonly leftAlone?: boolean;
  /** Recovered (restartable faults) or left alone (the others). */
  readonly right: boolean;
  readonly reflex?: ReflexRunDetail;
  /** The run could not be carried out (sandbox, injection): it counts as not right and is reported. */
  readonly error?: string;
  readonly loadAverage: readonly number[];
}

/** Runs one (fault, responder) pair on a fresh sandbox. Never throws: a failed run comes back with `error`. */
export async function runOnce(run: number, fault: Fault, responder: ResponderName, limits: RunLimits): Promise<RunResult> {
  const base = { run, fault: fault.name, responder };
  let box: Sandbox | undefined;
  let running: RunningResponder | undefined;
  const controller = new AbortController();
  try {
    // PM2 alone is PM2 with autorestart on; Reflex and monit get the sandbox default (off): the app stays down,
    // as it does once PM2 has used up max_restarts. OOM kills are written to a file (the same for all three).
    box = await startSandbox({ bootMs: RUN_SETTINGS.bootMs, autorestart: responder === 'pm2', oom: 'simulated' });
    const { bootMs, stoppedAt } = await measureBoot(box);
    await box.waitHealthy(15_000);

    running = await startResponder(responder, box);
    const traffic = startLoop({ port: box.nginxPort, ...RUN_SETTINGS.traffic, maxRequests: 20 * 600, signal: controller.signal });
    const probe = startLoop({ port: box.nginxPort, ...RUN_SETTINGS.probe, maxRequests: 10 * 600, signal: controller.signal });
    await sleep(Math.max(RUN_SETTINGS.warmupMs, stoppedAt + RUN_SETTINGS.quietAfterStopMs - Date.now()));

    const logOffset = await pm2LogSize(box);
    let faultAt = 0;
    await fault.inject(box, () => {
      faultAt = Date.now();
    });
    // The process a restart must not touch: the one serving right after the fault.
    const pidAfterFault = fault.restartFixes ? 0 : await box.appPid();

    let recovery: ReturnType<typeof sustainedRecovery>;
    const deadline = faultAt + (fault.restartFixes ? limits.capMs : limits.observeMs);
    while (Date.now() < deadline) {
      if (fault.restartFixes) {
        recovery = sustainedRecovery(probe.results, faultAt, RUN_SETTINGS.probe.streak);
        if (recovery) break;
      }
      await sleep(100);
    }
    if (recovery) await sleep(RUN_SETTINGS.settleMs);
    controller.abort();
    await Promise.all([traffic.done, probe.done]);
    await running.stop();

    const restarts = Math.max(0, (await startsSince(box, logOffset)) - fault.ownStarts);
    const harmful = fault.restartFixes ? 0 : restarts;
    const leftAlone = fault.restartFixes ? undefined : restarts === 0 && pidAfterFault > 0 && (await box.appPid()) === pidAfterFault;
    // Times start when the fault took effect (the first failed probe), not when its action started: a pm2 CLI
    // start before `pm2 stop` bites is nobody's reaction time. No failed probe: the fault never showed on /api/health.
    const shown = firstFailure(probe.results, faultAt);
    const effectAt = shown?.sentAt ?? faultAt;
    const recoveredMs = recovery ? recovery.recoveredAt - effectAt : undefined;
    return {
      ...base,
      bootMs,
      faultAt: new Date(faultAt).toISOString(),
      ...(shown && { takeEffectMs: shown.sentAt - faultAt }),
      ...(recoveredMs !== undefined && { recoveredMs, recoveredFromActionMs: recovery!.recoveredAt - faultAt }),
      faultShown: shown !== undefined,
      restarts,
      harmful,
      ...(leftAlone !== undefined && { leftAlone }),
      right: fault.restartFixes ? recoveredMs !== undefined : leftAlone === true,
      ...(responder === 'reflex' && { reflex: reflexDetail(running, effectAt) }),
      loadAverage: loadAverageNow(),
    };
  } catch (error) {
    return { ...base, right: false, error: error instanceof Error ? error.message : String(error), loadAverage: loadAverageNow() };
  } finally {
    controller.abort();
    await running?.stop().catch(() => undefined);
    await box?.stop();
  }
}

/**
 * The floor: stop the app, then time `pm2 start <ecosystem> --only web` until the first 200 through nginx. It
 * includes the pm2 CLI's own start, as any restart through PM2 does.
 */
async function measureBoot(box: Sandbox): Promise<{ bootMs: number; stoppedAt: number }> {
  const ecosystem = box.profile.pm2.ecosystem;
  if (!ecosystem) throw new SandboxError('the sandbox profile names no ecosystem file');
  const stoppedAt = Date.now();
  const stopped = await box.pm2('stop', 'web');
  if (stopped.code !== 0) throw new SandboxError(`pm2 stop failed before the boot measurement: ${stopped.stderr.trim().split('\n')[0] ?? ''}`);
  const startedAt = Date.now();
  const starting = box.pm2('start', ecosystem, '--only', 'web');
  for (;;) {
    if ((await get(box.nginxPort, '/api/health', 1000)) === 200) break;
    if (Date.now() - startedAt > 30_000) throw new SandboxError('the app did not answer through nginx within 30 s of pm2 start');
    await sleep(20);
  }
  const bootMs = Date.now() - startedAt;
  await starting;
  return { bootMs, stoppedAt };
}

function reflexDetail(running: RunningResponder, effectAt: number): ReflexRunDetail {
  const first = running.incidents[0];
  if (!first) return { incidents: 0, causes: [] };
  const { report } = first;
  const acting = running.incidents.find((incident) => incident.report.action.executed) ?? first;
  return {
    detectMs: first.alarmAt - effectAt,
    diagnosedMs: report.timings.diagnosedMs,
    ...(acting.report.timings.actedMs !== undefined && { actedMs: acting.report.timings.actedMs }),
    cause: report.diagnosis.cause,
    causes: [...new Set(running.incidents.map((incident) => incident.report.diagnosis.cause))],
    action: acting.report.action.kind,
    executed: acting.report.action.executed,
    outcome: acting.report.outcome,
    incidents: running.incidents.length,
  };
}
