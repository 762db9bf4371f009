/**
 * `reflex` — the command line. Wiring only: parse arguments, build adapters, call the core, map the result.
 *
 *   reflex init    --local [--app NAME] [--pm2-user NAME] [--nginx-config FILE] [--upstream URL] [--out host.json] [--force]
 *   reflex respond --local <host.json> [--dry-run] [--approve] [--json] [--report incident.html]
 *   reflex watch   --local <host.json> [--threshold N] [--window SECONDS] [--dry-run] [--approve] [--json]
 *   reflex invoke  <event.json> [--dry-run]
 *   reflex demo
 *   reflex --help | <command> --help | --version
 *
 * Exit codes: 0 the app serves at the end (or a dry run); 1 it does not, a human must look; 2 bad input.
 */
import { writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { renderHtmlReport } from '../report/html-report.ts';
import { renderStep, renderText } from '../report/text.ts';
import { exitCodeFor } from '../core/respond.ts';
import type { Report } from '../core/types.ts';
import { InputError } from '../core/validate.ts';
import { commandHelp, overviewHelp, version } from './help.ts';
import { processIo, type Io } from './io.ts';
import { respondLocally } from './local.ts';
import { loadProfile } from './profile-file.ts';
import { terminalApprover } from './prompt.ts';
import { watch } from './watch.ts';

const HELP_FLAGS = new Set(['--help', '-h']);

/** Runs one `reflex` command line; returns the exit code. Bad input is one line on stderr and exit 2. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  try {
    const [command, ...rest] = argv;
    if (command === undefined) throw new InputError('no command given (see reflex --help)', 'command');
    if (HELP_FLAGS.has(command) || command === 'help') return printHelp(rest[0], io);
    if (command === '--version' || command === '-v') {
      io.out(version());
      return 0;
    }
    // Before parsing: `reflex respond --help` must not fail for want of --local. After `--`, it is an argument.
    const own = rest.indexOf('--');
    if ((own < 0 ? rest : rest.slice(0, own)).some((arg) => HELP_FLAGS.has(arg)) && commandHelp(command)) return printHelp(command, io);
    switch (command) {
      case 'init': {
        const { initCommand } = await import('./init.ts');
        return await initCommand(rest, io);
      }
      case 'respond':
        return await respondCommand(rest, io);
      case 'watch':
        return await watchCommand(rest, io);
      case 'invoke': {
        // Loaded on demand: it pulls in the AWS SDK, which local commands never need.
        const { invokeCommand } = await import('./invoke.ts');
        return await invokeCommand(rest, io);
      }
      case 'demo': {
        const { runDemo } = await import('./demo.ts');
        return await runDemo(io);
      }
      default:
        throw new InputError(`unknown command "${command}" (see reflex --help)`, 'command');
    }
  } catch (error) {
    if (error instanceof InputError || isArgError(error)) {
      io.err(`reflex: ${(error as Error).message}`);
      return 2;
    }
    throw error;
  }
}

function printHelp(command: string | undefined, io: Io): number {
  if (command === undefined) {
    io.out(overviewHelp());
    return 0;
  }
  const help = commandHelp(command);
  if (!help) throw new InputError(`unknown command "${command}" (see reflex --help)`, 'command');
  io.out(help);
  return 0;
}

async function respondCommand(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { local: { type: 'string' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' }, report: { type: 'string' }, approve: { type: 'boolean' } },
    strict: true,
  });
  const profile = await loadProfile(requireLocal(values.local));
  const approver = values.approve === true ? terminalApprover({ io, who: userInfo().username }) : undefined;
  const htmlPath = values.report === undefined ? undefined : resolve(values.report);
  const json = values.json === true;
  const progress = json ? undefined : { step: (entry: Parameters<typeof renderStep>[0]) => io.out(renderStep(entry, { color: io.color })) };
  const report = await respondLocally(profile, { ...(progress && { progress }), dryRun: values['dry-run'] === true, ...(approver && { approver }) });
  printReport(report, json, io);
  if (htmlPath) {
    // The incident is over whatever happens here: a failed write is said, not turned into a different exit code.
    await writeFile(htmlPath, renderHtmlReport(report)).then(
      () => json || io.out(`incident report written to ${htmlPath}`),
      (error: NodeJS.ErrnoException) => io.err(`reflex: could not write ${htmlPath} (${error.code ?? error.message})`),
    );
  }
  return exitCodeFor(report);
}

async function watchCommand(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      local: { type: 'string' },
      threshold: { type: 'string' },
      window: { type: 'string' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
      approve: { type: 'boolean' },
    },
    strict: true,
  });
  const profile = await loadProfile(requireLocal(values.local));
  // Checked before watching starts: without a terminal, approve mode refuses to start at all.
  const approver = values.approve === true ? terminalApprover({ io, who: userInfo().username }) : undefined;
  const threshold = wholeNumber('--threshold', values.threshold, 5);
  const windowSeconds = wholeNumber('--window', values.window, 60);
  const json = values.json === true;
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  if (!json) io.out(`watching ${profile.nginx.accessLog}: ${threshold} gateway errors (502/503/504) within ${windowSeconds} s open an incident; Ctrl-C to stop`);
  const progress = json ? undefined : { step: (entry: Parameters<typeof renderStep>[0]) => io.out(renderStep(entry, { color: io.color })) };
  let lastExit = 0;
  await watch({
    accessLog: profile.nginx.accessLog,
    threshold,
    windowMs: windowSeconds * 1000,
    signal: controller.signal,
    onAlarm: async ({ count }) => {
      if (!json) io.out(`alarm: ${count} gateway errors within ${windowSeconds} s`);
      const report = await respondLocally(profile, { ...(progress && { progress }), dryRun: values['dry-run'] === true, ...(approver && { approver }) });
      printReport(report, json, io);
      lastExit = exitCodeFor(report);
      return lastExit === 0;
    },
  });
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  return lastExit;
}

function printReport(report: Report, json: boolean, io: Io): void {
  io.out(json ? JSON.stringify(report) : renderText(report, { color: io.color }));
}

function requireLocal(path: string | undefined): string {
  if (!path) throw new InputError('--local <host.json> is required (only local mode runs from the command line; reflex init --local writes one)', '--local');
  return path;
}

function wholeNumber(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^[1-9][0-9]{0,5}$/.test(value)) throw new InputError(`${flag}: must be a whole number from 1, got "${value.slice(0, 20)}"`, flag);
  return Number(value);
}

/** node:util parseArgs throws TypeErrors with an ERR_PARSE_ARGS_* code for unknown or malformed options. */
function isArgError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof TypeError && typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}
