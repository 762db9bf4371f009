/**
 * In-process stand-ins for the AWS side of the responder, for the fleet benchmark: they answer what the real
 * adapters would receive, wait what AWS would take (on the virtual clock) and count every API call the real
 * adapters would make. The responder's orchestration (handleEvent), its core and its SNS notifier are the real code.
 *
 * What each call costs, per the adapters in functions/adapters/aws:
 *   SsmHostRunner.run      1 SendCommand, GetCommandInvocation polls by the SDK waiter (one at once, then backing off
 *                          from minDelay to maxDelay seconds with jitter), then 1 GetCommandInvocation for the output
 *   CloudWatchLogSource    4 FilterLogEvents in parallel (one per log group, one page each at these sizes)
 *   findAffectedInstances  1 StartQuery, then GetQueryResults every second until the query completes
 *   SnsNotifier            1 Publish per report
 *   DynamoDbStateStore     claimEvent, saveIncident, acquireLock, releaseLock: 1 write each; loadIncident, restarts:
 *                          1 read; recordRestart: 1 read + 1 write
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
};

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
}

/** A fresh set of counters. */
export function noCalls(): ApiCalls {
  return { sendCommand: 0, getCommandInvocation: 0, startQuery: 0, getQueryResults: 0, filterLogEvents: 0, snsPublish: 0, dynamoReads: 0, dynamoWrites: 0 };
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

/** SSM Run Command on a fleet: affected instances show the recorded crash until remediated, then the healthy app. */
export class ModelSsm implements HostRunner {
  /** SSM API calls (SendCommand + GetCommandInvocation) by purpose: the investigation's full snapshots, or remediation (restart and verification probes). */
  readonly callsFor = { investigation: 0, remediation: 0 };
  readonly #remediated = new Set<string>();
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
    const purpose = script === 'snapshot' && params.sections !== 'probe' ? 'investigation' : 'remediation';
    await this.clock.sleep(this.latencies.apiCallMs);
    this.calls.sendCommand++;
    this.callsFor[purpose]++;
    const doneAt = this.clock.nowMs() + this.latencies.ssmRoundTripMs;
    // waitUntilCommandExecuted: a first poll at once, then backoff with jitter (@smithy's exponentialBackoffWithJitter).
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) await this.clock.sleep(this.#waiterDelayMs(attempt));
      await this.clock.sleep(this.latencies.apiCallMs);
      this.calls.getCommandInvocation++;
      this.callsFor[purpose]++;
      if (this.clock.nowMs() >= doneAt) break;
    }
    // SsmHostRunner reads the invocation once more for its output.
    await this.clock.sleep(this.latencies.apiCallMs);
    this.calls.getCommandInvocation++;
    this.callsFor[purpose]++;
    return { ok: true, stdout: this.#output(instanceId, script, params), stderr: '', status: 'Success' };
  }

  #waiterDelayMs(attempt: number): number {
    const min = this.latencies.waiterMinDelaySeconds * 1000;
    const max = this.latencies.waiterMaxDelaySeconds * 1000;
    const ceiling = Math.log(max / min) / Math.log(2) + 1;
    if (attempt > ceiling) return max;
    const capped = Math.min(min * 2 ** (attempt - 1), max);
    return min + this.#random() * (capped - min);
  }

  #output(instanceId: string, script: HostScript, params: HostParams): string {
    if (script === 'remediate') {
      this.#remediated.add(instanceId);
      return `result=ok action=${params.action ?? 'restart'}\n`;
    }
    const fixed = this.#remediated.has(instanceId);
    if (params.sections === 'probe') return fixed ? RECORDED.healthyProbe : RECORDED.crashedProbe;
    return fixed ? RECORDED.healthy : RECORDED.crashed;
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
