/**
 * The use case: one incident on one instance. Gather → diagnose → decide → act → verify → report.
 * Everything it touches goes through ports, so local mode and Lambda run this same code.
 */
import { diagnose } from './diagnosis/index.ts';
import { buildEvidence, isGatewayError, parseSnapshot, parseUpstreamUrl } from './evidence/index.ts';
import { DEFAULT_BUDGET, decide, type RestartBudget } from './policy.ts';
import type { Clock, CoreLogger, HostParams, HostRunResult, HostRunner, HostScript, IncidentJournal, LogSource, Progress, StateStore } from './ports.ts';
import { outputTail } from './redact.ts';
import { buildTimeline } from './timeline.ts';
import type { ActionResult, Decision, Diagnosis, Evidence, EvidenceLine, HostSnapshot, Outcome, Report, Source, TimelineEntry } from './types.ts';
import { observe, startVerify } from './verify.ts';

export interface RespondTarget {
  readonly instanceId: string;
  readonly app: string;
  /** Inputs of the snapshot script (app, pm2 home/user, health URL, nginx paths…). */
  readonly snapshot: HostParams;
  /** Inputs of the remediate script besides the action (app, pm2 home/user, ecosystem). */
  readonly remediate: HostParams;
  /** The app's own URL; undefined: what nginx proxies to. */
  readonly upstream?: string;
}

/** Where an app lives on a host: what both modes know, from a host profile or the Lambda's configuration. */
export interface AppLocation {
  readonly instanceId: string;
  readonly app: string;
  readonly healthUrl: string;
  readonly upstream?: string;
  readonly pm2Home?: string;
  readonly pm2User?: string;
  readonly ecosystem?: string;
  readonly nginxConfig?: string;
  readonly nginxErrorLog?: string;
  readonly kernelLog?: string;
}

/** The host scripts' inputs for one app: what the snapshot reads, and what the remediation needs. */
export function targetAt(where: AppLocation): RespondTarget {
  const pm2 = { app: where.app, ...(where.pm2Home && { pm2Home: where.pm2Home }), ...(where.pm2User && { pm2User: where.pm2User }) };
  return {
    instanceId: where.instanceId,
    app: where.app,
    ...(where.upstream && { upstream: where.upstream }),
    snapshot: {
      ...pm2,
      healthUrl: where.healthUrl,
      ...(where.upstream && { upstream: where.upstream }),
      ...(where.nginxConfig && { nginxConfig: where.nginxConfig }),
      ...(where.nginxErrorLog && { nginxErrorLog: where.nginxErrorLog }),
      ...(where.kernelLog && { kernelLog: where.kernelLog }),
    },
    remediate: { ...pm2, ...(where.ecosystem && { ecosystem: where.ecosystem }) },
  };
}

export interface RespondDeps {
  readonly host: HostRunner;
  readonly logs: LogSource;
  readonly clock: Clock;
  /** Restart history and lock; without one, only this run's own actions count. */
  readonly state?: StateStore;
  readonly progress?: Progress;
  /** Incident record and Slack, following each phase. */
  readonly journal?: IncidentJournal;
  readonly logger?: CoreLogger;
}

export interface RespondOptions {
  readonly dryRun?: boolean;
  /** How far back evidence goes before now. Default 10 min. */
  readonly lookbackMs?: number;
  /** Evidence never goes back before this: when the instance's previous incident closed (another incident's story). */
  readonly notBefore?: Date;
  /** How long verification may poll. Default 60 s. */
  readonly verifyDeadlineMs?: number;
  /** Pause between verification polls. Default 250 ms. */
  readonly pollIntervalMs?: number;
  readonly budget?: RestartBudget;
  /** Identifies the incident (EventBridge event id, or generated). */
  readonly incidentId?: string;
  /** How long the lock is held at most. Default: the verification deadline + 60 s. */
  readonly lockTtlMs?: number;
  /** The incident's first gateway error, when the trigger knows it (the detector); otherwise the evidence's first. */
  readonly firstErrorAt?: Date;
}

const EXIT_OK: ReadonlySet<Outcome> = new Set(['healthy', 'recovered', 'dry_run']);

/** 0 when the app serves at the end (or a dry run), 1 when a human must look. */
export function exitCodeFor(report: Pick<Report, 'outcome'>): 0 | 1 {
  return EXIT_OK.has(report.outcome) ? 0 : 1;
}

/** What `investigate` found out, and what `remediate` needs to carry on. */
export interface Investigation {
  readonly target: RespondTarget;
  readonly incidentId: string;
  readonly started: Date;
  /** The responder's own timeline entries so far; `remediate` appends to it. */
  readonly entries: TimelineEntry[];
  /** Undefined when no snapshot could be taken. */
  readonly evidence?: Evidence;
  readonly diagnosis: Diagnosis;
  readonly decision: Decision;
  readonly diagnosedMs: number;
  /** The incident's first gateway error, when one is known: where `timings.detectedMs` starts. */
  readonly firstErrorAt?: Date;
}

/**
 * Handles one incident: investigate, then remediate. Never throws for what happens on the host
 * (failed scripts, unreachable instances): those end as an `escalated` report.
 */
export async function respond(target: RespondTarget, deps: RespondDeps, options: RespondOptions = {}): Promise<Report> {
  return remediate(await investigate(target, deps, options), deps, options);
}

/** Gathers evidence (logs and a live snapshot, in parallel), diagnoses, and decides. No side effect. */
export async function investigate(target: RespondTarget, deps: RespondDeps, options: RespondOptions = {}): Promise<Investigation> {
  const { clock } = deps;
  const started = clock.now();
  const incidentId = options.incidentId ?? `${target.instanceId}-${started.toISOString().replace(/[-:.]/g, '')}`;
  const entries: TimelineEntry[] = [];
  const say = narrator(entries, deps);
  const elapsed = (): number => clock.now().getTime() - started.getTime();

  say(`gathering evidence on ${target.instanceId}: logs and a live snapshot`);
  const lookback = started.getTime() - (options.lookbackMs ?? 10 * 60_000);
  const window = { start: new Date(Math.max(lookback, options.notBefore?.getTime() ?? lookback)), end: started };
  const [snapshotRun, logs] = await Promise.all([
    deps.host.run(target.instanceId, 'snapshot', { ...target.snapshot, sections: 'full' }),
    deps.logs.fetch(target.instanceId, window).catch((error: unknown) => {
      say(`could not read logs: ${errorText(error)}; diagnosing from the live snapshot only`);
      return { accessLines: [], errorLines: [], pm2Lines: [], kernelLines: [] };
    }),
  ]);
  const snapshot = readSnapshot(snapshotRun);
  if (typeof snapshot === 'string') {
    say(snapshot);
    const diagnosis: Diagnosis = {
      cause: 'unknown',
      summary: `Reflex could not take a snapshot of ${target.instanceId}: ${snapshot}`,
      advice: ['Check that the instance is running and reachable (SSM agent online, host scripts installed), then look at it by hand.'],
      evidence: outputEvidence('snapshot', snapshotRun, clock.now()),
    };
    const decision: Decision = { kind: 'none', reason: 'no snapshot, no safe action' };
    return { target, incidentId, started, entries, diagnosis, decision, diagnosedMs: elapsed(), ...(options.firstErrorAt && { firstErrorAt: options.firstErrorAt }) };
  }
  const upstream = target.upstream ? parseUpstreamUrl(target.upstream) : undefined;
  const evidenceOf = (live: HostSnapshot): Evidence =>
    buildEvidence({
      instanceId: target.instanceId,
      app: target.app,
      ...(upstream && { upstream }),
      window: { start: window.start.toISOString(), end: window.end.toISOString() },
      snapshot: live,
      logs,
    });
  let evidence = evidenceOf(snapshot);
  let diagnosis = diagnose(evidence);
  // An app PM2 started seconds ago may not listen yet: nothing is proven. One more look once it has booted.
  if (diagnosis.cause === 'unknown' && startedWithin(snapshot, target.app, BOOT_GRACE_MS)) {
    say(`${target.app} started moments ago and may still be booting: looking again in ${BOOT_GRACE_MS / 1000} s`);
    await clock.sleep(BOOT_GRACE_MS);
    const again = readSnapshot(await deps.host.run(target.instanceId, 'snapshot', { ...target.snapshot, sections: 'full' }));
    if (typeof again !== 'string') {
      evidence = evidenceOf(again);
      diagnosis = diagnose(evidence);
    }
  }
  const diagnosedMs = elapsed();
  say(`diagnosed ${diagnosis.cause}: ${diagnosis.summary}`);
  const decision = await decideNow(target, diagnosis, evidence, deps, options);
  const firstErrorAt = options.firstErrorAt ?? firstGatewayError(evidence);
  const investigation = { target, incidentId, started, entries, evidence, diagnosis, decision, diagnosedMs, ...(firstErrorAt && { firstErrorAt }) };
  await deps.journal?.phase('diagnosing', reportOf(investigation, { action: { kind: decision.kind, executed: false, reason: decision.reason }, outcome: DRAFT }, clock.now()));
  return investigation;
}

/**
 * Carries out the decision: under the instance's lock, records the restart before issuing it (so a retry
 * never repeats it), then verifies until the app serves again, dies again, or the deadline passes.
 * The journal (incident record, Slack) follows each phase; the final report closes it.
 */
export async function remediate(investigation: Investigation, deps: RespondDeps, options: RespondOptions = {}): Promise<Report> {
  const report = await carryOut(investigation, deps, options);
  await deps.journal?.phase('closed', report);
  return report;
}

async function carryOut(investigation: Investigation, deps: RespondDeps, options: RespondOptions): Promise<Report> {
  const { clock, host } = deps;
  const { target, decision, evidence, started } = investigation;
  let diagnosis = investigation.diagnosis;
  const say = narrator(investigation.entries, deps);
  const elapsed = (): number => clock.now().getTime() - started.getTime();
  const finish = (parts: ReportParts): Report => reportOf({ ...investigation, diagnosis }, parts, clock.now());

  if (decision.kind === 'none' || !evidence) {
    say(`no action: ${decision.reason}`);
    return finish({ action: none(decision.reason), outcome: diagnosis.cause === 'healthy' ? 'healthy' : 'escalated' });
  }
  if (options.dryRun) {
    say(`dry run: would ${decision.kind} ${target.app} (${decision.reason})`);
    return finish({ action: { kind: decision.kind, executed: false, reason: decision.reason }, outcome: 'dry_run' });
  }

  const verifyDeadlineMs = options.verifyDeadlineMs ?? 60_000;
  const owner = investigation.incidentId;
  if (deps.state && !(await deps.state.acquireLock(target.instanceId, owner, options.lockTtlMs ?? verifyDeadlineMs + 60_000))) {
    const reason = 'another remediation of this instance is in progress';
    say(`no action: ${reason}`);
    return finish({ action: none(reason), outcome: 'escalated' });
  }
  try {
    // The decision read the restart history before the lock: another run may have restarted the app since (a
    // rolling fleet remediates minutes after investigating). Under the lock, the history is current.
    if (deps.state) {
      const current = await decideNow(target, diagnosis, evidence, deps, options);
      if (current.kind === 'none') {
        say(`no action: ${current.reason}`);
        return finish({ action: none(current.reason), outcome: 'escalated' });
      }
    }
    const issuing: ActionResult = { kind: decision.kind, executed: true, reason: decision.reason };
    await deps.state?.recordRestart(target.instanceId, clock.now().toISOString());
    await deps.journal?.phase('acting', finish({ action: issuing, outcome: DRAFT }));
    const before = evidence.snapshot.processes.find((process) => process.name === target.app);
    say(`${decision.kind === 'start' ? 'starting' : 'restarting'} ${target.app}: ${decision.reason}`);
    const actedAt = clock.now();
    const actedMs = actedAt.getTime() - started.getTime();
    const run = await host.run(target.instanceId, 'remediate', { ...target.remediate, action: decision.kind });
    if (!run.ok) {
      const error = run.error ?? `remediate ended with ${run.status}`;
      say(`${decision.kind} failed: ${error}`);
      diagnosis = { ...diagnosis, evidence: [...diagnosis.evidence, ...outputEvidence('remediate', run, clock.now())] };
      return finish({ action: { ...issuing, error }, outcome: 'escalated', actedMs });
    }

    say(`verifying: waiting for 3 consecutive good probes through nginx (deadline ${Math.round(verifyDeadlineMs / 1000)} s)`);
    await deps.journal?.phase('verifying', finish({ action: issuing, outcome: DRAFT, actedMs }));
    let state = startVerify({ app: target.app, actedAt: actedAt.toISOString(), ...(before && { restartTimeAtAction: before.restartTime }) });
    const deadline = clock.now().getTime() + verifyDeadlineMs;
    let last: HostSnapshot | undefined;
    // Users are served again from the first good poll of the streak; the following polls only confirm it.
    let servedSinceMs: number | undefined;
    while (clock.now().getTime() < deadline) {
      const poll = readSnapshot(await host.run(target.instanceId, 'snapshot', { ...target.snapshot, sections: 'probe' }));
      if (typeof poll !== 'string') {
        last = poll;
        const result = observe(state, poll);
        state = result.state;
        servedSinceMs = state.passes === 0 ? undefined : (servedSinceMs ?? elapsed());
        if (result.verdict === 'recovered') {
          const recoveredMs = servedSinceMs ?? elapsed();
          say(`recovered: ${target.app} serves through nginx again, ${(recoveredMs / 1000).toFixed(1)} s after the alarm`, 'probe');
          return finish({ action: issuing, outcome: 'recovered', actedMs, recoveredMs });
        }
        if (result.verdict === 'crash_loop') {
          diagnosis = crashLoopAfterRestart(diagnosis, target.app, poll);
          say(`${target.app} died again right after the ${decision.kind}: crash loop, no further restart`);
          return finish({ action: issuing, outcome: 'escalated', actedMs });
        }
      }
      await clock.sleep(options.pollIntervalMs ?? 250);
    }
    const probe = last?.probes.nginx;
    say(`not recovered within ${Math.round(verifyDeadlineMs / 1000)} s${probe ? ` (last probe through nginx: ${probe.status || probe.error})` : ''}`);
    return finish({ action: issuing, outcome: 'escalated', actedMs });
  } finally {
    await deps.state?.releaseLock(target.instanceId, owner).catch((error: unknown) => {
      deps.logger?.warn('could not release the lock', { error: String(error) });
    });
  }
}

/** The outcome of a draft report (journal phases before `closed`): not decided yet, so renderers say "in progress". */
const DRAFT: Outcome = 'pending';

interface ReportParts {
  readonly action: ActionResult;
  readonly outcome: Outcome;
  readonly actedMs?: number;
  readonly recoveredMs?: number;
}

function reportOf(investigation: Investigation, parts: ReportParts, now: Date): Report {
  const { target, evidence, started, entries } = investigation;
  return {
    instanceId: target.instanceId,
    app: target.app,
    incidentId: investigation.incidentId,
    startedAt: started.toISOString(),
    finishedAt: now.toISOString(),
    diagnosis: investigation.diagnosis,
    action: parts.action,
    outcome: parts.outcome,
    timeline: evidence ? buildTimeline(evidence, entries) : [...entries],
    gatewayErrors: evidence?.gatewayErrors ?? [],
    timings: {
      // A first error stamped after the start (clock skew between the host and here) counts as detected at once.
      ...(investigation.firstErrorAt && { detectedMs: Math.max(0, started.getTime() - investigation.firstErrorAt.getTime()) }),
      diagnosedMs: investigation.diagnosedMs,
      ...(parts.actedMs !== undefined && { actedMs: parts.actedMs }),
      ...(parts.recoveredMs !== undefined && { recoveredMs: parts.recoveredMs }),
    },
    skippedLines: evidence?.skippedLines ?? 0,
  };
}

/** The earliest gateway error in the evidence's window (nginx stamps whole seconds), if there is one. */
function firstGatewayError(evidence: Evidence): Date | undefined {
  const times = evidence.access.filter((entry) => isGatewayError(entry.status)).map((entry) => Date.parse(entry.at));
  return times.length > 0 ? new Date(Math.min(...times)) : undefined;
}

/** How long an app may take to boot before "online but nothing listens" means something. */
const BOOT_GRACE_MS = 3_000;

/** Whether PM2 started the app less than `ms` before the snapshot was taken. */
function startedWithin(snapshot: HostSnapshot, app: string, ms: number): boolean {
  const startedAt = snapshot.processes.find((process) => process.name === app)?.startedAt;
  return startedAt !== undefined && Date.parse(snapshot.takenAt) - Date.parse(startedAt) < ms;
}

/** The policy's decision with the instance's restart history as the state store has it now. */
async function decideNow(target: RespondTarget, diagnosis: Diagnosis, evidence: Evidence, deps: RespondDeps, options: RespondOptions): Promise<Decision> {
  return decide({
    diagnosis,
    evidence,
    now: deps.clock.now(),
    restarts: (await deps.state?.restarts(target.instanceId)) ?? [],
    budget: options.budget ?? DEFAULT_BUDGET,
    hasEcosystem: target.remediate.ecosystem !== undefined,
  });
}

/** Records a responder timeline entry and shows it live; a failing display never stops the response. */
function narrator(entries: TimelineEntry[], deps: RespondDeps): (message: string, source?: Source) => void {
  return (message, source = 'responder') => {
    const entry = { at: deps.clock.now().toISOString(), source, message };
    entries.push(entry);
    try {
      deps.progress?.step(entry);
    } catch (error) {
      deps.logger?.warn('progress reporting failed', { error: String(error) });
    }
  };
}

function none(reason: string): ActionResult {
  return { kind: 'none', executed: false, reason };
}

/** A parsed snapshot, or a sentence saying why there is none. */
function readSnapshot(run: HostRunResult): HostSnapshot | string {
  if (!run.ok) return `snapshot failed: ${run.error ?? run.status}`;
  try {
    return parseSnapshot(run.stdout);
  } catch (error) {
    return `snapshot unreadable: ${errorText(error)}`;
  }
}

function crashLoopAfterRestart(previous: Diagnosis, app: string, snapshot: HostSnapshot): Diagnosis {
  const process = snapshot.processes.find((candidate) => candidate.name === app);
  return {
    cause: 'crash_loop',
    summary: `${app} died again within seconds of the restart (first diagnosed as ${previous.cause}): it is crash-looping, and another restart would not help.`,
    advice: [
      `Read the app's error output: pm2 logs ${app} --err --lines 50`,
      'Look at what changed last (deploy, configuration, environment, a dependency such as the database).',
      'Reflex will not restart it again; fix the cause, then pm2 restart it by hand.',
      ...previous.advice,
    ],
    evidence: [
      ...(process
        ? [{ source: 'pm2' as const, at: snapshot.takenAt, text: `${app} status ${process.status}, ${process.restartTime} restarts` }]
        : []),
      ...previous.evidence,
    ],
    // Why it died the first time: the restart changed nothing about it.
    ...(previous.appError && { appError: previous.appError }),
  };
}

/** A failed host script's last output lines (bounded, redacted): what PM2 or the shell said went wrong. */
function outputEvidence(script: HostScript, run: HostRunResult, at: Date): EvidenceLine[] {
  if (run.ok) return [];
  return outputTail(run).map((line) => ({ source: 'responder' as const, at: at.toISOString(), text: `${script} output: ${line}` }));
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
