import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { findAppError, parseAppLines, parseAppLogSection } from '../../../functions/core/evidence/index.ts';
import type { AppLogLine, Pm2LogEvent } from '../../../functions/core/types.ts';

const WINDOW = { start: '2026-11-24T10:00:00.000Z', end: '2026-11-24T10:05:00.000Z' };

/** A recorded error log (test/fixtures/app-errors), as PM2 wrote it. */
function recorded(file: string): string[] {
  return readFileSync(new URL(`../../fixtures/app-errors/${file}`, import.meta.url), 'utf8').split('\n');
}

function errorOf(appLog: AppLogLine[], pm2Log: Pm2LogEvent[] = []) {
  return findAppError({ app: 'web', appLog, pm2Log, window: WINDOW });
}

describe('findAppError', () => {
  it.each([
    ['next16-eaddrinuse.log', 'port_in_use', 'Error: listen EADDRINUSE: address already in use 127.0.0.1:3999'],
    ['next16-node22-eaddrinuse.log', 'port_in_use', 'Error: listen EADDRINUSE: address already in use 127.0.0.1:3999'],
    ['next16-module-not-found.log', 'module_not_found', "Error: Cannot find module 'next'"],
    ['next16-standalone-no-next-dir.log', 'missing_build', "Error: Could not find a production build in the './.next' directory."],
    ['next16-start-missing-build.log', 'missing_build', "Error: Could not find a production build in the '.next' directory."],
    ['node20-heap.log', 'heap_exhausted', 'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory'],
    ['node22-heap.log', 'heap_exhausted', 'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory'],
    ['node20-enospc.log', 'disk_full', 'Error: ENOSPC: no space left on device, write'],
    ['node20-eacces-listen.log', 'permission_denied', 'Error: listen EACCES: permission denied 127.0.0.1:80'],
    ['node20-eacces-open.log', 'permission_denied', "Error: EACCES: permission denied, open '/root/reflex-cannot-write'"],
    ['node20-uncaught-typeerror.log', 'uncaught_exception', "TypeError: Cannot read properties of undefined (reading 'name')"],
  ])('%s → %s', (file, kind, text) => {
    // Prepare
    const appLog = parseAppLines(recorded(file), 'err').items;

    // Act
    const found = errorOf(appLog);

    // Assess
    expect(found?.error.kind).toBe(kind);
    expect(found?.error.text.startsWith(text)).toBe(true);
    expect(found?.error.at).toBeUndefined();
  });

  it('keeps the line before the error line (what the app was doing), not the stack frames', () => {
    // Act
    const found = errorOf(parseAppLines(recorded('next16-eaddrinuse.log'), 'err').items);

    // Assess
    expect(found?.lines.map((line) => line.text)).toEqual(['⨯ Failed to start server', 'Error: listen EADDRINUSE: address already in use 127.0.0.1:3999']);
  });

  it("dates an unstamped error line by PM2's exit that followed it", () => {
    // Prepare
    const exit: Pm2LogEvent = { at: '2026-11-24T10:01:00.000Z', app: 'web', pmId: 0, kind: 'exited', exitCode: 1, signal: 'SIGINT', text: 'App [web:0] exited with code [1] via signal [SIGINT]' };

    // Act
    const found = errorOf(parseAppLines(recorded('next16-module-not-found.log'), 'err').items, [exit]);

    // Assess
    expect(found?.error.at).toBe('2026-11-24T10:01:00.000Z');
    expect(found?.stamped).toBe(false);
    expect(found?.lines.every((line) => line.at === '2026-11-24T10:01:00.000Z')).toBe(true);
  });

  it("reads PM2's log_date_format prefix and JSON log lines for the time", () => {
    // Prepare
    const dated = parseAppLines(['2026-11-24 10:02:03 +00:00: Error: listen EADDRINUSE: address already in use :::3000']).items;
    const json = parseAppLines([JSON.stringify({ message: 'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n', timestamp: '2026-11-24T10:03:00.000Z', type: 'err', process_id: 0, app_name: 'web' })]).items;

    // Act
    const [fromDated, fromJson] = [errorOf(dated), errorOf(json)];

    // Assess
    expect(fromDated?.error).toEqual({ kind: 'port_in_use', text: 'Error: listen EADDRINUSE: address already in use :::3000', at: '2026-11-24T10:02:03.000Z' });
    expect(fromJson?.error).toMatchObject({ kind: 'heap_exhausted', at: '2026-11-24T10:03:00.000Z' });
    expect(json[0]?.stream).toBe('err');
  });

  it('prefers the error file, then the newest error line; an error stamped long before the window is not this incident', () => {
    // Prepare
    const appLog = parseAppLogSection([
      'err Error: ENOSPC: no space left on device, write',
      "err Error: Cannot find module 'next'",
      'out TypeError: x is not a function',
    ]).items;
    const stale = parseAppLines(['2026-11-23 09:00:00: Error: ENOSPC: no space left on device, write']).items;

    // Act
    const [found, old] = [errorOf(appLog), errorOf(stale)];

    // Assess
    expect(found?.error.kind).toBe('module_not_found');
    expect(old).toBeUndefined();
  });

  it('finds nothing in ordinary output', () => {
    // Prepare
    const appLog = parseAppLogSection(['out ▲ Next.js 16.4.6', 'out - Local: http://127.0.0.1:3000', 'out ✓ Ready in 120ms']).items;

    // Act
    const found = errorOf(appLog);

    // Assess
    expect(found).toBeUndefined();
  });
});

describe('parseAppLogSection', () => {
  it('redacts secrets, drops frames and cuts each line', () => {
    // Prepare
    const lines = [
      'err Error: connect to postgres://web:hunter2hunter2@db.internal:5432/web failed',
      'err     at Module._load (node:internal/modules/cjs/loader:1038:27)',
      'err  1: 0xb78db3 node::OOMErrorHandler(char const*, v8::OOMDetails const&) [node /tmp/rec/leak.js]',
      'out SESSION_SECRET=abcdefgh12345678 AWS key AKIAIOSFODNN7EXAMPLE',
      `out ${'x'.repeat(500)}`,
      'garbage without a stream',
    ];

    // Act
    const parsed = parseAppLogSection(lines);

    // Assess
    expect(parsed.skipped).toBe(1);
    expect(parsed.items.map((line) => line.text.slice(0, 80))).toEqual([
      'Error: connect to postgres://[redacted]@db.internal:5432/web failed',
      'SESSION_SECRET=[redacted] AWS key [redacted]',
      'x'.repeat(80),
    ]);
    expect(parsed.items[2]?.text).toHaveLength(300);
  });
});
