/**
 * The host scripts' inputs, one row each: the HostParams field the core fills, the `REFLEX_*` variable the script
 * reads, the SSM document parameter that carries it, the pattern it must match and which scripts take it.
 * The SSM adapter, the local runner, the sandbox and the CDK documents derive their tables from this one, and
 * test/unit/contract/host-scripts.test.ts pins the scripts' own checks (`re_*` lines) to the same patterns.
 */
import type { HostParams, HostScript } from '../core/ports.ts';
import { PATTERNS } from '../core/validate.ts';

/** One input of the host scripts. */
export interface HostInput {
  /** The environment variable the script reads. */
  readonly env: `REFLEX_${string}`;
  /** The SSM Command document parameter; SSM exports it as `$SSM_<parameter>` and the document maps it to `env`. */
  readonly parameter: string;
  readonly pattern: RegExp;
  /** What a valid value is, for an error message: "must be <shape>". */
  readonly shape: string;
  /** What the input means, one line (the SSM document's parameter description). */
  readonly description: string;
  readonly scripts: readonly HostScript[];
  /** true: the script refuses to run without it. false: empty or unset means the script's default. */
  readonly required: boolean;
}

const ABSOLUTE_PATH = 'an absolute path';
const HTTP_URL = 'an http(s) URL';

/** Every HostParams field as the scripts take it. The order is the SSM documents' parameter order. */
export const HOST_INPUTS = {
  app: {
    env: 'REFLEX_APP',
    parameter: 'App',
    pattern: PATTERNS.app,
    shape: 'a PM2 app name ([A-Za-z0-9._-], 1 to 64 characters)',
    description: 'PM2 app name.',
    scripts: ['snapshot', 'remediate'],
    required: true,
  },
  pm2User: {
    env: 'REFLEX_PM2_USER',
    parameter: 'Pm2User',
    pattern: PATTERNS.pm2User,
    shape: 'a Unix user name',
    description: 'OS user that owns PM2; empty: root.',
    scripts: ['snapshot', 'remediate'],
    required: false,
  },
  pm2Home: {
    env: 'REFLEX_PM2_HOME',
    parameter: 'Pm2Home',
    pattern: PATTERNS.absPath,
    shape: ABSOLUTE_PATH,
    description: "PM2_HOME; empty: the PM2 user's ~/.pm2.",
    scripts: ['snapshot', 'remediate'],
    required: false,
  },
  healthUrl: {
    env: 'REFLEX_HEALTH_URL',
    parameter: 'HealthUrl',
    pattern: PATTERNS.url,
    shape: HTTP_URL,
    description: 'URL probed through nginx (snapshot; remediate verification).',
    scripts: ['snapshot', 'remediate'],
    required: false,
  },
  upstream: {
    env: 'REFLEX_UPSTREAM',
    parameter: 'Upstream',
    pattern: PATTERNS.url,
    shape: HTTP_URL,
    description: "The app's own address; empty: what nginx proxies to.",
    scripts: ['snapshot'],
    required: false,
  },
  nginxConfig: {
    env: 'REFLEX_NGINX_CONFIG',
    parameter: 'NginxConfig',
    pattern: PATTERNS.absPath,
    shape: ABSOLUTE_PATH,
    description: 'nginx config to read proxy directives from.',
    scripts: ['snapshot'],
    required: false,
  },
  nginxErrorLog: {
    env: 'REFLEX_NGINX_ERROR_LOG',
    parameter: 'NginxErrorLog',
    pattern: PATTERNS.absPath,
    shape: ABSOLUTE_PATH,
    description: 'nginx error log.',
    scripts: ['snapshot'],
    required: false,
  },
  kernelLog: {
    env: 'REFLEX_KERNEL_LOG',
    parameter: 'KernelLog',
    pattern: PATTERNS.absPath,
    shape: ABSOLUTE_PATH,
    description: 'Kernel log file; empty: dmesg or journalctl.',
    scripts: ['snapshot'],
    required: false,
  },
  sections: {
    env: 'REFLEX_SECTIONS',
    parameter: 'Sections',
    pattern: /^(full|probe)$/,
    shape: '"full" or "probe"',
    description: 'full (default) or probe (pm2 and probes only).',
    scripts: ['snapshot'],
    required: false,
  },
  action: {
    env: 'REFLEX_ACTION',
    parameter: 'Action',
    pattern: /^(restart|start)$/,
    shape: '"restart" or "start"',
    description: 'restart or start.',
    scripts: ['remediate'],
    required: true,
  },
  ecosystem: {
    env: 'REFLEX_ECOSYSTEM',
    parameter: 'Ecosystem',
    pattern: PATTERNS.absPath,
    shape: ABSOLUTE_PATH,
    description: "Ecosystem file for start; empty: start from PM2's saved list (pm2 save).",
    scripts: ['remediate'],
    required: false,
  },
  verifySeconds: {
    env: 'REFLEX_VERIFY_SECONDS',
    parameter: 'VerifySeconds',
    pattern: PATTERNS.verifySeconds,
    shape: 'a whole number of seconds from 0 to 600',
    description: 'Seconds to verify on the host after the action (PM2 and HealthUrl every 250 ms); empty or 0: none.',
    scripts: ['remediate'],
    required: false,
  },
  hungPid: {
    env: 'REFLEX_HUNG_PID',
    parameter: 'HungPid',
    pattern: PATTERNS.pid,
    shape: 'a process id (1 to 10 digits)',
    description: 'restart: the pid proven hung; SIGKILLed once PM2 is stopping it, only if PM2 runs it as the app.',
    scripts: ['remediate'],
    required: false,
  },
} as const satisfies Record<keyof HostParams, HostInput>;

/** A host script variable that Reflex itself never sets: a knob for whoever runs the script by hand. */
export interface ManualHostInput {
  readonly pattern: RegExp;
  readonly description: string;
  readonly scripts: readonly HostScript[];
}

export const MANUAL_HOST_INPUTS = {
  REFLEX_PROBE_TIMEOUT: { pattern: /^[0-9]{1,2}$/, description: 'Seconds per probe; empty or 0: 3.', scripts: ['snapshot'] },
} as const satisfies Record<`REFLEX_${string}`, ManualHostInput>;

/** A document parameter: the script variable it feeds and the HostParams field it carries. */
export interface ParameterBinding {
  readonly env: string;
  readonly field: keyof HostParams;
}

/** The inputs `script` takes, in document order. */
export function inputsOf(script: HostScript): [keyof HostParams, HostInput][] {
  return (Object.entries(HOST_INPUTS) as [keyof HostParams, HostInput][]).filter(([, input]) => input.scripts.includes(script));
}

function parametersOf(script: HostScript): Readonly<Record<string, ParameterBinding>> {
  return Object.fromEntries(inputsOf(script).map(([field, input]) => [input.parameter, { env: input.env, field }]));
}

/** The snapshot document's parameters by name (what the tests and a reader of the template see). */
export const SNAPSHOT_PARAMETERS = parametersOf('snapshot');
/** The remediate document's parameters by name. */
export const REMEDIATE_PARAMETERS = parametersOf('remediate');

/**
 * The scripts' environment for `params`: each value under its variable. Unset and empty values are left out, so
 * the script works them out itself. No checking here: the runners check the values against HOST_INPUTS first.
 */
export function hostVariables(params: HostParams): Record<string, string> {
  const variables: Record<string, string> = {};
  for (const [field, value] of Object.entries(params) as [keyof HostParams, string | undefined][]) {
    if (value !== undefined && value !== '') variables[HOST_INPUTS[field].env] = value;
  }
  return variables;
}
