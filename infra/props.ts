/**
 * Reflex stack props: defaults, validation at synth, and reading them from CDK context (`-c appName=…`).
 * A bad value fails `cdk synth` with one error naming the prop, before anything reaches CloudFormation.
 */
import { RemovalPolicy, type StackProps } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IConstruct } from 'constructs';
import { LAMBDA_MARGIN_SECONDS, SLACK_USER_ID, WHOLE_NUMBER_SETTINGS } from '../functions/contract/lambda-env.ts';
import { parseModes, type Modes } from '../functions/core/modes.ts';
import { InputError, PATTERNS, describe } from '../functions/core/validate.ts';
import { AGENT_DEFAULTS } from './cloudwatch-agent.ts';

/** A prop (or context value) is invalid. The message names it. */
export class ReflexPropsError extends Error {
  constructor(
    message: string,
    readonly prop: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'ReflexPropsError';
  }
}

/** The tag an instance must carry for Reflex to run commands on it. */
export interface OptInTag {
  readonly key: string;
  readonly value: string;
}

/** Props of the ReflexStack (infra/reflex-stack.ts). Every one can also come from CDK context (infra/app.ts, cdk.json). */
export interface ReflexStackProps extends StackProps {
  /** The PM2 app name on the instances; also names the log groups, the alarm and the agent parameter. @default 'web' */
  readonly appName?: string;
  /** The OS user that owns PM2 on the instances (SSM runs as root and switches to it). @default 'ubuntu' */
  readonly pm2User?: string;
  /** PM2_HOME on the instances. @default - the PM2 user's ~/.pm2 */
  readonly pm2Home?: string;
  /** Ecosystem file used to `pm2 start` the app when it is missing from PM2. @default - PM2's saved list (`pm2 save`) */
  readonly ecosystemPath?: string;
  /** The URL probed through nginx on the instance. @default 'http://127.0.0.1/' */
  readonly healthUrl?: string;
  /** The app's own address on the instance. @default - what nginx proxies to */
  readonly upstream?: string;
  /** nginx config the snapshot reads proxy directives from (after `nginx -T`). @default '/etc/nginx/nginx.conf' */
  readonly nginxConfig?: string;
  /** nginx error log on the instances. @default '/var/log/nginx/error.log' */
  readonly nginxErrorLog?: string;
  /** Kernel log file the agent ships (Amazon Linux 2: '/var/log/messages'). @default '/var/log/kern.log' */
  readonly kernelLog?: string;
  /** Reflex runs commands only on instances carrying this tag. @default { key: 'reflex:managed', value: 'true' } */
  readonly optInTag?: OptInTag;
  /** Gateway errors (502/503/504) per period that raise the alarm. @default 5 */
  readonly threshold?: number;
  /** Alarm period, a multiple of 60 seconds. @default 60 */
  readonly periodSeconds?: number;
  /** Breaching periods (out of as many evaluated) that raise the alarm. @default 1 */
  readonly datapoints?: number;
  /** Diagnose and report, never restart. @default false */
  readonly dryRun?: boolean;
  /** How long the responder polls for recovery after acting; the Lambda timeout adds 60 s. At most 840. @default 120 */
  readonly verifySeconds?: number;
  /** Retention of every Reflex log group. @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /**
   * Complete ARN of an existing Secrets Manager secret holding `{"webhookUrl": …}` or `{"botToken": …, "channel": …}`.
   * Without it the stack creates a secret holding `{}` (Slack off) for you to fill in the console or with
   * `aws secretsmanager put-secret-value`. Secrets encrypted with a customer key also need kms:Decrypt.
   * @default - a new secret holding `{}`
   */
  readonly slackSecretArn?: string;
  /** Automatic restarts per instance in a rolling hour; past it Reflex escalates without acting. @default 3 */
  readonly maxRestartsPerHour?: number;
  /** Minimum minutes between two automatic restarts of one instance. @default 5 */
  readonly minMinutesBetweenRestarts?: number;
  /** A fleet incident restarts a canary, then waves of 2, 4, 8 … instances at once, up to this many. At most 50. @default 16 */
  readonly maxWave?: number;
  /**
   * Per cause: `auto` (act), `approve` (propose in Slack, act on a click; needs a bot token) or `observe` (report
   * only), e.g. `{ process_crashed: 'approve' }`. A cause not named is `auto`. @default every cause auto
   */
  readonly modes?: Modes;
  /** How long a proposal waits for a click, minutes. @default 15 */
  readonly approvalMinutes?: number;
  /**
   * What `cdk destroy` does with the data: the log groups (incident evidence), the state table and a created
   * Slack secret. RETAIN keeps them, so a redeploy with the same appName must delete or import the log groups first.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * How long one incident's durable execution may run in all, minutes: every instance of a fleet, one at a time,
   * with its waits and verification. At least one responder invocation (verifySeconds + 60 s); at most 366 days.
   * @default 60
   */
  readonly executionTimeoutMinutes?: number;
  /** Days Lambda keeps a closed execution's history (its steps, inputs and results) for inspection. 1 to 90. @default 7 */
  readonly executionRetentionDays?: number;
  /**
   * Approve mode: the Slack user ids (`U0123ABC`) whose clicks the interactivity endpoint accepts. Context:
   * `-c approvers=U0123ABC,U0456DEF`. At most 100.
   * @default - anyone in the Slack channel
   */
  readonly approvers?: readonly string[];
}

/** Every prop with its default applied and checked. Optional paths stay `''`: "the script's default". */
export interface ResolvedReflexProps {
  readonly appName: string;
  readonly pm2User: string;
  readonly pm2Home: string;
  readonly ecosystemPath: string;
  readonly healthUrl: string;
  readonly upstream: string;
  readonly nginxConfig: string;
  readonly nginxErrorLog: string;
  readonly kernelLog: string;
  readonly optInTag: OptInTag;
  readonly threshold: number;
  readonly periodSeconds: number;
  readonly datapoints: number;
  readonly dryRun: boolean;
  readonly verifySeconds: number;
  readonly logRetention: RetentionDays;
  readonly slackSecretArn: string;
  readonly maxRestartsPerHour: number;
  readonly minMinutesBetweenRestarts: number;
  readonly maxWave: number;
  readonly modes: Modes;
  readonly approvalMinutes: number;
  readonly removalPolicy: RemovalPolicy;
  readonly executionTimeoutMinutes: number;
  readonly executionRetentionDays: number;
  readonly approvers: readonly string[];
}

/** The defaults documented on ReflexStackProps. cdk.json repeats the main ones so users see what to change. */
export const DEFAULTS = {
  appName: 'web',
  pm2User: 'ubuntu',
  healthUrl: 'http://127.0.0.1/',
  nginxConfig: '/etc/nginx/nginx.conf',
  nginxErrorLog: AGENT_DEFAULTS.nginxErrorLog,
  kernelLog: AGENT_DEFAULTS.kernelLog,
  optInTagKey: 'reflex:managed',
  optInTagValue: 'true',
  threshold: 5,
  periodSeconds: 60,
  datapoints: 1,
  dryRun: false,
  verifySeconds: WHOLE_NUMBER_SETTINGS.verifySeconds.default,
  logRetentionDays: 30,
  maxRestartsPerHour: WHOLE_NUMBER_SETTINGS.maxRestartsPerHour.default,
  minMinutesBetweenRestarts: WHOLE_NUMBER_SETTINGS.minMinutesBetweenRestarts.default,
  maxWave: WHOLE_NUMBER_SETTINGS.maxWave.default,
  approvalMinutes: WHOLE_NUMBER_SETTINGS.approvalMinutes.default,
  removalPolicy: 'retain',
  executionTimeoutMinutes: 60,
  executionRetentionDays: 7,
} as const;

/** Lambda's longest durable execution, minutes (366 days). */
export const MAX_EXECUTION_TIMEOUT_MINUTES = 366 * 24 * 60;

/** The complete ARN of a secret (with the 6-character suffix Secrets Manager adds), so IAM can name it exactly. */
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}-[A-Za-z0-9]{6}$/;
/** Tag keys and values as EC2 accepts them (letters, digits, spaces and `_ . : / = + - @`). */
const TAG_KEY = /^[A-Za-z0-9 _.:/=+@-]{1,128}$/;
const TAG_VALUE = /^[A-Za-z0-9 _.:/=+@-]{0,256}$/;

const RETENTION_VALUES = new Set<number>(Object.values(RetentionDays).filter((v): v is number => typeof v === 'number'));

function fail(prop: string, what: string, value: unknown): never {
  throw new ReflexPropsError(`ReflexStack: ${prop} must be ${what}, got ${describe(value)}`, prop);
}

function pattern(prop: string, value: string, regex: RegExp, what: string): string {
  if (!regex.test(value)) fail(prop, what, value);
  return value;
}

function optionalPattern(prop: string, value: string | undefined, regex: RegExp, what: string): string {
  if (value === undefined || value === '') return '';
  return pattern(prop, value, regex, what);
}

function integer(prop: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) fail(prop, `a whole number from ${min} to ${max}`, value);
  return value;
}

/** A prop that becomes a whole-number variable of the responder: the range its parser accepts. */
function setting(prop: keyof typeof WHOLE_NUMBER_SETTINGS & keyof typeof DEFAULTS, value: number | undefined): number {
  const { min, max } = WHOLE_NUMBER_SETTINGS[prop];
  return integer(prop, value ?? DEFAULTS[prop], min, max);
}

/** Applies the defaults and checks every prop; throws ReflexPropsError naming the first bad one. */
export function resolveProps(props: ReflexStackProps = {}): ResolvedReflexProps {
  const appName = pattern('appName', props.appName ?? DEFAULTS.appName, PATTERNS.app, 'a PM2 app name (letters, digits, . _ -; 1 to 64)');
  const pm2User = pattern('pm2User', props.pm2User ?? DEFAULTS.pm2User, PATTERNS.pm2User, 'a Linux user name');
  const absPath = 'an absolute path (letters, digits, . _ / -)';
  const url = 'an http(s) URL without spaces or quotes';
  const optInTag = props.optInTag ?? { key: DEFAULTS.optInTagKey, value: DEFAULTS.optInTagValue };
  pattern('optInTag.key', optInTag.key, TAG_KEY, 'a tag key (1 to 128 of letters, digits, spaces, _ . : / = + - @)');
  pattern('optInTag.value', optInTag.value, TAG_VALUE, 'a tag value (up to 256 of letters, digits, spaces, _ . : / = + - @)');

  const periodSeconds = props.periodSeconds ?? DEFAULTS.periodSeconds;
  // Metric filters publish one-minute data points: a shorter alarm period would only ever see partial minutes.
  if (!Number.isInteger(periodSeconds) || periodSeconds < 60 || periodSeconds % 60 !== 0 || periodSeconds > 86_400) {
    fail('periodSeconds', 'a multiple of 60 from 60 to 86400', periodSeconds);
  }
  const datapoints = integer('datapoints', props.datapoints ?? DEFAULTS.datapoints, 1, 1440);
  // CloudWatch caps period × evaluation periods at one day; the responder's window uses the same product.
  if (periodSeconds * datapoints > 86_400) fail('datapoints', `at most ${86_400 / periodSeconds} with periodSeconds ${periodSeconds}`, datapoints);

  const logRetention = props.logRetention ?? (DEFAULTS.logRetentionDays as RetentionDays);
  if (!RETENTION_VALUES.has(logRetention)) fail('logRetention', 'a RetentionDays value', logRetention);

  const verifySeconds = setting('verifySeconds', props.verifySeconds);
  // An execution shorter than one invocation would be cut off before its first verification could end.
  const executionTimeoutMinutes = integer(
    'executionTimeoutMinutes',
    props.executionTimeoutMinutes ?? DEFAULTS.executionTimeoutMinutes,
    Math.ceil((verifySeconds + LAMBDA_MARGIN_SECONDS) / 60),
    MAX_EXECUTION_TIMEOUT_MINUTES,
  );
  const executionRetentionDays = integer('executionRetentionDays', props.executionRetentionDays ?? DEFAULTS.executionRetentionDays, 1, 90);

  const slackSecretArn = optionalPattern('slackSecretArn', props.slackSecretArn, SECRET_ARN, 'the complete ARN of a Secrets Manager secret (ending in -XXXXXX)');
  const approvers = [...new Set(props.approvers ?? [])];
  if (approvers.length > 100) fail('approvers', 'at most 100 Slack user ids', approvers.length);
  for (const id of approvers) pattern('approvers', id, SLACK_USER_ID, 'Slack user ids (U0123ABC)');

  return {
    appName,
    pm2User,
    pm2Home: optionalPattern('pm2Home', props.pm2Home, PATTERNS.absPath, absPath),
    ecosystemPath: optionalPattern('ecosystemPath', props.ecosystemPath, PATTERNS.absPath, absPath),
    healthUrl: pattern('healthUrl', props.healthUrl ?? DEFAULTS.healthUrl, PATTERNS.url, url),
    upstream: optionalPattern('upstream', props.upstream, PATTERNS.url, url),
    nginxConfig: pattern('nginxConfig', props.nginxConfig ?? DEFAULTS.nginxConfig, PATTERNS.absPath, absPath),
    nginxErrorLog: pattern('nginxErrorLog', props.nginxErrorLog ?? DEFAULTS.nginxErrorLog, PATTERNS.absPath, absPath),
    kernelLog: pattern('kernelLog', props.kernelLog ?? DEFAULTS.kernelLog, PATTERNS.absPath, absPath),
    optInTag,
    threshold: integer('threshold', props.threshold ?? DEFAULTS.threshold, 1, 1_000_000),
    periodSeconds,
    datapoints,
    dryRun: props.dryRun ?? DEFAULTS.dryRun,
    verifySeconds,
    logRetention,
    slackSecretArn,
    maxRestartsPerHour: setting('maxRestartsPerHour', props.maxRestartsPerHour),
    minMinutesBetweenRestarts: setting('minMinutesBetweenRestarts', props.minMinutesBetweenRestarts),
    maxWave: setting('maxWave', props.maxWave),
    modes: modesProp(props.modes),
    approvalMinutes: setting('approvalMinutes', props.approvalMinutes),
    removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    executionTimeoutMinutes,
    executionRetentionDays,
    approvers,
  };
}

/** The context keys `infra/app.ts` reads (`npx cdk synth -c appName=shop -c threshold=10`). */
export const CONTEXT_KEYS = [
  'appName',
  'pm2User',
  'pm2Home',
  'ecosystemPath',
  'healthUrl',
  'upstream',
  'nginxConfig',
  'nginxErrorLog',
  'kernelLog',
  'optInTagKey',
  'optInTagValue',
  'threshold',
  'periodSeconds',
  'datapoints',
  'dryRun',
  'verifySeconds',
  'logRetentionDays',
  'slackSecretArn',
  'maxRestartsPerHour',
  'minMinutesBetweenRestarts',
  'maxWave',
  'modes',
  'approvalMinutes',
  'removalPolicy',
  'executionTimeoutMinutes',
  'executionRetentionDays',
  'approvers',
  'account',
  'region',
] as const;

/**
 * Reads the stack props from CDK context. Values given with `-c` arrive as strings, values from cdk.json keep
 * their JSON type: both are accepted. Absent keys fall back to the stack defaults.
 */
export function propsFromContext(scope: IConstruct): ReflexStackProps {
  const raw = (key: (typeof CONTEXT_KEYS)[number]): unknown => scope.node.tryGetContext(key);
  const text = (key: (typeof CONTEXT_KEYS)[number]): string | undefined => {
    const value = raw(key);
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') fail(key, 'a string', value);
    return value;
  };
  const number = (key: (typeof CONTEXT_KEYS)[number]): number | undefined => {
    const value = raw(key);
    if (value === undefined || value === null || value === '') return undefined;
    const parsed = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
    if (!Number.isFinite(parsed)) fail(key, 'a number', value);
    return parsed;
  };
  const boolean = (key: (typeof CONTEXT_KEYS)[number]): boolean | undefined => {
    const value = raw(key);
    if (value === undefined || value === null || value === '') return undefined;
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    return fail(key, 'true or false', value);
  };
  // An object in cdk.json, or JSON text from `-c modes='{"process_crashed":"approve"}'`.
  const jsonObject = (key: (typeof CONTEXT_KEYS)[number]): unknown => {
    const value = raw(key);
    if (typeof value !== 'string') return value ?? undefined;
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return fail(key, 'a JSON object', value);
    }
  };
  const removal = text('removalPolicy');
  if (removal !== undefined && removal !== 'retain' && removal !== 'destroy') fail('removalPolicy', '"retain" or "destroy"', removal);
  const tagKey = text('optInTagKey');
  const tagValue = text('optInTagValue');
  const account = text('account');
  const region = text('region');
  // `-c approvers=U1,U2` arrives as a string; cdk.json may hold a list.
  const approverList = raw('approvers');
  const approvers =
    approverList === undefined || approverList === null || approverList === ''
      ? undefined
      : Array.isArray(approverList) && approverList.every((id) => typeof id === 'string')
        ? approverList
        : typeof approverList === 'string'
          ? approverList.split(',').map((id) => id.trim()).filter((id) => id !== '')
          : fail('approvers', 'Slack user ids, comma-separated', approverList);

  const props: Record<string, unknown> = {
    appName: text('appName'),
    pm2User: text('pm2User'),
    pm2Home: text('pm2Home'),
    ecosystemPath: text('ecosystemPath'),
    healthUrl: text('healthUrl'),
    upstream: text('upstream'),
    nginxConfig: text('nginxConfig'),
    nginxErrorLog: text('nginxErrorLog'),
    kernelLog: text('kernelLog'),
    optInTag:
      tagKey !== undefined || tagValue !== undefined
        ? { key: tagKey ?? DEFAULTS.optInTagKey, value: tagValue ?? DEFAULTS.optInTagValue }
        : undefined,
    threshold: number('threshold'),
    periodSeconds: number('periodSeconds'),
    datapoints: number('datapoints'),
    dryRun: boolean('dryRun'),
    verifySeconds: number('verifySeconds'),
    logRetention: number('logRetentionDays'),
    slackSecretArn: text('slackSecretArn'),
    maxRestartsPerHour: number('maxRestartsPerHour'),
    minMinutesBetweenRestarts: number('minMinutesBetweenRestarts'),
    maxWave: number('maxWave'),
    modes: jsonObject('modes'),
    approvalMinutes: number('approvalMinutes'),
    executionTimeoutMinutes: number('executionTimeoutMinutes'),
    executionRetentionDays: number('executionRetentionDays'),
    approvers,
    removalPolicy: removal === undefined ? undefined : removal === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    // Only an explicit account/region makes the stack environment-specific; otherwise it stays agnostic.
    env: account !== undefined || region !== undefined ? { account, region } : undefined,
  };
  return Object.fromEntries(Object.entries(props).filter(([, value]) => value !== undefined)) as ReflexStackProps;
}

/** The modes prop, checked like the host profile's (functions/core/modes.ts). */
function modesProp(value: unknown): Modes {
  if (value === undefined) return {};
  try {
    return parseModes(value, 'modes');
  } catch (error) {
    if (error instanceof InputError) throw new ReflexPropsError(`ReflexStack: ${error.message}`, error.field);
    throw error;
  }
}
