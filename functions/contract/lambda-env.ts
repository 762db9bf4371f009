/**
 * The responder Lambda's environment, defined once: the variable names, and for the numeric ones their default and
 * range. The handler's config parser and the CDK stack both import them, the core's restart budget takes its
 * defaults from here, and the infra tests pin them.
 */

/** Names of the Lambda's environment variables. */
export const ENV = {
  /** PM2 app name on the instances. */
  appName: 'REFLEX_APP_NAME',
  /** The OS user that owns PM2 on the instances (SSM runs as root). */
  pm2User: 'REFLEX_PM2_USER',
  /** PM2_HOME on the instances; empty: the PM2 user's ~/.pm2. */
  pm2Home: 'REFLEX_PM2_HOME',
  /** Ecosystem file on the instances, for `start` when the app is missing; empty: never start. */
  ecosystem: 'REFLEX_ECOSYSTEM',
  /** The URL probed through nginx on the instance, e.g. http://127.0.0.1/. */
  healthUrl: 'REFLEX_HEALTH_URL',
  /** The app's own address on the instance, e.g. http://127.0.0.1:3000; empty: what nginx proxies to. */
  upstream: 'REFLEX_UPSTREAM',
  nginxConfig: 'REFLEX_NGINX_CONFIG',
  nginxErrorLog: 'REFLEX_NGINX_ERROR_LOG',
  snapshotDocument: 'REFLEX_SNAPSHOT_DOCUMENT',
  remediateDocument: 'REFLEX_REMEDIATE_DOCUMENT',
  topicArn: 'REFLEX_TOPIC_ARN',
  /** The alarm this responder owns; events of other alarms are ignored. */
  alarmName: 'REFLEX_ALARM_NAME',
  /** Alarm period × evaluation periods, seconds: the evidence window and the staleness limit. */
  windowSeconds: 'REFLEX_WINDOW_SECONDS',
  accessLogGroup: 'REFLEX_ACCESS_LOG_GROUP',
  errorLogGroup: 'REFLEX_ERROR_LOG_GROUP',
  pm2LogGroup: 'REFLEX_PM2_LOG_GROUP',
  kernelLogGroup: 'REFLEX_KERNEL_LOG_GROUP',
  /** The app's own stdout and stderr (`/reflex/<app>/pm2-app`): where its error line says why it died. */
  appLogGroup: 'REFLEX_APP_LOG_GROUP',
  /** `true`: diagnose and report, never act. */
  dryRun: 'REFLEX_DRY_RUN',
  /** How long verification may poll, seconds; the Lambda timeout leaves margin above it. */
  verifySeconds: 'REFLEX_VERIFY_SECONDS',
  /** DynamoDB table for locks, processed events and restart history. */
  tableName: 'REFLEX_TABLE_NAME',
  /** Secrets Manager secret holding `{"webhookUrl": …}` or `{"botToken": …, "channel": …}`; empty: no Slack. */
  slackSecretArn: 'REFLEX_SLACK_SECRET_ARN',
  maxRestartsPerHour: 'REFLEX_MAX_RESTARTS_PER_HOUR',
  minMinutesBetweenRestarts: 'REFLEX_MIN_MINUTES_BETWEEN_RESTARTS',
  /** The largest wave of a fleet incident: instances restarted at once after the canary and the waves before. */
  maxWave: 'REFLEX_MAX_WAVE',
  /** Per cause: `process_crashed=approve,app_hung=observe`; a cause not named acts by itself (auto). */
  modes: 'REFLEX_MODES',
  /** How long a proposal in Slack waits for a click, minutes. */
  approvalMinutes: 'REFLEX_APPROVAL_MINUTES',
} as const;

/** Lambda's hard limit on a function's timeout, seconds. */
export const LAMBDA_MAX_TIMEOUT_SECONDS = 900;
/** The responder's timeout is its verification window plus this margin, for the snapshot, the decision and the report. */
export const LAMBDA_MARGIN_SECONDS = 60;

/** A whole-number setting: its value when the variable is unset, and the range a set value must fall in. */
export interface WholeNumberSetting {
  readonly default: number;
  readonly min: number;
  readonly max: number;
}

/** The whole-number variables of ENV, by the same keys. The stack props accept the same ranges. */
export const WHOLE_NUMBER_SETTINGS = {
  windowSeconds: { default: 300, min: 60, max: 86_400 },
  verifySeconds: { default: 120, min: 10, max: LAMBDA_MAX_TIMEOUT_SECONDS - LAMBDA_MARGIN_SECONDS },
  /** The restart budget: at most 3 automatic restarts of one instance in a rolling hour… */
  maxRestartsPerHour: { default: 3, min: 0, max: 100 },
  /** …and at least 5 minutes between two of them. */
  minMinutesBetweenRestarts: { default: 5, min: 0, max: 1440 },
  /** Waves of 1, 2, 4 … up to this many instances at once (SendCommand takes at most 50 instance ids). */
  maxWave: { default: 16, min: 1, max: 50 },
  /** A proposal expires after this many minutes unanswered (the durable execution waits for the click). */
  approvalMinutes: { default: 15, min: 1, max: 1440 },
} as const satisfies Partial<Record<keyof typeof ENV, WholeNumberSetting>>;

/** Names of the detector Lambda's environment variables. Its table is the responder's: counters and claims live beside the locks. */
export const DETECTOR_ENV = {
  tableName: ENV.tableName,
  /** Name or ARN of the responder function, invoked asynchronously when an instance crosses the threshold. */
  responderFunction: 'REFLEX_RESPONDER_FUNCTION',
  /** Gateway errors of one instance within the window that start its incident. */
  threshold: 'REFLEX_DETECT_THRESHOLD',
  /** The sliding window, seconds, a multiple of DETECT_BUCKET_SECONDS. */
  windowSeconds: 'REFLEX_DETECT_WINDOW_SECONDS',
  /**
   * How long the detector's claim holds an instance until the responder renews it, seconds: how long a start may
   * wait in the responder's queue (it runs one incident at a time) before it is stale.
   */
  claimSeconds: 'REFLEX_CLAIM_SECONDS',
} as const;

/** The detector counts in buckets this wide; its window is a whole number of them. */
export const DETECT_BUCKET_SECONDS = 10;

/** The whole-number variables of DETECTOR_ENV, by the same keys. */
export const DETECTOR_SETTINGS = {
  /** The alarm's threshold, per instance. */
  threshold: { default: 5, min: 1, max: 1_000_000 },
  /** The alarm's period, per instance. */
  windowSeconds: { default: 60, min: DETECT_BUCKET_SECONDS, max: 3600 },
  claimSeconds: { default: LAMBDA_MAX_TIMEOUT_SECONDS, min: 60, max: LAMBDA_MAX_TIMEOUT_SECONDS },
} as const satisfies Partial<Record<keyof typeof DETECTOR_ENV, WholeNumberSetting>>;

/**
 * Names of the interactivity endpoint's environment variables (functions/interact/): the Lambda behind the function
 * URL that Slack posts approve-mode button clicks to.
 */
export const INTERACT_ENV = {
  /** The Slack secret (the responder's): the endpoint reads `signingSecret` and `channel` from it. */
  slackSecretArn: ENV.slackSecretArn,
  /** Comma-separated Slack user ids allowed to answer a proposal (`U0123ABC,U0456DEF`); empty: anyone in the channel. */
  approvers: 'REFLEX_SLACK_APPROVERS',
} as const;

/** A Slack user id as Slack writes it in a payload (`U…`, or `W…` on Enterprise Grid). */
export const SLACK_USER_ID = /^[UW][A-Z0-9]{2,20}$/;
