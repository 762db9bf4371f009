import { describe, expect, it } from 'vitest';
import { appHungRule, diagnose } from '../../../functions/core/diagnosis/index.ts';
import { accessLine, evidenceOf, nginxErrorLine, probeLine } from './evidence-builder.ts';

// Real snapshot.sh probe lines (curl 7.88, Node 20): the first try of 1 s got nothing; the sample is what the
// process listening on the port did meanwhile.
const BLOCKED = 'url=http://127.0.0.1:3000/ code=000 time=1.001470 cpu=0 io=0 window_ms=1057 exit=28';
const SPINNING = 'url=http://127.0.0.1:3000/ code=000 time=1.001148 cpu=62 io=0 window_ms=1098 exit=28';
// An app whose event loop turns but whose health URL takes 1.5 s of CPU: the second, full try timed out too.
const BUSY = 'url=http://127.0.0.1:3000/ code=000 time=4.010378 cpu=69 io=3 window_ms=1027 exit=28';
// The health URL answered on the second try: slow, not hung.
const SLOW_HEALTH = 'url=http://127.0.0.1:3000/ code=200 time=2.801529 cpu=0 io=4 window_ms=1036 exit=0';
const NGINX_FIRST_TRY = probeLine('http://127.0.0.1:8080/', 0, 1.001, 28);
const TIMEOUTS = { errorLines: [nginxErrorLine('10:01:00', 'timeout')] };

describe('app_hung from the listening process', () => {
  it('calls an event loop blocked in a wait hung after one short try, and says where to look', () => {
    // Prepare
    const evidence = evidenceOf({ probeNginx: NGINX_FIRST_TRY, probeUpstream: BLOCKED }, TIMEOUTS);

    // Act
    const diagnosis = diagnose(evidence);

    // Assess
    expect(diagnosis.cause).toBe('app_hung');
    expect(diagnosis.summary).toContain('in 1057 ms its event loop did not even read the probe\'s request');
    expect(diagnosis.summary).toContain('0 % of a core, blocked in a wait');
    expect(diagnosis.advice[0]).toBe('Restart it now: `pm2 restart web`.');
    expect(diagnosis.advice.join(' ')).toContain('Atomics.wait');
    expect(diagnosis.evidence).toContainEqual(expect.objectContaining({ source: 'probe', text: expect.stringContaining('CPU 0 % of a core, 0 read/write calls in 1057 ms') }));
  });

  it('calls a spinning event loop hung and names busy loops', () => {
    // Prepare
    const evidence = evidenceOf({ probeNginx: NGINX_FIRST_TRY, probeUpstream: SPINNING }, TIMEOUTS);

    // Act
    const diagnosis = diagnose(evidence);

    // Assess
    expect(diagnosis.cause).toBe('app_hung');
    expect(diagnosis.summary).toContain('spun at 62 % of a core');
    expect(diagnosis.advice.join(' ')).toContain('pathological regex');
  });

  it('reads a loop that still reads requests but outlasts the full timeout as before: hung, by the timeout', () => {
    // Prepare
    const evidence = evidenceOf({ probeNginx: probeLine('http://127.0.0.1:8080/', 0, 4.003, 28), probeUpstream: BUSY }, TIMEOUTS);

    // Act
    const found = appHungRule().evaluate(evidence);

    // Assess
    expect(found?.summary).toContain('the upstream probe timed out after 4010 ms');
    expect(found?.summary).not.toContain('event loop did not');
  });

  it('does not call an app hung when its health URL answers on the second try, even with 504s on pages', () => {
    // Prepare
    const evidence = evidenceOf(
      { probeNginx: probeLine('http://127.0.0.1:8080/', 200, 2.808), probeUpstream: SLOW_HEALTH },
      { ...TIMEOUTS, accessLines: [accessLine('10:01:00', 504, 'GET /report HTTP/1.1')] },
    );

    // Act
    const diagnosis = diagnose(evidence);

    // Assess
    expect(appHungRule().evaluate(evidence)).toBeUndefined();
    expect(diagnosis.cause).toBe('upstream_timeout');
  });
});
