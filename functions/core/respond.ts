/**
 * The use case: one incident on one instance. Gather → diagnose → decide → act → verify → report.
 * Everything it touches goes through ports, so local mode and Lambda run this same code.
 */
import { diagnose } from './diagnosis/index.ts';
import { buildEvidence, isGatewayError, parseSnapshot, parseUpstreamUrl, parseVerifyLines } from './evidence/index.ts';
import { parseAnswer } from './approval.ts';
import { DEFAULT_APPROVAL_MINUTES, modeFor, type Modes } from './modes.ts';
import { DEFAULT_BUDGET, decide, type PolicyDecision, type RestartBudget } from './policy.ts';
import { inProcess, StepInterrupted, type Checkpoints } from './checkpoints.ts';
import type { Clock, CoreLogger, Delivery, FleetJournal, HostParams, HostRunResult, HostRunner, HostScript, IncidentJournal, LogSource, Progress, StateStore } from './ports.ts';
import { outputTail } from './redact.ts';
import { buildTimeline } from './timeline.ts';
import type { ActionResult, Approval, Decision, Diagnosis, Evidence, EvidenceLine, HostSnapshot, Outcome, Person, Report, Source, TimelineEntry } from './types.ts';
import { observationOf, observe, startVerify, type Observation, type VerifyVerdict } from './verify.ts';

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
  /** Where the incident's progress is kept: the durable execution in Lambda; default: this process. */
  readonly checkpoints?: Checkpoints;
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
  /** Per cause: act (`auto`, the default), ask a person first (`approve`), or only report (`observe`). */
  readonly modes?: Modes;
  /** How long a proposal (approve, or "restart anyway") waits for an answer. Default 15 min. */
  readonly approvalMs?: number;
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
  /** When the investigation began (ISO): step results are JSON, so times are strings. */
  readonly startedAt: string;
  /** The responder's own timeline entries so far; `remediate` appends to it. */
  readonly entries: TimelineEntry[];
  /** Undefined when no snapshot could be taken. */
  readonly evidence?: Evidence;
  readonly diagnosis: Diagnosis;
  readonly decision: Decision;
  readonly diagnosedMs: number;
  /** The incident's first gateway error (ISO), when one is known: where `timings.detectedMs` starts. */
  readonly firstErrorAt?: string;
}

/**
 * Handles one incident: investigate, then remediate. Never throws for what happens on the host
 * (failed scripts, unreachable instances): those end as an `escalated` report.
 */
export async function respond(target: RespondTarget, deps: RespondDeps, options: RespondOptions = {}): Promise<Report> {
  const checkpoints = deps.checkpoints ?? inProcess(deps.clock);
  const investigation = await checkpoints.step('investigate', () => investigate(target, { ...deps, checkpoints }, options));
  const closed = await remediateAndClose(investigation, { ...deps, checkpoints }, options);
  // "Restart anyway": a person who can answer here may override the refusal.
  return ((await offerOverride(investigation, closed, { ...deps, checkpoints }, options)) ?? closed).report;
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
    return { target, incidentId, startedAt: started.toISOString(), entries, diagnosis, decision, diagnosedMs: elapsed(), ...(options.firstErrorAt && { firstErrorAt: options.firstErrorAt.toISOString() }) };
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
  const investigation = { target, incidentId, startedAt: started.toISOString(), entries, evidence, diagnosis, decision, diagnosedMs, ...(firstErrorAt && { firstErrorAt: firstErrorAt.toISOString() }) };
  await deps.journal?.phase('diagnosing', reportOf(investigation, { action: { kind: decision.kind, executed: false, reason: decision.reason }, outcome: DRAFT }, clock.now()));
  return investigation;
}

/**
 * Carries out the decision: under the instance's lock, records the restart before issuing it (so a retry
 * never repeats it), then verifies until the app serves again, dies again, or the deadline passes.
 * The journal (incident record, Slack) follows each phase; the final report closes it.
 * Each side effect is a step of `deps.checkpoints`: a replay after a cut-off repeats none of them.
 */
export async function remediate(investigation: Investigation, deps: RespondDeps, options: RespondOptions = {}): Promise<Report> {
  return (await remediateAndClose(investigation, deps, options)).report;
}

/** remediate, and how the `closed` phase reached Slack (a replay returns what the first run saw). */
export async function remediateAndClose(
  investigation: Investigation,
  deps: RespondDeps,
  options: RespondOptions = {},
  forced?: Forced,
): Promise<Closed> {
  const checkpoints = deps.checkpoints ?? inProcess(deps.clock);
  const entries = [...investigation.entries];
  const ending = await carryOut({ ...investigation, entries }, { ...deps, checkpoints }, options, forced);
  return checkpoints.step('close', async () => {
    const last: TimelineEntry[] = [];
    if (ending.message) narrator(last, deps)(ending.message, ending.source);
    const report = reportOf({ ...investigation, entries: [...entries, ...last], diagnosis: ending.diagnosis }, ending.parts, deps.clock.now());
    await deps.journal?.phase('closed', report);
    const slack = deps.journal && 'slackDelivery' in deps.journal ? (deps.journal as FleetJournal).slackDelivery : undefined;
    return { report, ...(slack && { slack }), ...(ending.overridable && { overridable: ending.overridable }) };
  });
}

/** A closed incident: its report, how Slack took it, and the action a person may still ask for ("restart anyway"). */
export interface Closed {
  readonly report: Report;
  readonly slack?: Delivery;
  readonly overridable?: 'restart' | 'start';
}

/** An action a person asked for ("restart anyway"): done whatever the mode and the budget say, under the lock. */
interface Forced {
  readonly decision: Decision;
  readonly approval: Approval;
}

/**
 * "Restart anyway": offers the action Reflex refused (budget spent, crash loop) to the people who may answer, and
 * does it on a click, before the offer expires. Returns the new closed incident, or undefined when nobody took the
 * offer (the message then says dismissed or expired) or nobody can answer here.
 */
export async function offerOverride(investigation: Investigation, closed: Closed, deps: RespondDeps, options: RespondOptions = {}): Promise<Closed | undefined> {
  const journal = deps.journal;
  if (!closed.overridable) return undefined;
  const checkpoints = deps.checkpoints ?? inProcess(deps.clock);
  // A step, as in act(): a replay must make the offer only if the first invocation did.
  if (!journal || !(await checkpoints.step('can-offer', async () => journal.propose !== undefined))) return undefined;
  const action = closed.overridable;
  const reason = closed.report.action.reason;
  const asked = await askPerson('override', action, closed.report, { ...deps, journal, checkpoints }, options);
  if (!asked.approved) {
    await checkpoints.step('override-closed', async () => {
      await journal.phase('closed', { ...closed.report, approval: asked.approval, timeline: mergeEntries(closed.report.timeline, asked.told) });
    });
    return undefined;
  }
  const who = personText(asked.approval.approvedBy!);
  const forced: Forced = { decision: { kind: action, reason: `${action} anyway, approved by ${who} (Reflex had refused: ${reason})` }, approval: asked.approval };
  return remediateAndClose({ ...investigation, entries: [...investigation.entries, ...asked.told] }, { ...deps, checkpoints }, options, forced);
}

/** How the action ended: the report's parts, the diagnosis (a crash loop replaces it), the last thing to say. */
interface Ending {
  readonly parts: ReportParts;
  readonly diagnosis: Diagnosis;
  readonly message?: string;
  readonly source?: Source;
  /** The action Reflex refused here that a person may still ask for ("restart anyway"). */
  readonly overridable?: 'restart' | 'start';
}

/** The longest remediate.sh verifies on the host: past it, durable waits between light snapshots (no compute billed). */
export const HOST_VERIFY_MAX_MS = 30_000;

async function carryOut(investigation: Investigation, deps: RespondDeps & { checkpoints: Checkpoints }, options: RespondOptions, forced?: Forced): Promise<Ending> {
  // The proposal's audit trail goes into every report from the moment it exists, drafts and the final one alike.
  const asked: { approval?: Approval } = forced ? { approval: forced.approval } : {};
  const ending = await act(investigation, deps, options, asked, forced);
  return asked.approval && !ending.parts.approval ? { ...ending, parts: { ...ending.parts, approval: asked.approval } } : ending;
}

async function act(
  investigation: Investigation,
  deps: RespondDeps & { checkpoints: Checkpoints },
  options: RespondOptions,
  asked: { approval?: Approval },
  forced?: Forced,
): Promise<Ending> {
  const { clock, host, checkpoints } = deps;
  const { target, evidence, entries } = investigation;
  const decision = forced?.decision ?? investigation.decision;
  const started = Date.parse(investigation.startedAt);
  const diagnosis = investigation.diagnosis;
  const draft = (parts: ReportParts): Report => reportOf(investigation, { ...parts, ...(asked.approval && { approval: asked.approval }) }, clock.now());
  const step = <T>(name: string, fn: (say: Say) => Promise<T>): Promise<T> => stepSaying(checkpoints, name, entries, deps, fn);

  if (decision.kind === 'none' || !evidence) {
    const overridable = overridableAction(diagnosis, decision);
    return {
      diagnosis,
      parts: { action: none(decision.reason), outcome: diagnosis.cause === 'healthy' ? 'healthy' : 'escalated' },
      message: `no action: ${decision.reason}`,
      ...(overridable && { overridable }),
    };
  }
  if (options.dryRun) {
    return {
      diagnosis,
      parts: { action: { kind: decision.kind, executed: false, reason: decision.reason }, outcome: 'dry_run' },
      message: `dry run: would ${decision.kind} ${target.app} (${decision.reason})`,
    };
  }
  // A step: whether anyone can answer depends on this invocation's Slack settings (read at cold start), and a replay
  // must take the branch the first invocation took.
  const mode = forced ? 'auto' : modeFor(options.modes, diagnosis.cause);
  const canAsk = mode === 'approve' && (await checkpoints.step('can-ask', async () => deps.journal?.propose !== undefined));
  if (mode === 'observe' || (mode === 'approve' && !canAsk)) {
    const why = mode === 'observe' ? 'observe mode' : 'approve mode, but nobody can answer here (it needs a Slack bot token, or a terminal): observing';
    return {
      diagnosis,
      parts: { action: { kind: decision.kind, executed: false, reason: decision.reason }, outcome: 'dry_run' },
      message: `${why}: would ${decision.kind} ${target.app} (${decision.reason})`,
    };
  }
  if (mode === 'approve') {
    const proposal = draft({ action: { kind: decision.kind, executed: false, reason: decision.reason }, outcome: DRAFT });
    const answer = await askPerson('approve', decision.kind, proposal, { ...deps, journal: deps.journal!, checkpoints }, options);
    entries.push(...answer.told);
    asked.approval = answer.approval;
    if (!answer.approved) return { diagnosis, parts: { action: none(answer.reason), outcome: 'escalated' } };
  }

  const verifyDeadlineMs = options.verifyDeadlineMs ?? 60_000;
  const owner = investigation.incidentId;
  const lock = await step('lock', async () => {
    if (deps.state && !(await deps.state.acquireLock(target.instanceId, owner, options.lockTtlMs ?? verifyDeadlineMs + 60_000))) {
      return { locked: false, refusal: 'another remediation of this instance is in progress' };
    }
    // The decision read the restart history before the lock: another run may have restarted the app since (a
    // fleet remediates its later waves minutes after investigating). Under the lock, the history is current.
    // A person's "restart anyway" is the decision: the budget refused already, and that person overrode it.
    const current = deps.state && !forced ? await decideNow(target, diagnosis, evidence, deps, options) : decision;
    const overridable = current.kind === 'none' ? overridableAction(diagnosis, current) : undefined;
    return { locked: deps.state !== undefined, ...(current.kind === 'none' && { refusal: current.reason }), ...(overridable && { overridable }) };
  });
  try {
    if (lock.refusal !== undefined) {
      return { diagnosis, parts: { action: none(lock.refusal), outcome: 'escalated' }, message: `no action: ${lock.refusal}`, ...(lock.overridable && { overridable: lock.overridable }) };
    }
    const issuing: ActionResult = { kind: decision.kind, executed: true, reason: decision.reason };
    const actedAt = await step('record', async (say) => {
      await deps.state?.recordRestart(target.instanceId, clock.now().toISOString());
      await deps.journal?.phase('acting', draft({ action: issuing, outcome: DRAFT }));
      say(`${decision.kind === 'start' ? 'starting' : 'restarting'} ${target.app}: ${decision.reason}`);
      return clock.now().toISOString();
    });
    const actedMs = Date.parse(actedAt) - started;
    const deadline = Date.parse(actedAt) + verifyDeadlineMs;
    const before = evidence.snapshot.processes.find((process) => process.name === target.app);
    // A pid proven hung is killed at once (remediate.sh checks PM2 still runs it as the app): PM2's kill_timeout
    // would wait for a SIGINT that a blocked event loop never handles.
    const hungPid = diagnosis.cause === 'app_hung' && before && before.pid > 0 ? String(before.pid) : undefined;
    const params = {
      ...target.remediate,
      action: decision.kind,
      ...(target.snapshot.healthUrl && { healthUrl: target.snapshot.healthUrl, verifySeconds: String(Math.ceil(Math.min(verifyDeadlineMs, HOST_VERIFY_MAX_MS) / 1000)) }),
      ...(hungPid && { hungPid }),
    };

    let issued: { run: HostRunResult; endedAt: string } | undefined;
    try {
      issued = await stepSaying(checkpoints, 'issue', entries, deps, async () => ({ run: await host.run(target.instanceId, 'remediate', params), endedAt: clock.now().toISOString() }), true);
    } catch (error) {
      if (!(error instanceof StepInterrupted)) throw error;
    }
    if (issued && !issued.run.ok) {
      const { run } = issued;
      const error = run.error ?? `remediate ended with ${run.status}`;
      const withOutput = { ...diagnosis, evidence: [...diagnosis.evidence, ...outputEvidence('remediate', run, new Date(issued.endedAt))] };
      // A command that never left (throttled, refused) changed nothing: not executed, and no reason to halt a rollout.
      const action = run.notRun ? { ...issuing, executed: false, error } : { ...issuing, error };
      return { diagnosis: withOutput, parts: { action, outcome: 'escalated', actedMs }, message: `${decision.kind} ${run.notRun ? 'not sent' : 'failed'}: ${error}` };
    }

    // The script's own verification first (one SSM round trip for the action and its proof), then light snapshots.
    let state = startVerify({ app: target.app, actedAt, ...(before && { restartTimeAtAction: before.restartTime }) });
    let servedSince: string | undefined;
    let last: Observation | undefined;
    const fold = (observation: Observation): VerifyVerdict => {
      last = observation;
      const result = observe(state, observation);
      state = result.state;
      servedSince = state.passes === 0 ? undefined : (servedSince ?? observation.at);
      return result.verdict;
    };
    const onHost = issued ? parseVerifyLines(issued.run.stdout) : { observations: [] };
    let verdict: VerifyVerdict = 'pending';
    for (const observation of onHost.observations) {
      verdict = fold(observation);
      if (verdict !== 'pending') break;
    }
    let now = issued ? Date.parse(issued.endedAt) : Date.parse(actedAt);
    if (verdict === 'pending' && now < deadline) {
      await step('verifying', async (say) => {
        if (!issued) say(`the ${decision.kind} was issued, but its result was lost when the run was cut off: verifying from here`);
        say(`verifying: waiting for ${state.requiredPasses} consecutive good probes through nginx (deadline ${Math.round(verifyDeadlineMs / 1000)} s)`);
        await deps.journal?.phase('verifying', draft({ action: issuing, outcome: DRAFT, actedMs }));
      });
      for (let poll = 1; verdict === 'pending' && now < deadline; poll++) {
        if (poll > 1) await checkpoints.wait(`verify-wait-${poll}`, options.pollIntervalMs ?? 250);
        const seen = await step(`verify-${poll}`, async () => {
          const snapshot = readSnapshot(await host.run(target.instanceId, 'snapshot', { ...target.snapshot, sections: 'probe' }));
          return { observation: typeof snapshot === 'string' ? undefined : observationOf(snapshot, target.app), at: clock.now().toISOString() };
        });
        now = Date.parse(seen.at);
        if (seen.observation) verdict = fold(seen.observation);
      }
    }
    const afterAction = last ? [observationEvidence(target.app, last)] : [];
    const proven = { ...diagnosis, evidence: [...diagnosis.evidence, ...afterAction] };
    if (verdict === 'recovered') {
      const recoveredMs = Date.parse(servedSince ?? new Date(now).toISOString()) - started;
      return {
        diagnosis: proven,
        parts: { action: issuing, outcome: 'recovered', actedMs, recoveredMs },
        message: `recovered: ${target.app} serves through nginx again, ${(recoveredMs / 1000).toFixed(1)} s after the alarm`,
        source: 'probe',
      };
    }
    if (verdict === 'crash_loop') {
      return {
        diagnosis: crashLoopAfterRestart(diagnosis, target.app, last, state.reason),
        parts: { action: issuing, outcome: 'escalated', actedMs },
        message: `${target.app} died again right after the ${decision.kind}: crash loop, no further restart`,
        // Unless a person, having looked, asks for one; not again after that person's own restart.
        ...(!forced && { overridable: 'restart' as const }),
      };
    }
    const probe = last?.nginx;
    const lastProbe = probe ? ` (last probe through nginx: ${probe.status || probe.error})` : '';
    return { diagnosis: proven, parts: { action: issuing, outcome: 'escalated', actedMs }, message: `not recovered within ${Math.round(verifyDeadlineMs / 1000)} s${lastProbe}` };
  } finally {
    if (lock.locked) {
      await step('unlock', async () => {
        await deps.state?.releaseLock(target.instanceId, owner).catch((error: unknown) => {
          deps.logger?.warn('could not release the lock', { error: String(error) });
        });
      });
    }
  }
}

type Say = (message: string, source?: Source) => void;

/** What a person answered to one proposal, as the report records it; `told`: the timeline entries it made. */
interface Asked {
  readonly approved: boolean;
  readonly approval: Approval;
  readonly reason: string;
  readonly told: TimelineEntry[];
}

/**
 * Puts a proposal in front of a person (the journal's `propose`: Slack buttons, or the terminal) and waits for the
 * answer, at most the approval time: a durable wait for a callback in Lambda, which bills nothing while it waits.
 */
async function askPerson(
  kind: 'approve' | 'override',
  action: 'restart' | 'start',
  report: Report,
  deps: RespondDeps & { checkpoints: Checkpoints; journal: IncidentJournal },
  options: RespondOptions,
): Promise<Asked> {
  const { checkpoints, clock, journal } = deps;
  const approvalMs = options.approvalMs ?? DEFAULT_APPROVAL_MINUTES * 60_000;
  const what = `${action} ${report.app} on ${report.instanceId}`;
  const told: TimelineEntry[] = [];
  const proposed = await stepSaying(checkpoints, `${kind}-proposed`, told, deps, async (say) => {
    const now = clock.now();
    const expiresAt = new Date(now.getTime() + approvalMs).toISOString();
    say(kind === 'approve' ? `asking for approval to ${what} (until ${expiresAt.slice(11, 19)}Z)` : `offering to ${what} anyway (until ${expiresAt.slice(11, 19)}Z)`);
    return { proposedAt: now.toISOString(), expiresAt };
  });
  const approval: Approval = { kind, action, ...proposed };
  const proposal = { ...report, approval, timeline: mergeEntries(report.timeline, told) };
  const text = await checkpoints.callback(`${kind}-answer`, async (callbackId) => journal.propose?.(proposal, callbackId), approvalMs);
  const answer = parseAnswer(text);
  const result = await stepSaying(checkpoints, `${kind}-answered`, told, deps, async (say): Promise<Omit<Asked, 'told'>> => {
    if (!answer) {
      const reason = text === undefined ? `nobody answered before ${proposed.expiresAt}: nothing was done` : 'the answer could not be read: nothing was done';
      say(reason);
      return { approved: false, approval: { ...approval, ...(text === undefined && { expired: true }) }, reason };
    }
    const who = personText(answer.by);
    if (answer.decision === 'dismiss') {
      const reason = `dismissed by ${who}: nothing was done`;
      say(reason);
      return { approved: false, approval: { ...approval, dismissedBy: answer.by, dismissedAt: answer.at }, reason };
    }
    say(`approved by ${who}: ${what}`);
    return { approved: true, approval: { ...approval, approvedBy: answer.by, approvedAt: answer.at }, reason: `approved by ${who}` };
  });
  return { ...result, told };
}

/** A person as the timeline names them: `@name` when Slack gave one, else the id (or `terminal`). */
function personText(person: Person): string {
  return person.name ? `@${person.name}` : person.id;
}

/** `timeline` with `more` added in time order. */
function mergeEntries(timeline: readonly TimelineEntry[], more: readonly TimelineEntry[]): TimelineEntry[] {
  return [...timeline, ...more].sort((a, b) => a.at.localeCompare(b.at));
}

/**
 * What a person may still ask for after Reflex refused to act: the restart the budget refused (budget spent, or too
 * soon after the last), or a restart of a crash-looping app. Never for causes a restart cannot fix.
 */
function overridableAction(diagnosis: Diagnosis, decision: Decision): 'restart' | 'start' | undefined {
  const refused = decision as PolicyDecision;
  if (refused.refusedBy && refused.wanted) return refused.wanted;
  return diagnosis.cause === 'crash_loop' ? 'restart' : undefined;
}

/**
 * A step whose timeline entries are part of its result: they are shown live the first time, and a replay puts the
 * recorded ones back in `entries`, so the report tells the same story after a cut-off.
 */
async function stepSaying<T>(checkpoints: Checkpoints, name: string, entries: TimelineEntry[], deps: RespondDeps, fn: (say: Say) => Promise<T>, once = false): Promise<T> {
  const run = async (): Promise<{ value: T; told: TimelineEntry[] }> => {
    const told: TimelineEntry[] = [];
    const value = await fn(narrator(told, deps));
    return { value, told };
  };
  const { value, told } = await (once ? checkpoints.once(name, run) : checkpoints.step(name, run));
  entries.push(...told);
  return value;
}

/** What the last look after the action saw, as evidence. */
function observationEvidence(app: string, observation: Observation): EvidenceLine {
  const process = observation.app ? `${app} ${observation.app.status} (pid ${observation.app.pid}, ${observation.app.restartTime} restarts)` : `${app} not in PM2's list`;
  const probe = observation.nginx ? (observation.nginx.status > 0 ? `HTTP ${observation.nginx.status} in ${Math.round(observation.nginx.timeMs)} ms` : `no answer (${observation.nginx.error ?? 'error'})`) : 'not probed';
  return { source: 'probe', at: observation.at, text: `after the action: ${observation.pm2Ok ? process : 'PM2 daemon not answering'}; through nginx: ${probe}` };
}

/** The outcome of a draft report (journal phases before `closed`): not decided yet, so renderers say "in progress". */
const DRAFT: Outcome = 'pending';

interface ReportParts {
  readonly action: ActionResult;
  readonly outcome: Outcome;
  readonly approval?: Approval;
  readonly actedMs?: number;
  readonly recoveredMs?: number;
}

function reportOf(investigation: Investigation, parts: ReportParts, now: Date): Report {
  const { target, evidence, startedAt, entries } = investigation;
  return {
    instanceId: target.instanceId,
    app: target.app,
    incidentId: investigation.incidentId,
    startedAt,
    finishedAt: now.toISOString(),
    diagnosis: investigation.diagnosis,
    action: parts.action,
    outcome: parts.outcome,
    timeline: evidence ? buildTimeline(evidence, entries) : [...entries],
    gatewayErrors: evidence?.gatewayErrors ?? [],
    timings: {
      // A first error stamped after the start (clock skew between the host and here) counts as detected at once.
      ...(investigation.firstErrorAt && { detectedMs: Math.max(0, Date.parse(startedAt) - Date.parse(investigation.firstErrorAt)) }),
      diagnosedMs: investigation.diagnosedMs,
      ...(parts.actedMs !== undefined && { actedMs: parts.actedMs }),
      ...(parts.recoveredMs !== undefined && { recoveredMs: parts.recoveredMs }),
    },
    skippedLines: evidence?.skippedLines ?? 0,
    ...(parts.approval && { approval: parts.approval }),
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

function crashLoopAfterRestart(previous: Diagnosis, app: string, seen: Observation | undefined, why: string | undefined): Diagnosis {
  const process = seen?.app;
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
      ...(seen && process ? [{ source: 'pm2' as const, at: seen.at, text: `${app} status ${process.status}, ${process.restartTime} restarts${why ? `: ${why}` : ''}` }] : []),
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
