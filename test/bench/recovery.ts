/**
 * `npm run bench` — time to recover, side by side: Reflex, monit and PM2 alone on the same faults, each run on a
 * fresh sandbox (real nginx + real PM2 + the demo app) under steady loopback traffic. Writes
 * test/bench/results/recovery.{md,svg,json} and prints the tables.
 *
 *   npm run bench -- [--runs 5] [--faults crashed,hung] [--responders reflex,monit] [--cap 30] [--observe 15] [--out dir]
 *   npm run bench -- --from test/bench/results/recovery.json     (render the results again, run nothing)
 *   npm run bench -- --from test/bench/results/recovery.json --merge <dir>/recovery.json
 *                                           (the cells measured in <dir> replace theirs; the others keep their figures)
 *
 * A benchmark, not a test: figures depend on the machine and its load, which are printed with them.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { describeEnvironment, loadAverageNow } from './lib/environment.ts';
import { FaultError, parseFaults } from './lib/faults.ts';
import { monitrc } from './lib/monit.ts';
import { ResponderError, parseResponders } from './lib/responders.ts';
import { recoveryMarkdown, recoverySvg, runLine, type RecoveryContext } from './lib/recovery-report.ts';
import { runOnce } from './lib/recovery-run.ts';
import { MergeError, mergeSaved, type SavedRun } from './lib/saved-run.ts';

const DEFAULT_OUT = fileURLToPath(new URL('./results/', import.meta.url));

class UsageError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UsageError';
  }
}

function positive(name: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) throw new UsageError(`--${name}: must be a whole number from 1 to ${max}, got "${raw}"`);
  return value;
}

function hasMonit(): Promise<boolean> {
  return new Promise((resolve) => execFile('monit', ['-V'], { timeout: 5000 }, (error) => resolve(!error)));
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string' },
      faults: { type: 'string' },
      responders: { type: 'string' },
      cap: { type: 'string' },
      observe: { type: 'string' },
      out: { type: 'string' },
      from: { type: 'string' },
      merge: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(
      'usage: npm run bench -- [--runs 5] [--faults crashed,stopped,missing,daemon-gone,hung,oom,upstream-timeout,port-mismatch] [--responders reflex,monit,pm2] [--cap 30] [--observe 15] [--out dir]\n' +
        '       npm run bench -- --from test/bench/results/recovery.json [--out dir]   (render the tables and chart again, run nothing)\n' +
        '       npm run bench -- --from test/bench/results/recovery.json --merge dir/recovery.json [--out dir]   (the cells measured in dir replace theirs)',
    );
    return 0;
  }
  const out = values.out ?? DEFAULT_OUT;
  if (values.merge && !values.from) throw new UsageError('--merge: give the saved runs it updates with --from');
  if (values.from) {
    const saved = await loadSaved(values.from);
    if (!values.merge) return render(saved, out);
    const merged = mergeSaved(saved, await loadSaved(values.merge));
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'recovery.json'), `${JSON.stringify(merged, null, 2)}\n`);
    return render(merged, out);
  }

  const runs = positive('runs', values.runs, 5, 100);
  const faults = parseFaults(values.faults);
  const responders = parseResponders(values.responders);
  const limits = { capMs: positive('cap', values.cap, 30, 600) * 1000, observeMs: positive('observe', values.observe, 15, 600) * 1000 };
  if (responders.includes('monit') && !(await hasMonit())) {
    throw new UsageError('monit is not installed: install it (Debian/Ubuntu: apt-get install -y monit) or leave it out with --responders reflex,pm2');
  }
  const environment = await describeEnvironment({ monit: responders.includes('monit') });
  if (environment.tools.nginx === 'not installed') throw new UsageError('nginx is not installed: install it (Debian/Ubuntu: apt-get install -y nginx)');

  const saved: SavedRun = {
    environment,
    settings: { runs, faults: faults.map((fault) => fault.name).join(','), responders: responders.join(','), limits, startedAt: new Date().toISOString() },
    results: [],
  };
  const total = runs * faults.length * responders.length;
  console.log(`Recovery benchmark: ${runs} run(s) × ${faults.length} fault(s) × ${responders.length} responder(s) = ${total} sandboxes.`);
  console.log(`Load average at start: ${environment.loadAverage.atStart.join(' / ')} (${environment.cpus}).`);
  await mkdir(out, { recursive: true });
  const jsonFile = join(out, 'recovery.json');
  // Interleaved (run → fault → responder), so that a change in the machine's load touches every responder alike.
  for (let run = 1; run <= runs; run++) {
    for (const fault of faults) {
      for (const responder of responders) {
        const result = await runOnce(run, fault, responder, limits);
        saved.results.push(result);
        console.log(runLine(result, runs));
        // Raw data as it comes: an interrupted benchmark still leaves its runs behind.
        await writeFile(jsonFile, `${JSON.stringify(saved, null, 2)}\n`);
      }
    }
  }
  environment.loadAverage.atEnd = loadAverageNow();
  const finished: SavedRun = { ...saved, settings: { ...saved.settings, finishedAt: new Date().toISOString() } };
  await writeFile(jsonFile, `${JSON.stringify(finished, null, 2)}\n`);
  return render(finished, out);
}

async function loadSaved(file: string): Promise<SavedRun> {
  try {
    const saved = JSON.parse(await readFile(file, 'utf8')) as SavedRun;
    if (!saved.environment || !saved.settings || !Array.isArray(saved.results)) throw new Error('environment, settings or results missing');
    return saved;
  } catch (error) {
    throw new UsageError(`--from: ${file} is not a recovery.json written by this benchmark (${(error as Error).message})`);
  }
}

/** Writes recovery.md and recovery.svg from the saved runs, and prints the markdown. */
async function render(saved: SavedRun, out: string): Promise<number> {
  const responders = parseResponders(saved.settings.responders);
  const context: RecoveryContext = {
    environment: saved.environment,
    runs: saved.settings.runs,
    faults: parseFaults(saved.settings.faults),
    responders,
    limits: saved.settings.limits,
    ...(responders.includes('monit') && {
      monitrcExample: monitrc(
        { nginxPort: 8080, pm2Home: '/tmp/reflex-sandbox-XXXXXX/pm2', profile: { pm2: { ecosystem: '/tmp/reflex-sandbox-XXXXXX/ecosystem.config.cjs' } } },
        '/tmp/reflex-sandbox-XXXXXX/monit',
      ),
    }),
    startedAt: saved.settings.startedAt,
    finishedAt: saved.settings.finishedAt ?? 'interrupted',
    remeasured: saved.settings.remeasured ?? [],
  };
  const markdown = recoveryMarkdown(saved.results, context);
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'recovery.md'), markdown);
  await writeFile(join(out, 'recovery.svg'), recoverySvg(saved.results, context));
  console.log(`\n${markdown}`);
  console.log(`Written: ${join(out, 'recovery.md')}, recovery.svg (raw runs: recovery.json)`);
  return saved.results.some((result) => result.error) ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError || error instanceof FaultError || error instanceof ResponderError || error instanceof MergeError) {
      console.error(`bench: ${error.message}`);
      process.exitCode = 2;
      return;
    }
    console.error(error);
    process.exitCode = 1;
  },
);
