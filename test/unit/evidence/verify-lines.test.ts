/** remediate.sh's on-host verification, as recorded from the real script on a sandbox (test/fixtures/remediate/). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseVerifyLines } from '../../../functions/core/evidence/index.ts';
import { observe, startVerify, type VerifyVerdict } from '../../../functions/core/verify.ts';

const recorded = (name: string): string => readFileSync(new URL(`../../fixtures/remediate/${name}.txt`, import.meta.url), 'utf8');

/** The verdict the core's own rules reach on the observations. */
function fold(stdout: string, actedAt: string): VerifyVerdict {
  let state = startVerify({ app: 'web', actedAt, restartTimeAtAction: 0 });
  for (const observation of parseVerifyLines(stdout).observations) {
    const result = observe(state, observation);
    state = result.state;
    if (result.verdict !== 'pending') return result.verdict;
  }
  return 'pending';
}

describe('parseVerifyLines', () => {
  it('reads every observation of a recovery, and the script verdict', () => {
    // Act
    const result = parseVerifyLines(recorded('restart-recovered'));

    // Assess
    expect(result.verdict).toBe('recovered');
    expect(result.skipped).toBe(0);
    expect(result.observations.length).toBeGreaterThanOrEqual(3);
    expect(result.observations.at(-1)).toMatchObject({ pm2Ok: true, app: { status: 'online', restartTime: 0 }, nginx: { status: 200 } });
    expect(result.observations.slice(-3).every((observation) => observation.nginx?.status === 200)).toBe(true);
  });

  it('the core folds a recorded recovery to recovered, and a recorded death after the restart to a crash loop', () => {
    // Prepare: the action was issued just before the first observation
    const before = (stdout: string): string => new Date(Date.parse(parseVerifyLines(stdout).observations[0]!.at) - 50).toISOString();

    // Act, Assess
    const recovered = recorded('restart-recovered');
    const died = recorded('restart-died');
    expect(fold(recovered, before(recovered))).toBe('recovered');
    expect(parseVerifyLines(died).verdict).toBe('died');
    expect(fold(died, before(died))).toBe('crash_loop');
  });

  it('skips and counts lines that are not well-formed observations, and reads no verdict from a failed run', () => {
    // Prepare: a real line, then garbage of every kind
    const good = recorded('restart-recovered').split('\n').find((line) => line.startsWith('{'))!;
    const stdout = [
      'restarted web: [web](0) online',
      '@@verify',
      good,
      'not json',
      '{"at":"yesterday","pm2":true,"app":null,"probe":{"status":200,"ms":1}}',
      '{"at":"2026-12-02T00:26:23.242Z","pm2":"yes","app":null,"probe":{"status":200,"ms":1}}',
      '{"at":"2026-12-02T00:26:23.242Z","pm2":true,"app":{"status":"online","pid":-1,"restarts":0},"probe":{"status":200,"ms":1}}',
      '{"at":"2026-12-02T00:26:23.242Z","pm2":true,"app":null,"probe":{"status":0,"ms":3000,"error":"gremlins"}}',
      '[1,2,3]',
      'result=failed action=restart exit=1',
    ].join('\n');

    // Act
    const result = parseVerifyLines(stdout);

    // Assess
    expect(result.observations).toHaveLength(1);
    expect(result.skipped).toBe(6);
    expect(result.verdict).toBeUndefined();
  });

  it('reads an app PM2 never started (startedAt null) and a daemon that does not answer', () => {
    // Act
    const result = parseVerifyLines(
      [
        '@@verify',
        '{"at":"2026-12-02T00:26:23.242Z","pm2":true,"app":{"status":"stopped","pid":0,"restarts":0,"startedAt":null},"probe":{"status":0,"ms":1,"error":"refused"}}',
        '{"at":"2026-12-02T00:26:23.492Z","pm2":false,"app":null,"probe":{"status":502,"ms":2}}',
        'result=ok action=start verify=deadline',
      ].join('\n'),
    );

    // Assess
    expect(result.skipped).toBe(0);
    expect(result.verdict).toBe('deadline');
    expect(result.observations).toEqual([
      { at: '2026-12-02T00:26:23.242Z', pm2Ok: true, app: { status: 'stopped', pid: 0, restartTime: 0 }, nginx: { status: 0, timeMs: 1, error: 'refused' } },
      { at: '2026-12-02T00:26:23.492Z', pm2Ok: false, nginx: { status: 502, timeMs: 2 } },
    ]);
  });
});
