/**
 * The host profile (`host.json`) of local mode: validated once, before anything runs.
 * Pure: the caller reads the file and supplies the defaults that come from the environment.
 */
import { WHOLE_NUMBER_SETTINGS } from '../contract/lambda-env.ts';
import { InputError, PATTERNS, checkPattern, describe } from './validate.ts';
import { parseModes, type Modes } from './modes.ts';
import type { RestartBudget } from './policy.ts';
import { targetAt, type RespondTarget } from './respond.ts';

export interface HostProfile {
  readonly instanceId: string;
  readonly app: string;
  readonly pm2: { readonly home: string; readonly ecosystem?: string; readonly user?: string };
  /** What nginx should reach; undefined: what `nginx -T` shows it proxies to, worked out by every snapshot. */
  readonly upstream?: string;
  readonly healthUrl: string;
  /** `config`: the file the snapshot passes to `nginx -T -c`; undefined: nginx's default configuration. */
  readonly nginx: { readonly accessLog: string; readonly errorLog: string; readonly config?: string };
  /** undefined: the kernel ring buffer. */
  readonly kernelLog?: string;
  readonly stateFile?: string;
  readonly policy?: Partial<RestartBudget> & {
    /** Per cause: auto, approve (ask on the terminal with `--approve`) or observe. */
    readonly modes?: Modes;
    /** How long a proposal waits for an answer, minutes. */
    readonly approvalMinutes?: number;
  };
}

export interface ProfileDefaults {
  /** `$PM2_HOME`, else `~/.pm2`: for a profile without `pm2.user`. */
  readonly pm2Home: string;
  /**
   * The home directory of a user (from the passwd database), undefined when there is no such user. With `pm2.user`
   * and no `pm2.home`, PM2 lives in that user's `~/.pm2`. Without it, `pm2.user` needs an explicit `pm2.home`.
   */
  readonly homeOf?: (user: string) => string | undefined;
  /** Where `homeOf` looked, for the error message. @default 'the passwd database' */
  readonly userDatabase?: string;
}

type Shape = { readonly [key: string]: 'leaf' | Shape };

const SHAPE: Shape = {
  instanceId: 'leaf',
  app: 'leaf',
  pm2: { home: 'leaf', ecosystem: 'leaf', user: 'leaf' },
  upstream: 'leaf',
  healthUrl: 'leaf',
  nginx: { accessLog: 'leaf', errorLog: 'leaf', config: 'leaf' },
  kernelLog: 'leaf',
  stateFile: 'leaf',
  policy: { maxRestartsPerHour: 'leaf', minMinutesBetweenRestarts: 'leaf', modes: 'leaf', approvalMinutes: 'leaf' },
};

/**
 * Validates a parsed `host.json`. Throws InputError naming the first bad field (`nginx.accessLog: …`).
 * Unknown fields are errors too: a typo (`healthURL`) must not silently fall back to a default.
 */
export function parseProfile(input: unknown, defaults: ProfileDefaults): HostProfile {
  rejectUnknown(input, SHAPE, '');
  const root = input as Record<string, unknown>;
  const pm2 = (root.pm2 ?? {}) as Record<string, unknown>;
  const nginx = (root.nginx ?? {}) as Record<string, unknown>;

  const instanceId = checkPattern('instanceId', root.instanceId, PATTERNS.localInstanceId, 'an instance id like "local-1" or "i-0abc12345def67890"');
  const app = checkPattern('app', root.app, PATTERNS.app, 'a PM2 app name (letters, digits, . _ -; at most 64)');
  const healthUrl = checkPattern('healthUrl', root.healthUrl, PATTERNS.url, 'an http(s) URL through nginx, like "http://127.0.0.1:8080/"');
  const upstream = optional('upstream', root.upstream, PATTERNS.url, 'the app\'s own URL, like "http://127.0.0.1:3000"');
  const accessLog = absPath('nginx.accessLog', nginx.accessLog);
  const errorLog = absPath('nginx.errorLog', nginx.errorLog);
  const config = optionalPath('nginx.config', nginx.config);
  const ecosystem = optionalPath('pm2.ecosystem', pm2.ecosystem);
  const user = optional('pm2.user', pm2.user, PATTERNS.pm2User, 'a Unix user name');
  const home = pm2.home === undefined ? defaultPm2Home(user, defaults) : absPath('pm2.home', pm2.home);

  return {
    instanceId,
    app,
    pm2: { home, ...(ecosystem && { ecosystem }), ...(user && { user }) },
    ...(upstream && { upstream }),
    healthUrl,
    nginx: { accessLog, errorLog, ...(config && { config }) },
    ...(root.kernelLog !== undefined && { kernelLog: absPath('kernelLog', root.kernelLog) }),
    ...(root.stateFile !== undefined && { stateFile: absPath('stateFile', root.stateFile) }),
    ...(root.policy !== undefined && { policy: parsePolicy(root.policy as Record<string, unknown>) }),
  };
}

/** PM2 keeps its state in its own user's home: root's `~/.pm2` is the wrong default when `pm2.user` is set. */
function defaultPm2Home(user: string | undefined, defaults: ProfileDefaults): string {
  if (user === undefined) return defaults.pm2Home;
  const home = defaults.homeOf?.(user);
  if (home === undefined) {
    throw new InputError(`pm2.user: no user "${user}" in ${defaults.userDatabase ?? 'the passwd database'}; set "pm2.home" too`, 'pm2.user');
  }
  return `${home.replace(/\/+$/, '')}/.pm2`;
}

function parsePolicy(policy: Record<string, unknown>): NonNullable<HostProfile['policy']> {
  const result: { maxRestartsPerHour?: number; minMinutesBetweenRestarts?: number; modes?: Modes; approvalMinutes?: number } = {};
  if (policy.modes !== undefined) result.modes = parseModes(policy.modes, 'policy.modes');
  for (const key of ['maxRestartsPerHour', 'minMinutesBetweenRestarts', 'approvalMinutes'] as const) {
    const value = policy[key];
    if (value === undefined) continue;
    // The same ranges as the Lambda's settings: one budget, whichever mode runs it.
    const { min, max } = WHOLE_NUMBER_SETTINGS[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new InputError(`policy.${key}: must be a whole number from ${min} to ${max}, got ${describe(value)}`, `policy.${key}`);
    }
    result[key] = value;
  }
  return result;
}

function rejectUnknown(value: unknown, shape: Shape, prefix: string): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const where = prefix ? prefix.slice(0, -1) : 'profile';
    throw new InputError(`${where}: must be a JSON object, got ${describe(value)}`, where);
  }
  for (const [key, child] of Object.entries(value)) {
    const expected = shape[key];
    if (expected === undefined) {
      throw new InputError(`${prefix}${key}: unknown field (expected one of: ${Object.keys(shape).join(', ')})`, `${prefix}${key}`);
    }
    if (typeof expected === 'object') rejectUnknown(child, expected, `${prefix}${key}.`);
  }
}

function absPath(field: string, value: unknown): string {
  return checkPattern(field, value, PATTERNS.absPath, 'an absolute path (letters, digits, . _ - /)');
}

function optionalPath(field: string, value: unknown): string | undefined {
  return value === undefined ? undefined : absPath(field, value);
}

function optional(field: string, value: unknown, pattern: RegExp, what: string): string | undefined {
  return value === undefined ? undefined : checkPattern(field, value, pattern, what);
}

/** What `respond` needs to know about the host, from its profile: the host scripts' inputs for both modes' runners. */
export function targetOf(profile: HostProfile): RespondTarget {
  return targetAt({
    instanceId: profile.instanceId,
    app: profile.app,
    healthUrl: profile.healthUrl,
    pm2Home: profile.pm2.home,
    ...(profile.pm2.user && { pm2User: profile.pm2.user }),
    ...(profile.pm2.ecosystem && { ecosystem: profile.pm2.ecosystem }),
    ...(profile.upstream && { upstream: profile.upstream }),
    nginxErrorLog: profile.nginx.errorLog,
    ...(profile.nginx.config && { nginxConfig: profile.nginx.config }),
    ...(profile.kernelLog && { kernelLog: profile.kernelLog }),
  });
}
