import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseErrorLog } from '../../../functions/core/evidence/error-log.ts';

/** Real nginx 1.22 error log: upstream refused, timed out, closed, IPv6, no live upstreams, notices, an emerg. */
const fixture = (): string[] => readFileSync(new URL('../../fixtures/logs/nginx-error.log', import.meta.url), 'utf8').split('\n');

describe('parseErrorLog', () => {
  it('reads a connection refused line', () => {
    // Prepare
    const line =
      '2025/12/25 02:10:45 [error] 188#188: *8433 connect() failed (111: Connection refused) while connecting to upstream, client: 172.16.9.100, server: example, request: "POST /api/tokens HTTP/1.1", upstream: "http://127.0.0.1:3000/tokens", host: "10.0.1.248:8181"';

    // Act
    const parsed = parseErrorLog([line]);

    // Assess
    expect(parsed).toEqual({
      items: [
        {
          at: '2025-12-25T02:10:45.000Z',
          level: 'error',
          kind: 'connection_refused',
          upstream: 'http://127.0.0.1:3000/tokens',
          request: 'POST /api/tokens HTTP/1.1',
          text: line.slice(0, 300),
        },
      ],
      skipped: 0,
    });
  });

  it('classifies every upstream failure of the real log and counts garbage', () => {
    // Prepare
    const lines = [...fixture(), 'nginx: [emerg] bind() to 127.0.0.1:80 failed (98: Address already in use)', 'random text', ''];

    // Act
    const parsed = parseErrorLog(lines);

    // Assess
    expect(parsed.skipped).toBe(2);
    const errors = parsed.items.filter((entry) => entry.level === 'error');
    expect(errors.map((entry) => entry.kind)).toEqual([
      'connection_refused',
      'upstream_timeout',
      'premature_close',
      'connection_refused',
      'connection_refused',
      'connection_refused',
      'other',
      'connection_refused',
      'connection_refused',
      'no_live_upstreams',
      'no_live_upstreams',
    ]);
    expect(errors[3]?.upstream).toBe('http://[::1]:33437/v6down');
    expect(errors[9]?.upstream).toBe('http://app/pool');
    expect(errors[1]).toMatchObject({ at: '2026-11-24T00:11:54.000Z', request: 'GET /hang HTTP/1.1' });
  });

  it('keeps well-formed notice, warn and emerg lines as kind other', () => {
    const parsed = parseErrorLog(fixture());

    const levels = new Set(parsed.items.filter((entry) => entry.kind === 'other').map((entry) => entry.level));
    expect([...levels].sort()).toEqual(['emerg', 'error', 'notice', 'warn']);
    expect(parsed.items.find((entry) => entry.text.includes('SIGHUP'))).toMatchObject({ level: 'notice', kind: 'other', at: '2026-11-24T00:12:02.000Z' });
  });

  it('cuts text to 300 characters', () => {
    const line = `2026/11/24 00:11:53 [error] 1#1: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: example, request: "GET /${'a'.repeat(400)} HTTP/1.1", upstream: "http://127.0.0.1:3000/", host: "x"`;

    const [entry] = parseErrorLog([line]).items;

    expect(entry?.text).toHaveLength(300);
    expect(entry?.kind).toBe('connection_refused');
    expect(entry?.upstream).toBe('http://127.0.0.1:3000/');
  });

  it('skips a line with an impossible date', () => {
    const parsed = parseErrorLog(['2026/13/24 00:11:53 [error] 1#1: *1 no live upstreams while connecting to upstream']);

    expect(parsed).toEqual({ items: [], skipped: 1 });
  });
});

describe('parseErrorLog on the keep-alive race and too big headers', () => {
  it('names too big headers, premature closes and resets (recorded on nginx 1.22)', () => {
    // Prepare
    const lines = readFileSync(new URL('../../fixtures/app-errors/nginx-keepalive-and-header.log', import.meta.url), 'utf8').split('\n');

    // Act
    const parsed = parseErrorLog(lines);

    // Assess
    expect(parsed.skipped).toBe(0);
    expect(parsed.items.map((entry) => entry.kind)).toEqual(['header_too_big', 'premature_close', 'premature_close', 'connection_reset', 'connection_reset']);
    expect(parsed.items[0]).toMatchObject({ request: 'GET /login HTTP/1.1', upstream: 'http://127.0.0.1:3995/login' });
  });
});
