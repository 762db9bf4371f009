/**
 * The ports the core talks through. Adapters live in functions/adapters/{local,aws,slack}.
 * Plain interfaces: the core never knows whether it runs on one box or in Lambda.
 */
import type { IncidentPhase, IncidentRecord } from './incident.ts';
import type { LogBundle, Report, TimelineEntry } from './types.ts';

/** The two host scripts in functions/host/, run locally by bash or remotely by SSM Run Command. */
export type HostScript = 'snapshot' | 'remediate';

/**
 * Inputs of a host script. Each becomes an environment variable (`REFLEX_<NAME>` locally, `SSM_<name>`
 * under SSM) after validation against the patterns in core/validate.ts. Never spliced into command text.
 */
export interface HostParams {
  readonly app: string;
  readonly pm2Home?: string;
  readonly pm2User?: string;
  readonly healthUrl?: string;
  readonly upstream?: string;
  readonly nginxConfig?: string;
  readonly nginxErrorLog?: string;
  readonly kernelLog?: string;
  /** snapshot: `full` (default) or `probe` (pm2 + probes only, for verification polls). */
  readonly sections?: 'full' | 'probe';
  /** remediate: what to do. */
  readonly action?: 'restart' | 'start';
  /** remediate start: the ecosystem file. */
  readonly ecosystem?: string;
  /** remediate: seconds to verify on the host after the action (`0`–`600`); empty or `0`: no verification. Needs `healthUrl`. */
  readonly verifySeconds?: string;
  /** remediate restart: the pid Reflex proved hung; killed once PM2 is stopping it, and only if PM2 runs it as the app. */
  readonly hungPid?: string;
}

export interface HostRunResult {
  /** true when the script ran and exited 0. */
  readonly ok: boolean;
  readonly stdout: string;
  readonly stderr: string;
  /** `Success`, `Failed`, `TimedOut`, `Undeliverable`, … for SSM; `exit 0`/`exit 1` locally. */
  readonly status: string;
  /** For a human, when not ok: what failed and what to do. Never a raw stack. */
  readonly error?: string;
  /** true when the script certainly never ran (the command was not sent: throttled, refused): no side effect happened. */
  readonly notRun?: boolean;
}

export interface HostRunner {
  run(instanceId: string, script: HostScript, params: HostParams): Promise<HostRunResult>;
}

export interface LogWindow {
  readonly start: Date;
  readonly end: Date;
}

export interface LogSource {
  /** Raw lines for one instance over the window. Garbage is the core's to skip, not the adapter's. */
  fetch(instanceId: string, window: LogWindow): Promise<LogBundle>;
}

/** Restart history and the per-instance lock; file locally, DynamoDB in AWS. */
export interface StateStore {
  /** Takes the instance's remediation lock until `ttlMs` from now; false when someone else holds it. */
  acquireLock(instanceId: string, owner: string, ttlMs: number): Promise<boolean>;
  releaseLock(instanceId: string, owner: string): Promise<void>;
  /** ISO times of automatic restarts/starts Reflex issued for the instance, oldest first. */
  restarts(instanceId: string): Promise<string[]>;
  recordRestart(instanceId: string, at: string): Promise<void>;
}

/** StateStore plus what makes retries and timeouts safe. Implemented by the file store (local) and the DynamoDB store (AWS). */
export interface IncidentStore extends StateStore {
  /**
   * Records that the event with this id is being processed: true the first time, false for a replay or a retry
   * (a conditional put). The record stays for `ttlSeconds` whatever happens next. Unlike Powertools Idempotency,
   * which deletes its record when the handler throws so that the retry runs again, ours is never removed on
   * failure: EventBridge retries a failed invocation, and if that invocation had already restarted the app, running
   * again would restart it a second time. A failure after a side effect is reported, not retried.
   */
  claimEvent(eventId: string, ttlSeconds: number): Promise<boolean>;
  /** Creates or replaces the incident record of `record.instanceId`. */
  saveIncident(record: IncidentRecord): Promise<void>;
  loadIncident(instanceId: string): Promise<IncidentRecord | undefined>;
}

/** The instance's claim: which incident holds it, and since when its gateway errors are counted. */
export interface IncidentClaim {
  readonly incidentId: string;
  readonly instanceId: string;
  readonly firstErrorAt: string;
  /** Epoch ms after which the claim counts as absent (its holder died without giving it back). */
  readonly expiresAt: number;
}

/**
 * One open incident per instance, whoever starts it: the detector claims an instance before starting the responder,
 * an alarm run claims each instance it finds, and each gives the claim back when the incident closes.
 */
export interface IncidentClaims {
  /**
   * Claims the instance for one incident: false when another incident's unexpired claim exists (a conditional
   * write). The claim's own incident renews it: the responder does so when the detector's start reaches it.
   */
  claimIncident(claim: IncidentClaim): Promise<boolean>;
  /** Gives the claim back, if it is still `incidentId`'s. */
  releaseIncident(instanceId: string, incidentId: string): Promise<void>;
}

/** Live progress of one incident: a terminal line, a Slack update. Failures here never stop a remediation. */
export interface Progress {
  step(entry: TimelineEntry): void;
}

/**
 * Follows one incident as it moves: saves the incident record, keeps the Slack message up to date.
 * `phase` must return quickly (it runs before the restart): slow deliveries are queued, and the `closed`
 * phase waits for them. It must not throw; a failure is the journal's to log.
 */
export interface IncidentJournal {
  /** Before `closed`, `report` is a draft: its outcome is `pending`, and renderers show it as in progress. */
  phase(phase: IncidentPhase, report: Report): Promise<void>;
  /**
   * Puts a proposal (`report.approval`, not yet answered) in front of the people who may answer it, with the id their
   * answer must be sent to: Slack buttons in bot mode. Absent when this journal cannot carry an answer back (no
   * Slack, or a webhook): then approve mode falls back to observe. Must not throw; a failure is the journal's to log.
   */
  propose?(report: Report, callbackId: string): Promise<void>;
}

/** The journal of one incident in a fleet: once `closed`, it also says how its Slack message was delivered. */
export interface FleetJournal extends IncidentJournal {
  /** The last Slack delivery, after `closed`; undefined without Slack. */
  readonly slackDelivery: Delivery | undefined;
}

/** What one delivery on one channel came to. A failure is a value, never an exception. */
export interface Delivery {
  readonly channel: string;
  readonly ok: boolean;
  /** For a human: what failed. */
  readonly error?: string;
}

export interface Notifier {
  /** Sends the final report. Must not throw for a delivery failure: it returns what failed instead. */
  publish(report: Report): Promise<Delivery[]>;
}

export interface Clock {
  now(): Date;
  sleep(ms: number): Promise<void>;
}

/** The narrow logger the core accepts (Powertools Logger fits it). */
export interface CoreLogger {
  debug(message: string, ...extra: unknown[]): void;
  info(message: string, ...extra: unknown[]): void;
  warn(message: string, ...extra: unknown[]): void;
}
