/**
 * `npm run demo`: a throw-away sandbox (real nginx + real PM2 + a Next.js-like app), steady traffic
 * through nginx, and `watch` detecting and handling one fault after another. Ends with a summary table.
 * Everything it started is stopped by pid at the end, on Ctrl-C too.
 */
import { execFile } from 'node:child_process';
import { access, constants, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { renderStep, renderText } from '../report/text.ts';
import { exitCodeFor } from '../core/respond.ts';
import type { Cause, Report } from '../core/types.ts';
import { NginxMissingError, startSandbox, type Sandbox } from '../sandbox/sandbox.ts';
import { respondLocally } from './local.ts';
import { terminalApprover, type TerminalApprover } from './prompt.ts';
import type { Io } from './io.ts';
import { loadProfile } from './profile-file.ts';
import { watch } from './watch.ts';

interface Scenario {
  readonly fault: string;
  readonly expected: Cause;
  readonly inject: (sandbox: Sandbox) => Promise<unknown>;
  /** For faults a restart must not fix: a human repairs it before the next scenario. */
  readonly repair?: (sandbox: Sandbox) => Promise<unknown>;
  /**
   * Users' traffic pauses while the fault is injected: for a fault made in several steps, whose first step alone
   * (an app briefly stopped) would raise an alarm of its own.
   */
  readonly quietInjection?: boolean;
  /** Approve mode: Reflex asks y/N on the terminal first, and the demo types the answer. */
  readonly approve?: boolean;
}

const SCENARIOS: readonly Scenario[] = [
  { fault: 'app crashes (exit code 1)', expected: 'process_crashed', inject: (s) => s.faults.crash() },
  { fault: 'app crashes, approve mode: asked y/N first', expected: 'process_crashed', inject: (s) => s.faults.crash(), approve: true },
  { fault: 'deploy stopped it (pm2 stop)', expected: 'process_stopped', inject: (s) => s.faults.stop() },
  { fault: 'deleted from PM2 (pm2 delete)', expected: 'process_missing', inject: (s) => s.faults.remove() },
  { fault: 'event loop hangs', expected: 'app_hung', inject: (s) => s.faults.hang() },
  { fault: 'kernel OOM kill', expected: 'oom_killed', inject: (s) => s.faults.oom() },
  {
    fault: 'slow SSR pages (> proxy_read_timeout)',
    expected: 'upstream_timeout',
    inject: (s) => s.faults.slowPages(3_000),
    repair: (s) => s.repair(),
  },
  { fault: 'app moved to another port', expected: 'port_mismatch', inject: (s) => s.faults.portMismatch(), repair: (s) => s.repair() },
  { fault: 'app binds [::1], nginx proxies to 127.0.0.1', expected: 'proxy_misconfig', inject: (s) => s.faults.proxyMisconfig(), repair: (s) => s.repair() },
  {
    fault: 'a stray process holds the port, then pm2 restart',
    expected: 'port_in_use',
    inject: (s) => s.faults.orphanHoldsPort(),
    // The human ends the stray (Reflex never kills a process PM2 does not run) and redeploys.
    repair: (s) => s.repair(),
    quietInjection: true,
  },
  { fault: 'crashes again: restart budget spent', expected: 'process_crashed', inject: (s) => s.faults.crash(), repair: (s) => s.repair() },
];

/** The demo's budget: room for the restarts above, then the last crash finds it spent. */
const DEMO_POLICY = { maxRestartsPerHour: 6, minMinutesBetweenRestarts: 0 };
const INCIDENT_TIMEOUT_MS = 90_000;

interface Row {
  readonly fault: string;
  readonly expected: Cause;
  readonly report?: Report;
  /** From injecting the fault to the app serving again through nginx. */
  readonly faultToHealthyMs?: number;
}

export async function runDemo(io: Io): Promise<number> {
  if (!(await ensureNginx(io))) return 1;
  io.out('Reflex demo: starting a sandbox with a real nginx in front of a real PM2 running a Next.js-like app…');
  let sandbox: Sandbox;
  try {
    sandbox = await startSandbox({ bootMs: 1_000 });
  } catch (error) {
    if (error instanceof NginxMissingError) {
      io.err(error.message);
      return 1;
    }
    throw error;
  }
  const box = sandbox;
  const controller = new AbortController();
  const interrupt = (): void => {
    io.err('\ninterrupted: stopping everything the demo started…');
    controller.abort();
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    await box.waitHealthy(30_000);
    const profilePath = join(box.dir, 'demo-host.json');
    await writeFile(profilePath, JSON.stringify({ ...box.profile, stateFile: join(box.dir, 'state.json'), policy: DEMO_POLICY }, null, 2));
    const profile = await loadProfile(profilePath);
    io.out(`nginx on 127.0.0.1:${box.nginxPort} → app on 127.0.0.1:${box.appPort}; PM2_HOME ${box.pm2Home}; profile ${profilePath}`);

    const reports: Report[] = [];
    let expecting = false;
    let approving = false;
    const approver = demoApprover(io);
    let wake: (() => void) | undefined;
    const progress = { step: (entry: Parameters<typeof renderStep>[0]) => io.out(`  ${renderStep(entry, { color: io.color })}`) };
    const watching = watch({
      accessLog: profile.nginx.accessLog,
      threshold: 5,
      signal: controller.signal,
      onAlarm: async ({ count }) => {
        // Errors while a human repairs the last fault are not a new incident.
        if (!expecting) return false;
        expecting = false;
        io.out(`  alarm: ${count} gateway errors within 60 s`);
        const report = await respondLocally(profile, { progress, verifyDeadlineMs: 30_000, ...(approving && { approver }) });
        reports.push(report);
        wake?.();
        return exitCodeFor(report) === 0;
      },
    });
    let quiet = false;
    const traffic = steadyTraffic(box, controller.signal, () => quiet);

    const rows: Row[] = [];
    for (const [index, scenario] of SCENARIOS.entries()) {
      if (controller.signal.aborted) break;
      io.out(`\n[${index + 1}/${SCENARIOS.length}] fault: ${scenario.fault}`);
      const before = reports.length;
      const injectedAt = Date.now();
      // The fault's own errors are this scenario's incident, from the first one on.
      expecting = true;
      approving = scenario.approve === true;
      quiet = scenario.quietInjection === true;
      await scenario.inject(box);
      quiet = false;
      const arrived = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), INCIDENT_TIMEOUT_MS);
        wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
        controller.signal.addEventListener('abort', () => resolve(false), { once: true });
        if (reports.length > before) wake();
      });
      expecting = false;
      const report = arrived ? reports[reports.length - 1] : undefined;
      if (report) io.out(indent(renderText(report, { color: io.color })));
      else if (!controller.signal.aborted) io.out('  no incident was detected in time');
      const recoveredMs = report?.outcome === 'recovered' ? report.timings.recoveredMs : undefined;
      const faultToHealthyMs = recoveredMs === undefined ? undefined : Date.parse(report!.startedAt) + recoveredMs - injectedAt;
      rows.push({ fault: scenario.fault, expected: scenario.expected, ...(report && { report }), ...(faultToHealthyMs !== undefined && { faultToHealthyMs }) });
      if (scenario.repair && !controller.signal.aborted) {
        io.out('  (a human repairs it before the next fault)');
        await scenario.repair(box);
      }
      if (controller.signal.aborted) break;
      if (!(await settle(box, io))) break;
    }
    controller.abort();
    await Promise.all([watching, traffic]);
    io.out(`\n${summaryTable(rows)}`);
    const right = rows.filter((row) => row.report?.diagnosis.cause === row.expected).length;
    io.out(`\n${right} of ${rows.length} faults diagnosed as expected.`);
    return right === SCENARIOS.length ? 0 : 1;
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    await box.stop();
    io.out('sandbox stopped: nginx, PM2 and the app, by pid');
  }
}

/**
 * The terminal prompt of `--approve`, answered by the demo itself: it shows the question, and a moment later types
 * `y` into it, as a person at the terminal would. The answer goes through the same path as a real one.
 */
function demoApprover(io: Io): TerminalApprover {
  const input = Object.assign(new PassThrough(), { isTTY: true });
  const say: Io = { ...io, out: (text) => io.out(`  ${text}`) };
  const prompt = terminalApprover({ io: say, input, who: 'demo' });
  return {
    propose: async (report, callbackId) => {
      await prompt.propose(report, callbackId);
      setTimeout(() => {
        say.out('> y   (typed by the demo)');
        input.write('y\n');
      }, 1_500);
    },
    answer: (callbackId, timeoutMs) => prompt.answer(callbackId, timeoutMs),
  };
}

/** A crash right after a start is a crash loop, rightly: the app runs a while before the next fault. */
const SETTLE_MS = 10_000;

/** Waits until the app serves again (redeploying it once if it does not) and has run a while; false to give up. */
async function settle(sandbox: Sandbox, io: Io): Promise<boolean> {
  try {
    await sandbox.waitHealthy(30_000);
  } catch {
    io.out('  the app does not serve yet: redeploying it before the next fault');
    try {
      await sandbox.repair();
    } catch (error) {
      io.err(`reflex demo: the sandbox app does not come back (${(error as Error).message}); stopping the demo here`);
      return false;
    }
  }
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  return true;
}

/** A request through nginx every 100 ms, like users would send, until the signal aborts; none while `paused()`. */
async function steadyTraffic(sandbox: Sandbox, signal: AbortSignal, paused: () => boolean): Promise<void> {
  const inFlight = new Set<Promise<unknown>>();
  for (let sent = 0; sent < 20_000 && !signal.aborted; sent++) {
    if (inFlight.size < 20 && !paused()) {
      const request = sandbox.request('/', { via: 'nginx', timeoutMs: 5_000 }).catch(() => 0);
      inFlight.add(request);
      void request.finally(() => inFlight.delete(request));
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await Promise.all(inFlight);
}

function summaryTable(rows: readonly Row[]): string {
  const header = ['fault', 'cause found', 'action', 'outcome', 'restart issued', 'recovered (alarm →)', 'fault → healthy'];
  const seconds = (ms: number | undefined): string => (ms === undefined ? '–' : `${(ms / 1000).toFixed(2)} s`);
  const body = rows.map((row) => {
    const report = row.report;
    const cause = report ? `${report.diagnosis.cause}${report.diagnosis.cause === row.expected ? ' ✓' : ` ✗ (expected ${row.expected})`}` : 'not detected ✗';
    const approved = report?.approval?.approvedBy ? `, approved by ${report.approval.approvedBy.name ?? report.approval.approvedBy.id}` : '';
    const action = report ? `${report.action.kind}${report.action.kind !== 'none' && !report.action.executed ? ' (not run)' : ''}${approved}` : '–';
    return [row.fault, cause, action, report?.outcome ?? '–', seconds(report?.timings.actedMs), seconds(report?.timings.recoveredMs), seconds(row.faultToHealthyMs)];
  });
  const widths = header.map((title, column) => Math.max(title.length, ...body.map((cells) => cells[column]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  // The approve row waits for a person (here the demo typing y): not the responder's own time.
  const overheads = rows.filter((row) => !row.report?.approval).map((row) => row.report?.timings.actedMs).filter((ms): ms is number => ms !== undefined).sort((a, b) => a - b);
  const median = overheads[Math.floor(overheads.length / 2)];
  return [
    line(header),
    `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`,
    ...body.map(line),
    '',
    median === undefined
      ? 'No restart was issued.'
      : `Responder overhead (respond start → restart issued): median ${median} ms, max ${overheads[overheads.length - 1]} ms over ${overheads.length} restarts` +
        ' (a hung app costs the 1 s first probe that proves it does not answer; the approve-mode row, which waits for its answer, is left out).',
  ].join('\n');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}

/** nginx from Debian's packages: installed when missing and running as root, else one line saying how. */
async function ensureNginx(io: Io): Promise<boolean> {
  if (await hasNginx()) return true;
  const isRoot = process.getuid?.() === 0;
  const hasApt = await access('/usr/bin/apt-get', constants.X_OK).then(
    () => true,
    () => false,
  );
  if (!isRoot || !hasApt) {
    io.err('reflex demo: nginx is not installed; install it (Debian/Ubuntu: sudo apt-get install -y nginx) and run the demo again.');
    return false;
  }
  io.out('nginx is not installed: installing it from Debian packages (apt-get install -y nginx)…');
  const run = promisify(execFile);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update', '-qq'], { env });
  await run('apt-get', ['install', '-y', '-qq', 'nginx'], { env });
  return hasNginx();
}

async function hasNginx(): Promise<boolean> {
  const dirs = (process.env.PATH ?? '').split(':').concat('/usr/sbin');
  for (const dir of dirs) {
    if (dir && (await access(join(dir, 'nginx'), constants.X_OK).then(() => true, () => false))) return true;
  }
  return false;
}
