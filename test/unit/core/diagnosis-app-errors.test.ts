/**
 * The causes issue 10 added, on recorded lines (test/fixtures/app-errors): the app's own error line, an orphan on the
 * port, too big headers, the keep-alive race, any unreachable bind address, and gateway errors that go on.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { diagnose, healthyRule, keepaliveRaceRule, portInUseRule } from '../../../functions/core/diagnosis/index.ts';
import { DEFAULT_BUDGET, decide } from '../../../functions/core/policy.ts';
import { buildTimeline } from '../../../functions/core/timeline.ts';
import type { Evidence } from '../../../functions/core/types.ts';
import { accessLine, appErrLines, evidenceOf, pm2Item, pm2LogLine, probeLine, ssLine } from './evidence-builder.ts';

const NGINX_502 = probeLine('http://127.0.0.1:8080/', 502, 0.004);
const UPSTREAM_REFUSED = probeLine('http://127.0.0.1:3000/', 0, 0.001, 7);

/** The recorded nginx lines (too big header, two premature closes, two resets), moved to the incident's day. */
function nginxLines(times: string[]): string[] {
  const recorded = readFileSync(new URL('../../fixtures/app-errors/nginx-keepalive-and-header.log', import.meta.url), 'utf8').trim().split('\n');
  return recorded.map((line, i) => line.replace(/^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}/, `2026/11/24 ${times[i] ?? '10:04:00'}`));
}

/** A loop of quick exits after a deploy's `pm2 restart` at 10:00:00, then PM2 gives up. */
const LOOP = [
  pm2LogLine('10:00:00', 'Stopping app:web id:0'),
  pm2LogLine('10:00:00', 'App [web:0] exited with code [0] via signal [SIGINT]'),
  pm2LogLine('10:00:00', 'App [web:0] starting in -fork mode-'),
  pm2LogLine('10:00:01', 'App [web:0] online'),
  pm2LogLine('10:00:02', 'App [web:0] exited with code [1] via signal [SIGINT]'),
  pm2LogLine('10:00:02', 'App [web:0] online'),
  pm2LogLine('10:00:03', 'App [web:0] exited with code [1] via signal [SIGINT]'),
  pm2LogLine('10:00:03', 'App [web:0] online'),
  pm2LogLine('10:00:04', 'App [web:0] exited with code [1] via signal [SIGINT]'),
  pm2LogLine('10:00:04', 'Script /srv/web/server.js had too many unstable restarts (16). Stopped. "errored"'),
];
const ERRORED = { pm2: [pm2Item({ pid: 0, status: 'errored', restartTime: 16, exitCode: 1 })], appPids: [], probeNginx: NGINX_502, probeUpstream: UPSTREAM_REFUSED, pm2Log: LOOP };

/** An app that exited at 10:01:00 and stayed stopped (autorestart off), with its error output. */
function stoppedAfter(exitCode: number, signal: string, appLog: string[]): Evidence {
  return evidenceOf({
    pm2: [pm2Item({ pid: 0, status: 'stopped', exitCode })],
    appPids: [],
    listeners: [],
    probeNginx: NGINX_502,
    probeUpstream: UPSTREAM_REFUSED,
    pm2Log: [pm2LogLine('10:01:00', `App [web:0] exited with code [${exitCode}] via signal [${signal}]`)],
    appLog,
  });
}

function decision(evidence: Evidence) {
  return decide({ diagnosis: diagnose(evidence), evidence, now: new Date('2026-11-24T10:05:30.000Z'), restarts: [], budget: DEFAULT_BUDGET, hasEcosystem: true });
}

describe('port_in_use', () => {
  it('names the orphan that holds the port, and Reflex does nothing to it', () => {
    // Prepare: Next's standalone server could not bind 127.0.0.1:3999, where a plain node process listens
    const evidence = evidenceOf({
      ...ERRORED,
      nginxProxy: ['proxy_pass http://127.0.0.1:3999;'],
      listeners: [ssLine('127.0.0.1:3999', 4242, 'node')],
      appLog: appErrLines('next16-eaddrinuse.log'),
    });

    // Act
    const diagnosis = diagnose(evidence);

    // Assess
    expect(diagnosis.cause).toBe('port_in_use');
    expect(diagnosis.appError).toEqual({ kind: 'port_in_use', text: 'Error: listen EADDRINUSE: address already in use 127.0.0.1:3999', at: '2026-11-24T10:00:04.000Z' });
    expect(diagnosis.summary).toContain('127.0.0.1:3999 is held by pid 4242 (`node`)');
    expect(diagnosis.advice.join(' ')).toContain('ps -o pid,user,lstart,args -p 4242');
    expect(diagnosis.advice.join(' ')).toContain('kill 4242');
    expect(diagnosis.evidence.map((line) => line.source)).toEqual(expect.arrayContaining(['app', 'probe']));
    expect(decision(evidence).kind).toBe('none');
  });

  it('is not the cause when the holder is the app itself', () => {
    // Prepare: an old EADDRINUSE line, and the app (pid 6957) listens on the port now
    const evidence = evidenceOf({
      nginxProxy: ['proxy_pass http://127.0.0.1:3999;'],
      listeners: [ssLine('127.0.0.1:3999', 6957)],
      probeUpstream: probeLine('http://127.0.0.1:3999/', 200, 0.01),
      appLog: appErrLines('next16-eaddrinuse.log'),
    });

    // Act
    const found = portInUseRule().evaluate(evidence);

    // Assess
    expect(found).toBeUndefined();
    expect(diagnose(evidence).cause).toBe('healthy');
  });
});

describe('the app died, and its own output says why', () => {
  it('crash_loop after a deploy without npm ci names module_not_found and the BUILD_ID that came just before', () => {
    // Prepare
    const evidence = evidenceOf({
      ...ERRORED,
      listeners: [],
      appLog: appErrLines('next16-module-not-found.log'),
      deploy: ['pm2_started_at=2026-11-24T10:00:03.000Z', 'build_id_mtime=2026-11-24T09:59:30.000Z'],
    });

    // Act
    const diagnosis = diagnose(evidence);

    // Assess
    expect(diagnosis.cause).toBe('crash_loop');
    expect(diagnosis.appError).toMatchObject({ kind: 'module_not_found', text: "Error: Cannot find module 'next'" });
    expect(diagnosis.summary).toContain("Error: Cannot find module 'next'");
    expect(diagnosis.summary).toContain('since the deploy at 09:59:30Z (.next/BUILD_ID changed)');
    expect(diagnosis.advice[0]).toContain('npm ci');
    expect(decision(evidence).kind).toBe('none');
  });

  it('crash_loop without a new build names the PM2 start just before the first crash', () => {
    // Prepare
    const evidence = evidenceOf({ ...ERRORED, listeners: [], appLog: appErrLines('next16-start-missing-build.log') });

    // Act
    const diagnosis = diagnose(evidence);

    // Assess
    expect(diagnosis.cause).toBe('crash_loop');
    expect(diagnosis.appError?.kind).toBe('missing_build');
    expect(diagnosis.summary).toContain('since PM2 started it at 10:00:01Z');
    expect(diagnosis.advice[0]).toContain('npm run build');
  });

  it('a V8 heap exhaustion is a crash about memory, and a restart helps', () => {
    // Prepare: PM2 logs exit code 0 via SIGABRT; autorestart off, so it stays stopped
    const evidence = stoppedAfter(0, 'SIGABRT', appErrLines('node22-heap.log'));

    // Act
    const diagnosis = diagnose(evidence);

    // Assess
    expect(diagnosis.cause).toBe('process_crashed');
    expect(diagnosis.appError).toEqual({
      kind: 'heap_exhausted',
      text: 'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory',
      at: '2026-11-24T10:01:00.000Z',
    });
    expect(diagnosis.summary).toContain('the V8 heap ran out of memory');
    expect(diagnosis.advice.join(' ')).toContain('--max-old-space-size');
    expect(decision(evidence).kind).toBe('restart');
  });

  it('a crash a restart cannot fix is escalated, not restarted', () => {
    // Prepare
    const evidence = stoppedAfter(1, 'SIGINT', appErrLines('node20-enospc.log'));

    // Act
    const diagnosis = diagnose(evidence);

    // Assess
    expect(diagnosis.cause).toBe('process_crashed');
    expect(diagnosis.appError?.kind).toBe('disk_full');
    expect(decision(evidence)).toMatchObject({ kind: 'none', reason: expect.stringContaining('disk_full') });
  });

  it('puts the error line in the timeline, redacted and dated by the exit', () => {
    // Prepare
    const evidence = stoppedAfter(1, 'SIGINT', ['err Error: connect ECONNREFUSED postgres://web:hunter2hunter2@db:5432 DB_PASSWORD=hunter2hunter2']);

    // Act
    const timeline = buildTimeline(evidence, []);

    // Assess
    const app = timeline.filter((entry) => entry.source === 'app');
    expect(app).toEqual([{ at: '2026-11-24T10:01:00.000Z', source: 'app', message: 'Error: connect ECONNREFUSED postgres://[redacted]@db:5432 DB_PASSWORD=[redacted]' }]);
  });

  it('leaves appError out of a diagnosis of an app that did not die', () => {
    // Prepare
    const evidence = evidenceOf({ appLog: appErrLines('node20-uncaught-typeerror.log') });

    // Act
    const diagnosis = diagnose(evidence);

    // Assess
    expect(diagnosis.cause).toBe('healthy');
    expect(diagnosis).not.toHaveProperty('appError');
  });
});

describe('header_too_big', () => {
  it('names the pages and proxy_buffer_size with its value', () => {
    // Prepare
    const [tooBig] = nginxLines(['10:04:10']);
    const evidence = evidenceOf(
      { nginxProxy: ['proxy_pass http://127.0.0.1:3000;', 'proxy_buffer_size 4k;'] },
      { errorLines: [tooBig!, tooBig!], accessLines: [accessLine('10:04:10', 502, 'GET /login HTTP/1.1')] },
    );

    // Act
    const diagnosis = diagnose(evidence);

    // Assess
    expect(diagnosis.cause).toBe('header_too_big');
    expect(diagnosis.summary).toContain('`GET /login HTTP/1.1` (2×)');
    expect(diagnosis.summary).toContain('proxy_buffer_size (4k)');
    expect(diagnosis.advice.join(' ')).toContain('proxy_buffer_size 32k; proxy_buffers 8 32k;');
    expect(decision(evidence).kind).toBe('none');
  });

  it("names nginx's default when the config sets no buffer", () => {
    // Prepare
    const [tooBig] = nginxLines(['10:04:10']);
    const evidence = evidenceOf({}, { errorLines: [tooBig!] });

    // Act
    const diagnosis = diagnose(evidence);

    // Assess
    expect(diagnosis.cause).toBe('header_too_big');
    expect(diagnosis.advice[0]).toContain("4k or 8k (nginx's default: one memory page)");
  });
});

describe('keepalive_race', () => {
  const KEEPALIVE = ['upstream app {', 'server 127.0.0.1:3000;', 'keepalive 64;', '}', 'proxy_pass http://app;'];
  const raced = (): string[] => nginxLines(['10:03:59', '10:04:00', '10:04:01', '10:04:02', '10:04:03']).slice(1);

  it("names nginx's 60 s and Node's 5 s, and both fixes", () => {
    // Prepare
    const evidence = evidenceOf({ nginxProxy: KEEPALIVE }, { errorLines: raced() });

    // Act
    const diagnosis = diagnose(evidence);

    // Assess
    expect(diagnosis.cause).toBe('keepalive_race');
    expect(diagnosis.summary).toContain('4 requests hit a closed or reset connection');
    const advice = diagnosis.advice.join(' ');
    expect(advice).toContain("60 s (nginx's default keepalive_timeout)");
    expect(advice).toContain("5 s (Node's default server.keepAliveTimeout; KEEP_ALIVE_TIMEOUT is not set)");
    expect(advice).toContain('`keepalive_timeout 4s;` in the `upstream` block');
    expect(advice).toContain('KEEP_ALIVE_TIMEOUT=65000');
    expect(diagnosis.evidence.map((line) => line.text)).toEqual(expect.arrayContaining(['nginx -T: keepalive 64;']));
    expect(decision(evidence).kind).toBe('none');
  });

  it('reads KEEP_ALIVE_TIMEOUT as milliseconds', () => {
    // Prepare
    const evidence = evidenceOf({ nginxProxy: KEEPALIVE, pm2: [pm2Item({ keepAliveTimeout: '5' })] }, { errorLines: raced() });

    // Act
    const diagnosis = diagnose(evidence);

    // Assess
    expect(diagnosis.cause).toBe('keepalive_race');
    expect(diagnosis.advice.join(' ')).toContain('KEEP_ALIVE_TIMEOUT=5 means 5 ms, not 5 s.');
  });

  it('is not the race without upstream keepalive, nor when the app keeps connections longer than nginx', () => {
    // Prepare
    const plain = evidenceOf({}, { errorLines: raced() });
    const longer = evidenceOf({ nginxProxy: KEEPALIVE, pm2: [pm2Item({ keepAliveTimeout: '65000' })] }, { errorLines: raced() });

    // Act
    const found = [plain, longer].map((evidence) => keepaliveRaceRule().evaluate(evidence));

    // Assess
    expect(found).toEqual([undefined, undefined]);
  });
});

describe('proxy_misconfig on any address nginx cannot reach', () => {
  it.each([
    ['127.0.0.2:3000', '127.0.0.2'],
    ['10.0.1.248:3000', 'ip-10-0-1-248'],
  ])('names %s, nginx\'s 127.0.0.1:3000 and HOSTNAME', (bound, hostname) => {
    // Prepare
    const evidence = evidenceOf({ pm2: [pm2Item({ hostname })], listeners: [ssLine(bound)], probeNginx: NGINX_502, probeUpstream: UPSTREAM_REFUSED });

    // Act
    const diagnosis = diagnose(evidence);

    // Assess
    expect(diagnosis.cause).toBe('proxy_misconfig');
    const advice = diagnosis.advice.join(' ');
    expect(advice).toContain(`web binds ${bound}; nginx connects to 127.0.0.1:3000`);
    expect(advice).toContain(`HOSTNAME=\`${hostname}\``);
  });
});

describe('healthy only when the gateway errors have stopped', () => {
  it('errors that go on, on a page, while the health URL answers, are not healthy: unknown with the page and the lines', () => {
    // Prepare
    const times = ['10:04:10', '10:04:25', '10:04:40', '10:04:55'];
    const evidence = evidenceOf({}, { accessLines: times.map((time) => accessLine(time, 502, 'GET /account HTTP/1.1')) });

    // Act
    const diagnosis = diagnose(evidence);

    // Assess
    expect(healthyRule().evaluate(evidence)).toBeUndefined();
    expect(diagnosis.cause).toBe('unknown');
    expect(diagnosis.summary).toContain('gateway errors go on: 4 in the last minute (the last at 10:04:55Z) on `GET /account HTTP/1.1` (4×)');
    expect(diagnosis.summary).not.toContain('transient');
    expect(diagnosis.evidence.filter((line) => line.source === 'nginx-access')).toHaveLength(3);
  });

  it('errors that stopped with a restart of the app are over', () => {
    // Prepare: 502s while PM2 restarted the app at 10:04:30
    const evidence = evidenceOf(
      {
        pm2: [pm2Item({ startedAt: '2026-11-24T10:04:30.000Z', restartTime: 1 })],
        pm2Log: [pm2LogLine('10:04:29', 'App [web:0] exited with code [1] via signal [SIGINT]'), pm2LogLine('10:04:30', 'App [web:0] online')],
      },
      { accessLines: [accessLine('10:04:29', 502), accessLine('10:04:31', 502)] },
    );

    // Act
    const diagnosis = diagnose(evidence);

    // Assess
    expect(diagnosis.cause).toBe('healthy');
    expect(diagnosis.summary).toContain('2 gateway errors were transient (the last at 10:04:31Z)');
  });
});
