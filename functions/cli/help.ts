/** `reflex --help`, `reflex <command> --help` and `reflex --version`: the text, one line per option. */
import { readFileSync } from 'node:fs';

interface CommandHelp {
  readonly usage: string;
  readonly summary: string;
  readonly options: readonly (readonly [flag: string, what: string])[];
}

export const COMMANDS: Readonly<Record<string, CommandHelp>> = {
  init: {
    usage: 'reflex init --local [--app NAME] [--pm2-user NAME] [--nginx-config FILE] [--upstream URL] [--out host.json] [--force]',
    summary: 'Look at this box (PM2 homes, nginx -T, the kernel log) and write a host profile; asks nothing.',
    options: [
      ['--local', 'required: write a profile for local mode'],
      ['--app NAME', 'the PM2 app, when PM2 runs more than one'],
      ['--pm2-user NAME', 'only the PM2 of this user (~/.pm2 in its home)'],
      ['--nginx-config FILE', 'the configuration nginx runs, when not its default (nginx -T -c FILE)'],
      ['--upstream URL', "write this upstream (default: none; Reflex reads what nginx proxies to on every snapshot)"],
      ['--out FILE', 'where to write the profile (default host.json)'],
      ['--force', 'overwrite --out if it exists'],
    ],
  },
  respond: {
    usage: 'reflex respond --local <host.json> [--dry-run] [--approve] [--json] [--report incident.html]',
    summary: 'One incident now: gather evidence, diagnose, act, verify, report.',
    options: [
      ['--local FILE', 'required: the host profile'],
      ['--dry-run', 'do everything except the action'],
      ['--approve', 'ask y/N on the terminal before each restart or start (and offer "restart anyway" when Reflex refuses); needs a TTY'],
      ['--json', 'print exactly one JSON report on stdout'],
      ['--report FILE', 'also write the incident as a self-contained HTML page'],
    ],
  },
  watch: {
    usage: 'reflex watch --local <host.json> [--threshold N] [--window SECONDS] [--dry-run] [--approve] [--json]',
    summary: "Follow nginx's access log; open an incident when gateway errors (502/503/504) reach the threshold.",
    options: [
      ['--local FILE', 'required: the host profile'],
      ['--threshold N', 'gateway errors that open an incident (default 5)'],
      ['--window SECONDS', 'the sliding window they are counted over (default 60)'],
      ['--dry-run', 'do everything except the action'],
      ['--approve', 'ask y/N on the terminal before each restart or start (and offer "restart anyway" when Reflex refuses); needs a TTY'],
      ['--json', 'print each report as one JSON line'],
    ],
  },
  invoke: {
    usage: 'reflex invoke <event.json> [--dry-run]',
    summary: "Run the Lambda handler here, against your AWS account, with the deployed function's REFLEX_* variables.",
    options: [['--dry-run', 'set REFLEX_DRY_RUN=true: nothing is changed']],
  },
  demo: {
    usage: 'reflex demo',
    summary: 'Start a throw-away nginx + PM2 sandbox and watch Reflex handle one fault after another.',
    options: [],
  },
};

const GLOBAL_OPTIONS: readonly (readonly [string, string])[] = [
  ['-h, --help', 'show this help, or a command\'s with "reflex <command> --help"'],
  ['-v, --version', 'print the version'],
];

/** Exit codes, as every command uses them. */
const EXIT_CODES = 'exit codes: 0 the app serves at the end (or a dry run, or init wrote the profile); 1 a human must look; 2 bad input';

/** The overview: every command's usage and summary. */
export function overviewHelp(): string {
  const lines = ['reflex: diagnoses and fixes 502/504 spikes of a Next.js app run by PM2 behind nginx', '', 'usage:'];
  for (const help of Object.values(COMMANDS)) lines.push(`  ${help.usage}`, `      ${help.summary}`);
  lines.push('', 'options:', ...optionLines(GLOBAL_OPTIONS), '', EXIT_CODES);
  return lines.join('\n');
}

/** One command's usage, summary and options; undefined for an unknown command. */
export function commandHelp(command: string): string | undefined {
  const help = COMMANDS[command];
  if (!help) return undefined;
  const options = help.options.length > 0 ? ['', 'options:', ...optionLines(help.options)] : [];
  return [`usage: ${help.usage}`, '', help.summary, ...options, '', EXIT_CODES].join('\n');
}

/** The version in package.json. */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

function optionLines(options: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(...options.map(([flag]) => flag.length));
  return options.map(([flag, what]) => `  ${flag.padEnd(width)}  ${what}`);
}
