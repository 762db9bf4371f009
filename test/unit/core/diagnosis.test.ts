import { describe, expect, it } from 'vitest';
import {
  RULES,
  appHungRule,
  crashLoopRule,
  diagnose,
  healthyRule,
  oomKilledRule,
  portMismatchRule,
  processCrashedRule,
  processMissingRule,
  processStoppedRule,
  proxyMisconfigRule,
  upstreamTimeoutRule,
} from '../../../functions/core/diagnosis/index.ts';
import { CAUSES } from '../../../functions/core/types.ts';
import { accessLine, evidenceOf, nginxErrorLine, oomLine, pm2Item, pm2LogLine, probeLine, ssLine } from './evidence-builder.ts';

const REFUSED_LINES = ['10:00:01', '10:00:02', '10:00:03', '10:00:04'].map((time) => nginxErrorLine(time, 'refused'));
const NGINX_502 = probeLine('http://127.0.0.1:8080/', 502, 0.004);
const UPSTREAM_REFUSED = probeLine('http://127.0.0.1:3000/', 0, 0.001, 7);

describe('diagnose', () => {
  it('orders the rules by priority and names every cause but unknown', () => {
    // Act
    const ids = RULES.map((rule) => rule.id);

    // Assess
    expect(ids).toEqual([
      'process_missing',
      'oom_killed',
      'port_in_use',
      'crash_loop',
      'process_crashed',
      'process_stopped',
      'port_mismatch',
      'proxy_misconfig',
      'upstream_timeout',
      'app_hung',
      'header_too_big',
      'keepalive_race',
      'healthy',
    ]);
    expect(CAUSES.filter((cause) => !ids.includes(cause))).toEqual(['unknown']);
  });

  describe('process_missing', () => {
    it('names a dead PM2 daemon and how to start the app from its ecosystem', () => {
      // Prepare
      const evidence = evidenceOf({
        pm2: { error: 'connect ENOENT /home/web/.pm2/rpc.sock' },
        appPids: [],
        listeners: [],
        probeNginx: NGINX_502,
        probeUpstream: UPSTREAM_REFUSED,
        nginxError: REFUSED_LINES,
      });

      // Act
      const diagnosis = diagnose(evidence);

      // Assess
      expect(diagnosis.cause).toBe('process_missing');
      expect(diagnosis.summary).toContain('PM2 daemon does not answer');
      expect(diagnosis.advice.join(' ')).toContain('pm2 start <ecosystem> --only web');
      expect(diagnosis.advice.join(' ')).toContain('pm2 resurrect');
      expect(diagnosis.advice.join(' ')).toContain('pm2 startup');
      expect(diagnosis.evidence[0]).toMatchObject({ source: 'pm2', text: expect.stringContaining('rpc.sock') });
      expect(diagnosis.evidence.filter((line) => line.source === 'nginx-error').length).toBeGreaterThan(0);
    });

    it('names an app that PM2 does not run, and the deletion', () => {
      // Prepare
      const evidence = evidenceOf({
        pm2: [pm2Item({ name: 'api', pid: 7001 })],
        appPids: [],
        listeners: [ssLine('127.0.0.1:4000', 7001)],
        probeNginx: NGINX_502,
        probeUpstream: UPSTREAM_REFUSED,
        pm2Log: [pm2LogLine('10:00:00', 'Stopping app:web id:0'), pm2LogLine('10:00:00', 'App [web:0] exited with code [0] via signal [SIGINT]'), pm2LogLine('10:00:01', 'Deleting process 0')],
      });

      // Act
      const diagnosis = diagnose(evidence);

      // Assess
      expect(diagnosis.cause).toBe('process_missing');
      expect(diagnosis.summary).toContain('No PM2 process is named web');
      expect(diagnosis.evidence.map((line) => line.text)).toEqual(
        expect.arrayContaining([expect.stringContaining('no PM2 process named web (PM2 runs api)'), expect.stringContaining('Deleting process 0')]),
      );
      expect(diagnosis.advice.join(' ')).toContain('pm2 save');
    });

    it('does not match while PM2 runs the app', () => {
      // Act
      const found = processMissingRule().evaluate(evidenceOf());

      // Assess
      expect(found).toBeUndefined();
    });
  });

  describe('oom_killed', () => {
    const sigkill = [
      pm2LogLine('10:01:00', 'App [web:0] exited with code [null] via signal [SIGKILL]'),
      pm2LogLine('10:01:01', 'App [web:0] starting in -fork mode-'),
      pm2LogLine('10:01:02', 'App [web:0] online'),
    ];

    it('correlates a kernel kill with PM2 seeing the app die by SIGKILL, and says PM2 brought it back', () => {
      // Prepare
      const evidence = evidenceOf(
        { pm2: [pm2Item({ pid: 7100, restartTime: 1 })], appPids: [7100], listeners: [ssLine('127.0.0.1:3000', 7100)], pm2Log: sigkill },
        { kernelLines: [oomLine('10:00:59', 6957, 'node')] },
      );

      // Act
      const diagnosis = diagnose(evidence);

      // Assess
      expect(diagnosis.cause).toBe('oom_killed');
      expect(diagnosis.summary).toContain('PM2 brought it back');
      expect(diagnosis.summary).toContain('406 MB');
      expect(diagnosis.advice.join(' ')).toContain('max_memory_restart');
      expect(diagnosis.advice.join(' ')).toContain('--max-old-space-size');
      expect(diagnosis.advice.join(' ')).toContain('anon-rss:416096kB');
      expect(diagnosis.advice.join(' ')).toContain('instance size');
      expect(diagnosis.evidence).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ source: 'kernel', text: expect.stringContaining('Killed process 6957 (node)') }),
          expect.objectContaining({ source: 'pm2', text: expect.stringContaining('via signal [SIGKILL]') }),
        ]),
      );
    });

    it('leaves an old kill aside when the app is back online but users still get errors (another cause now)', () => {
      // Prepare
      const evidence = evidenceOf(
        {
          pm2: [pm2Item({ pid: 7100, restartTime: 1, port: '3001' })],
          appPids: [7100],
          listeners: [ssLine('127.0.0.1:3001', 7100)],
          pm2Log: sigkill,
          probeNginx: NGINX_502,
          probeUpstream: UPSTREAM_REFUSED,
        },
        { kernelLines: [oomLine('10:00:59', 6957, 'node')] },
      );

      // Act
      const diagnosis = diagnose(evidence);

      // Assess
      expect(diagnosis.cause).toBe('port_mismatch');
    });

    it('leaves an old kill aside when slow pages time out since PM2 brought the app back', () => {
      // Prepare
      const timeout =
        '2026/11/24 10:03:00 [error] 188#188: *9001 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 127.0.0.1, server: example, request: "GET /reports HTTP/1.1", upstream: "http://127.0.0.1:3000/reports", host: "example"';
      const evidence = evidenceOf(
        { pm2: [pm2Item({ pid: 7100, restartTime: 1 })], appPids: [7100], listeners: [ssLine('127.0.0.1:3000', 7100)], pm2Log: sigkill, nginxError: [timeout] },
        { kernelLines: [oomLine('10:00:59', 6957, 'node')] },
      );

      // Act
      const diagnosis = diagnose(evidence);

      // Assess
      expect(diagnosis.cause).toBe('upstream_timeout');
    });

    it('matches a kill of one of the app pids and says when the app is still down', () => {
      // Prepare
      const evidence = evidenceOf({
        pm2: [pm2Item({ pid: 0, status: 'stopped', exitCode: null })],
        appPids: [6970],
        listeners: [],
        probeNginx: NGINX_502,
        probeUpstream: UPSTREAM_REFUSED,
        kernel: [oomLine('10:00:30', 6970, 'next-server (v1')],
      });

      // Act
      const diagnosis = diagnose(evidence);

      // Assess
      expect(diagnosis.cause).toBe('oom_killed');
      expect(diagnosis.summary).toContain('still down');
    });

    it('ignores kills of other processes, kills long before the window and uncorrelated node kills', () => {
      // Prepare
      const other = evidenceOf({ pm2Log: sigkill }, { kernelLines: [oomLine('10:00:59', 4242, 'java')] });
      const old = evidenceOf({ pm2Log: [pm2LogLine('09:50:00', 'App [web:0] exited with code [null] via signal [SIGKILL]')] }, { kernelLines: [oomLine('09:50:00', 6957)] });
      const unrelated = evidenceOf({}, { kernelLines: [oomLine('10:01:00', 5555, 'node')] });

      // Act
      const found = [other, old, unrelated].map((evidence) => oomKilledRule().evaluate(evidence));

      // Assess
      expect(found).toEqual([undefined, undefined, undefined]);
    });
  });

  describe('crash_loop', () => {
    it('names an app PM2 gave up on (errored) and shows the last deploy', () => {
      // Prepare
      const evidence = evidenceOf({
        pm2: [pm2Item({ pid: 0, status: 'errored', restartTime: 16, exitCode: 1 })],
        appPids: [],
        listeners: [],
        probeNginx: NGINX_502,
        probeUpstream: UPSTREAM_REFUSED,
        pm2Log: [
          pm2LogLine('10:00:05', 'App [web:0] online'),
          pm2LogLine('10:00:05', 'App [web:0] exited with code [1] via signal [SIGINT]'),
          pm2LogLine('10:00:05', 'Script /srv/web/server.js had too many unstable restarts (16). Stopped. "errored"'),
        ],
        deploy: ['pm2_started_at=2026-11-24T09:58:00.000Z', 'build_id_mtime=2026-11-24T09:57:40.000Z'],
      });

      // Act
      const diagnosis = diagnose(evidence);

      // Assess
      expect(diagnosis.cause).toBe('crash_loop');
      expect(diagnosis.summary).toContain('gave up');
      expect(diagnosis.advice.join(' ')).toContain('pm2 logs web --err --lines 50');
      expect(diagnosis.advice.join(' ')).toContain('.next/BUILD_ID changed at 2026-11-24T09:57:40.000Z');
      expect(diagnosis.advice.join(' ')).toContain('Do not restart it again');
      expect(diagnosis.evidence.map((line) => line.text)).toEqual(expect.arrayContaining([expect.stringContaining('too many unstable restarts')]));
    });

    it('names an app PM2 keeps restarting (waiting restart, unstable restarts)', () => {
      // Prepare
      const evidence = evidenceOf({ pm2: [pm2Item({ pid: 0, status: 'waiting restart', restartTime: 5, unstableRestarts: 3 })], listeners: [] });

      // Act
      const diagnosis = diagnose(evidence);

      // Assess
      expect(diagnosis.cause).toBe('crash_loop');
      expect(diagnosis.summary).toContain('3 unstable restarts');
    });

    it('counts quick exits in pm2.log even when PM2 shows the app online right now', () => {
      // Prepare
      const cycles = ['10:04:00', '10:04:10', '10:04:20'].flatMap((time) => {
        const [h, m, s] = time.split(':');
        const exit = `${h}:${m}:${String(Number(s) + 3).padStart(2, '0')}`;
        return [pm2LogLine(time, 'App [web:0] online'), pm2LogLine(exit, 'App [web:0] exited with code [1] via signal [SIGINT]')];
      });
      const evidence = evidenceOf({ pm2: [pm2Item({ pid: 7300, restartTime: 3 })], pm2Log: [...cycles, pm2LogLine('10:04:30', 'App [web:0] online')] });

      // Act
      const diagnosis = diagnose(evidence);

      // Assess
      expect(diagnosis.cause).toBe('crash_loop');
      expect(diagnosis.summary).toContain('exited 3 times');
    });

    it('does not match two quick exits, nor exits long after start', () => {
      // Prepare
      const twoQuick = evidenceOf({
        pm2Log: [
          pm2LogLine('10:04:00', 'App [web:0] online'),
          pm2LogLine('10:04:02', 'App [web:0] exited with code [1] via signal [SIGINT]'),
          pm2LogLine('10:04:03', 'App [web:0] online'),
          pm2LogLine('10:04:05', 'App [web:0] exited with code [1] via signal [SIGINT]'),
          pm2LogLine('10:04:06', 'App [web:0] online'),
        ],
      });
      const slowExits = evidenceOf({
        pm2Log: ['10:01:00', '10:02:00', '10:03:00'].flatMap((time) => [
          pm2LogLine(time, 'App [web:0] online'),
          pm2LogLine(time.replace(/:00$/, ':30'), 'App [web:0] exited with code [1] via signal [SIGINT]'),
        ]),
      });

      // Act
      const found = [twoQuick, slowExits].map((evidence) => crashLoopRule().evaluate(evidence));

      // Assess
      expect(found).toEqual([undefined, undefined]);
    });

    it('does not count exits that someone asked for (pm2 stop, restart, delete), however quick', () => {
      // Prepare
      const deliberate = evidenceOf({
        pm2Log: ['10:04:00', '10:04:10', '10:04:20'].flatMap((time) => {
          const stop = time.replace(/0$/, '3');
          return [
            pm2LogLine(time, 'App [web:0] online'),
            pm2LogLine(stop, 'Stopping app:web id:0'),
            pm2LogLine(stop, 'App [web:0] exited with code [0] via signal [SIGINT]'),
          ];
        }),
      });

      // Act
      const found = crashLoopRule().evaluate(deliberate);

      // Assess
      expect(found).toBeUndefined();
    });
  });

  describe('process_crashed', () => {
    it('names an app that exited with an error and stayed stopped', () => {
      // Prepare
      const evidence = evidenceOf({
        pm2: [pm2Item({ pid: 0, status: 'stopped', exitCode: 1 })],
        appPids: [],
        listeners: [],
        probeNginx: NGINX_502,
        probeUpstream: UPSTREAM_REFUSED,
        nginxError: REFUSED_LINES,
        pm2Log: [pm2LogLine('10:00:00', 'App [web:0] exited with code [1] via signal [SIGINT]')],
      });

      // Act
      const diagnosis = diagnose(evidence);

      // Assess
      expect(diagnosis.cause).toBe('process_crashed');
      expect(diagnosis.summary).toContain('exited with code 1');
      expect(diagnosis.advice.join(' ')).toContain('pm2 restart web');
      expect(diagnosis.advice.join(' ')).toContain('autorestart');
      const sources = diagnosis.evidence.map((line) => line.source);
      expect(sources).toEqual(expect.arrayContaining(['pm2', 'nginx-error', 'probe']));
      expect(sources.filter((source) => source === 'nginx-error').length).toBeLessThanOrEqual(3);
    });

    it('counts a kill by another signal than SIGINT as a crash', () => {
      // Prepare
      const evidence = evidenceOf({
        pm2: [pm2Item({ pid: 0, status: 'stopped', exitCode: null })],
        listeners: [],
        pm2Log: [pm2LogLine('10:00:00', 'App [web:0] exited with code [null] via signal [SIGTERM]')],
      });

      // Act
      const diagnosis = diagnose(evidence);

      // Assess
      expect(diagnosis.cause).toBe('process_crashed');
    });

    it('uses the exit code alone when pm2.log says nothing', () => {
      // Prepare
      const evidence = evidenceOf({ pm2: [pm2Item({ pid: 0, status: 'stopped', exitCode: 137 })], listeners: [], pm2Log: [] });

      // Act
      const diagnosis = diagnose(evidence);

      // Assess
      expect(diagnosis.cause).toBe('process_crashed');
      expect(diagnosis.summary).toContain('137');
    });

    it('names an errored app a crash when nothing shows a loop (it failed once to launch)', () => {
      // Prepare
      const evidence = evidenceOf({ pm2: [pm2Item({ pid: 0, status: 'errored' })], listeners: [] });

      // Act
      const diagnosis = diagnose(evidence);

      // Assess
      expect(diagnosis.cause).toBe('process_crashed');
      expect(diagnose(evidence, [processCrashedRule()]).cause).toBe('process_crashed');
    });

    it('does not match an exit that followed a pm2 stop', () => {
      // Prepare
      const evidence = evidenceOf({
        pm2: [pm2Item({ pid: 0, status: 'stopped', exitCode: 1 })],
        listeners: [],
        pm2Log: [pm2LogLine('10:00:00', 'Stopping app:web id:0'), pm2LogLine('10:00:01', 'App [web:0] exited with code [1] via signal [SIGINT]')],
      });

      // Act
      const found = processCrashedRule().evaluate(evidence);

      // Assess
      expect(found).toBeUndefined();
    });
  });

  describe('process_stopped', () => {
    it('names a pm2 stop and how to start the app again', () => {
      // Prepare
      const evidence = evidenceOf({
        pm2: [pm2Item({ pid: 0, status: 'stopped', exitCode: 0 })],
        appPids: [],
        listeners: [],
        probeNginx: NGINX_502,
        probeUpstream: UPSTREAM_REFUSED,
        pm2Log: [pm2LogLine('10:00:00', 'Stopping app:web id:0'), pm2LogLine('10:00:00', 'App [web:0] exited with code [0] via signal [SIGINT]')],
      });

      // Act
      const diagnosis = diagnose(evidence);

      // Assess
      expect(diagnosis.cause).toBe('process_stopped');
      expect(diagnosis.summary).toContain('pm2 stop');
      expect(diagnosis.advice.join(' ')).toContain('pm2 restart web');
      expect(diagnosis.evidence.map((line) => line.text)).toEqual(expect.arrayContaining([expect.stringContaining('Stopping app:web id:0')]));
    });

    it('does not match an online app', () => {
      // Act
      const found = processStoppedRule().evaluate(evidenceOf());

      // Assess
      expect(found).toBeUndefined();
    });
  });

  describe('port_mismatch', () => {
    it('names both ports and says a restart will not help', () => {
      // Prepare
      const evidence = evidenceOf({
        pm2: [pm2Item({ port: '3001' })],
        listeners: [ssLine('127.0.0.1:3001')],
        probeNginx: NGINX_502,
        probeUpstream: UPSTREAM_REFUSED,
        nginxError: REFUSED_LINES,
      });

      // Act
      const diagnosis = diagnose(evidence);

      // Assess
      expect(diagnosis.cause).toBe('port_mismatch');
      expect(diagnosis.summary).toContain('nginx proxies to 127.0.0.1:3000 but web listens on 3001');
      expect(diagnosis.advice.join(' ')).toContain('PORT=3000');
      expect(diagnosis.advice.join(' ')).toContain('proxy_pass http://127.0.0.1:3001;');
      expect(diagnosis.advice.join(' ')).toContain('restart will not help');
      expect(diagnosis.evidence.map((line) => line.text)).toEqual(expect.arrayContaining([expect.stringContaining('LISTEN 127.0.0.1:3001')]));
    });

    it('finds the app by process name when its pids are unknown', () => {
      // Prepare
      const evidence = evidenceOf({ appPids: [], pm2: [pm2Item({ pid: 0 })], listeners: [ssLine('0.0.0.0:8000', 9999, 'node')] });

      // Act
      const diagnosis = diagnose(evidence);

      // Assess
      expect(diagnosis.cause).toBe('port_mismatch');
    });

    it('does not take another node service on the host for the app when the app pids are known', () => {
      // Prepare
      const evidence = evidenceOf({
        appPids: [7100],
        pm2: [pm2Item({ pid: 7100 })],
        listeners: [ssLine('0.0.0.0:8000', 9999, 'node')],
        probeNginx: NGINX_502,
        probeUpstream: UPSTREAM_REFUSED,
      });

      // Act
      const diagnosis = diagnose(evidence);

      // Assess
      expect(diagnosis.cause).not.toBe('port_mismatch');
      expect(diagnosis.summary).toContain('nothing listens');
    });

    it('does not match an app listening on the upstream port', () => {
      // Act
      const found = portMismatchRule().evaluate(evidenceOf());

      // Assess
      expect(found).toBeUndefined();
    });
  });

  describe('proxy_misconfig', () => {
    it('names both addresses when the app binds ::1 and nginx proxies to 127.0.0.1', () => {
      // Prepare
      const evidence = evidenceOf({
        pm2: [pm2Item({ hostname: 'localhost' })],
        listeners: [ssLine('[::1]:3000')],
        probeNginx: NGINX_502,
        probeUpstream: UPSTREAM_REFUSED,
        nginxError: REFUSED_LINES,
      });

      // Act
      const diagnosis = diagnose(evidence);

      // Assess
      expect(diagnosis.cause).toBe('proxy_misconfig');
      expect(diagnosis.summary).toContain('127.0.0.1:3000');
      expect(diagnosis.summary).toContain('[::1]:3000');
      expect(diagnosis.advice.join(' ')).toContain('HOSTNAME=127.0.0.1');
      expect(diagnosis.advice.join(' ')).toContain('proxy_pass http://[::1]:3000;');
      expect(diagnosis.evidence.map((line) => line.source)).toContain('nginx-error');
    });

    it('names a localhost upstream when the app takes only one of its two addresses', () => {
      // Prepare
      const evidence = evidenceOf({ nginxProxy: ['proxy_pass http://localhost:3000;'], listeners: [ssLine('127.0.0.1:3000')] });

      // Act
      const diagnosis = diagnose(evidence);

      // Assess
      expect(diagnosis.cause).toBe('proxy_misconfig');
      expect(diagnosis.summary).toContain('both 127.0.0.1 and ::1');
    });

    it('accepts wildcard binds and a localhost upstream served on both loopbacks', () => {
      // Prepare
      const cases = [
        evidenceOf({ listeners: [ssLine('0.0.0.0:3000')] }),
        evidenceOf({ listeners: [ssLine('[::]:3000')] }),
        evidenceOf({ listeners: [ssLine('*:3000')] }),
        evidenceOf({ nginxProxy: ['proxy_pass http://localhost:3000;'], listeners: [ssLine('127.0.0.1:3000'), ssLine('[::1]:3000')] }),
        evidenceOf({ nginxProxy: ['proxy_pass http://[::1]:3000;'], listeners: [ssLine('[::1]:3000')] }),
      ];

      // Act
      const found = cases.map((evidence) => proxyMisconfigRule().evaluate(evidence));

      // Assess
      expect(found).toEqual([undefined, undefined, undefined, undefined, undefined]);
    });
  });

  describe('upstream_timeout', () => {
    const slow = [
      nginxErrorLine('10:01:00', 'timeout', { request: 'GET /api/report HTTP/1.1' }),
      nginxErrorLine('10:02:00', 'timeout', { request: 'GET /api/report HTTP/1.1' }),
      nginxErrorLine('10:03:00', 'timeout', { request: 'POST /api/export HTTP/1.1' }),
    ];

    it('names the slow requests and proxy_read_timeout, and says a restart would not help', () => {
      // Prepare
      const evidence = evidenceOf(
        {
          nginxProxy: ['proxy_pass http://127.0.0.1:3000;', 'proxy_read_timeout 30s;'],
          probeUpstream: probeLine('http://127.0.0.1:3000/', 200, 2.5),
        },
        { errorLines: slow, accessLines: ['10:01:00', '10:02:00', '10:03:00'].map((time) => accessLine(time, 504, 'GET /api/report HTTP/1.1')) },
      );

      // Act
      const diagnosis = diagnose(evidence);

      // Assess
      expect(diagnosis.cause).toBe('upstream_timeout');
      expect(diagnosis.summary).toContain('proxy_read_timeout (30 s)');
      expect(diagnosis.advice.join(' ')).toContain('`GET /api/report HTTP/1.1` (2×)');
      expect(diagnosis.advice.join(' ')).toContain('ISR');
      expect(diagnosis.advice.join(' ')).toContain('drop in-flight requests');
    });

    it('counts 504s in the access log alone, with nginx default timeout', () => {
      // Prepare
      const evidence = evidenceOf({ nginxProxy: ['proxy_pass http://127.0.0.1:3000;'] }, { accessLines: [accessLine('10:02:00', 504, 'GET /slow HTTP/1.1')] });

      // Act
      const diagnosis = diagnose(evidence);

      // Assess
      expect(diagnosis.cause).toBe('upstream_timeout');
      expect(diagnosis.summary).toContain('(60 s)');
      expect(diagnosis.advice.join(' ')).toContain('GET /slow HTTP/1.1');
    });

    it('does not match when the app does not answer the probe', () => {
      // Prepare
      const evidence = evidenceOf({ probeUpstream: probeLine('http://127.0.0.1:3000/', 0, 3.001, 28) }, { errorLines: slow });

      // Act
      const found = upstreamTimeoutRule().evaluate(evidence);

      // Assess
      expect(found).toBeUndefined();
    });

    it('ignores timeouts before the window', () => {
      // Prepare
      const evidence = evidenceOf({ nginxError: [nginxErrorLine('09:30:00', 'timeout')] });

      // Act
      const found = upstreamTimeoutRule().evaluate(evidence);

      // Assess
      expect(found).toBeUndefined();
    });
  });

  describe('app_hung', () => {
    it('names an app that listens but does not answer, and says to restart and profile', () => {
      // Prepare
      const evidence = evidenceOf(
        { probeNginx: probeLine('http://127.0.0.1:8080/', 0, 3.001, 28), probeUpstream: probeLine('http://127.0.0.1:3000/', 0, 3.001, 28) },
        { errorLines: [nginxErrorLine('10:01:00', 'timeout')] },
      );

      // Act
      const diagnosis = diagnose(evidence);

      // Assess
      expect(diagnosis.cause).toBe('app_hung');
      expect(diagnosis.summary).toContain('timed out after 3001 ms');
      expect(diagnosis.advice.join(' ')).toContain('pm2 restart web');
      expect(diagnosis.advice.join(' ')).toContain('kill -USR2 6957');
      expect(diagnosis.advice.join(' ')).toContain('event-loop');
    });

    it('counts an empty reply as no answer', () => {
      // Prepare
      const evidence = evidenceOf({ probeNginx: NGINX_502, probeUpstream: probeLine('http://127.0.0.1:3000/', 0, 0.2, 52) });

      // Act
      const diagnosis = diagnose(evidence);

      // Assess
      expect(diagnosis.cause).toBe('app_hung');
      expect(diagnosis.summary).toContain('empty reply');
    });

    it('does not match a refused connection (nothing hangs there)', () => {
      // Prepare
      const evidence = evidenceOf({ probeNginx: NGINX_502, probeUpstream: UPSTREAM_REFUSED });

      // Act
      const found = appHungRule().evaluate(evidence);

      // Assess
      expect(found).toBeUndefined();
    });
  });

  describe('healthy', () => {
    it('calls transient errors transient when both probes answer now', () => {
      // Prepare
      const evidence = evidenceOf({}, { accessLines: [accessLine('10:01:00', 502), accessLine('10:01:01', 502), accessLine('10:01:02', 200)] });

      // Act
      const diagnosis = diagnose(evidence);

      // Assess
      expect(diagnosis.cause).toBe('healthy');
      expect(diagnosis.summary).toContain('2 gateway errors were transient');
    });

    it('does not match when nginx still answers 502', () => {
      // Prepare
      const evidence = evidenceOf({ probeNginx: NGINX_502 });

      // Act
      const found = healthyRule().evaluate(evidence);

      // Assess
      expect(found).toBeUndefined();
    });
  });

  describe('unknown', () => {
    it('says what was seen when no rule matches', () => {
      // Prepare
      const evidence = evidenceOf({ probeNginx: NGINX_502 }, { errorLines: [nginxErrorLine('10:01:00', 'closed'), nginxErrorLine('10:01:01', 'closed')] });

      // Act
      const diagnosis = diagnose(evidence);

      // Assess
      expect(diagnosis.cause).toBe('unknown');
      expect(diagnosis.summary).toContain('No rule matched: web is online in PM2');
      expect(diagnosis.summary).toContain('nginx probe HTTP 502');
      expect(diagnosis.summary).toContain('premature_close×2');
      expect(diagnosis.advice.join(' ')).toContain('evidence');
      expect(diagnosis.evidence.length).toBeGreaterThan(0);
    });

    it('says nothing listens when the app is online without a socket', () => {
      // Prepare
      const evidence = evidenceOf({ listeners: [], probeNginx: NGINX_502, probeUpstream: UPSTREAM_REFUSED });

      // Act
      const diagnosis = diagnose(evidence);

      // Assess
      expect(diagnosis.cause).toBe('unknown');
      expect(diagnosis.summary).toContain('nothing listens for it');
    });
  });

  describe('evidence lines', () => {
    it('shows a couple of nginx lines, not hundreds', () => {
      // Prepare
      const many = Array.from({ length: 60 }, (_, i) => nginxErrorLine(`10:01:${String(i).padStart(2, '0')}`, 'refused'));
      const evidence = evidenceOf({ pm2: [pm2Item({ pid: 0, status: 'stopped', exitCode: 1 })], listeners: [] }, { errorLines: many });

      // Act
      const diagnosis = diagnose(evidence);

      // Assess
      const nginx = diagnosis.evidence.filter((line) => line.source === 'nginx-error');
      expect(nginx).toHaveLength(3);
      expect(nginx.at(-1)?.at).toBe('2026-11-24T10:01:59.000Z');
    });

    it('shows a deploy that came shortly before the first gateway error, and not an old one', () => {
      // Prepare
      const crashed = { pm2: [pm2Item({ pid: 0, status: 'stopped', exitCode: 1 })], listeners: [] };
      const logs = { accessLines: [accessLine('10:01:00', 502)] };
      const recent = evidenceOf({ ...crashed, deploy: ['build_id_mtime=2026-11-24T09:50:00.000Z'] }, logs);
      const old = evidenceOf({ ...crashed, deploy: ['build_id_mtime=2026-11-24T08:00:00.000Z'] }, logs);

      // Act
      const [withDeploy, withoutDeploy] = [recent, old].map((evidence) => diagnose(evidence).evidence.map((line) => line.text));

      // Assess
      expect(withDeploy).toEqual(expect.arrayContaining([expect.stringContaining('.next/BUILD_ID changed')]));
      expect(withoutDeploy?.some((text) => text.includes('BUILD_ID'))).toBe(false);
    });
  });
});
