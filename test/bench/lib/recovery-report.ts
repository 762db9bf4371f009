/**
 * Turns the recovery benchmark's runs into the results file (markdown tables, targets, versions, configuration)
 * and the SVG chart. Pure: runs and context in, text out.
 */
import type { Environment } from './environment.ts';
import { environmentLines } from './environment.ts';
import { FAULTS, type Fault, type FaultName } from './faults.ts';
import { RESPONDER_LABELS, REFLEX_SETTINGS, type ResponderName } from './responders.ts';
import type { RunLimits, RunResult } from './recovery-run.ts';
import { RUN_SETTINGS } from './recovery-run.ts';
import type { Remeasure } from './saved-run.ts';
import { markdownTable, median, medianAndRange, range, seconds } from './stats.ts';
import { barChart, type ChartGroup } from './svg.ts';

/** One color per responder, the same in every chart. */
export const RESPONDER_COLORS: Readonly<Record<ResponderName, string>> = {
  reflex: '#2563eb',
  monit: '#f59e0b',
  pm2: '#6b7280',
};

/** Everything the results file says besides the runs themselves. */
export interface RecoveryContext {
  readonly environment: Environment;
  readonly runs: number;
  readonly faults: readonly Fault[];
  readonly responders: readonly ResponderName[];
  readonly limits: RunLimits;
  /** An example of the generated monit control file, sandbox paths replaced by placeholders. */
  readonly monitrcExample?: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  /** Cells measured again later (`--merge`), oldest first. */
  readonly remeasured?: readonly Remeasure[];
}

/** One sentence per later measurement, with the commands that made it, so a reader can tell which figures are newer. */
function remeasuredLines(context: RecoveryContext): string[] {
  return (context.remeasured ?? []).map((again) => {
    const faults = again.faults.split(',').map((name) => FAULTS[name as FaultName]?.label ?? name).join(', ');
    const who = again.responders.split(',').map((name) => RESPONDER_LABELS[name as ResponderName] ?? name).join(', ');
    const load = `${again.loadAverage.atStart.join(' / ')} → ${again.loadAverage.atEnd?.join(' / ') ?? '–'}`;
    return (
      `Measured again from ${again.startedAt} to ${again.finishedAt ?? 'interrupted'}, ${again.runs} run(s) each: ${faults} for ${who} ` +
      `(\`npm run bench -- --runs ${again.runs} --faults ${again.faults} --responders ${again.responders} --out <dir>\`, then \`npm run bench -- --from test/bench/results/recovery.json --merge <dir>/recovery.json\`; load average ${load}). Those cells show the new runs; every other cell keeps the figures above.`
    );
  });
}

function cell(results: readonly RunResult[], fault: FaultName, responder: ResponderName): RunResult[] {
  return results.filter((result) => result.fault === fault && result.responder === responder);
}

function defined(values: readonly (number | undefined)[]): number[] {
  return values.filter((value): value is number => value !== undefined);
}

/** Median time to recover where "not recovered" counts as slower than any time; undefined when most did not. */
function medianWithFailures(runs: readonly RunResult[]): number | undefined {
  const value = median(runs.map((run) => run.recoveredMs ?? Number.POSITIVE_INFINITY));
  return value === undefined || !Number.isFinite(value) ? undefined : value;
}

/** All the figures the tables and the targets need. */
export function summarize(results: readonly RunResult[], context: RecoveryContext) {
  const floorMs = median(defined(results.map((result) => result.bootMs)));
  const restartable = context.faults.filter((fault) => fault.restartFixes);
  const pooled = (responder: ResponderName): RunResult[] =>
    results.filter((result) => result.responder === responder && FAULTS[result.fault].restartFixes);
  const perResponder = Object.fromEntries(
    context.responders.map((responder) => {
      const runs = pooled(responder);
      return [responder, { runs: runs.length, recovered: runs.filter((run) => run.recoveredMs !== undefined).length, medianMs: medianWithFailures(runs) }];
    }),
  ) as Record<ResponderName, { runs: number; recovered: number; medianMs: number | undefined }>;
  const reflexRuns = pooled('reflex');
  const detectMs = median(defined(reflexRuns.map((run) => run.reflex?.detectMs)));
  const acted = defined(reflexRuns.map((run) => (run.reflex?.executed ? run.reflex.actedMs : undefined)));
  const harmful = Object.fromEntries(
    context.responders.map((responder) => [responder, results.filter((result) => result.responder === responder).reduce((sum, run) => sum + (run.harmful ?? 0), 0)]),
  ) as Record<ResponderName, number>;
  return { floorMs, restartable, perResponder, detectMs, actedMedianMs: median(acted), actedMaxMs: range(acted)?.max, actedCount: acted.length, harmful };
}

function recoveryCell(runs: readonly RunResult[], floorMs: number | undefined, restartFixes: boolean): string {
  if (runs.length === 0) return '–';
  const failed = runs.filter((run) => run.error).length;
  if (!restartFixes) {
    const right = runs.filter((run) => run.right).length;
    return `${right}/${runs.length} left alone${failed ? `, ${failed} failed to run` : ''}`;
  }
  const times = defined(runs.map((run) => run.recoveredMs));
  if (times.length === 0) return `not recovered (0/${runs.length})${failed ? `, ${failed} failed to run` : ''}`;
  const middle = medianWithFailures(runs);
  const ratio = middle !== undefined && floorMs ? ` · ×${(middle / floorMs).toFixed(1)} boot` : '';
  const partial = times.length < runs.length ? ` · ${times.length}/${runs.length} recovered` : '';
  return `${middle === undefined ? `median not recovered; recovered runs ${medianAndRange(times)}` : medianAndRange(times)}${ratio}${partial}`;
}

function restartsCell(runs: readonly RunResult[]): string {
  if (runs.length === 0) return '–';
  const counts = defined(runs.map((run) => run.restarts));
  const total = counts.reduce((sum, value) => sum + value, 0);
  const harmful = runs.reduce((sum, run) => sum + (run.harmful ?? 0), 0);
  const right = runs.filter((run) => run.right).length;
  return `${total} restart${total === 1 ? '' : 's'}${harmful ? ` (${harmful} harmful)` : ''} · right ${right}/${runs.length}`;
}

/** The results file. */
export function recoveryMarkdown(results: readonly RunResult[], context: RecoveryContext): string {
  const summary = summarize(results, context);
  const { floorMs } = summary;
  const labels = context.responders.map((responder) => RESPONDER_LABELS[responder]);
  const bootTimes = defined(results.map((result) => result.bootMs));

  const timeTable = markdownTable(
    ['fault', ...labels],
    context.faults.map((fault) => [fault.label, ...context.responders.map((responder) => recoveryCell(cell(results, fault.name, responder), floorMs, fault.restartFixes))]),
  );
  const restartTable = markdownTable(
    ['fault', ...labels],
    context.faults.map((fault) => [fault.label, ...context.responders.map((responder) => restartsCell(cell(results, fault.name, responder)))]),
  );
  const pooledRow = context.responders.map((responder) => {
    const figures = summary.perResponder[responder];
    if (figures.runs === 0) return '–';
    const ratio = figures.medianMs !== undefined && floorMs ? ` (×${(figures.medianMs / floorMs).toFixed(2)} boot)` : '';
    return `${figures.medianMs === undefined ? 'not recovered' : seconds(figures.medianMs)}${ratio}, ${figures.recovered}/${figures.runs} recovered`;
  });

  const reflexRows = context.faults
    .map((fault) => {
      const runs = cell(results, fault.name, 'reflex');
      if (runs.length === 0) return undefined;
      const causes = [...new Set(runs.map((run) => (run.reflex?.causes.length ? run.reflex.causes.join(' → ') : 'no incident')))].join('; ');
      const incidents = runs.map((run) => run.reflex?.incidents ?? 0);
      const actions = [...new Set(runs.map((run) => (run.reflex?.executed ? run.reflex.action : run.reflex?.action ? `${run.reflex.action} (not run)` : '–')))].join(', ');
      return [
        fault.label,
        medianAndRange(defined(runs.map((run) => run.reflex?.detectMs))),
        medianAndRange(defined(runs.map((run) => run.reflex?.diagnosedMs))),
        medianAndRange(defined(runs.map((run) => (run.reflex?.executed ? run.reflex.actedMs : undefined)))),
        causes,
        actions,
        `${median(incidents) ?? 0} (${Math.min(...incidents)}–${Math.max(...incidents)})`,
      ];
    })
    .filter((row): row is string[] => row !== undefined);

  const targets = targetLines(summary, context);
  const failures = results.filter((result) => result.error);

  return [
    '# Recovery benchmark: Reflex, monit and PM2 alone on the same faults',
    '',
    `Generated by \`npm run bench\` (test/bench/recovery.ts) from ${context.startedAt} to ${context.finishedAt}: ${context.runs} run(s) per fault and responder, each on a fresh sandbox (real nginx, real PM2, the demo app).`,
    '',
    ...remeasuredLines(context).flatMap((line) => [line, '']),
    '![Time to recover](recovery.svg)',
    '',
    '## Time from fault to sustained recovery',
    '',
    `Median (fastest–slowest) from the moment the fault took effect (the first failed probe) to the first of ${RUN_SETTINGS.probe.streak} consecutive 200s of /api/health through nginx, and the median as a multiple of the app's boot time. Not recovered within ${summary.restartable.length ? Math.round(context.limits.capMs / 1000) : '–'} s counts as slower than any time. For the two faults a restart cannot fix, "left alone" means no restart and the same app process at the end (watched for ${Math.round(context.limits.observeMs / 1000)} s).`,
    '',
    timeTable,
    '',
    `**Floor, the app's own boot time** (\`pm2 start\` → first 200 through nginx, measured on every sandbox): ${medianAndRange(bootTimes)} over ${bootTimes.length} runs.`,
    '',
    markdownTable(['all faults a restart fixes', ...labels], [['median time to recover', ...pooledRow]]),
    '',
    '## Restarts issued, and whether the end state is right',
    '',
    'Restarts are the PM2 starts after the fault (`App [web:N] starting in` lines in pm2.log) that the fault itself did not cause, summed over the runs. Harmful: any restart during the upstream-timeout or port-mismatch faults. Right: recovered (faults a restart fixes) or left alone (the two others).',
    '',
    restartTable,
    '',
    '## Where Reflex spends its time',
    '',
    'Detection: fault took effect → alarm (the watcher reached the threshold). Diagnosis and restart issued: from the alarm (the start of `respond`), first incident of each run. Like the CloudWatch alarm, `watch` opens one incident per change to ALARM; when an incident ends with the app not serving it stays in ALARM until the errors stop, so the incidents per run count any new one, and the causes column lists every cause found.',
    '',
    markdownTable(['fault', 'fault → alarm', 'alarm → diagnosis', 'alarm → restart issued', 'causes found', 'action', 'incidents per run'], reflexRows),
    '',
    '## Targets',
    '',
    ...targets.map((line) => `- ${line}`),
    '',
    ...(failures.length > 0
      ? ['## Runs that could not be carried out', '', ...failures.map((run) => `- run ${run.run}, ${run.fault}, ${RESPONDER_LABELS[run.responder]}: ${run.error}`), '']
      : []),
    '## Environment',
    '',
    ...environmentLines(context.environment),
    `- Load average after each run is in recovery.json; the machine was shared with other work while this ran.`,
    '',
    '## Configuration',
    '',
    ...configurationLines(context),
    '',
  ].join('\n');
}

function targetLines(summary: ReturnType<typeof summarize>, context: RecoveryContext): string[] {
  const lines: string[] = [];
  const reflex = summary.perResponder.reflex;
  const monit = summary.perResponder.monit;
  if (reflex && monit && reflex.medianMs !== undefined && monit.medianMs !== undefined) {
    const half = monit.medianMs / 2;
    const verdict = reflex.medianMs <= half ? 'met' : `missed by ${seconds(reflex.medianMs - half)}`;
    lines.push(`Median time to recover at most half of monit's: Reflex ${seconds(reflex.medianMs)}, monit ${seconds(monit.medianMs)}, half is ${seconds(half)}: **${verdict}**.`);
  }
  if (reflex?.medianMs !== undefined && summary.floorMs !== undefined && summary.detectMs !== undefined) {
    const bound = 1.5 * summary.floorMs + summary.detectMs;
    const verdict = reflex.medianMs <= bound ? 'met' : `missed by ${seconds(reflex.medianMs - bound)}`;
    lines.push(
      `Within 1.5× the boot time plus the detection window: 1.5 × ${seconds(summary.floorMs)} + ${seconds(summary.detectMs)} (median fault → alarm) = ${seconds(bound)}; Reflex ${seconds(reflex.medianMs)}: **${verdict}**.`,
    );
  }
  if (context.responders.includes('reflex')) {
    lines.push(
      `Zero harmful restarts for Reflex: **${summary.harmful.reflex === 0 ? 'met' : `missed (${summary.harmful.reflex})`}**; ` +
        context.responders.filter((name) => name !== 'reflex').map((name) => `${RESPONDER_LABELS[name]} ${summary.harmful[name]}`).join(', ') +
        ' harmful restart(s) on the same faults.',
    );
  }
  if (summary.actedCount > 0 && summary.actedMedianMs !== undefined) {
    const verdict = (summary.actedMaxMs ?? 0) < 1000 ? 'met' : summary.actedMedianMs < 1000 ? 'met at the median, not at the maximum' : 'missed';
    lines.push(`Responder overhead (alarm → restart issued) under 1 s: median ${seconds(summary.actedMedianMs)}, max ${seconds(summary.actedMaxMs)} over ${summary.actedCount} restarts: **${verdict}**.`);
  }
  return lines;
}

function configurationLines(context: RecoveryContext): string[] {
  const traffic = RUN_SETTINGS.traffic;
  const probe = RUN_SETTINGS.probe;
  return [
    `- Sandbox: nginx (\`proxy_connect_timeout 1s\`, \`proxy_read_timeout 2s\`, JSON access log) → PM2 7 (fork mode, \`max_restarts 5\`, \`min_uptime 1000\`) → the demo app (plain Node, ${RUN_SETTINGS.bootMs} ms of simulated boot before it listens). A fresh sandbox (new ports, new PM2_HOME) for every run.`,
    `- Load: ${traffic.rate} req/s of \`GET ${traffic.path}\` through nginx (at most ${traffic.maxInFlight} in flight, ${traffic.timeoutMs / 1000} s timeout), and an independent probe, ${probe.rate} req/s of \`GET ${probe.path}\` through nginx (${probe.timeoutMs / 1000} s timeout). Both reach nginx's access log, so the watcher sees ${traffic.rate + probe.rate} req/s. Loopback only.`,
    `- Faults: crash = \`POST /__demo/crash\` (exit 1); stopped = \`pm2 stop web\`; missing = \`pm2 delete web\`; PM2 daemon gone = \`pm2 kill\`; hung = \`POST /__demo/hang\` (event loop blocked, process alive); OOM = the kernel's \`Out of memory: Killed process\` line written to the sandbox's kernel log, then SIGKILL (simulated: the same for every responder); upstream timeout = every page but /api/health takes 3 s (> proxy_read_timeout: 504s); port mismatch = \`PORT=<other> pm2 restart web --update-env\` (nginx still proxies to the old port).`,
    `- Timing: times start when the fault took effect: the send time of the first failed probe (to the probe's ${1000 / RUN_SETTINGS.probe.rate} ms resolution), not when its action started (\`pm2 stop\` is a pm2 CLI start, ~0.5 s, before the app stops; recovery.json keeps both); for the upstream timeout, where /api/health keeps answering, from the action. The fault's action comes after at least ${RUN_SETTINGS.warmupMs / 1000} s of steady traffic and at least ${RUN_SETTINGS.quietAfterStopMs / 1000} s after the boot measurement's \`pm2 stop\` (so that no responder reads that stop as part of the fault). Not recovered within ${Math.round(context.limits.capMs / 1000)} s is "not recovered"; faults a restart cannot fix are watched for ${Math.round(context.limits.observeMs / 1000)} s; ${RUN_SETTINGS.settleMs / 1000} s more after a recovery catch late restarts.`,
    `- Reflex: \`watch\` in-process (threshold ${REFLEX_SETTINGS.threshold} gateway errors in ${REFLEX_SETTINGS.windowMs / 1000} s, log read every ${REFLEX_SETTINGS.pollMs} ms) → \`respond\` with the local adapters (bash host scripts, file state store in the sandbox), verification deadline ${REFLEX_SETTINGS.verifyDeadlineMs / 1000} s, budget ${REFLEX_SETTINGS.policy.maxRestartsPerHour} restarts/hour with no minimum gap (each run is a fresh host). PM2 autorestart off.`,
    '- monit: its own process, `monit -c <sandbox>/monit/monitrc -I` (foreground; log, pid, id and state files in the sandbox: the system monit is not touched), stopped by pid. PM2 autorestart off. The control file:',
    '',
    '```',
    (context.monitrcExample ?? '(monit was not part of this run)').trimEnd(),
    '```',
    '',
    '  test/bench/lib/monit-restart.sh runs `pm2 restart web || pm2 start <ecosystem> --only web` with PATH and PM2_HOME from its arguments. monit runs an `exec` action once when the check turns failed (no `repeat every`).',
    "- PM2 alone: the same sandbox with `autorestart: true` (the sandbox's `max_restarts 5`, `min_uptime 1000`; PM2's defaults otherwise: no `restart_delay`, no exponential backoff), nothing else watching.",
  ];
}

/** The chart: time to recover per fault a restart fixes, per responder. */
export function recoverySvg(results: readonly RunResult[], context: RecoveryContext): string {
  const summary = summarize(results, context);
  const groups: ChartGroup[] = summary.restartable.map((fault) => ({
    label: fault.label,
    bars: context.responders.map((responder) => {
      const runs = cell(results, fault.name, responder);
      const times = defined(runs.map((run) => run.recoveredMs));
      const spread = range(times);
      const middle = medianWithFailures(runs);
      return {
        label: RESPONDER_LABELS[responder],
        color: RESPONDER_COLORS[responder],
        ...(middle !== undefined && { medianMs: middle }),
        ...(spread && { minMs: spread.min, maxMs: spread.max }),
        recovered: times.length,
        runs: runs.length,
      };
    }),
  }));
  const harmfulNote = context.responders.map((responder) => `${RESPONDER_LABELS[responder]} ${summary.harmful[responder]}`).join(', ');
  return barChart({
    title: 'Time from fault to sustained recovery (median, whiskers: fastest–slowest run)',
    subtitle: `${context.runs} run(s) per bar on a fresh sandbox each · real nginx + PM2 + a demo app that boots in ${RUN_SETTINGS.bootMs / 1000} s · ${context.environment.node}, ${context.environment.tools.nginx ?? ''}`,
    groups,
    ...(summary.floorMs !== undefined && { floorMs: summary.floorMs, floorLabel: `app boot (pm2 start → first 200): ${seconds(summary.floorMs)}` }),
    capMs: context.limits.capMs,
    notes: [
      `Harmful restarts (upstream timeout, port mismatch): ${harmfulNote}.`,
      `Load average (1/5/15 min) at start ${context.environment.loadAverage.atStart.join(' / ')}, at end ${context.environment.loadAverage.atEnd?.join(' / ') ?? '–'} on ${context.environment.cpus}.`,
    ],
  });
}

/** One line per run for the terminal. */
export function runLine(result: RunResult, total: number): string {
  const who = `${FAULTS[result.fault].label} · ${RESPONDER_LABELS[result.responder]}`;
  if (result.error) return `[run ${result.run}/${total}] ${who}: FAILED TO RUN: ${result.error}`;
  const outcome = FAULTS[result.fault].restartFixes
    ? result.recoveredMs !== undefined
      ? `recovered in ${seconds(result.recoveredMs)}`
      : 'not recovered'
    : result.leftAlone
      ? 'left alone'
      : 'NOT left alone';
  const reflex = result.reflex
    ? `; alarm +${seconds(result.reflex.detectMs)}, ${result.reflex.cause ?? 'no incident'}, ${result.reflex.action ?? '–'}${result.reflex.actedMs !== undefined && result.reflex.executed ? ` issued ${seconds(result.reflex.actedMs)} after the alarm` : ''}`
    : '';
  return `[run ${result.run}/${total}] ${who}: ${outcome} (boot ${seconds(result.bootMs)}), ${result.restarts ?? 0} restart(s)${result.harmful ? `, ${result.harmful} harmful` : ''}${reflex}`;
}
