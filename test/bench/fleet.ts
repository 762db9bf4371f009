/**
 * `npm run bench:fleet` — the AWS path at scale: one alarm over a fleet, through the real orchestration
 * (handleEvent in functions/responder/run.ts, which runs functions/core/respond-fleet.ts: find the instances,
 * investigate in parallel, remediate one instance at a time with verification, notify), with in-process models of
 * SSM, CloudWatch Logs, DynamoDB and SNS that wait what AWS would take and count every API call
 * (test/bench/lib/fleet-model.ts). Time is virtual: waits are skipped, not
 * scaled, and the real code's CPU time counts as it passes (test/bench/lib/virtual-clock.ts).
 *
 *   npm run bench:fleet -- [--ssm-ms 1000] [--api-ms 40] [--logs-ms 300] [--insights-ms 2000] [--waiter-min 2]
 *                          [--waiter-max 10] [--rps 10] [--seed 1] [--out dir]
 *
 * Writes test/bench/results/fleet.{md,json} and prints the tables.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SnsNotifier } from '../../functions/adapters/aws/sns-notifier.ts';
import { parseConfig } from '../../functions/responder/config.ts';
import { ENV, LAMBDA_MARGIN_SECONDS } from '../../functions/contract/lambda-env.ts';
import { handleEvent, type ResponderResult } from '../../functions/responder/run.ts';
import { describeEnvironment, environmentLines, loadAverageNow } from './lib/environment.ts';
import {
  DEFAULT_LATENCIES,
  FleetModelError,
  ModelLogs,
  ModelSsm,
  ModelStore,
  modelFindInstances,
  modelSnsClient,
  noCalls,
  recordedCrashTime,
  type ApiCalls,
  type FleetLatencies,
} from './lib/fleet-model.ts';
import { markdownTable, seconds } from './lib/stats.ts';
import { VirtualClock } from './lib/virtual-clock.ts';

const DEFAULT_OUT = fileURLToPath(new URL('./results/', import.meta.url));
const ACCESS_LOG_FIXTURE = fileURLToPath(new URL('../fixtures/logs/nginx-access-json.log', import.meta.url));

/** The scenarios the issue asks for: 200 instances with 1, 10, 50 affected, and 1000 with 10 (fleet size alone). */
const SCENARIOS = [
  { fleet: 200, affected: 1 },
  { fleet: 200, affected: 10 },
  { fleet: 200, affected: 50 },
  { fleet: 1000, affected: 10 },
] as const;

/** us-east-1 list prices (USD) used for the estimate; check the pricing pages before relying on them. */
export const PRICES = {
  /** Lambda arm64, per GB-second (first 7.5 billion GB-s a month). */
  lambdaGbSecondArm: 0.0000133334,
  lambdaRequest: 0.2 / 1_000_000,
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
function responderConfig() {
  return parseConfig({
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

interface ScenarioResult {
  readonly fleet: number;
  readonly affected: number;
  readonly latencies: FleetLatencies;
  /** Alarm → the last affected instance diagnosed. */
  readonly diagnosedAllMs: number;
  /** Alarm → the affected instances found (the Logs Insights query). */
  readonly foundMs: number;
  /** Alarm → the end of the invocation (rolling remediation and every report sent). */
  readonly finishedMs: number;
  /** Instances restarted and verified recovered, and those held back (Lambda about to time out). */
  readonly recovered: number;
  readonly heldBack: number;
  /** Most snapshots in flight at once: the investigation concurrency. */
  readonly concurrency: number;
  readonly calls: ApiCalls;
  /** SSM + FilterLogEvents calls per affected instance investigated. */
  readonly investigationCallsPerInstance: number;
  /** SSM calls per instance restarted and verified (restart + verification probes). */
  readonly remediationCallsPerInstance?: number;
  /** Alarm → all affected remediated, extrapolated from the instances that were (when some were held back). */
  readonly allRemediatedEstimateMs?: number;
  readonly bytesScanned: number;
  readonly costUsd: { readonly lambda: number; readonly insights: number; readonly sns: number; readonly dynamo: number; readonly total: number };
  readonly lambdaTimeoutMs: number;
  /** Real time the simulation took on this machine. */
  readonly realMs: number;
}

async function runScenario(fleet: number, affected: number, latencies: FleetLatencies, options: { seed: number; rps: number; bytesPerLine: number }): Promise<ScenarioResult> {
  const config = responderConfig();
  const lambdaTimeoutMs = (config.verifySeconds + LAMBDA_MARGIN_SECONDS) * 1000;
  // Virtual time starts just after the recorded crash, so the evidence window holds the recorded lines.
  const clock = new VirtualClock(new Date(recordedCrashTime().getTime() + 5000));
  const calls = noCalls();
  const ids = Array.from({ length: fleet }, (_, index) => instanceId(index + 1));
  // Spread over the fleet, not the first ones: the fleet's order must not matter.
  const affectedIds = Array.from({ length: affected }, (_, index) => ids[Math.floor((index * fleet) / affected)]!);
  const ssm = new ModelSsm(clock, latencies, calls, options.seed);
  let inFlight = 0;
  let concurrency = 0;
  const host = {
    run: async (...args: Parameters<ModelSsm['run']>) => {
      const full = args[1] === 'snapshot' && args[2].sections !== 'probe';
      if (full) concurrency = Math.max(concurrency, ++inFlight);
      try {
        return await ssm.run(...args);
      } finally {
        if (full) inFlight--;
      }
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
  const result: ResponderResult = await clock.run(() =>
    handleEvent(event, {
      config,
      host,
      logs: new ModelLogs(clock, latencies, calls),
      findInstances: async (window) => {
        const found = await findInstances(window);
        foundAt = clock.nowMs();
        return found;
      },
      notifiers: [new SnsNotifier({ client: modelSnsClient(clock, latencies, calls), topicArn: config.topicArn })],
      store: new ModelStore(clock, latencies, calls),
      clock,
      logger: quiet,
      remainingMs: () => lambdaTimeoutMs - (clock.nowMs() - invokedAt),
      progress: {
        step: (entry) => {
          if (entry.message.startsWith('diagnosed ')) lastDiagnosedAt = clock.nowMs();
        },
      },
    }),
  );
  const finishedMs = clock.nowMs() - invokedAt;
  const realMs = Date.now() - realStart;
  if (result.status !== 'handled') throw new FleetModelError(`the alarm was not handled: ${result.status}`);
  const recovered = result.incidents.filter((incident) => incident.executed && incident.outcome === 'recovered').length;
  const heldBack = result.incidents.filter((incident) => !incident.executed && incident.action === 'none').length;

  const remediated = result.incidents.filter((incident) => incident.executed).length;
  const perRestartMs = remediated > 0 ? (finishedMs - (lastDiagnosedAt - invokedAt)) / remediated : undefined;
  const bytesScanned = fleet * options.rps * config.windowSeconds * options.bytesPerLine;
  const lambda = LAMBDA_MEMORY_GB * (finishedMs / 1000) * PRICES.lambdaGbSecondArm + PRICES.lambdaRequest;
  const insights = (bytesScanned / 1024 ** 3) * PRICES.insightsPerGb;
  const sns = calls.snsPublish * PRICES.snsPublish;
  const dynamo = calls.dynamoWrites * PRICES.dynamoWrite + calls.dynamoReads * PRICES.dynamoRead;
  return {
    fleet,
    affected,
    latencies,
    diagnosedAllMs: lastDiagnosedAt - invokedAt,
    foundMs: foundAt - invokedAt,
    finishedMs,
    recovered,
    heldBack,
    concurrency,
    calls: { ...calls },
    investigationCallsPerInstance: (ssm.callsFor.investigation + calls.filterLogEvents) / affected,
    ...(remediated > 0 && { remediationCallsPerInstance: ssm.callsFor.remediation / remediated }),
    ...(heldBack > 0 && perRestartMs !== undefined && { allRemediatedEstimateMs: lastDiagnosedAt - invokedAt + perRestartMs * affected }),
    bytesScanned,
    costUsd: { lambda, insights, sns, dynamo, total: lambda + insights + sns + dynamo },
    lambdaTimeoutMs,
    realMs,
  };
}

function usd(value: number): string {
  return value === 0 ? '$0' : value < 0.0001 ? `$${value.toExponential(1)}` : `$${value.toFixed(4)}`;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(0)} MB`;
}

async function averageLineBytes(): Promise<number> {
  const lines = (await readFile(ACCESS_LOG_FIXTURE, 'utf8')).split('\n').filter((line) => line.trim() !== '');
  return Math.round(lines.reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0) / lines.length);
}

function tables(results: readonly ScenarioResult[]): { time: string; calls: string; cost: string } {
  const time = markdownTable(
    ['fleet', 'affected', 'instances found', 'all affected diagnosed', 'waves (affected ÷ concurrency)', 'invocation done', 'restarted + verified', 'held back (Lambda timeout)', 'all remediated (extrapolated)'],
    results.map((r) => [
      String(r.fleet),
      String(r.affected),
      seconds(r.foundMs),
      seconds(r.diagnosedAllMs),
      `${Math.ceil(r.affected / Math.max(1, r.concurrency))} × ${r.concurrency}`,
      seconds(r.finishedMs),
      String(r.recovered),
      String(r.heldBack),
      r.allRemediatedEstimateMs === undefined ? seconds(r.finishedMs) : `≈ ${seconds(r.allRemediatedEstimateMs)}`,
    ]),
  );
  const calls = markdownTable(
    ['fleet', 'affected', 'SendCommand', 'GetCommandInvocation', 'StartQuery', 'GetQueryResults', 'FilterLogEvents', 'SNS Publish', 'DynamoDB R/W', 'total', 'per instance investigated', 'per instance restarted'],
    results.map((r) => {
      const total = Object.values(r.calls).reduce((sum, value) => sum + value, 0);
      return [
        String(r.fleet),
        String(r.affected),
        String(r.calls.sendCommand),
        String(r.calls.getCommandInvocation),
        String(r.calls.startQuery),
        String(r.calls.getQueryResults),
        String(r.calls.filterLogEvents),
        String(r.calls.snsPublish),
        `${r.calls.dynamoReads}/${r.calls.dynamoWrites}`,
        String(total),
        r.investigationCallsPerInstance.toFixed(1),
        r.remediationCallsPerInstance === undefined ? '–' : r.remediationCallsPerInstance.toFixed(1),
      ];
    }),
  );
  const cost = markdownTable(
    ['fleet', 'affected', 'Lambda (GB-s)', 'Lambda $', 'Insights scanned', 'Insights $', 'SNS $', 'DynamoDB $', 'SSM $', 'total per incident'],
    results.map((r) => [
      String(r.fleet),
      String(r.affected),
      (LAMBDA_MEMORY_GB * (r.finishedMs / 1000)).toFixed(1),
      usd(r.costUsd.lambda),
      megabytes(r.bytesScanned),
      usd(r.costUsd.insights),
      usd(r.costUsd.sns),
      usd(r.costUsd.dynamo),
      '$0',
      usd(r.costUsd.total),
    ]),
  );
  return { time, calls, cost };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      'ssm-ms': { type: 'string' },
      'api-ms': { type: 'string' },
      'logs-ms': { type: 'string' },
      'insights-ms': { type: 'string' },
      'waiter-min': { type: 'string' },
      'waiter-max': { type: 'string' },
      rps: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log('usage: npm run bench:fleet -- [--ssm-ms 1000] [--api-ms 40] [--logs-ms 300] [--insights-ms 2000] [--waiter-min 2] [--waiter-max 10] [--rps 10] [--seed 1] [--out dir]');
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
  };
  if (latencies.waiterMaxDelaySeconds < latencies.waiterMinDelaySeconds) throw new UsageError('--waiter-max: must not be below --waiter-min');
  const seed = numberOption('seed', values.seed, 1, 0, 2 ** 31);
  const rps = numberOption('rps', values.rps, 10, 0, 100_000);
  const bytesPerLine = await averageLineBytes();
  const out = values.out ?? DEFAULT_OUT;
  const environment = await describeEnvironment();
  const startedAt = new Date().toISOString();

  const results: ScenarioResult[] = [];
  for (const { fleet, affected } of SCENARIOS) {
    const result = await runScenario(fleet, affected, latencies, { seed, rps, bytesPerLine });
    results.push(result);
    console.log(
      `${fleet} instances, ${affected} affected: diagnosed in ${seconds(result.diagnosedAllMs)}, done in ${seconds(result.finishedMs)} ` +
        `(${result.recovered} restarted, ${result.heldBack} held back), ${Object.values(result.calls).reduce((a, b) => a + b, 0)} API calls; simulated in ${seconds(result.realMs)}`,
    );
  }
  // What the SDK waiter's first delay costs: the same 50-of-200 incident with a 1 s minimum delay.
  const fasterWaiter = { ...latencies, waiterMinDelaySeconds: 1, waiterMaxDelaySeconds: Math.max(1, latencies.waiterMaxDelaySeconds) };
  const whatIf = latencies.waiterMinDelaySeconds === 1 ? undefined : await runScenario(200, 50, fasterWaiter, { seed, rps, bytesPerLine });
  environment.loadAverage.atEnd = loadAverageNow();

  const main = tables(results);
  const config = responderConfig();
  const fifty = results.find((r) => r.fleet === 200 && r.affected === 50);
  const ten = results.find((r) => r.fleet === 200 && r.affected === 10);
  const tenOfThousand = results.find((r) => r.fleet === 1000 && r.affected === 10);
  const markdown = [
    '# Fleet benchmark: one alarm over a fleet, through the real orchestration',
    '',
    `Generated by \`npm run bench:fleet\` (test/bench/fleet.ts) on ${startedAt}. The responder's own code runs for real — \`handleEvent\` (find the instances, investigate ${fifty?.concurrency ?? 10} at a time, remediate one instance at a time with verification, notify), the core's evidence parsing, diagnosis and policy, the SNS notifier's rendering — against in-process models of SSM Run Command, CloudWatch Logs, DynamoDB and SNS that wait what AWS would take and count every call the real adapters would make. Time is virtual: waits are skipped, not scaled; the real code's CPU time is counted as it passes.`,
    '',
    '## Time',
    '',
    main.time,
    '',
    `Diagnosis time follows the number of affected instances divided by the concurrency (${fifty?.concurrency ?? 10}), not the fleet size: ${ten && tenOfThousand ? `10 affected take ${seconds(ten.diagnosedAllMs)} in a fleet of 200 and ${seconds(tenOfThousand.diagnosedAllMs)} in a fleet of 1000` : ''}; healthy instances are never contacted (the Logs Insights query names the affected ones). The query's own run time is modelled as fixed (${seconds(latencies.insightsQueryMs)}); in reality it grows with the data scanned, which grows with the fleet.`,
    '',
    ...(whatIf
      ? [
          `With the SDK waiter's first delay at 1 s instead of ${latencies.waiterMinDelaySeconds} s (\`SsmHostRunner\` option \`minDelaySeconds\`), the 50-of-200 incident is diagnosed in ${seconds(whatIf.diagnosedAllMs)} instead of ${seconds(fifty?.diagnosedAllMs)} and finishes in ${seconds(whatIf.finishedMs)} (${whatIf.recovered} restarted, ${whatIf.heldBack} held back) with ${Object.values(whatIf.calls).reduce((a, b) => a + b, 0)} API calls.`,
          '',
        ]
      : []),
    `Rolling remediation is one instance at a time, each verified (3 consecutive good probe snapshots, a poll every 250 ms) before the next, within one Lambda invocation of ${seconds(results[0]?.lambdaTimeoutMs)} (REFLEX_VERIFY_SECONDS ${config.verifySeconds} + ${LAMBDA_MARGIN_SECONDS} s). When less than the verification's minimum is left, the remaining instances are held back: not restarted, reported as such.`,
    '',
    '## AWS API calls per incident',
    '',
    main.calls,
    '',
    '## Estimated cost per incident (USD)',
    '',
    main.cost,
    '',
    `Prices: Lambda arm64 $${PRICES.lambdaGbSecondArm}/GB-s at ${LAMBDA_MEMORY_GB * 1024} MB + $0.20 per million requests (init time not included: see \`npm run bench:bundle\`); Logs Insights $${PRICES.insightsPerGb} per GB scanned, with an assumed ${rps} requests/s per instance × ${config.windowSeconds} s window × ${bytesPerLine} B per JSON access line (the average of test/fixtures/logs/nginx-access-json.log) scanned over the whole fleet; SNS $0.50 per million publishes (deliveries to email/HTTPS subscriptions are extra); DynamoDB on demand $0.625 per million writes, $0.125 per million reads; SSM Run Command on EC2 instances has no charge; FilterLogEvents, GetQueryResults and the SSM API calls carry no per-request charge (throttling limits, not cost, are what bounds them). us-east-1 list prices; check the pricing pages.`,
    '',
    '## Model',
    '',
    `- SSM round trip (SendCommand → invocation done: delivery + script): ${latencies.ssmRoundTripMs} ms; every AWS API call ${latencies.apiCallMs} ms; DynamoDB ${latencies.dynamoMs} ms.`,
    `- SDK waiter (waitUntilCommandExecuted as SsmHostRunner calls it): a first GetCommandInvocation at once, then delays from ${latencies.waiterMinDelaySeconds} s doubling up to ${latencies.waiterMaxDelaySeconds} s with jitter (seeded, seed ${seed}); then one more GetCommandInvocation for the output. A 1 s command is therefore seen done at the first poll after ${latencies.waiterMinDelaySeconds} s.`,
    `- CloudWatch Logs: 4 FilterLogEvents per instance in parallel (${latencies.filterLogEventsMs} ms); the Logs Insights query takes ${latencies.insightsQueryMs} ms and is polled every second.`,
    '- Answers: affected instances show the recorded crash snapshot (test/fixtures/snapshots/crash.txt, real host-script output) until remediated, then the recorded healthy ones; the restart always works.',
    `- Simulation wall time on this machine: ${results.map((r) => `${r.fleet}/${r.affected} ${seconds(r.realMs)}`).join(', ')}.`,
    '',
    '## Environment',
    '',
    ...environmentLines(environment),
    '',
  ].join('\n');
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'fleet.md'), markdown);
  await writeFile(join(out, 'fleet.json'), `${JSON.stringify({ environment, latencies, seed, rps, bytesPerLine, prices: PRICES, results, ...(whatIf && { whatIf }) }, null, 2)}\n`);
  console.log(`\n${markdown}`);
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
