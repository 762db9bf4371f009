/**
 * `npm run bench:detect` — per-instance detection on AWS, as a model with its inputs printed (issue 11's Targets).
 *
 *   npm run bench:detect -- [--flush 5] [--delivery 10] [--rps 10] [--fleet 200] [--errors 50] [--outage 30]
 *
 * What is real and what is modelled:
 * - The detector's logic (core/detect.ts) and its DynamoDB store (adapters/aws/detection-store.ts) run for real,
 *   against dynalite, on payloads encoded as CloudWatch Logs sends them: the storm's incident count is counted, not
 *   assumed.
 * - The responder's part (event → restart issued) runs the real fleet use case on the fleet benchmark's models of
 *   SSM, CloudWatch Logs, DynamoDB and SNS (test/bench/lib/fleet-model.ts), on a virtual clock.
 * - Agent flush, subscription delivery, Lambda starts and the alarm's own delays are the inputs below: documented
 *   figures or stated assumptions. Nothing here is timed by npm test.
 */
import { parseArgs } from 'node:util';
import { SnsNotifier } from '../../functions/adapters/aws/sns-notifier.ts';
import { DynamoDbDetectionStore } from '../../functions/adapters/aws/detection-store.ts';
import { DEFAULT_DETECT_SETTINGS, detect, type DetectionStore, type DetectOutcome, type DetectorStart } from '../../functions/core/detect.ts';
import { detectorEvent } from '../../functions/core/trigger.ts';
import { decodeSubscription } from '../../functions/detector/decode.ts';
import { isGatewayError, parseAccessLine } from '../../functions/core/evidence/access-log.ts';
import { parseConfig } from '../../functions/responder/config.ts';
import { handleEvent } from '../../functions/responder/run.ts';
import { startDynalite } from '../helpers/dynalite.ts';
import { responderEnv } from '../helpers/responder-env.ts';
import { accessLine, errorBatch } from '../helpers/subscription.ts';
import { DEFAULT_LATENCIES, ModelLogs, ModelSsm, ModelStore, modelFindInstances, modelSnsClient, noCalls, recordedCrashTime } from './lib/fleet-model.ts';
import { markdownTable, seconds } from './lib/stats.ts';
import { VirtualClock } from './lib/virtual-clock.ts';

/** us-east-1 list prices (USD) the cost is computed with; check the pricing pages before relying on them. */
const PRICE = {
  /** Lambda arm64, per GB-second, and per request. */
  lambdaArmGbSecond: 0.0000133334,
  lambdaRequest: 0.0000002,
  /** DynamoDB on demand: per write request unit (1 KB) and per strongly consistent read unit (4 KB). */
  dynamoWriteUnit: 0.000000625,
  dynamoReadUnit: 0.000000125,
} as const;

/**
 * Write units one counter update costs: DynamoDB bills the larger of the item before and after, per 1 KB, and the
 * counter holds up to 6 buckets of (count, first error, the batch ids counted there, 22 characters each): about
 * 1 KB in a storm, so 2 units are charged to stay on the safe side.
 */
const COUNTER_WRITE_UNITS = 2;

/** The detector function's size and the time one warm invocation bills (decode + 1–3 DynamoDB calls + maybe Invoke). */
const DETECTOR = { memoryGb: 0.25, billedMs: 30, coldStartMs: 400 } as const;

/** Latencies of the AWS path besides SSM, each an assumption stated with where it comes from. */
const PATH = {
  /** CloudWatch Logs → Lambda asynchronous invoke of the detector, once the batch is ready. */
  invokeDetectorMs: 100,
  /** Lambda's asynchronous queue to the responder's handler, cold start included (Node 20, ~60 MB bundle). */
  startResponderMs: 900,
  /** One DynamoDB request (the fleet model's figure). */
  dynamoMs: DEFAULT_LATENCIES.dynamoMs,
  /** One Lambda Invoke API call (the fleet model's API call figure). */
  invokeApiMs: DEFAULT_LATENCIES.apiCallMs,
  /** Today: the metric filter's 1-minute period must end before the alarm can see it (the first error may open it). */
  metricPeriodMs: 60_000,
  /** Today: CloudWatch evaluates after ingesting the minute's datapoint; 30 s is the low end of users' "1–3 minutes". */
  alarmEvaluationMs: 30_000,
  /** Today: EventBridge delivering the state change to the responder, cold start included. */
  eventBridgeMs: 1_500,
} as const;

interface Inputs {
  readonly flushMs: number;
  readonly deliveryMs: number;
  readonly rps: number;
  readonly fleet: number;
  readonly errorsPerSecond: number;
  readonly outageMs: number;
}

function readInputs(argv: string[]): Inputs {
  const { values } = parseArgs({
    args: argv,
    options: {
      flush: { type: 'string', default: '5' },
      delivery: { type: 'string', default: '10' },
      rps: { type: 'string', default: '10' },
      fleet: { type: 'string', default: '200' },
      errors: { type: 'string', default: '50' },
      outage: { type: 'string', default: '30' },
    },
  });
  const number = (name: keyof typeof values, min: number, max: number): number => {
    const value = Number(values[name]);
    if (!Number.isFinite(value) || value < min || value > max) throw new RangeError(`--${name}: must be a number from ${min} to ${max}, got "${values[name]}"`);
    return value;
  };
  return {
    flushMs: number('flush', 0, 60) * 1000,
    deliveryMs: number('delivery', 0, 600) * 1000,
    rps: number('rps', 1, 10_000),
    fleet: Math.round(number('fleet', 1, 2000)),
    errorsPerSecond: number('errors', 1, 1000),
    outageMs: number('outage', 5, 3600) * 1000,
  };
}

/**
 * The responder's own time, from its invocation to the restart's SendCommand, on the fleet model: the real use case
 * (claim, find or take the instance, snapshot, logs, diagnosis, lock, restart history, remediate). `alarm`: today's
 * event, which first finds the instances with Logs Insights; otherwise the detector's start for one instance.
 */
async function responderToRestartMs(alarm: boolean): Promise<{ restartMs: number; runMs: number }> {
  const config = parseConfig(responderEnv({ REFLEX_TABLE_NAME: 'reflex-web', REFLEX_ECOSYSTEM: '/srv/web/ecosystem.config.cjs' }));
  const clock = new VirtualClock(new Date(recordedCrashTime().getTime() + 5000));
  const calls = noCalls();
  const instance = 'i-0000000000000000a';
  const ssm = new ModelSsm(clock, DEFAULT_LATENCIES, calls, 1);
  const invokedAt = clock.nowMs();
  let restartAt: number | undefined;
  const host = {
    run: async (...args: Parameters<ModelSsm['run']>) => {
      if (args[1] === 'remediate') restartAt ??= clock.nowMs();
      return ssm.run(...args);
    },
  };
  const time = clock.now().toISOString();
  const event = alarm
    ? { id: 'bench-alarm', source: 'aws.cloudwatch', 'detail-type': 'CloudWatch Alarm State Change', time, detail: { alarmName: config.alarmName, state: { value: 'ALARM' } } }
    : detectorEvent({ incidentId: `detect-${instance}-0`, instanceId: instance, firstErrorAt: time, time, claimExpiresAt: new Date(clock.nowMs() + 900_000).toISOString() });
  const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined };
  // Checkpoints: in-process (the default), on the virtual clock; the run is one durable execution either way.
  await clock.run(() =>
    handleEvent(event, {
      config,
      host,
      logs: new ModelLogs(clock, DEFAULT_LATENCIES, calls),
      findInstances: modelFindInstances(clock, DEFAULT_LATENCIES, calls, [instance]),
      notifiers: [new SnsNotifier({ client: modelSnsClient(clock, DEFAULT_LATENCIES, calls), topicArn: config.topicArn })],
      store: new ModelStore(clock, DEFAULT_LATENCIES, calls),
      clock,
      logger: quiet,
    }),
  );
  if (restartAt === undefined) throw new Error('the modelled responder did not restart the crashed instance');
  return { restartMs: restartAt - invokedAt, runMs: clock.nowMs() - invokedAt };
}

/** Counts every store call the detector makes, to price them. */
class CountingStore implements DetectionStore {
  /** Write and read request units. */
  writes = 0;
  reads = 0;
  constructor(private readonly inner: DetectionStore) {}
  addErrors(...args: Parameters<DetectionStore['addErrors']>) {
    this.writes += COUNTER_WRITE_UNITS;
    return this.inner.addErrors(...args);
  }
  claimIncident(...args: Parameters<DetectionStore['claimIncident']>) {
    this.writes++;
    return this.inner.claimIncident(...args);
  }
  releaseIncident(...args: Parameters<DetectionStore['releaseIncident']>) {
    this.writes++;
    return this.inner.releaseIncident(...args);
  }
  lastClosedAt(...args: Parameters<DetectionStore['lastClosedAt']>) {
    this.reads++;
    return this.inner.lastClosedAt(...args);
  }
}

interface Storm {
  readonly invocations: number;
  readonly duplicates: number;
  readonly writes: number;
  readonly reads: number;
  readonly incidents: Map<string, number>;
  readonly secondInstanceStarted: boolean;
}

/**
 * The fleet outage, for real on dynalite: every instance fails at once with `errorsPerSecond`; each agent flush
 * delivers the instance's lines as `SPLIT` concurrent batches, and one batch in ten is delivered twice. The flushes
 * of all instances arrive together. Then the blind-alarm case: A stays claimed (escalated, its errors go on), B fails.
 */
async function runStorm(inputs: Inputs): Promise<Storm> {
  const SPLIT = 3;
  const dynamo = await startDynalite({ tableName: 'reflex-bench-detect' });
  try {
    let now = Date.parse('2026-11-24T10:00:00.000Z');
    const store = new CountingStore(new DynamoDbDetectionStore({ client: dynamo.documentClient, tableName: dynamo.tableName, clock: () => new Date(now) }));
    const incidents = new Map<string, number>();
    const start = async (started: DetectorStart): Promise<void> => {
      incidents.set(started.instanceId, (incidents.get(started.instanceId) ?? 0) + 1);
    };
    const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined };
    const deps = { store, start, now: () => new Date(now), logger: quiet, settings: DEFAULT_DETECT_SETTINGS };
    const run = async (event: unknown): Promise<DetectOutcome | undefined> => {
      const decoded = decodeSubscription(event);
      return decoded.kind === 'batch' ? detect(decoded.batch, deps) : undefined;
    };
    const ids = Array.from({ length: inputs.fleet }, (_, index) => `i-0${(index + 1).toString(16).padStart(16, '0')}`);
    const flushes = Math.max(1, Math.ceil(inputs.outageMs / Math.max(inputs.flushMs, 1000)));
    const perBatch = Math.max(1, Math.round((inputs.errorsPerSecond * Math.max(inputs.flushMs, 1000)) / 1000 / SPLIT));
    let invocations = 0;
    let duplicates = 0;
    for (let flush = 0; flush < flushes; flush++) {
      const flushStart = now;
      now += Math.max(inputs.flushMs, 1000);
      const batches = ids.flatMap((id) =>
        Array.from({ length: SPLIT }, (_, part) => errorBatch(id, new Date(flushStart + part * (Math.max(inputs.flushMs, 1000) / SPLIT)), perBatch, 1000 / inputs.errorsPerSecond)),
      );
      const redelivered = batches.filter((_, index) => index % 10 === 0);
      const outcomes = await Promise.all([...batches, ...redelivered].map((batch) => run(batch)));
      invocations += outcomes.length;
      duplicates += outcomes.filter((outcome) => outcome?.status === 'duplicate').length;
    }

    // A is escalated: its claim is held and its 502s go on; then B (never failing before) crashes.
    const a = 'i-0aaaaaaaaaaaaaaaa';
    const b = 'i-0bbbbbbbbbbbbbbbb';
    await store.claimIncident({ incidentId: 'escalated-a', instanceId: a, firstErrorAt: new Date(now).toISOString(), expiresAt: now + 900_000 });
    await run(errorBatch(a, new Date(now - 2000), 50));
    const startedB = await run(errorBatch(b, new Date(now - 2000), 50));
    return { invocations, duplicates, writes: store.writes, reads: store.reads, incidents, secondInstanceStarted: startedB?.status === 'started' && !incidents.has(a) };
  } finally {
    await dynamo.stop();
  }
}

/**
 * Lines of a healthy minute across the fleet (successes, redirects, client errors, even app 500s) that pass the
 * subscription filter: the filter keeps gateway statuses only, as isGatewayError does; each passing line would be
 * in some detector invocation.
 */
function healthyLinesPassing(inputs: Inputs): { lines: number; passing: number } {
  const statuses = [200, 200, 200, 304, 301, 404, 500];
  const lines = Math.round(inputs.fleet * inputs.rps * 60);
  let passing = 0;
  const at = new Date('2026-11-24T10:00:00Z');
  for (let index = 0; index < lines; index++) {
    const entry = parseAccessLine(accessLine(statuses[index % statuses.length]!, at));
    if (entry && isGatewayError(entry.status)) passing++;
  }
  return { lines, passing };
}

async function main(): Promise<number> {
  const inputs = readInputs(process.argv.slice(2));
  const detectorRun = await responderToRestartMs(false);
  const detectorResponder = detectorRun.restartMs;
  const alarmResponder = (await responderToRestartMs(true)).restartMs;
  const thresholdMs = ((DEFAULT_DETECT_SETTINGS.threshold - 1) / inputs.rps) * 1000;
  const detectorMs = DETECTOR.coldStartMs + 3 * PATH.dynamoMs + PATH.invokeApiMs;
  const newPath = thresholdMs + inputs.flushMs + inputs.deliveryMs + PATH.invokeDetectorMs + detectorMs + PATH.startResponderMs + detectorResponder;
  const today = PATH.metricPeriodMs + PATH.alarmEvaluationMs + PATH.eventBridgeMs + alarmResponder;
  // The responder runs one incident at a time (reserved concurrency 1): in a fleet outage the starts queue, and a
  // start still queued when its claim runs out is left to the alarm path.
  const lastInQueueMs = newPath + (inputs.fleet - 1) * detectorRun.runMs;
  const servedBeforeClaimsRunOut = Math.min(inputs.fleet, Math.floor(DEFAULT_DETECT_SETTINGS.claimTtlMs / detectorRun.runMs) + 1);

  const storm = await runStorm(inputs);
  const incidentCount = [...storm.incidents.values()].reduce((sum, count) => sum + count, 0);
  const exactlyOne = storm.incidents.size === inputs.fleet + 1 && [...storm.incidents.values()].every((count) => count === 1);
  const lambdaUsd = storm.invocations * (PRICE.lambdaRequest + DETECTOR.memoryGb * (DETECTOR.billedMs / 1000) * PRICE.lambdaArmGbSecond);
  const dynamoUsd = storm.writes * PRICE.dynamoWriteUnit + storm.reads * PRICE.dynamoReadUnit;
  const perIncident = (lambdaUsd + dynamoUsd) / Math.max(1, incidentCount);
  // An escalated instance keeps erroring: every flush still brings its batches (1 counter write each).
  const perInvocationUsd = PRICE.lambdaRequest + DETECTOR.memoryGb * (DETECTOR.billedMs / 1000) * PRICE.lambdaArmGbSecond + COUNTER_WRITE_UNITS * PRICE.dynamoWriteUnit;
  const perErrorMinute = (60_000 / Math.max(inputs.flushMs, 1000)) * 3 * perInvocationUsd;
  const healthy = healthyLinesPassing(inputs);

  console.log('Inputs (the model; change them with the flags above):');
  console.log(
    markdownTable(
      ['input', 'value', 'source'],
      [
        ['agent force_flush_interval', seconds(inputs.flushMs), 'infra/cloudwatch-agent.ts; a line waits at most this long (worst case taken)'],
        ['subscription delivery', seconds(inputs.deliveryMs), 'assumed: AWS documents "usually well under three minutes"; in practice seconds'],
        ['threshold / window / bucket', `${DEFAULT_DETECT_SETTINGS.threshold} / ${seconds(DEFAULT_DETECT_SETTINGS.windowMs)} / ${seconds(DEFAULT_DETECT_SETTINGS.bucketMs)}`, 'core/detect.ts defaults'],
        ['requests to the failing instance', `${inputs.rps}/s`, `assumed: the threshold fills in ${seconds(thresholdMs)}`],
        ['detector: cold start + DynamoDB + Invoke', seconds(detectorMs), `assumed ${DETECTOR.coldStartMs} ms cold start, ${PATH.dynamoMs} ms per DynamoDB call, ${PATH.invokeApiMs} ms Invoke`],
        ['Lambda async queue → responder (cold)', seconds(PATH.startResponderMs + PATH.invokeDetectorMs), 'assumed'],
        ['SSM round trip / API call / waiter', `${seconds(DEFAULT_LATENCIES.ssmRoundTripMs)} / ${DEFAULT_LATENCIES.apiCallMs} ms / ${DEFAULT_LATENCIES.waiterMinDelaySeconds}–${DEFAULT_LATENCIES.waiterMaxDelaySeconds} s`, 'test/bench/lib/fleet-model.ts'],
        ['today: metric period + evaluation + EventBridge', seconds(PATH.metricPeriodMs + PATH.alarmEvaluationMs + PATH.eventBridgeMs), '1-minute metric (no storage resolution on metric filters); evaluation assumed at the low end'],
        ['outage (storm)', `${inputs.fleet} instances × ${inputs.errorsPerSecond} errors/s for ${seconds(inputs.outageMs)}`, 'each flush as 3 concurrent batches, 1 in 10 delivered twice'],
        ['prices (us-east-1)', `Lambda arm64 $${PRICE.lambdaArmGbSecond}/GB-s + $0.20/M requests; DynamoDB $0.625/M writes, $0.125/M reads`, `detector ${DETECTOR.memoryGb * 1024} MB, ${DETECTOR.billedMs} ms billed per invocation (assumed)`],
      ],
    ),
  );
  console.log('\nTargets:');
  console.log(
    markdownTable(
      ['target', 'new path (detector)', 'today (alarm)', 'goal'],
      [
        ['first gateway error → restart issued', seconds(newPath), `≥ ${seconds(today)}`, '≤ 20 s vs ≥ 60 s'],
        ['(of which the responder, event → restart)', seconds(detectorResponder), seconds(alarmResponder), ''],
        ['second instance fails while the first is escalated', storm.secondInstanceStarted ? `handled, ${seconds(newPath)}` : 'NOT handled', 'never (no state change, no event)', 'same ≤ 20 s'],
        [
          'detector invocations while nothing fails',
          healthy.passing === 0 ? `0 (none of ${healthy.lines} healthy lines a minute passes the filter)` : `≥ 1: ${healthy.passing} healthy lines a minute pass the filter`,
          '—',
          '0',
        ],
        [`outage: detector invocations (${inputs.fleet} × ${inputs.errorsPerSecond}/s, ${seconds(inputs.outageMs)})`, `${storm.invocations} (${storm.duplicates} duplicates dropped)`, '1 responder run', ''],
        ['outage: DynamoDB write / read units', `${storm.writes} / ${storm.reads}`, '—', ''],
        ['outage: detector cost per incident', `$${perIncident.toExponential(2)}`, '—', '< $0.001'],
        ['each further minute one instance keeps failing (escalated)', `$${perErrorMinute.toExponential(2)}`, '—', ''],
        [
          `outage: restarts issued, one incident at a time (${seconds(detectorRun.runMs)} each)`,
          `last of ${inputs.fleet} after ${seconds(lastInQueueMs)}; ${servedBeforeClaimsRunOut} started before the ${seconds(DEFAULT_DETECT_SETTINGS.claimTtlMs)} claims run out, the rest left to the alarm run`,
          'one durable run over the fleet, in waves (1, 2, 4 … 16 at once), nothing held back at the Lambda timeout',
          '',
        ],
        ['outage: incidents per instance (real detector on dynalite)', exactlyOne ? `exactly 1 each (${incidentCount} for ${inputs.fleet + 1} instances)` : `NOT one each: ${incidentCount} for ${storm.incidents.size}`, '1 for the fleet', 'exactly 1 each'],
      ],
    ),
  );
  return exactlyOne && storm.secondInstanceStarted && healthy.passing === 0 && perIncident < 0.001 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof RangeError ? `bench:detect: ${error.message}` : error);
    process.exitCode = error instanceof RangeError ? 2 : 1;
  },
);
