import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { countGatewayErrors, isGatewayError, parseAccessLine, parseAccessLog } from '../../../functions/core/evidence/access-log.ts';

/** Real output of nginx 1.22 on this machine: the reflex JSON format and the default combined format. */
const fixture = (name: string): string[] => readFileSync(new URL(`../../fixtures/logs/${name}`, import.meta.url), 'utf8').split('\n');

describe('parseAccessLine', () => {
  it('reads the reflex JSON format', () => {
    // Prepare
    const line = '{"time":"2026-11-24T00:11:54+00:00","status":504,"request":"GET /hang HTTP/1.1","upstream_status":"504","upstream_addr":"127.0.0.1:60429","upstream_response_time":"1.007","request_time":1.006}';

    // Act
    const entry = parseAccessLine(line);

    // Assess
    expect(entry).toEqual({
      at: '2026-11-24T00:11:54.000Z',
      status: 504,
      request: 'GET /hang HTTP/1.1',
      upstreamStatus: '504',
      upstreamAddr: '127.0.0.1:60429',
      upstreamResponseTime: '1.007',
      requestTime: 1.006,
    });
  });

  it('keeps upstream lists and leaves out empty upstream fields', () => {
    const retried = parseAccessLine('{"time":"2026-11-24T10:00:00+00:00","status":502,"request":"GET / HTTP/1.1","upstream_status":"502, 502","upstream_addr":"127.0.0.1:3000, [::1]:3000","upstream_response_time":"0.001, 0.000","request_time":0.002}');
    const local = parseAccessLine('{"time":"2026-11-24T00:11:54+00:00","status":404,"request":"GET /api/tokens HTTP/1.1","upstream_status":"","upstream_addr":"","upstream_response_time":"","request_time":0.000}');

    expect(retried?.upstreamStatus).toBe('502, 502');
    expect(retried?.upstreamAddr).toBe('127.0.0.1:3000, [::1]:3000');
    expect(local).toEqual({ at: '2026-11-24T00:11:54.000Z', status: 404, request: 'GET /api/tokens HTTP/1.1', requestTime: 0 });
  });

  it('reads the combined format', () => {
    const entry = parseAccessLine('127.0.0.1 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 502 157 "-" "curl/7.88.1"');

    expect(entry).toEqual({ at: '2026-11-24T10:00:00.000Z', status: 502, request: 'GET / HTTP/1.1' });
  });

  it.each([
    'garbage',
    '{"time":"2026-11-24T10:00:00+00:00","status":"502"}',
    '{"time":"not a time","status":502,"request":"GET / HTTP/1.1"}',
    '{"time":"2026-11-24T10:00:00+00:00","status":502',
    '[1,2]',
    '127.0.0.1 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" abc 157',
  ])('refuses %j', (line) => {
    expect(parseAccessLine(line)).toBeUndefined();
  });
});

describe('parseAccessLog', () => {
  it('parses the real JSON log, ignores blank lines and counts garbage', () => {
    // Prepare
    const lines = [...fixture('nginx-access-json.log'), '', 'garbage line', '{"broken":'];

    // Act
    const parsed = parseAccessLog(lines);

    // Assess
    expect(parsed.items).toHaveLength(11);
    expect(parsed.skipped).toBe(2);
    expect(parsed.items.map((entry) => entry.status)).toEqual([502, 504, 502, 502, 200, 502, 502, 404, 502, 502, 502]);
    expect(parsed.items[3]?.upstreamAddr).toBe('[::1]:33437');
  });

  it('parses the real combined log the same way', () => {
    const parsed = parseAccessLog([...fixture('nginx-access-combined.log'), 'not a log line']);

    expect(parsed.items).toHaveLength(11);
    expect(parsed.skipped).toBe(1);
    expect(parsed.items[1]).toEqual({ at: '2026-11-24T00:11:54.000Z', status: 504, request: 'GET /hang HTTP/1.1' });
  });
});

describe('isGatewayError', () => {
  it('is true for 502, 503 and 504 only', () => {
    expect([499, 500, 502, 503, 504, 505, 200].map(isGatewayError)).toEqual([false, false, true, true, true, false, false]);
  });
});

describe('countGatewayErrors', () => {
  it('counts per UTC minute, by status, sorted, skipping minutes without errors', () => {
    // Prepare
    const entries = parseAccessLog([
      '{"time":"2026-11-24T10:01:59+00:00","status":504,"request":"GET /a HTTP/1.1","upstream_status":"504","upstream_addr":"127.0.0.1:3000","upstream_response_time":"60.001","request_time":60.001}',
      '127.0.0.1 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 502 157 "-" "curl/7.88.1"',
      '127.0.0.1 - - [24/Nov/2026:10:00:30 +0000] "GET / HTTP/1.1" 502 157 "-" "curl/7.88.1"',
      '127.0.0.1 - - [24/Nov/2026:10:00:31 +0000] "GET / HTTP/1.1" 504 157 "-" "curl/7.88.1"',
      '127.0.0.1 - - [24/Nov/2026:10:02:00 +0000] "GET / HTTP/1.1" 200 12 "-" "curl/7.88.1"',
      '127.0.0.1 - - [24/Nov/2026:11:00:00 +0100] "GET / HTTP/1.1" 503 12 "-" "curl/7.88.1"',
    ]).items;

    // Act
    const counts = countGatewayErrors(entries);

    // Assess
    expect(counts).toEqual([
      { minute: '2026-11-24T10:00:00.000Z', count: 4, byStatus: { '502': 2, '503': 1, '504': 1 } },
      { minute: '2026-11-24T10:01:00.000Z', count: 1, byStatus: { '504': 1 } },
    ]);
  });

  it('returns nothing when no request failed', () => {
    expect(countGatewayErrors(parseAccessLog(['127.0.0.1 - - [24/Nov/2026:10:02:00 +0000] "GET / HTTP/1.1" 200 12 "-" "-"']).items)).toEqual([]);
  });
});
