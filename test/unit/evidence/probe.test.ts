import { describe, expect, it } from 'vitest';
import { parseProbe } from '../../../functions/core/evidence/probe.ts';

const AT = '2026-11-24T00:12:10.412Z';

describe('parseProbe', () => {
  it('reads an HTTP answer', () => {
    // Act
    const probe = parseProbe('nginx', 'url=http://127.0.0.1:56645/hang code=504 time=1.007236 exit=0', AT);

    // Assess
    expect(probe).toEqual({ target: 'nginx', url: 'http://127.0.0.1:56645/hang', at: AT, status: 504, timeMs: 1007 });
  });

  // Real curl 7.88 lines: a closed port, a server that never answers (-m 1), one that closes the socket.
  it.each([
    ['url=http://127.0.0.1:54273/ code=000 time=0.000349 exit=7', 'refused', 0],
    ['url=http://127.0.0.1:60429/ code=000 time=1.001137 exit=28', 'timeout', 1001],
    ['url=http://127.0.0.1:42603/ code=000 time=0.001036 exit=52', 'empty_reply', 1],
    ['url=http://127.0.0.1:3000/ code=000 time=0.002 exit=56', 'reset', 2],
    ['url=http://127.0.0.1:3000/ code=000 time=0.002 exit=6', 'other', 2],
  ])('names the curl failure of %s', (line, error, timeMs) => {
    const probe = parseProbe('upstream', line, AT);

    expect(probe).toMatchObject({ target: 'upstream', status: 0, error, timeMs });
  });

  // Real snapshot.sh lines (curl 7.88, Node 20): a first try of 1 s that got nothing, and what the listening process did.
  it.each([
    ['url=http://127.0.0.1:39111/api/health code=000 time=1.001470 cpu=0 io=0 window_ms=1057 exit=28', 'timeout', 0, { cpuPercent: 0, ioCalls: 0, windowMs: 1057 }],
    ['url=http://127.0.0.1:39111/api/health code=000 time=1.001148 cpu=62 io=0 window_ms=1098 exit=28', 'timeout', 0, { cpuPercent: 62, ioCalls: 0, windowMs: 1098 }],
    ['url=http://127.0.0.1:39111/api/health code=200 time=2.801529 cpu=0 io=4 window_ms=1036 exit=0', undefined, 200, { cpuPercent: 0, ioCalls: 4, windowMs: 1036 }],
  ])('reads the listening process sample of %s', (line, error, status, listener) => {
    // Act
    const probe = parseProbe('upstream', line, AT);

    // Assess
    expect(probe).toEqual({ target: 'upstream', url: 'http://127.0.0.1:39111/api/health', at: AT, status, timeMs: expect.any(Number), ...(error && { error }), listener });
  });

  it('leaves the sample out of a probe line without one', () => {
    expect(parseProbe('upstream', 'url=http://127.0.0.1:3000/ code=200 time=0.004 exit=0', AT)).not.toHaveProperty('listener');
  });

  it.each(['', 'garbage', 'url=http://x/ code=000 time=1.0 cpu=0 io=0 exit=28', 'url=http://x/ code=000 time=1.0 exit=28 cpu=0 io=0 window_ms=1000', 'url=http://x/ code=abc time=0.1 exit=0', 'url=http://x/ code=200 time=0.1'])('refuses %j', (line) => {
    expect(parseProbe('nginx', line, AT)).toBeUndefined();
  });
});
