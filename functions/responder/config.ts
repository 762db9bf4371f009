/**
 * The responder's configuration, parsed and checked once at cold start: a missing or invalid
 * variable fails the cold start with its name, not the third incident.
 */
import { envReader } from '../contract/env-reader.ts';
import { ENV, WHOLE_NUMBER_SETTINGS } from '../contract/lambda-env.ts';
import { parseModesText, type Modes } from '../core/modes.ts';
import { InputError, PATTERNS } from '../core/validate.ts';

export interface ResponderConfig {
  readonly appName: string;
  readonly pm2User?: string;
  readonly pm2Home?: string;
  readonly ecosystem?: string;
  readonly healthUrl: string;
  readonly upstream?: string;
  readonly nginxConfig?: string;
  readonly nginxErrorLog?: string;
  readonly documents: { readonly snapshot: string; readonly remediate: string };
  readonly topicArn: string;
  readonly alarmName: string;
  readonly windowSeconds: number;
  readonly logGroups: { readonly access: string; readonly error: string; readonly pm2: string; readonly kernel: string; readonly app?: string };
  readonly dryRun: boolean;
  readonly verifySeconds: number;
  readonly tableName?: string;
  readonly slackSecretArn?: string;
  readonly budget: { readonly maxRestartsPerHour: number; readonly minMinutesBetweenRestarts: number };
  /** The largest wave of a fleet incident. */
  readonly maxWave: number;
  /** Per cause: auto, approve or observe. */
  readonly modes: Modes;
  readonly approvalMinutes: number;
}

export class ConfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

const NAME = /^[A-Za-z0-9._\-/#]{1,512}$/;
const ARN = /^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:[A-Za-z0-9._\-/:]+$/;

/** @throws ConfigError naming the variable. */
export function parseConfig(env: Record<string, string | undefined>): ResponderConfig {
  const { required, optional, wholeNumber } = envReader(env, (message) => new ConfigError(message));
  const integer = (key: keyof typeof WHOLE_NUMBER_SETTINGS): number => wholeNumber(ENV[key], WHOLE_NUMBER_SETTINGS[key]);
  const dryRun = env[ENV.dryRun] ?? 'false';
  if (dryRun !== 'true' && dryRun !== 'false') throw new ConfigError(`${ENV.dryRun} must be "true" or "false"`);

  const pm2User = optional(ENV.pm2User, PATTERNS.pm2User);
  const pm2Home = optional(ENV.pm2Home, PATTERNS.absPath);
  const ecosystem = optional(ENV.ecosystem, PATTERNS.absPath);
  const upstream = optional(ENV.upstream, PATTERNS.url);
  const nginxConfig = optional(ENV.nginxConfig, PATTERNS.absPath);
  const nginxErrorLog = optional(ENV.nginxErrorLog, PATTERNS.absPath);
  const tableName = optional(ENV.tableName, NAME);
  const appLogGroup = optional(ENV.appLogGroup, NAME);
  const slackSecretArn = optional(ENV.slackSecretArn, ARN);
  return {
    appName: required(ENV.appName, PATTERNS.app),
    ...(pm2User && { pm2User }),
    ...(pm2Home && { pm2Home }),
    ...(ecosystem && { ecosystem }),
    healthUrl: required(ENV.healthUrl, PATTERNS.url),
    ...(upstream && { upstream }),
    ...(nginxConfig && { nginxConfig }),
    ...(nginxErrorLog && { nginxErrorLog }),
    documents: { snapshot: required(ENV.snapshotDocument, NAME), remediate: required(ENV.remediateDocument, NAME) },
    topicArn: required(ENV.topicArn, ARN),
    alarmName: required(ENV.alarmName, /^[^\u0000-\u001f]{1,255}$/),
    windowSeconds: integer('windowSeconds'),
    logGroups: {
      access: required(ENV.accessLogGroup, NAME),
      error: required(ENV.errorLogGroup, NAME),
      pm2: required(ENV.pm2LogGroup, NAME),
      kernel: required(ENV.kernelLogGroup, NAME),
      ...(appLogGroup && { app: appLogGroup }),
    },
    dryRun: dryRun === 'true',
    verifySeconds: integer('verifySeconds'),
    ...(tableName && { tableName }),
    ...(slackSecretArn && { slackSecretArn }),
    budget: {
      maxRestartsPerHour: integer('maxRestartsPerHour'),
      minMinutesBetweenRestarts: integer('minMinutesBetweenRestarts'),
    },
    maxWave: integer('maxWave'),
    modes: modesOf(env[ENV.modes]),
    approvalMinutes: integer('approvalMinutes'),
  };
}

/** REFLEX_MODES, checked like every other variable: a bad cause or mode fails the cold start, naming it. */
function modesOf(text: string | undefined): Modes {
  try {
    return parseModesText(text ?? '', ENV.modes);
  } catch (error) {
    if (error instanceof InputError) throw new ConfigError(error.message);
    throw error;
  }
}
