import { describe, expect, it } from 'vitest';
import { GatewayErrorDetector } from '../../../functions/core/detector.ts';
import type { AccessEntry } from '../../../functions/core/types.ts';

const T0 = Date.parse('2026-11-24T10:00:00.000Z');
const line = (status: number, ms: number): AccessEntry => ({ at: new Date(ms).toISOString(), status, request: 'GET / HTTP/1.1' });

/** Feeds one entry per second from `from`; the detector's answers. */
function feed(detector: GatewayErrorDetector, statuses: number[], from: number): boolean[] {
  return statuses.map((status, index) => detector.observe(line(status, from + index * 1000), from + index * 1000));
}

describe('GatewayErrorDetector', () => {
  it('fires when the window reaches the threshold of gateway errors, counting 502, 503 and 504 only', () => {
    const detector = new GatewayErrorDetector({ threshold: 3 });

    expect(feed(detector, [200, 502, 404, 503, 500, 504], T0)).toEqual([false, false, false, false, false, true]);
  });

  it('forgets errors older than the window', () => {
    const detector = new GatewayErrorDetector({ threshold: 3, windowMs: 2_500 });

    expect(feed(detector, [502, 200, 200, 502, 502], T0)).toEqual([false, false, false, false, false]);
  });

  it('is OK again at once after an incident that left the app serving', () => {
    const detector = new GatewayErrorDetector({ threshold: 2 });
    feed(detector, [502, 502], T0);

    detector.handled(T0 + 5_000, true);

    expect(feed(detector, [502, 502], T0 + 6_000)).toEqual([false, true]);
  });

  it('stays in ALARM while errors go on after an escalated incident, then is OK after a quiet spell', () => {
    const detector = new GatewayErrorDetector({ threshold: 2, quietMs: 10_000 });
    feed(detector, [502, 502], T0);
    detector.handled(T0 + 5_000, false);

    const goingOn = feed(detector, [502, 502, 502, 502], T0 + 6_000);
    detector.tick(T0 + 9_000 + 10_000);
    const afterQuiet = feed(detector, [502, 502], T0 + 20_000);

    expect(goingOn).toEqual([false, false, false, false]);
    expect(detector.alarmed).toBe(false);
    expect(afterQuiet).toEqual([false, true]);
  });

  it('ignores lines stamped before the handled incident ended', () => {
    const detector = new GatewayErrorDetector({ threshold: 1 });
    detector.handled(T0 + 10_000, true);

    expect(detector.observe(line(502, T0 + 5_000), T0 + 11_000)).toBe(false);
  });
});
