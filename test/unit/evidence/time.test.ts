import { describe, expect, it } from 'vitest';
import { toIsoFromCommonLog, toIsoFromEpochMs, toIsoFromNginx, toIsoFromSyslog, toIsoUtc, toMinute } from '../../../functions/core/evidence/time.ts';

describe('toIsoUtc', () => {
  it.each([
    ['2026-11-24T10:00:00+00:00', '2026-11-24T10:00:00.000Z'],
    ['2026-11-24T12:00:00+02:00', '2026-11-24T10:00:00.000Z'],
    ['2026-11-24T00:04:07,253867+00:00', '2026-11-24T00:04:07.253Z'],
    ['2026-11-24T00:04:07+0000', '2026-11-24T00:04:07.000Z'],
    ['2026-11-24T00:10:46', '2026-11-24T00:10:46.000Z'],
    ['2026-11-24T10:00:00.123Z', '2026-11-24T10:00:00.123Z'],
  ])('reads %s', (text, expected) => {
    // Act
    const iso = toIsoUtc(text);

    // Assess
    expect(iso).toBe(expected);
  });

  it.each(['', 'yesterday', '2026-02-30T10:00:00Z', '2026-11-24T25:00:00Z', '2026-11-24T10:00:00+99:00'])('rejects %j', (text) => {
    expect(toIsoUtc(text)).toBeUndefined();
  });
});

describe('other timestamp forms', () => {
  it('reads nginx error log time as UTC', () => {
    expect(toIsoFromNginx('2025/12/25 02:10:45')).toBe('2025-12-25T02:10:45.000Z');
    expect(toIsoFromNginx('2025-12-25 02:10:45')).toBeUndefined();
  });

  it('reads the combined log time with its offset', () => {
    expect(toIsoFromCommonLog('24/Nov/2026:10:00:00 +0000')).toBe('2026-11-24T10:00:00.000Z');
    expect(toIsoFromCommonLog('24/Nov/2026:10:00:00 -0130')).toBe('2026-11-24T11:30:00.000Z');
    expect(toIsoFromCommonLog('24/Foo/2026:10:00:00 +0000')).toBeUndefined();
  });

  it('reads syslog time with the given year', () => {
    expect(toIsoFromSyslog('Nov 24 00:04:07', 2026)).toBe('2026-11-24T00:04:07.000Z');
    expect(toIsoFromSyslog('Feb  3 09:00:00', 2027)).toBe('2027-02-03T09:00:00.000Z');
    expect(toIsoFromSyslog('Feb 30 09:00:00', 2027)).toBeUndefined();
  });

  it('reads epoch milliseconds and refuses non-numbers', () => {
    expect(toIsoFromEpochMs(1795479055941)).toBe('2026-11-24T00:10:55.941Z');
    expect(toIsoFromEpochMs('1795479055941')).toBeUndefined();
    expect(toIsoFromEpochMs(0)).toBeUndefined();
  });

  it('truncates to the minute', () => {
    expect(toMinute('2026-11-24T10:00:37.412Z')).toBe('2026-11-24T10:00:00.000Z');
  });
});
