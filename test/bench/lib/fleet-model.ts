/**
 * In-process stand-ins for the AWS side of the responder, for the fleet benchmark: they answer what the real
 * adapters would receive, wait what AWS would take (on the virtual clock) and count every API call the real
 * adapters would make. The responder's orchestration (handleEvent), its core and its SNS notifier are the real code.
 *
 * What each call costs, per the adapters in functions/adapters/aws:
 *   SsmHostRunner.run      1 SendCommand, GetCommandInvocation polls by the SDK waiter (one at once, then backing off
 *                          from minDelay to maxDelay seconds with jitter), then 1 GetCommandInvocation for the output.
 *                          The remediate command restarts the app and verifies on the host (its `@@verify` lines, one
 *                          observation per 250 ms poll until 3 good answers): one round trip for the action and its proof
 *   CloudWatchLogSource    4 FilterLogEvents in parallel (one per log group, one page each at these sizes)
 *   findAffectedInstances  1 StartQuery, then GetQueryResults every second until the query completes
 *   SnsNotifier            1 Publish per report
 *   DynamoDbStateStore     claimEvent, saveIncident, acquireLock, releaseLock: 1 write each; loadIncident, restarts:
 *                          1 read; recordRestart: 1 read + 1 write
 * The durable execution's checkpoints are modelled in durable-model.ts.
 */
import { readFileSync } from 'node:fs';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { IncidentRecord } from '../../../functions/core/incident.ts';
import type { HostParams, HostRunResult, HostRunner, HostScript, IncidentStore, LogSource, LogWindow } from '../../../functions/core/ports.ts';
import type { LogBundle } from '../../../functions/core/types.ts';
import { seededRandom } from './stats.ts';
import type { VirtualClock } from './virtual-clock.ts';

export class FleetModelError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'FleetModelError';
  }
}

/** The latencies the model charges, all in milliseconds except the waiter's (seconds, as the SDK takes them). */
export interface FleetLatencies {
  /** SendCommand → the invocation's terminal status: delivery to the agent plus the script's run. */
  readonly ssmRoundTripMs: number;
  /** One AWS API request/response (SendCommand, GetCommandInvocation, StartQuery, Publish…). */
  readonly apiCallMs: number;
  /** One FilterLogEvents page. */
  readonly filterLogEventsMs: number;
  /** How long the Logs Insights query runs before GetQueryResults says Complete. */
  readonly insightsQueryMs: number;
  /** One DynamoDB request. */
  readonly dynamoMs: number;
  /** SsmHostRunner's waiter settings (its defaults: 2 and 10). */
  readonly waiterMinDelaySeconds: number;
  readonly waiterMaxDelaySeconds: number;
  /** The app's boot: from the start of `pm2 restart` on the host to the first 200 through nginx. */
  readonly bootMs: number;
  /** One CheckpointDurableExecution call (the durable SDK sends its checkpoints in batches, one call at a time). */
  readonly checkpointMs: number;
}

/** The defaults: a 1 s SSM round trip as the issue asks; the other figures are typical in-region latencies (assumed). */
export const DEFAULT_LATENCIES: FleetLatencies = {
  ssmRoundTripMs: 1000,
  apiCallMs: 40,
  filterLogEventsMs: 300,
  insightsQueryMs: 2000,
  dynamoMs: 8,
  waiterMinDelaySeconds: 2,
  waiterMaxDelaySeconds: 10,
  // The demo app's boot as `npm run bench` measures it (pm2 start → first 200 through nginx: 1.54 s median).
  bootMs: 1500,
  checkpointMs: 40,
};

/** How long the pm2 CLI takes to return from `pm2 restart` (a Node CLI start, ~0.5 s): the on-host polls start then. */
export const PM2_CLI_MS = 500;
/** remediate.sh's poll interval while it verifies on the host, and the good answers in a row it waits for. */
export const HOST_POLL_MS = 250;
export const HOST_GOOD_ANSWERS = 3;

/** The poll interval of findAffectedInstances (QUERY_POLL_MS in cloudwatch-logs.ts). */
const INSIGHTS_POLL_MS = 1000;

/** AWS API calls counted over one incident. */
export interface ApiCalls {
  sendCommand: number;
  getCommandInvocation: number;
  startQuery: number;
  getQueryResults: number;
  filterLogEvents: number;
  snsPublish: number;
  dynamoReads: number;
  dynamoWrites: number;
  /** Lambda CheckpointDurableExecution: the durable execution's progress. */
  checkpoint: number;
}

/** A fresh set of counters. */
export function noCalls(): ApiCalls {
  return { sendCommand: 0, getCommandInvocation: 0, startQuery: 0, getQueryResults: 0, filterLogEvents: 0, snsPublish: 0, dynamoReads: 0, dynamoWrites: 0, checkpoint: 0 };
}

function fixture(name: string): string {
  return readFileSync(new URL(`../../fixtures/snapshots/${name}.txt`, import.meta.url), 'utf8');
}

/** The recorded snapshots (real host script output on the sandbox) the model answers with. */
export const RECORDED = {
  crashed: fixture('crash'),
  crashedProbe: fixture('crash-probe'),
  healthy: fixture('healthy'),
  healthyProbe: fixture('healthy-probe'),
};

/** When the crash snapshot was taken: the virtual clock starts just after it, so the evidence window holds it. */
export function recordedCrashTime(): Date {
  const match = /^taken_at=(.+)$/m.exec(RECORDED.crashed);
  if (!match?.[1]) throw new FleetModelError('test/fixtures/snapshots/crash.txt has no taken_at line');
  return new Date(match[1]);
}

/** The lines of one `@@section` of a snapshot. */
function section(snapshot: string, name: string): string[] {
  const lines = snapshot.split('\n');
  const start = lines.indexOf(`@@${name}`);
  if (start < 0) return [];
  const end = lines.findIndex((line, index) => index > start && line.startsWith('@@'));
  return lines.slice(start + 1, end < 0 ? undefined : end).filter((line) => line.trim() !== '');
}

/** What an SSM command is for: the investigation's full snapshot, the remediate (action + on-host verification), a light verification snapshot. */
export type SsmPurpose = 'investigation' | 'remediate' | 'verification';

/** The app's PM2 record (pid, restart_time) in a recorded snapshot. */
function recordedApp(snapshot: string): { pid: number; restarts: number } {
  const [line] = section(snapshot, 'pm2');
  const list = JSON.parse(line ?? '[]') as { name: string; pid?: number; pm2_env?: { restart_time?: number } }[];
  const app = list.find((entry) => entry.name === 'web');
  return { pid: app?.pid ?? 0, restarts: app?.pm2_env?.restart_time ?? 0 };
}

/**
 * The app restarted but still booting: the recorded healthy probe snapshot (PM2 says online, as it does before the
 * server answers), with both probes refused as they are while nothing listens yet.
 */
export const BOOTING_PROBE = RECORDED.healthyProbe
  .replace(/^(url=\S+ )code=\d+ time=\S+ exit=\d+$/gm, '$1code=000 time=0.000100 exit=7')
  .replace(/^(@@probe nginx\n\S+ )code=000 time=0.000100 exit=7$/m, '$1code=502 time=0.003000 exit=0');

/**
 * What remediate.sh prints when it verifies on the host (functions/core/evidence/verify-lines.ts, the same format as
 * test/helpers/fake-fleet.ts verifyOutput): pm2's line, `@@verify`, one JSON observation per poll from the moment
 * `pm2 restart` (begun at `restartAt`) returns, 250 ms apart, until 3 good answers in a row or `deadlineAt`, then the
 * result line. The app answers from `servesAt`. Returns the output and when the script ends.
 */
export function hostVerifyOutput(action: string, restartAt: number, servesAt: number, deadlineAt: number): { stdout: string; endsAt: number } {
  // The app as the recorded healthy snapshots show it after the restart: the pid verification will see there too.
  const { pid, restarts } = recordedApp(RECORDED.healthyProbe);
  const lines: string[] = [];
  let good = 0;
  let at = restartAt + PM2_CLI_MS;
  for (; ; at += HOST_POLL_MS) {
    const serves = at >= servesAt;
    good = serves ? good + 1 : 0;
    lines.push(
      JSON.stringify({
        at: new Date(at).toISOString(),
        pm2: true,
        app: { status: 'online', pid, restarts, startedAt: new Date(restartAt + 200).toISOString() },
        probe: serves ? { status: 200, ms: 4 } : { status: 0, ms: 1, error: 'refused' },
      }),
    );
    if (good >= HOST_GOOD_ANSWERS || at + HOST_POLL_MS > deadlineAt) break;
  }
  const verdict = good >= HOST_GOOD_ANSWERS ? 'recovered' : 'deadline';
  const stdout = [`[PM2] Applying action ${action}ProcessId on app [web](ids: [ 0 ])`, '@@verify', ...lines, `result=ok action=${action} verify=${verdict}`, ''].join('\n');
  return { stdout, endsAt: at };
}

/**
 * SSM Run Command on a fleet: affected instances show the recorded crash until remediated, then the healthy app.
 * `ssmRoundTripMs` is SSM's own part (delivery to the agent, the result reported back) plus a snapshot's run; the
 * remediate command adds its script's time on the host: the restart, the app's boot, the polls.
 */
export class ModelSsm implements HostRunner {
  /** SSM API calls (SendCommand + GetCommandInvocation) by purpose. */
  readonly callsFor: Record<SsmPurpose, number> = { investigation: 0, remediate: 0, verification: 0 };
  /** SSM round trips (one SendCommand each) by purpose. */
  readonly roundTrips: Record<SsmPurpose, number> = { investigation: 0, remediate: 0, verification: 0 };
  /** Virtual times of every SendCommand and GetCommandInvocation: the request rates the account must allow. */
  readonly sentAt: number[] = [];
  readonly polledAt: number[] = [];
  /** Total virtual time of the runs by purpose, from SendCommand to the output read. */
  readonly timeFor: Record<SsmPurpose, number> = { investigation: 0, remediate: 0, verification: 0 };
  /** When each remediated instance's app answers again. */
  readonly #servesFrom = new Map<string, number>();
  readonly #random: () => number;

  constructor(
    private readonly clock: VirtualClock,
    private readonly latencies: FleetLatencies,
    private readonly calls: ApiCalls,
    seed: number,
  ) {
    this.#random = seededRandom(seed);
  }

  async run(instanceId: string, script: HostScript, params: HostParams): Promise<HostRunResult> {
    const purpose: SsmPurpose = script === 'remediate' ? 'remediate' : params.sections === 'probe' ? 'verification' : 'investigation';
    const began = this.clock.nowMs();
    await this.clock.sleep(this.latencies.apiCallMs);
    this.calls.sendCommand++;
    this.callsFor[purpose]++;
    this.roundTrips[purpose]++;
    this.sentAt.push(this.clock.nowMs());
    // Half of SSM's part to reach the agent, half to report the result; the script runs in between.
    const startsAt = this.clock.nowMs() + this.latencies.ssmRoundTripMs / 2;
    const { stdout, endsAt } = this.#execute(instanceId, script, params, startsAt);
    const doneAt = endsAt + this.latencies.ssmRoundTripMs / 2;
    // waitUntilCommandExecuted: a first poll at once, then backoff with jitter (@smithy's exponentialBackoffWithJitter).
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) await this.clock.sleep(this.#waiterDelayMs(attempt));
      await this.#poll(purpose);
      if (this.clock.nowMs() >= doneAt) break;
    }
    // SsmHostRunner reads the invocation once more for its output.
    await this.#poll(purpose);
    this.timeFor[purpose] += this.clock.nowMs() - began;
    return { ok: true, stdout, stderr: '', status: 'Success' };
  }

  async #poll(purpose: SsmPurpose): Promise<void> {
    await this.clock.sleep(this.latencies.apiCallMs);
    this.calls.getCommandInvocation++;
    this.callsFor[purpose]++;
    this.polledAt.push(this.clock.nowMs());
  }

  #waiterDelayMs(attempt: number): number {
    const min = this.latencies.waiterMinDelaySeconds * 1000;
    const max = this.latencies.waiterMaxDelaySeconds * 1000;
    const ceiling = Math.log(max / min) / Math.log(2) + 1;
    if (attempt > ceiling) return max;
    const capped = Math.min(min * 2 ** (attempt - 1), max);
    return min + this.#random() * (capped - min);
  }

  /** What the script prints when it starts on the host at `startsAt`, and when it ends. */
  #execute(instanceId: string, script: HostScript, params: HostParams, startsAt: number): { stdout: string; endsAt: number } {
    const action = params.action ?? 'restart';
    if (script === 'remediate') {
      const servesAt = startsAt + this.latencies.bootMs;
      this.#servesFrom.set(instanceId, servesAt);
      const verifySeconds = Number(params.verifySeconds ?? 0);
      if (!(verifySeconds > 0)) return { stdout: `[PM2] Applying action ${action}ProcessId on app [web](ids: [ 0 ])\nresult=ok action=${action}\n`, endsAt: startsAt + PM2_CLI_MS };
      return hostVerifyOutput(action, startsAt, servesAt, startsAt + verifySeconds * 1000);
    }
    const servesFrom = this.#servesFrom.get(instanceId);
    const fixed = servesFrom !== undefined && startsAt >= servesFrom;
    if (params.sections === 'probe') {
      // Stamped with the time it is taken: verification reads the observation's time from it.
      const probe = fixed ? RECORDED.healthyProbe : servesFrom !== undefined ? BOOTING_PROBE : RECORDED.crashedProbe;
      return { stdout: probe.replace(/^taken_at=.*$/m, `taken_at=${new Date(startsAt).toISOString()}`), endsAt: startsAt };
    }
    return { stdout: fixed ? RECORDED.healthy : RECORDED.crashed, endsAt: startsAt };
  }
}

/** CloudWatch Logs for one instance: the crash's nginx, PM2 and kernel lines, after one FilterLogEvents round trip. */
export class ModelLogs implements LogSource {
  readonly #bundle: LogBundle;

  constructor(
    private readonly clock: VirtualClock,
    private readonly latencies: FleetLatencies,
    private readonly calls: ApiCalls,
  ) {
    const takenAt = recordedCrashTime();
    // The access log's gateway errors around the crash, in the JSON format the agent ships.
    const accessLines = Array.from({ length: 20 }, (_, index) => {
      const at = new Date(takenAt.getTime() - (20 - index) * 100).toISOString().slice(0, 19);
      return `{"time":"${at}+00:00","status":502,"request":"GET / HTTP/1.1","upstream_status":"502","upstream_addr":"127.0.0.1:3000","upstream_response_time":"0.000","request_time":0.000}`;
    });
    this.#bundle = {
      accessLines,
      errorLines: section(RECORDED.crashed, 'nginx-error'),
      pm2Lines: section(RECORDED.crashed, 'pm2-log'),
      kernelLines: [],
    };
  }

  async fetch(_instanceId: string, _window: LogWindow): Promise<LogBundle> {
    // Four groups read in parallel: four calls, one round trip.
    this.calls.filterLogEvents += 4;
    await this.clock.sleep(this.latencies.filterLogEventsMs);
    return structuredClone(this.#bundle);
  }
}

/** The Logs Insights query that finds the affected instances: they are the ones it returns. */
export function modelFindInstances(clock: VirtualClock, latencies: FleetLatencies, calls: ApiCalls, affected: readonly string[]): (window: LogWindow) => Promise<string[]> {
  return async () => {
    await clock.sleep(latencies.apiCallMs);
    calls.startQuery++;
    const doneAt = clock.nowMs() + latencies.insightsQueryMs;
    for (;;) {
      await clock.sleep(latencies.apiCallMs);
      calls.getQueryResults++;
      if (clock.nowMs() >= doneAt) return [...affected];
      await clock.sleep(INSIGHTS_POLL_MS);
    }
  };
}

/** An SNS client for the real SnsNotifier: every send is a Publish. */
export function modelSnsClient(clock: VirtualClock, latencies: FleetLatencies, calls: ApiCalls): SNSClient {
  const client = {
    send: async () => {
      await clock.sleep(latencies.apiCallMs);
      calls.snsPublish++;
      return { MessageId: `model-${calls.snsPublish}`, $metadata: {} };
    },
  };
  return client as unknown as SNSClient;
}

/** The DynamoDB state store's semantics in memory, with its request count and latency. */
export class ModelStore implements IncidentStore {
  readonly #events = new Set<string>();
  readonly #locks = new Map<string, { owner: string; until: number }>();
  readonly #restarts = new Map<string, string[]>();
  readonly #incidents = new Map<string, IncidentRecord>();

  constructor(
    private readonly clock: VirtualClock,
    private readonly latencies: FleetLatencies,
    private readonly calls: ApiCalls,
  ) {}

  async #read(): Promise<void> {
    await this.clock.sleep(this.latencies.dynamoMs);
    this.calls.dynamoReads++;
  }

  async #write(): Promise<void> {
    await this.clock.sleep(this.latencies.dynamoMs);
    this.calls.dynamoWrites++;
  }

  async claimEvent(eventId: string): Promise<boolean> {
    await this.#write();
    if (this.#events.has(eventId)) return false;
    this.#events.add(eventId);
    return true;
  }

  async saveIncident(record: IncidentRecord): Promise<void> {
    await this.#write();
    this.#incidents.set(record.instanceId, record);
  }

  async loadIncident(instanceId: string): Promise<IncidentRecord | undefined> {
    await this.#read();
    return this.#incidents.get(instanceId);
  }

  async acquireLock(instanceId: string, owner: string, ttlMs: number): Promise<boolean> {
    await this.#write();
    const held = this.#locks.get(instanceId);
    if (held && held.owner !== owner && held.until > this.clock.nowMs()) return false;
    this.#locks.set(instanceId, { owner, until: this.clock.nowMs() + ttlMs });
    return true;
  }

  async releaseLock(instanceId: string, owner: string): Promise<void> {
    await this.#write();
    if (this.#locks.get(instanceId)?.owner === owner) this.#locks.delete(instanceId);
  }

  async restarts(instanceId: string): Promise<string[]> {
    await this.#read();
    return [...(this.#restarts.get(instanceId) ?? [])];
  }

  async recordRestart(instanceId: string, at: string): Promise<void> {
    await this.#read();
    await this.#write();
    this.#restarts.set(instanceId, [...(this.#restarts.get(instanceId) ?? []), at]);
  }
}
