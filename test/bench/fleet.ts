/**
 * `npm run bench:fleet` — the AWS path at scale: one alarm over a fleet, through the real orchestration
 * (handleEvent in functions/responder/run.ts, which runs functions/core/respond-fleet.ts: find the instances,
 * investigate in parallel, remediate in waves — a canary, then 2, 4, 8 … up to the wave cap — each instance
 * restarted and verified on its host in one SSM round trip, notify), as a durable execution, with in-process models
 * of SSM, CloudWatch Logs, DynamoDB, SNS and the durable checkpoints that wait what AWS would take and count every
 * API call (test/bench/lib/fleet-model.ts, test/bench/lib/durable-model.ts). Time is virtual: waits are skipped, not
 * scaled, and the real code's CPU time counts as it passes (test/bench/lib/virtual-clock.ts).
 *
 *   npm run bench:fleet -- [--ssm-ms 1000] [--boot-ms 1500] [--api-ms 40] [--checkpoint-ms 40] [--logs-ms 300]
 *                          [--insights-ms 2000] [--waiter-min 2] [--waiter-max 10] [--max-wave 16] [--rps 10]
 *                          [--seed 1] [--out dir]
 *
 * Writes test/bench/results/fleet.{md,json} and prints the tables and one line per target.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Journal } from '../../functions/adapters/incident-journal.ts';
import { SnsNotifier } from '../../functions/adapters/aws/sns-notifier.ts';
import { ENV, LAMBDA_MARGIN_SECONDS, LAMBDA_MAX_TIMEOUT_SECONDS } from '../../functions/contract/lambda-env.ts';
import { withoutUndefined } from '../../functions/core/incident.ts';
import type { Notifier } from '../../functions/core/ports.ts';
import { DEFAULT_MAX_WAVE, INVESTIGATION_CONCURRENCY, respondFleet, waveSizes } from '../../functions/core/respond-fleet.ts';
import { HOST_VERIFY_MAX_MS } from '../../functions/core/respond.ts';
import { parseTrigger } from '../../functions/core/trigger.ts';
import type { Report } from '../../functions/core/types.ts';
import { parseConfig, type ResponderConfig } from '../../functions/responder/config.ts';
import { handleEvent, type ResponderDeps } from '../../functions/responder/run.ts';
import { ModelCheckpoints, type DurableCounts } from './lib/durable-model.ts';
import { describeEnvironment, environmentLines, loadAverageNow } from './lib/environment.ts';
import {
  DEFAULT_LATENCIES,
  FleetModelError,
  HOST_GOOD_ANSWERS,
  HOST_POLL_MS,
  ModelLogs,
  ModelSsm,
  ModelStore,
  PM2_CLI_MS,
  modelFindInstances,
  modelSnsClient,
  noCalls,
  recordedCrashTime,
  type ApiCalls,
  type FleetLatencies,
  type SsmPurpose,
} from './lib/fleet-model.ts';
import { markdownTable, seconds } from './lib/stats.ts';
import { VirtualClock, type IdleStretch } from './lib/virtual-clock.ts';

const DEFAULT_OUT = fileURLToPath(new URL('./results/', import.meta.url));
const ACCESS_LOG_FIXTURE = fileURLToPath(new URL('../fixtures/logs/nginx-access-json.log', import.meta.url));

/** The issue's scenarios: 200 instances with 1, 10, 50 affected, 1000 with 10 (fleet size alone), and a bad deploy on all 200. */
const SCENARIOS = [
  { fleet: 200, affected: 1 },
  { fleet: 200, affected: 10 },
  { fleet: 200, affected: 50 },
  { fleet: 1000, affected: 10 },
  { fleet: 200, affected: 200 },
] as const;

/** The issue's targets. */
const TARGETS = {
  /** 50 affected of 200: all restarted and verified within this. */
  fiftyOfTwoHundredMs: 4 * 60_000,
  /** 200 of 200: all recovered within this. */
  allOfTwoHundredMs: 10 * 60_000,
  /** SSM round trips per instance for the restart and its verification. */
  roundTripsPerRestart: 2,
  /** How much the calls per affected instance may rise as more are affected, and the fleet's size may change them, and still be linear. */
  linearTolerance: 0.05,
  fleetTolerance: 0.01,
} as const;

/** us-east-1 list prices (USD) used for the estimate; check the pricing pages before relying on them. */
export const PRICES = {
  /** Lambda arm64, per GB-second (first 7.5 billion GB-s a month). */
  lambdaGbSecondArm: 0.0000133334,
  lambdaRequest: 0.2 / 1_000_000,
  /**
   * Lambda durable functions, per durable operation (step, wait, child context…): $8.00 per million, the rate
   * aws.amazon.com/lambda/pricing gives in its worked example (as transcribed on 2026-09-20 by api-evangelist's
   * aws-lambda pricing plans). The data each operation writes and the history kept are metered too: not included.
   */
  durableOperation: 8 / 1_000_000,
  /** Logs Insights, per GB of data scanned. */
  insightsPerGb: 0.005,
  /** SNS standard topic, per publish (64 KB chunk); deliveries are billed per subscription on top. */
  snsPublish: 0.5 / 1_000_000,
  /** DynamoDB on demand, per write / read request unit. */
  dynamoWrite: 0.625 / 1_000_000,
  dynamoRead: 0.125 / 1_000_000,
  /** SSM Run Command on EC2 instances: no charge. */
  ssmCommand: 0,
} as const;

const LAMBDA_MEMORY_GB = 0.5;

class UsageError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UsageError';
  }
}

function numberOption(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) throw new UsageError(`--${name}: must be a number from ${min} to ${max}, got "${raw}"`);
  return value;
}

/** The responder's configuration, as the stack sets it (parsed by the real parser). */
function responderConfig(maxWave: number = DEFAULT_MAX_WAVE): ResponderConfig {
  return parseConfig({
    [ENV.maxWave]: String(maxWave),
    [ENV.appName]: 'web',
    [ENV.pm2User]: 'ubuntu',
    [ENV.ecosystem]: '/srv/web/ecosystem.config.cjs',
    [ENV.healthUrl]: 'http://127.0.0.1/api/health',
    [ENV.nginxErrorLog]: '/var/log/nginx/error.log',
    [ENV.snapshotDocument]: 'reflex-snapshot',
    [ENV.remediateDocument]: 'reflex-remediate',
    [ENV.topicArn]: 'arn:aws:sns:us-east-1:123456789012:reflex-web',
    [ENV.alarmName]: 'reflex-web-gateway-errors',
    [ENV.windowSeconds]: '300',
    [ENV.accessLogGroup]: '/reflex/web/nginx-access',
    [ENV.errorLogGroup]: '/reflex/web/nginx-error',
    [ENV.pm2LogGroup]: '/reflex/web/pm2',
    [ENV.kernelLogGroup]: '/reflex/web/kernel',
    [ENV.verifySeconds]: '120',
    [ENV.tableName]: 'reflex-web',
  });
}

function instanceId(index: number): string {
  return `i-0${index.toString(16).padStart(16, '0')}`;
}

/** The most timestamps within any 1 s window: the request rate an account must allow. */
function peakPerSecond(times: readonly number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let peak = 0;
  for (let first = 0, last = 0; last < sorted.length; last++) {
    while (sorted[last]! - sorted[first]! >= 1000) first++;
    peak = Math.max(peak, last - first + 1);
  }
  return peak;
}

/**
 * Invocations a run needs when each may last at most `limitMs`: every suspension (nothing but durable waits
 * pending) ends one, and each stretch of compute between them takes as many as it needs, rounded up. A lower bound:
 * an invocation cut off at its limit also re-runs the step it was in when it is replayed (not modelled).
 */
function invocationsNeeded(startMs: number, endMs: number, idle: readonly IdleStretch[], limitMs: number): number {
  let invocations = 0;
  let from = startMs;
  for (const stretch of [...idle, { from: endMs, to: endMs }]) {
    invocations += Math.max(1, Math.ceil((stretch.from - from) / limitMs));
    from = stretch.to;
  }
  return invocations;
}

interface ScenarioResult {
  readonly fleet: number;
  readonly affected: number;
  readonly maxWave: number;
  readonly waves: number[];
  readonly latencies: FleetLatencies;
  /** Alarm → the affected instances found (the Logs Insights query). */
  readonly foundMs: number;
  /** Alarm → the last affected instance diagnosed. */
  readonly diagnosedAllMs: number;
  /** Alarm → the last instance served again (the first of its 3 good probes through nginx, on its host). */
  readonly recoveredAllMs?: number;
  /** Alarm → the last instance's recovery known to the responder (its report closed). */
  readonly verifiedAllMs?: number;
  /** Alarm → the execution done (every report sent). */
  readonly finishedMs: number;
  readonly restarted: number;
  /** Restarted and verified recovered. */
  readonly verified: number;
  /** Not restarted: the rollout was halted before them. */
  readonly heldBack: number;
  /** Most full snapshots in flight at once: the investigation concurrency. */
  readonly concurrency: number;
  /** Most remediate commands in flight at once: the largest wave. */
  readonly remediatingAtOnce: number;
  readonly calls: ApiCalls;
  readonly ssmRoundTrips: Record<SsmPurpose, number>;
  readonly ssmCalls: Record<SsmPurpose, number>;
  /** SSM round trips per instance restarted for the restart and its verification (remediate + light snapshots). */
  readonly restartRoundTripsPerInstance?: number;
  /** All SSM round trips (investigation included) per affected instance. */
  readonly roundTripsPerInstance: number;
  /** Mean time of one remediate run (SendCommand → output read), waiter polls included. */
  readonly remediateMs?: number;
  /** The largest number of SendCommand / GetCommandInvocation requests within one second. */
  readonly peakSendCommandPerSecond: number;
  readonly peakGetCommandInvocationPerSecond: number;
  readonly durable: DurableCounts;
  /** Virtual time suspended in durable waits (not billed), and the compute billed. */
  readonly suspendedMs: number;
  readonly billedMs: number;
  /** Invocations needed with the stack's function timeout, and with Lambda's 15-minute maximum. */
  readonly invocations: { readonly stackTimeout: number; readonly maxTimeout: number };
  readonly stackTimeoutMs: number;
  readonly bytesScanned: number;
  readonly costUsd: {
    readonly lambdaCompute: number;
    readonly lambdaRequests: number;
    readonly durableOperations: number;
    readonly insights: number;
    readonly sns: number;
    readonly dynamo: number;
    readonly total: number;
  };
  /** Real time the simulation took on this machine. */
  readonly realMs: number;
}

interface RunOptions {
  readonly seed: number;
  readonly rps: number;
  readonly bytesPerLine: number;
  readonly maxWave: number;
}

async function runScenario(fleet: number, affected: number, latencies: FleetLatencies, options: RunOptions): Promise<ScenarioResult> {
  const config = responderConfig(options.maxWave);
  const stackTimeoutMs = (config.verifySeconds + LAMBDA_MARGIN_SECONDS) * 1000;
  // Virtual time starts just after the recorded crash, so the evidence window holds the recorded lines.
  const clock = new VirtualClock(new Date(recordedCrashTime().getTime() + 5000));
  const calls = noCalls();
  const ids = Array.from({ length: fleet }, (_, index) => instanceId(index + 1));
  // Spread over the fleet, not the first ones: the fleet's order must not matter.
  const affectedIds = Array.from({ length: affected }, (_, index) => ids[Math.floor((index * fleet) / affected)]!);
  const ssm = new ModelSsm(clock, latencies, calls, options.seed);
  const inFlight = { investigation: 0, remediate: 0 };
  const most = { investigation: 0, remediate: 0 };
  const host = {
    run: async (...args: Parameters<ModelSsm['run']>) => {
      const kind = args[1] === 'remediate' ? 'remediate' : args[2].sections === 'probe' ? undefined : 'investigation';
      if (kind) most[kind] = Math.max(most[kind], ++inFlight[kind]);
      try {
        return await ssm.run(...args);
      } finally {
        if (kind) inFlight[kind]--;
      }
    },
  };
  const checkpoints = new ModelCheckpoints(clock, latencies.checkpointMs, calls);
  const sns = new SnsNotifier({ client: modelSnsClient(clock, latencies, calls), topicArn: config.topicArn });
  const reports: Report[] = [];
  const recording: Notifier = {
    publish: async (report) => {
      reports.push(report);
      return sns.publish(report);
    },
  };

  const invokedAt = clock.nowMs();
  let foundAt = invokedAt;
  let lastDiagnosedAt = invokedAt;
  const findInstances = modelFindInstances(clock, latencies, calls, affectedIds);
  const realStart = Date.now();
  const event = {
    ...(JSON.parse(await readFile(new URL('../../events/alarm.json', import.meta.url), 'utf8')) as Record<string, unknown>),
    id: `bench-${fleet}-${affected}-${options.seed}`,
    time: clock.now().toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
  const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined };
  const deps: ResponderDeps = {
    config,
    host,
    logs: new ModelLogs(clock, latencies, calls),
    findInstances: async (window) => {
      const found = await findInstances(window);
      foundAt = clock.nowMs();
      return found;
    },
    notifiers: [recording],
    store: new ModelStore(clock, latencies, calls),
    clock,
    logger: quiet,
    checkpoints,
    progress: {
      step: (entry) => {
        if (entry.message.startsWith('diagnosed ')) lastDiagnosedAt = clock.nowMs();
      },
    },
  };
  await clock.run(async () => {
    const result = await handleEvent(event, deps);
    if (result.status !== 'handled') throw new FleetModelError(`the alarm was not handled: ${result.status}`);
  });
  const endMs = clock.nowMs();
  const finishedMs = endMs - invokedAt;
  const realMs = Date.now() - realStart;
  if (reports.length !== affected) throw new FleetModelError(`${reports.length} reports for ${affected} affected instances`);

  const restarted = reports.filter((report) => report.action.executed);
  const verified = restarted.filter((report) => report.outcome === 'recovered');
  const heldBack = reports.filter((report) => !report.action.executed && report.action.reason.includes('held back')).length;
  const recoveredAt = verified.map((report) => Date.parse(report.startedAt) + (report.timings.recoveredMs ?? Number.NaN));
  const verifiedAt = verified.map((report) => Date.parse(report.finishedAt));
  const allVerified = verified.length === affected;

  const idle = clock.idleStretches;
  const suspendedMs = idle.reduce((sum, stretch) => sum + (stretch.to - stretch.from), 0);
  const billedMs = finishedMs - suspendedMs;
  const invocations = {
    stackTimeout: invocationsNeeded(invokedAt, endMs, idle, stackTimeoutMs),
    maxTimeout: invocationsNeeded(invokedAt, endMs, idle, LAMBDA_MAX_TIMEOUT_SECONDS * 1000),
  };
  const bytesScanned = fleet * options.rps * config.windowSeconds * options.bytesPerLine;
  const lambdaCompute = LAMBDA_MEMORY_GB * (billedMs / 1000) * PRICES.lambdaGbSecondArm;
  const lambdaRequests = invocations.stackTimeout * PRICES.lambdaRequest;
  const durableOperations = checkpoints.counts.operations * PRICES.durableOperation;
  const insights = (bytesScanned / 1024 ** 3) * PRICES.insightsPerGb;
  const snsUsd = calls.snsPublish * PRICES.snsPublish;
  const dynamo = calls.dynamoWrites * PRICES.dynamoWrite + calls.dynamoReads * PRICES.dynamoRead;
  const restartRoundTrips = ssm.roundTrips.remediate + ssm.roundTrips.verification;
  const allRoundTrips = Object.values(ssm.roundTrips).reduce((sum, value) => sum + value, 0);
  return {
    fleet,
    affected,
    maxWave: options.maxWave,
    waves: waveSizes(affected, options.maxWave),
    latencies,
    foundMs: foundAt - invokedAt,
    diagnosedAllMs: lastDiagnosedAt - invokedAt,
    ...(allVerified && { recoveredAllMs: Math.max(...recoveredAt) - invokedAt, verifiedAllMs: Math.max(...verifiedAt) - invokedAt }),
    finishedMs,
    restarted: restarted.length,
    verified: verified.length,
    heldBack,
    concurrency: most.investigation,
    remediatingAtOnce: most.remediate,
    calls: { ...calls },
    ssmRoundTrips: { ...ssm.roundTrips },
    ssmCalls: { ...ssm.callsFor },
    ...(restarted.length > 0 && { restartRoundTripsPerInstance: restartRoundTrips / restarted.length }),
    roundTripsPerInstance: allRoundTrips / affected,
    ...(ssm.roundTrips.remediate > 0 && { remediateMs: ssm.timeFor.remediate / ssm.roundTrips.remediate }),
    peakSendCommandPerSecond: peakPerSecond(ssm.sentAt),
    peakGetCommandInvocationPerSecond: peakPerSecond(ssm.polledAt),
    durable: { ...checkpoints.counts },
    suspendedMs,
    billedMs,
    invocations,
    stackTimeoutMs,
    bytesScanned,
    costUsd: {
      lambdaCompute,
      lambdaRequests,
      durableOperations,
      insights,
      sns: snsUsd,
      dynamo,
      total: lambdaCompute + lambdaRequests + durableOperations + insights + snsUsd + dynamo,
    },
    realMs,
  };
}

/** Wave sizes with repeats folded: `1, 2, 4, 8, 16 × 11, 9`. */
function waveList(waves: readonly number[]): string {
  const parts: string[] = [];
  for (let index = 0; index < waves.length; ) {
    let end = index;
    while (end + 1 < waves.length && waves[end + 1] === waves[index]) end++;
    parts.push(end > index ? `${waves[index]} × ${end - index + 1}` : String(waves[index]));
    index = end + 1;
  }
  return parts.join(', ');
}

function totalCalls(calls: ApiCalls): number {
  return Object.values(calls).reduce((sum, value) => sum + value, 0);
}

function usd(value: number): string {
  return value === 0 ? '$0' : value < 0.0001 ? `$${value.toExponential(1)}` : `$${value.toFixed(4)}`;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(0)} MB`;
}

function minutes(ms: number | undefined): string {
  if (ms === undefined) return '–';
  return ms < 60_000 ? seconds(ms) : `${(ms / 60_000).toFixed(2)} min`;
}

async function averageLineBytes(): Promise<number> {
  const lines = (await readFile(ACCESS_LOG_FIXTURE, 'utf8')).split('\n').filter((line) => line.trim() !== '');
  return Math.round(lines.reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0) / lines.length);
}

/** A least-squares line through (affected, total API calls). */
function linearFit(results: readonly ScenarioResult[]): { perInstance: number; fixed: number } {
  const points = results.map((r) => ({ x: r.affected, y: totalCalls(r.calls) }));
  const n = points.length;
  const meanX = points.reduce((sum, p) => sum + p.x, 0) / n;
  const meanY = points.reduce((sum, p) => sum + p.y, 0) / n;
  const sxx = points.reduce((sum, p) => sum + (p.x - meanX) ** 2, 0);
  const perInstance = sxx === 0 ? 0 : points.reduce((sum, p) => sum + (p.x - meanX) * (p.y - meanY), 0) / sxx;
  return { perInstance, fixed: meanY - perInstance * meanX };
}

interface TargetLine {
  readonly target: string;
  readonly met: boolean;
  readonly text: string;
}

function targetLines(results: readonly ScenarioResult[]): TargetLine[] {
  const find = (fleet: number, affected: number): ScenarioResult => {
    const found = results.find((r) => r.fleet === fleet && r.affected === affected);
    if (!found) throw new FleetModelError(`no ${fleet}/${affected} scenario`);
    return found;
  };
  const perWave = (r: ScenarioResult): string =>
    `${r.waves.length} waves (${waveList(r.waves)}) of about ${seconds(((r.verifiedAllMs ?? r.finishedMs) - r.diagnosedAllMs) / r.waves.length)} each (the remediate command ${seconds(r.remediateMs)} of it, SendCommand to output, the waiter's polls included) after ${seconds(r.diagnosedAllMs)} of diagnosis`;
  const timed = (r: ScenarioResult, limitMs: number, what: string): TargetLine => {
    const target = `${r.affected} affected of ${r.fleet}: all ${what} in < ${minutes(limitMs)}`;
    if (r.verifiedAllMs === undefined) {
      return { target, met: false, text: `missed: ${r.verified} of ${r.affected} verified recovered (${r.restarted} restarted, ${r.heldBack} held back)` };
    }
    const met = r.verifiedAllMs < limitMs;
    const how = `all ${r.affected} restarted and verified in ${minutes(r.verifiedAllMs)} (served again at ${minutes(r.recoveredAllMs)}): ${perWave(r)}`;
    return { target, met, text: met ? `met: ${how}` : `missed by ${seconds(r.verifiedAllMs - limitMs)}: ${how}` };
  };
  const fifty = timed(find(200, 50), TARGETS.fiftyOfTwoHundredMs, 'restarted and verified');
  const all = timed(find(200, 200), TARGETS.allOfTwoHundredMs, 'recovered (a bad deploy that a restart fixes)');

  const perRestart = results.filter((r) => r.restartRoundTripsPerInstance !== undefined);
  const worst = Math.max(...perRestart.map((r) => r.restartRoundTripsPerInstance!));
  const roundTrips: TargetLine = {
    target: `per instance: restart + verify in ≤ ${TARGETS.roundTripsPerRestart} SSM round trips`,
    met: worst <= TARGETS.roundTripsPerRestart,
    text: `${worst <= TARGETS.roundTripsPerRestart ? 'met' : `missed by ${(worst - TARGETS.roundTripsPerRestart).toFixed(2)}`}: at most ${worst.toFixed(2)} per instance restarted in every scenario (the remediate command restarts and verifies on the host; ${perRestart.reduce((sum, r) => sum + r.ssmRoundTrips.verification, 0)} light verification snapshots in all), ${Math.max(...results.map((r) => r.roundTripsPerInstance)).toFixed(2)} with the investigation's snapshot`,
  };

  // Linear: the calls per affected instance never grow with the affected count (a fixed part, the query and the first
  // checkpoints, is shared; checkpoints batch across instances remediated at once), and the fleet's size does not count.
  const sameFleet = results.filter((r) => r.fleet === 200).sort((a, b) => a.affected - b.affected);
  const perAffected = sameFleet.map((r) => totalCalls(r.calls) / r.affected);
  const worstRise = Math.max(0, ...perAffected.slice(1).map((value, index) => value / perAffected[index]! - 1));
  const fit = linearFit(sameFleet);
  const ten = find(200, 10);
  const tenOfThousand = find(1000, 10);
  const fleetChange = Math.abs(totalCalls(tenOfThousand.calls) - totalCalls(ten.calls)) / totalCalls(ten.calls);
  const linearMet = worstRise <= TARGETS.linearTolerance && fleetChange <= TARGETS.fleetTolerance;
  const costs = results.map((r) => `${r.fleet}/${r.affected} ${usd(r.costUsd.total)}`).join(', ');
  const linear: TargetLine = {
    target: 'API calls linear in the affected instances; compute cost per incident printed',
    met: linearMet,
    text:
      `${linearMet ? 'met' : 'missed'}: per affected instance ${sameFleet.map((r, index) => `${perAffected[index]!.toFixed(1)} (${r.affected})`).join(', ')} in a fleet of 200, about ${fit.fixed.toFixed(0)} + ${fit.perInstance.toFixed(1)} per instance` +
      `${worstRise > TARGETS.linearTolerance ? ` (rising by ${(worstRise * 100).toFixed(0)} %)` : ''}; 10 affected make ${totalCalls(ten.calls)} calls in a fleet of 200 and ${totalCalls(tenOfThousand.calls)} in a fleet of 1000. ` +
      `Billed compute ${results.map((r) => `${r.fleet}/${r.affected} ${seconds(r.billedMs)}`).join(', ')}; cost per incident ${costs}`,
  };
  return [fifty, all, roundTrips, linear];
}

function tables(results: readonly ScenarioResult[]): { time: string; ssm: string; calls: string; durable: string; cost: string } {
  const time = markdownTable(
    ['fleet', 'affected', 'instances found', 'all diagnosed', 'waves', 'all served again', 'all verified', 'execution done', 'restarted', 'verified', 'held back'],
    results.map((r) => [
      String(r.fleet),
      String(r.affected),
      seconds(r.foundMs),
      seconds(r.diagnosedAllMs),
      `${r.waves.length}: ${waveList(r.waves)}`,
      minutes(r.recoveredAllMs),
      minutes(r.verifiedAllMs),
      minutes(r.finishedMs),
      String(r.restarted),
      String(r.verified),
      String(r.heldBack),
    ]),
  );
  const ssm = markdownTable(
    ['fleet', 'affected', 'round trips: investigation / remediate / light verification', 'per instance: restart + verify', 'per instance: in all', 'SSM calls per instance restarted', 'snapshots at once', 'remediates at once', 'peak SendCommand/s', 'peak GetCommandInvocation/s'],
    results.map((r) => [
      String(r.fleet),
      String(r.affected),
      `${r.ssmRoundTrips.investigation} / ${r.ssmRoundTrips.remediate} / ${r.ssmRoundTrips.verification}`,
      r.restartRoundTripsPerInstance === undefined ? '–' : r.restartRoundTripsPerInstance.toFixed(2),
      r.roundTripsPerInstance.toFixed(2),
      r.restarted > 0 ? ((r.ssmCalls.remediate + r.ssmCalls.verification) / r.restarted).toFixed(1) : '–',
      String(r.concurrency),
      String(r.remediatingAtOnce),
      String(r.peakSendCommandPerSecond),
      String(r.peakGetCommandInvocationPerSecond),
    ]),
  );
  const calls = markdownTable(
    ['fleet', 'affected', 'SSM (Send / Get)', 'Logs (StartQuery / GetQueryResults / FilterLogEvents)', 'DynamoDB (R / W)', 'SNS Publish', 'Lambda CheckpointDurableExecution', 'total', 'per affected instance'],
    results.map((r) => [
      String(r.fleet),
      String(r.affected),
      `${r.calls.sendCommand + r.calls.getCommandInvocation} (${r.calls.sendCommand} / ${r.calls.getCommandInvocation})`,
      `${r.calls.startQuery + r.calls.getQueryResults + r.calls.filterLogEvents} (${r.calls.startQuery} / ${r.calls.getQueryResults} / ${r.calls.filterLogEvents})`,
      `${r.calls.dynamoReads + r.calls.dynamoWrites} (${r.calls.dynamoReads} / ${r.calls.dynamoWrites})`,
      String(r.calls.snsPublish),
      String(r.calls.checkpoint),
      String(totalCalls(r.calls)),
      (totalCalls(r.calls) / r.affected).toFixed(1),
    ]),
  );
  const durable = markdownTable(
    ['fleet', 'affected', 'durable operations', 'steps', 'durable waits', 'checkpoint updates / calls', 'suspended (not billed)', 'billed compute', `invocations (${seconds(results[0]?.stackTimeoutMs)} timeout)`, 'invocations (15 min)'],
    results.map((r) => [
      String(r.fleet),
      String(r.affected),
      String(r.durable.operations),
      String(r.durable.steps),
      String(r.durable.waits),
      `${r.durable.updates} / ${r.durable.calls}`,
      seconds(r.suspendedMs),
      seconds(r.billedMs),
      String(r.invocations.stackTimeout),
      String(r.invocations.maxTimeout),
    ]),
  );
  const cost = markdownTable(
    ['fleet', 'affected', 'Lambda GB-s billed', 'Lambda compute', 'Lambda requests', 'durable operations', 'Insights scanned', 'Insights', 'SNS', 'DynamoDB', 'SSM', 'total per incident'],
    results.map((r) => [
      String(r.fleet),
      String(r.affected),
      (LAMBDA_MEMORY_GB * (r.billedMs / 1000)).toFixed(1),
      usd(r.costUsd.lambdaCompute),
      usd(r.costUsd.lambdaRequests),
      usd(r.costUsd.durableOperations),
      megabytes(r.bytesScanned),
      usd(r.costUsd.insights),
      usd(r.costUsd.sns),
      usd(r.costUsd.dynamo),
      '$0',
      usd(r.costUsd.total),
    ]),
  );
  return { time, ssm, calls, durable, cost };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      'ssm-ms': { type: 'string' },
      'boot-ms': { type: 'string' },
      'api-ms': { type: 'string' },
      'checkpoint-ms': { type: 'string' },
      'logs-ms': { type: 'string' },
      'insights-ms': { type: 'string' },
      'waiter-min': { type: 'string' },
      'waiter-max': { type: 'string' },
      'max-wave': { type: 'string' },
      rps: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(
      'usage: npm run bench:fleet -- [--ssm-ms 1000] [--boot-ms 1500] [--api-ms 40] [--checkpoint-ms 40] [--logs-ms 300] [--insights-ms 2000] [--waiter-min 2] [--waiter-max 10] [--max-wave 16] [--rps 10] [--seed 1] [--out dir]',
    );
    return 0;
  }
  const latencies: FleetLatencies = {
    ssmRoundTripMs: numberOption('ssm-ms', values['ssm-ms'], DEFAULT_LATENCIES.ssmRoundTripMs, 0, 60_000),
    apiCallMs: numberOption('api-ms', values['api-ms'], DEFAULT_LATENCIES.apiCallMs, 0, 10_000),
    filterLogEventsMs: numberOption('logs-ms', values['logs-ms'], DEFAULT_LATENCIES.filterLogEventsMs, 0, 60_000),
    insightsQueryMs: numberOption('insights-ms', values['insights-ms'], DEFAULT_LATENCIES.insightsQueryMs, 0, 60_000),
    dynamoMs: DEFAULT_LATENCIES.dynamoMs,
    waiterMinDelaySeconds: numberOption('waiter-min', values['waiter-min'], DEFAULT_LATENCIES.waiterMinDelaySeconds, 0.1, 60),
    waiterMaxDelaySeconds: numberOption('waiter-max', values['waiter-max'], DEFAULT_LATENCIES.waiterMaxDelaySeconds, 0.1, 120),
    bootMs: numberOption('boot-ms', values['boot-ms'], DEFAULT_LATENCIES.bootMs, PM2_CLI_MS, 120_000),
    checkpointMs: numberOption('checkpoint-ms', values['checkpoint-ms'], DEFAULT_LATENCIES.checkpointMs, 0, 10_000),
  };
  if (latencies.waiterMaxDelaySeconds < latencies.waiterMinDelaySeconds) throw new UsageError('--waiter-max: must not be below --waiter-min');
  const maxWave = Math.round(numberOption('max-wave', values['max-wave'], DEFAULT_MAX_WAVE, 1, 1000));
  const seed = numberOption('seed', values.seed, 1, 0, 2 ** 31);
  const rps = numberOption('rps', values.rps, 10, 0, 100_000);
  const bytesPerLine = await averageLineBytes();
  const out = values.out ?? DEFAULT_OUT;
  const environment = await describeEnvironment();
  const startedAt = new Date().toISOString();
  const command = `npm run bench:fleet${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const runOptions = { seed, rps, bytesPerLine, maxWave };

  const results: ScenarioResult[] = [];
  for (const { fleet, affected } of SCENARIOS) {
    const result = await runScenario(fleet, affected, latencies, runOptions);
    results.push(result);
    console.log(
      `${fleet} instances, ${affected} affected: all verified in ${minutes(result.verifiedAllMs)} ` +
        `(${result.restarted} restarted, ${result.verified} verified, ${result.heldBack} held back), ` +
        `${result.restartRoundTripsPerInstance?.toFixed(2) ?? '–'} SSM round trips per restart, ${totalCalls(result.calls)} API calls, ` +
        `${seconds(result.billedMs)} billed, ${usd(result.costUsd.total)}; simulated in ${seconds(result.realMs)}`,
    );
  }
  // What the SDK waiter's first delay costs: the two timed targets with a 1 s minimum delay.
  const fasterWaiter = { ...latencies, waiterMinDelaySeconds: 1, waiterMaxDelaySeconds: Math.max(1, latencies.waiterMaxDelaySeconds) };
  const whatIf =
    latencies.waiterMinDelaySeconds === 1 ? [] : [await runScenario(200, 50, fasterWaiter, runOptions), await runScenario(200, 200, fasterWaiter, runOptions)];
  environment.loadAverage.atEnd = loadAverageNow();

  const targets = targetLines(results);
  const main = tables(results);
  const config = responderConfig();
  const fifty = results.find((r) => r.fleet === 200 && r.affected === 50);
  const ten = results.find((r) => r.fleet === 200 && r.affected === 10);
  const tenOfThousand = results.find((r) => r.fleet === 1000 && r.affected === 10);
  const everyone = results.find((r) => r.fleet === 200 && r.affected === 200);
  const stackTimeout = results[0]?.stackTimeoutMs;
  const markdown = [
    '# Fleet benchmark: one alarm over a fleet, through the real orchestration',
    '',
    `Generated by \`${command}\` (test/bench/fleet.ts) on ${startedAt}. The responder's own code runs for real — \`handleEvent\` (find the instances, investigate ${INVESTIGATION_CONCURRENCY} at a time, remediate in waves, notify), the core's evidence parsing, diagnosis, policy and verification, the SNS notifier's rendering — as a durable execution, against in-process models of SSM Run Command, CloudWatch Logs, DynamoDB, SNS and the durable checkpoints that wait what AWS would take and count every call the real adapters would make. Time is virtual: waits are skipped, not scaled; the real code's CPU time is counted as it passes.`,
    '',
    '## Targets',
    '',
    ...targets.map((t) => `- **${t.target}: ${t.text.replace(/^(met|missed[^:]*)/, '$1**')}`),
    '',
    'Before this change (one rolling invocation, the restart then 3 verification snapshots per instance, held back at the 180 s Lambda timeout): 50 of 200 gave 15 restarted and 35 held back, and a restart took 4 SSM round trips.',
    '',
    '## Time',
    '',
    main.time,
    '',
    `"All served again" is the last instance's first of ${HOST_GOOD_ANSWERS} good probes through nginx (on its host); "all verified" is when the responder knew it (its report closed): the targets are judged on it. Remediation goes in waves of ${waveSizes(1000, maxWave).slice(0, 6).join(', ')} … up to ${maxWave} instances at once (\`--max-wave\`; the core's default is ${DEFAULT_MAX_WAVE}), each wave verified before the next; the first instance that does not recover halts the rollout and the rest are held back (here every restart works, so none is). Diagnosis follows the affected instances divided by the concurrency (${fifty?.concurrency ?? INVESTIGATION_CONCURRENCY}), not the fleet: ${ten && tenOfThousand ? `10 affected take ${seconds(ten.diagnosedAllMs)} in a fleet of 200 and ${seconds(tenOfThousand.diagnosedAllMs)} in a fleet of 1000` : ''}.`,
    '',
    ...(whatIf.length > 0
      ? [
          `With the SDK waiter's first delay at 1 s instead of ${latencies.waiterMinDelaySeconds} s (\`SsmHostRunner\` option \`minDelaySeconds\`): ${whatIf.map((r) => `${r.affected} of ${r.fleet} verified in ${minutes(r.verifiedAllMs)} (instead of ${minutes(results.find((x) => x.fleet === r.fleet && x.affected === r.affected)?.verifiedAllMs)}), ${totalCalls(r.calls)} API calls`).join('; ')}.`,
          '',
        ]
      : []),
    '## SSM round trips',
    '',
    main.ssm,
    '',
    `The remediate command restarts the app and verifies it on the host (its \`@@verify\` lines, one observation per ${HOST_POLL_MS} ms poll until ${HOST_GOOD_ANSWERS} good answers, at most ${HOST_VERIFY_MAX_MS / 1000} s): one round trip for the action and its proof. Light verification snapshots (with durable waits between them) only follow when the host's own verification did not decide. SSM's request rates are account limits (throttling is not modelled): AWS does not publish a fixed SendCommand rate in what was read for this, so the peak rates above are what an account must allow; SsmHostRunner reports a throttled SendCommand as "nothing ran", and for a remediate the core then ends that instance escalated with its restart not executed (nothing reached the host), so the rollout goes on. A larger \`--max-wave\` raises the peaks.`,
    '',
    '## AWS API calls per incident',
    '',
    main.calls,
    '',
    '## Durable execution',
    '',
    main.durable,
    '',
    `Billed compute is the execution's time minus its suspensions (nothing but durable waits pending: the invocation ends and is invoked again after the wait); every step's time, its SSM waits included, is billed. Invocations: each suspension ends one, and each stretch of compute between them needs one per function timeout, rounded up: with the stack's timeout (REFLEX_VERIFY_SECONDS ${config.verifySeconds} + ${LAMBDA_MARGIN_SECONDS} s = ${seconds(stackTimeout)}) and with Lambda's maximum (${LAMBDA_MAX_TIMEOUT_SECONDS / 60} min). The execution's own limit (\`executionTimeoutMinutes\`, default 60 min) bounds the fleet time instead. These counts are a lower bound: an invocation cut off at its timeout is replayed from the top, and the step it was in runs again (an investigation is repeated; a restart interrupted in flight is not repeated, its verification goes on with light snapshots); replays and the time Lambda takes to invoke again are not modelled. ${everyone ? `The 200-of-200 run bills ${seconds(everyone.billedMs)}: ${everyone.invocations.stackTimeout > 1 ? `more than one invocation of ${seconds(stackTimeout)}, so it is cut off ${everyone.invocations.stackTimeout - 1} time(s) on AWS` : `within one invocation of ${seconds(stackTimeout)}`}.` : ''}`,
    '',
    '## Estimated cost per incident (USD)',
    '',
    main.cost,
    '',
    `Prices: Lambda arm64 $${PRICES.lambdaGbSecondArm}/GB-s at ${LAMBDA_MEMORY_GB * 1024} MB on the billed compute only + $0.20 per million requests (one per invocation; init time not included: see \`npm run bench:bundle\`); durable operations $8.00 per million (the worked example of aws.amazon.com/lambda/pricing as transcribed on 2026-09-20 in api-evangelist/aws-lambda; the data written and retained per operation is metered too and not included); Logs Insights $${PRICES.insightsPerGb} per GB scanned, with an assumed ${rps} requests/s per instance × ${config.windowSeconds} s window × ${bytesPerLine} B per JSON access line (the average of test/fixtures/logs/nginx-access-json.log) scanned over the whole fleet; SNS $0.50 per million publishes (deliveries to email/HTTPS subscriptions are extra); DynamoDB on demand $0.625 per million writes, $0.125 per million reads; SSM Run Command on EC2 instances has no charge; FilterLogEvents, GetQueryResults, the SSM API calls and the checkpoint calls carry no per-request charge (throttling limits, not cost, bound them). us-east-1 list prices; check the pricing pages.`,
    '',
    '## Model',
    '',
    `- SSM round trip (SendCommand → invocation done, for a script that takes no time: delivery and result): ${latencies.ssmRoundTripMs} ms, a snapshot's run included; every AWS API call ${latencies.apiCallMs} ms; DynamoDB ${latencies.dynamoMs} ms.`,
    `- The remediate script on the host: \`pm2 restart\` returns after ${PM2_CLI_MS} ms (a CLI start), the app answers through nginx ${latencies.bootMs} ms after the restart began (\`--boot-ms\`; the demo app's boot, 1.54 s median in \`npm run bench\`), polls every ${HOST_POLL_MS} ms until ${HOST_GOOD_ANSWERS} good answers in a row: ${seconds(PM2_CLI_MS + Math.ceil((latencies.bootMs - PM2_CLI_MS) / HOST_POLL_MS) * HOST_POLL_MS + (HOST_GOOD_ANSWERS - 1) * HOST_POLL_MS)} on the host, so the command is done ${seconds(latencies.ssmRoundTripMs + PM2_CLI_MS + Math.ceil((latencies.bootMs - PM2_CLI_MS) / HOST_POLL_MS) * HOST_POLL_MS + (HOST_GOOD_ANSWERS - 1) * HOST_POLL_MS)} after SendCommand.`,
    `- SDK waiter (waitUntilCommandExecuted as SsmHostRunner calls it): a first GetCommandInvocation at once, then delays from ${latencies.waiterMinDelaySeconds} s doubling up to ${latencies.waiterMaxDelaySeconds} s with jitter (seeded, seed ${seed}); then one more GetCommandInvocation for the output. A command is seen done at the first poll after it ended: a remediate took ${seconds(fifty?.remediateMs)} on average from SendCommand to its output read in the 50-of-200 run.`,
    `- Durable execution (test/bench/lib/durable-model.ts): each step a START and a SUCCEED checkpoint, sent in batches one CheckpointDurableExecution call at a time (${latencies.checkpointMs} ms each, \`--checkpoint-ms\`, assumed); a map and each of its items are operations too; waits last whole seconds (at least 1) and suspend the invocation when nothing else is pending.`,
    `- CloudWatch Logs: 4 FilterLogEvents per instance in parallel (${latencies.filterLogEventsMs} ms); the Logs Insights query takes ${latencies.insightsQueryMs} ms and is polled every second.`,
    '- Answers: affected instances show the recorded crash snapshot (test/fixtures/snapshots/crash.txt, real host-script output) until restarted, then the recorded healthy ones; the restart always works.',
    `- Simulation wall time on this machine: ${results.map((r) => `${r.fleet}/${r.affected} ${seconds(r.realMs)}`).join(', ')}.`,
    '',
    '## Environment',
    '',
    ...environmentLines(environment),
    '',
  ].join('\n');
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'fleet.md'), markdown);
  await writeFile(
    join(out, 'fleet.json'),
    `${JSON.stringify({ command, environment, latencies, maxWave, seed, rps, bytesPerLine, prices: PRICES, targets, results, ...(whatIf.length > 0 && { whatIf }) }, null, 2)}\n`,
  );
  console.log(`\n${markdown}`);
  console.log('Targets:');
  for (const line of targets) console.log(`  ${line.met ? 'MET   ' : 'MISSED'} ${line.target}: ${line.text}`);
  console.log(`Written: ${join(out, 'fleet.md')}, fleet.json`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`bench:fleet: ${error.message}`);
      process.exitCode = 2;
      return;
    }
    console.error(error);
    process.exitCode = 1;
  },
);
