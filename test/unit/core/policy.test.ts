import { describe, expect, it } from 'vitest';
import { diagnose } from '../../../functions/core/diagnosis/index.ts';
import { DEFAULT_BUDGET, decide, isBudgetRefusal, type PolicyInput } from '../../../functions/core/policy.ts';
import type { Cause, Diagnosis, Evidence } from '../../../functions/core/types.ts';
import { InputError } from '../../../functions/core/validate.ts';
import { evidenceOf, oomLine, pm2Item, pm2LogLine, probeLine } from './evidence-builder.ts';

const NOW = new Date('2026-11-24T10:05:30.000Z');
const NGINX_502 = probeLine('http://127.0.0.1:8080/', 502, 0.004);
const UPSTREAM_REFUSED = probeLine('http://127.0.0.1:3000/', 0, 0.001, 7);

/** A crashed app: the one restart case every budget test starts from. */
function crashedEvidence(): Evidence {
  return evidenceOf({
    pm2: [pm2Item({ pid: 0, status: 'stopped', exitCode: 1 })],
    listeners: [],
    probeNginx: NGINX_502,
    probeUpstream: UPSTREAM_REFUSED,
    pm2Log: [pm2LogLine('10:00:00', 'App [web:0] exited with code [1] via signal [SIGINT]')],
  });
}

function input(evidence: Evidence, changes: Partial<PolicyInput> = {}): PolicyInput {
  return { diagnosis: diagnose(evidence), evidence, now: NOW, restarts: [], budget: { ...DEFAULT_BUDGET }, hasEcosystem: true, ...changes };
}

/** A diagnosis of the given cause over healthy evidence, for the causes whose decision reads only the cause. */
function withCause(cause: Cause): PolicyInput {
  const evidence = evidenceOf();
  const diagnosis: Diagnosis = { cause, summary: 'test', advice: [], evidence: [] };
  return input(evidence, { diagnosis });
}

describe('decide', () => {
  it('restarts what a restart can fix', () => {
    // Prepare
    const causes: Cause[] = ['process_crashed', 'process_stopped', 'app_hung'];

    // Act
    const kinds = causes.map((cause) => decide(withCause(cause)).kind);

    // Assess
    expect(kinds).toEqual(['restart', 'restart', 'restart']);
  });

  it('never acts on a crash loop, a wrong port or address, a slow app, a healthy app or a guess', () => {
    // Prepare
    const causes: Cause[] = ['crash_loop', 'port_mismatch', 'proxy_misconfig', 'upstream_timeout', 'healthy', 'unknown'];

    // Act
    const decisions = causes.map((cause) => decide(withCause(cause)));

    // Assess
    expect(decisions.map((decision) => decision.kind)).toEqual(['none', 'none', 'none', 'none', 'none', 'none']);
    expect(decisions[0]?.reason).toContain('never fights a crash loop');
    expect(decisions[3]?.reason).toContain('drop in-flight requests');
    expect(decisions.every((decision) => decision.reason.length > 20)).toBe(true);
  });

  it('never acts on an orphan on the port, too big headers or the keep-alive race, and says why', () => {
    // Prepare
    const causes: Cause[] = ['port_in_use', 'header_too_big', 'keepalive_race'];

    // Act
    const decisions = causes.map((cause) => decide(withCause(cause)));

    // Assess
    expect(decisions.map((decision) => decision.kind)).toEqual(['none', 'none', 'none']);
    expect(decisions[0]?.reason).toContain('never kills a process it did not start through PM2');
    expect(decisions[1]?.reason).toContain('proxy_buffer_size');
    expect(decisions[2]?.reason).toContain('keep-alive timeouts');
  });

  it('does not restart a crash its own output says a restart cannot fix', () => {
    // Prepare
    const evidence = crashedEvidence();
    const crashed = (kind: 'missing_build' | 'heap_exhausted'): PolicyInput =>
      input(evidence, { diagnosis: { ...diagnose(evidence), appError: { kind, text: 'Error: …' } } });

    // Act
    const [missingBuild, heap] = [decide(crashed('missing_build')), decide(crashed('heap_exhausted'))];

    // Assess
    expect(missingBuild.kind).toBe('none');
    expect(missingBuild.reason).toContain('missing_build');
    expect(heap.kind).toBe('restart');
  });

  it('starts a missing app only when an ecosystem file is known', () => {
    // Prepare
    const evidence = evidenceOf({ pm2: [], appPids: [], listeners: [], probeNginx: NGINX_502, probeUpstream: UPSTREAM_REFUSED });

    // Act
    const withEcosystem = decide(input(evidence, { hasEcosystem: true }));
    const without = decide(input(evidence, { hasEcosystem: false }));

    // Assess
    expect(withEcosystem.kind).toBe('start');
    expect(without.kind).toBe('none');
    expect(without.reason).toContain('no ecosystem file is configured');
    expect(without.reason).toContain('pm2 save');
  });

  it("starts a missing app from PM2's saved list when no ecosystem file is configured", () => {
    // Prepare
    const down = { pm2: [], appPids: [], listeners: [], probeNginx: NGINX_502, probeUpstream: UPSTREAM_REFUSED };
    const saved = evidenceOf({ ...down, pm2Saved: 'api web' });
    const savedOthers = evidenceOf({ ...down, pm2Saved: 'api' });

    // Act
    const fromDump = decide(input(saved, { hasEcosystem: false }));
    const notSaved = decide(input(savedOthers, { hasEcosystem: false }));

    // Assess
    expect(fromDump.kind).toBe('start');
    expect(fromDump.reason).toContain('saved process list');
    expect(notSaved.kind).toBe('none');
  });

  it('restarts after an OOM kill only while the app is still down; back online but failing is another story', () => {
    // Prepare
    const kill = { kernelLines: [oomLine('10:00:59', 6957)] };
    const sigkill = pm2LogLine('10:01:00', 'App [web:0] exited with code [null] via signal [SIGKILL]');
    const back = evidenceOf({ pm2: [pm2Item({ pid: 7100, restartTime: 1 })], appPids: [7100], pm2Log: [sigkill] }, kill);
    const down = evidenceOf({ pm2: [pm2Item({ pid: 0, status: 'stopped', exitCode: null })], listeners: [], probeNginx: NGINX_502, probeUpstream: UPSTREAM_REFUSED, pm2Log: [sigkill] }, kill);
    const onlineButFailing = evidenceOf({ pm2: [pm2Item({ pid: 7100, restartTime: 1 })], appPids: [7100], probeNginx: NGINX_502, pm2Log: [sigkill] }, kill);

    const inputs = [back, down, onlineButFailing].map((evidence) => input(evidence));

    // Act
    const decisions = inputs.map((each) => decide(each));

    // Assess
    expect(inputs.map((each) => each.diagnosis.cause)).toEqual(['oom_killed', 'oom_killed', 'unknown']);
    expect(decisions.map((decision) => decision.kind)).toEqual(['none', 'restart', 'none']);
    expect(decisions[0]?.reason).toContain('PM2 already brought web back');
  });

  it('refuses once the hourly budget is spent, and names when the restarts were', () => {
    // Prepare
    const restarts = ['2026-11-24T09:20:00.000Z', '2026-11-24T09:40:00.000Z', '2026-11-24T09:55:00.000Z'];

    // Act
    const decision = decide(input(crashedEvidence(), { restarts }));

    // Assess
    expect(decision.kind).toBe('none');
    expect(decision.refusedBy).toBe('budget');
    expect(isBudgetRefusal(decision)).toBe(true);
    expect(decision.reason).toContain('restart budget spent: 3 restarts in the last hour (at 09:20:00Z, 09:40:00Z, 09:55:00Z)');
  });

  it('refuses a restart too soon after the last one', () => {
    // Prepare
    const restarts = ['2026-11-24T10:03:10.000Z'];

    // Act
    const decision = decide(input(crashedEvidence(), { restarts }));

    // Assess
    expect(decision.kind).toBe('none');
    expect(decision.refusedBy).toBe('spacing');
    expect(decision.reason).toContain('last restart 2 min ago; at least 5 min apart');
  });

  it('forgets restarts older than an hour and allows one 5 minutes after the last', () => {
    // Prepare
    const restarts = ['2026-11-24T08:00:00.000Z', '2026-11-24T08:30:00.000Z', '2026-11-24T09:00:00.000Z', '2026-11-24T10:00:30.000Z'];

    // Act
    const decision = decide(input(crashedEvidence(), { restarts }));

    // Assess
    expect(decision.kind).toBe('restart');
    expect(isBudgetRefusal(decision)).toBe(false);
  });

  it('honours a custom budget, and applies none to decisions that do not act', () => {
    // Prepare
    const restarts = ['2026-11-24T09:50:00.000Z'];

    // Act
    const strict = decide(input(crashedEvidence(), { restarts, budget: { maxRestartsPerHour: 1, minMinutesBetweenRestarts: 0 } }));
    const healthy = decide(input(evidenceOf(), { restarts: [...restarts, ...restarts, ...restarts] }));

    // Assess
    expect(strict.refusedBy).toBe('budget');
    expect(strict.reason).toContain('1 restart in the last hour');
    expect(healthy.kind).toBe('none');
    expect(healthy.refusedBy).toBeUndefined();
  });

  it('rejects a budget that makes no sense, naming the field', () => {
    // Prepare
    const bad = input(crashedEvidence(), { budget: { maxRestartsPerHour: -1, minMinutesBetweenRestarts: 5 } });

    // Act
    const act = (): unknown => decide(bad);

    // Assess
    expect(act).toThrow(InputError);
    expect(act).toThrow(/maxRestartsPerHour/);
  });
});
