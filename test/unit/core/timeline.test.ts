import { describe, expect, it } from 'vitest';
import { MAX_TIMELINE_ENTRIES, buildTimeline, sortByTime } from '../../../functions/core/timeline.ts';
import type { TimelineEntry } from '../../../functions/core/types.ts';
import { accessLine, evidenceOf, nginxErrorLine, oomLine, pm2Item, pm2LogLine, probeLine } from './evidence-builder.ts';

const two = (n: number): string => String(n).padStart(2, '0');

describe('buildTimeline', () => {
  it('counts gateway errors per minute by status', () => {
    // Prepare
    const lines = [
      ...Array.from({ length: 10 }, (_, i) => accessLine(`10:01:${two(i)}`, 502)),
      accessLine('10:01:30', 504),
      accessLine('10:01:31', 504),
      accessLine('10:01:32', 200),
      accessLine('10:02:00', 502),
    ];
    const evidence = evidenceOf({}, { accessLines: lines });

    // Act
    const timeline = buildTimeline(evidence, []);

    // Assess
    const access = timeline.filter((entry) => entry.source === 'nginx-access');
    expect(access).toEqual([
      { at: '2026-11-24T10:01:00.000Z', source: 'nginx-access', message: '12 gateway errors (502×10, 504×2)' },
      { at: '2026-11-24T10:02:00.000Z', source: 'nginx-access', message: '1 gateway error (502×1)' },
    ]);
  });

  it('collapses consecutive nginx error lines of the same kind and upstream', () => {
    // Prepare
    const refused = Array.from({ length: 14 }, (_, i) => nginxErrorLine(`10:00:${two(i + 1)}`, 'refused', { connection: 8400 + i }));
    const timeout = nginxErrorLine('10:00:20', 'timeout', { request: 'GET /api/report HTTP/1.1', connection: 9000 });
    const refusedAgain = nginxErrorLine('10:00:30', 'refused', { connection: 9001 });
    const evidence = evidenceOf({}, { errorLines: [...refused, timeout, refusedAgain] });

    // Act
    const timeline = buildTimeline(evidence, []);

    // Assess
    expect(timeline.filter((entry) => entry.source === 'nginx-error').map((entry) => entry.message)).toEqual([
      'connect() failed (111: Connection refused) to 127.0.0.1:3000 ×14 (10:00:01–10:00:14)',
      'upstream timed out (110: Connection timed out) to 127.0.0.1:3000 (GET /api/report HTTP/1.1)',
      'connect() failed (111: Connection refused) to 127.0.0.1:3000 (GET / HTTP/1.1)',
    ]);
  });

  it('keeps the same kind to different upstreams apart', () => {
    // Prepare
    const evidence = evidenceOf(
      {},
      {
        errorLines: [
          nginxErrorLine('10:00:01', 'refused', { upstream: 'http://127.0.0.1:3000/', connection: 1 }),
          nginxErrorLine('10:00:02', 'refused', { upstream: 'http://[::1]:3000/', connection: 2 }),
        ],
      },
    );

    // Act
    const timeline = buildTimeline(evidence, []);

    // Assess
    expect(timeline.filter((entry) => entry.source === 'nginx-error')).toHaveLength(2);
  });

  it('tells PM2 events, OOM kills, deploy markers and probes in words', () => {
    // Prepare
    const evidence = evidenceOf(
      {
        pm2: [pm2Item({ pid: 0, status: 'stopped', exitCode: 1 })],
        probeNginx: probeLine('http://127.0.0.1:8080/', 502, 0.004),
        probeUpstream: probeLine('http://127.0.0.1:3000/', 0, 0.001, 7),
        pm2Log: [
          pm2LogLine('10:00:00', 'App [web:0] online'),
          pm2LogLine('10:01:00', 'App [web:0] exited with code [null] via signal [SIGKILL]'),
          pm2LogLine('10:02:00', 'Stopping app:web id:0'),
          pm2LogLine('10:02:01', 'App [web:0] exited with code [1] via signal [SIGINT]'),
        ],
        deploy: ['pm2_started_at=2026-11-24T09:58:00.000Z', 'build_id_mtime=2026-11-24T09:57:40.000Z'],
      },
      { kernelLines: [oomLine('10:00:59', 6957)] },
    );

    // Act
    const messages = buildTimeline(evidence, []).map((entry) => `${entry.source} ${entry.message}`);

    // Assess
    expect(messages).toEqual([
      'pm2 .next/BUILD_ID changed (deploy)',
      'pm2 PM2 started web (deploy?)',
      'pm2 web online',
      'kernel OOM killer killed node (pid 6957, 406 MB resident)',
      'pm2 web exited without an exit code via SIGKILL',
      'pm2 web stopped by pm2 stop',
      'pm2 web exited with code 1',
      'probe nginx probe http://127.0.0.1:8080/ → HTTP 502 in 4 ms',
      'probe upstream probe http://127.0.0.1:3000/ → no answer (refused) in 1 ms',
    ]);
  });

  it('merges the responder entries by time, stably, with entries without a time last', () => {
    // Prepare
    const evidence = evidenceOf({ pm2Log: [], deploy: [] }, { errorLines: [nginxErrorLine('10:00:01', 'refused')], kernelLines: ['[  278.253867] Out of memory: Killed process 4242 (node) total-vm:1kB, anon-rss:2048kB, file-rss:0kB'] });
    const responder: TimelineEntry[] = [
      { at: '2026-11-24T10:05:01.000Z', source: 'responder', message: 'restarting web' },
      { at: '2026-11-24T10:00:01.000Z', source: 'responder', message: 'alarm received' },
    ];

    // Act
    const timeline = buildTimeline(evidence, responder);

    // Assess
    expect(timeline.map((entry) => entry.message)).toEqual([
      'connect() failed (111: Connection refused) to 127.0.0.1:3000 (GET / HTTP/1.1)',
      'alarm received',
      'nginx probe http://127.0.0.1:8080/ → HTTP 200 in 12 ms',
      'upstream probe http://127.0.0.1:3000/ → HTTP 200 in 10 ms',
      'restarting web',
      'OOM killer killed node (pid 4242, 2 MB resident)',
    ]);
  });

  it('is bounded: keeps the responder entries and the newest others, and says how many were left out', () => {
    // Prepare: alternating kinds never collapse.
    const lines = Array.from({ length: 150 }, (_, i) =>
      nginxErrorLine(`10:0${Math.floor(i / 60)}:${two(i % 60)}`, i % 2 === 0 ? 'refused' : 'closed', { connection: i }),
    );
    const evidence = evidenceOf({ probeNginx: undefined, probeUpstream: undefined, pm2Log: [], deploy: [] }, { errorLines: lines });
    const responder: TimelineEntry[] = Array.from({ length: 5 }, (_, i) => ({ at: `2026-11-24T10:00:0${i}.500Z`, source: 'responder', message: `step ${i}` }));

    // Act
    const timeline = buildTimeline(evidence, responder);

    // Assess
    expect(timeline).toHaveLength(MAX_TIMELINE_ENTRIES);
    expect(timeline.filter((entry) => entry.message.startsWith('step '))).toHaveLength(5);
    expect(timeline[0]?.message).toBe('timeline bounded to 100 entries: 56 older entries left out');
    expect(timeline.at(-1)?.at).toBe('2026-11-24T10:02:29.000Z');
  });
});

describe('sortByTime', () => {
  it('keeps the input order for equal times', () => {
    // Prepare
    const entries: TimelineEntry[] = [
      { at: '2026-11-24T10:00:01.000Z', source: 'pm2', message: 'b' },
      { at: '2026-11-24T10:00:00.000Z', source: 'pm2', message: 'a' },
      { at: '2026-11-24T10:00:01.000Z', source: 'probe', message: 'c' },
      { at: '', source: 'kernel', message: 'd' },
    ];

    // Act
    const sorted = sortByTime(structuredClone(entries));

    // Assess
    expect(sorted.map((entry) => entry.message)).toEqual(['a', 'b', 'c', 'd']);
  });
});
