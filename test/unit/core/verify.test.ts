import { describe, expect, it } from 'vitest';
import { observationOf, observe, startVerify, type Observation, type VerifyState } from '../../../functions/core/verify.ts';
import { pm2Item, probeLine, snapshotOf } from './evidence-builder.ts';

const NGINX_200 = probeLine('http://127.0.0.1:8080/', 200, 0.012);
const NGINX_502 = probeLine('http://127.0.0.1:8080/', 502, 0.004);

/** A light verification poll: PM2 and the probes, as `REFLEX_SECTIONS=probe` prints them. */
function poll(app: { status?: string; pid?: number; restartTime?: number; startedAt?: string } | 'missing' | 'pm2 down', nginx = NGINX_200): Observation {
  const pm2 = app === 'pm2 down' ? { error: 'connect ENOENT /home/web/.pm2/rpc.sock' } : app === 'missing' ? [] : [pm2Item(app)];
  return observationOf(snapshotOf({ pm2, probeNginx: nginx, appPids: [], listeners: [], nginxProxy: [], pm2Log: [], deploy: [], memory: undefined }), 'web');
}

function run(state: VerifyState, snapshots: Observation[]): { state: VerifyState; verdicts: string[] } {
  const verdicts: string[] = [];
  let current = state;
  for (const snapshot of snapshots) {
    const result = observe(current, snapshot);
    current = result.state;
    verdicts.push(result.verdict);
  }
  return { state: current, verdicts };
}

describe('verify', () => {
  it('calls a crash loop when the app started after the action and is down again, though never seen online', () => {
    // Prepare
    const state = startVerify({ app: 'web', actedAt: '2026-11-24T10:05:01.000Z' });
    const died = poll({ pid: 0, status: 'stopped', startedAt: '2026-11-24T10:05:01.400Z' }, NGINX_502);

    // Act
    const { verdict, state: last } = observe(state, died);

    // Assess
    expect(verdict).toBe('crash_loop');
    expect(last.reason).toContain('started after the action');
  });

  it('keeps waiting while the app is still down from before the action', () => {
    // Prepare
    const state = startVerify({ app: 'web', actedAt: '2026-11-24T10:05:01.000Z' });
    const stillDown = poll({ pid: 0, status: 'stopped', startedAt: '2026-11-24T09:00:00.000Z' }, NGINX_502);

    // Act
    const { verdict } = observe(state, stillDown);

    // Assess
    expect(verdict).toBe('pending');
  });

  it('recovers after three consecutive good observations', () => {
    // Prepare
    const state = startVerify({ app: 'web', restartTimeAtAction: 4 });
    const good = poll({ pid: 7100, restartTime: 5 });

    // Act
    const { verdicts } = run(state, [good, good, good]);

    // Assess
    expect(verdicts).toEqual(['pending', 'pending', 'recovered']);
  });

  it('starts counting again after a failed probe', () => {
    // Prepare
    const state = startVerify({ app: 'web', restartTimeAtAction: 4 });
    const good = poll({ pid: 7100, restartTime: 5 });
    const bad = poll({ pid: 7100, restartTime: 5 }, NGINX_502);

    // Act
    const { verdicts, state: last } = run(state, [good, good, bad, good, good]);

    // Assess
    expect(verdicts).toEqual(['pending', 'pending', 'pending', 'pending', 'pending']);
    expect(last.passes).toBe(2);
  });

  it('honours requiredPasses', () => {
    // Prepare
    const state = startVerify({ app: 'web', requiredPasses: 1 });

    // Act
    const { verdict } = observe(state, poll({ pid: 7100 }));

    // Assess
    expect(verdict).toBe('recovered');
  });

  it('waits while the app is still launching', () => {
    // Prepare
    const state = startVerify({ app: 'web', restartTimeAtAction: 0 });

    // Act
    const { verdicts } = run(state, [poll({ status: 'launching', pid: 0 }), poll({ pid: 7100, restartTime: 1 })]);

    // Assess
    expect(verdicts).toEqual(['pending', 'pending']);
  });

  it('calls a crash loop when the app goes online and then dies again', () => {
    // Prepare
    const state = startVerify({ app: 'web', restartTimeAtAction: 4 });

    // Act
    const { verdicts, state: last } = run(state, [poll({ pid: 7100, restartTime: 5 }), poll({ status: 'errored', pid: 0, restartTime: 5 })]);

    // Assess
    expect(verdicts).toEqual(['pending', 'crash_loop']);
    expect(last.reason).toContain('then errored');
  });

  it('calls a crash loop when the app disappears from PM2 after going online', () => {
    // Prepare
    const state = startVerify({ app: 'web' });

    // Act
    const { verdicts } = run(state, [poll({ pid: 7100 }), poll('missing')]);

    // Assess
    expect(verdicts).toEqual(['pending', 'crash_loop']);
  });

  it('calls a crash loop when restart_time grows by two beyond the action', () => {
    // Prepare
    const state = startVerify({ app: 'web', restartTimeAtAction: 4 });

    // Act
    const { verdicts, state: last } = run(state, [poll({ status: 'launching', pid: 0, restartTime: 5 }), poll({ status: 'launching', pid: 0, restartTime: 7 })]);

    // Assess
    expect(verdicts).toEqual(['pending', 'crash_loop']);
    expect(last.reason).toContain('2 more times');
  });

  it('calls a crash loop when the pid changes more than once', () => {
    // Prepare: without a baseline, restart_time alone would not tell.
    const state = startVerify({ app: 'web' });

    // Act
    const { verdicts } = run(state, [poll({ pid: 7100 }, NGINX_502), poll({ pid: 7200 }, NGINX_502), poll({ pid: 7300 }, NGINX_502)]);

    // Assess
    expect(verdicts).toEqual(['pending', 'pending', 'crash_loop']);
  });

  it('treats an unreachable PM2 daemon as neither a pass nor a death', () => {
    // Prepare
    const state = startVerify({ app: 'web' });
    const good = poll({ pid: 7100 });

    // Act
    const { verdicts } = run(state, [good, poll('pm2 down'), good, good, good]);

    // Assess
    expect(verdicts).toEqual(['pending', 'pending', 'pending', 'pending', 'recovered']);
  });

  it('keeps a final verdict', () => {
    // Prepare
    const state = startVerify({ app: 'web', requiredPasses: 1 });
    const recovered = observe(state, poll({ pid: 7100 })).state;

    // Act
    const { verdict } = observe(recovered, poll({ status: 'stopped', pid: 0 }));

    // Assess
    expect(verdict).toBe('recovered');
  });
});
