import { describe, expect, it } from 'vitest';
import { diagnose } from '../../../functions/core/diagnosis/index.ts';
import { renderMarkdown, renderStep, renderText } from '../../../functions/report/text.ts';
import { buildTimeline } from '../../../functions/core/timeline.ts';
import type { Report, TimelineEntry } from '../../../functions/core/types.ts';
import { evidenceOf, nginxErrorLine, pm2Item, pm2LogLine, probeLine } from '../core/evidence-builder.ts';

/** A crashed app that Reflex restarted and saw recover, built from real log lines. */
function recoveredReport(): Report {
  const evidence = evidenceOf(
    {
      pm2: [pm2Item({ pid: 0, status: 'stopped', exitCode: 1 })],
      listeners: [],
      probeNginx: probeLine('http://127.0.0.1:8080/', 502, 0.004),
      probeUpstream: probeLine('http://127.0.0.1:3000/', 0, 0.001, 7),
      pm2Log: [pm2LogLine('10:00:00', 'App [web:0] exited with code [1] via signal [SIGINT]')],
    },
    { errorLines: [nginxErrorLine('10:00:01', 'refused'), nginxErrorLine('10:00:02', 'refused')] },
  );
  const responder: TimelineEntry[] = [
    { at: '2026-11-24T10:05:01.250Z', source: 'responder', message: 'restarting web: it crashed' },
    { at: '2026-11-24T10:05:04.500Z', source: 'probe', message: 'recovered: web serves through nginx again' },
  ];
  return {
    instanceId: 'i-0abc1234def567890',
    app: 'web',
    incidentId: 'inc-1',
    startedAt: '2026-11-24T10:05:00.000Z',
    finishedAt: '2026-11-24T10:05:04.600Z',
    diagnosis: diagnose(evidence),
    action: { kind: 'restart', executed: true, reason: 'web crashed and PM2 did not bring it back.' },
    outcome: 'recovered',
    timeline: buildTimeline(evidence, responder),
    gatewayErrors: evidence.gatewayErrors,
    timings: { diagnosedMs: 850, actedMs: 1250, recoveredMs: 4500 },
    skippedLines: 2,
  };
}

describe('renderText', () => {
  it('shows the cause, outcome, action, time to recover, advice, evidence and timeline', () => {
    // Prepare
    const report = recoveredReport();

    // Act
    const text = renderText(report);

    // Assess
    expect(text).toContain('process_crashed → recovered');
    expect(text).toContain(report.diagnosis.summary);
    expect(text).toContain('Action:   restart, done');
    expect(text).toContain('recovered 4.5 s after Reflex started');
    expect(text).toContain('  - Restart it: `pm2 restart web`.');
    expect(text).toMatch(/\n {2}10:00:01\.000 {2}nginx-error {3}2026\/11\/24 10:00:01 \[error\]/);
    expect(text).toMatch(/\n {2}10:05:01\.250 {2}responder {5}restarting web: it crashed\n/);
    expect(text).toContain('2 unreadable log lines were skipped.');
    expect(text).not.toContain('\u001b[');
  });

  it('colours the headline only when asked', () => {
    // Prepare
    const report = recoveredReport();

    // Act
    const text = renderText(report, { color: true });

    // Assess
    expect(text.split('\n')[0]).toMatch(/^\u001b\[1m\u001b\[32mReflex: web/);
  });

  it('says when nothing recovered', () => {
    // Prepare
    const report: Report = { ...recoveredReport(), outcome: 'escalated', timings: { diagnosedMs: 850 }, action: { kind: 'none', executed: false, reason: 'restart budget spent' } };

    // Act
    const text = renderText(report);

    // Assess
    expect(text).toContain('→ escalated, needs a human');
    expect(text).toContain('Recovery: not recovered');
    expect(text).toContain('Action:   none (restart budget spent)');
  });

  it('prints log text as text: escapes control characters and cuts at 300 characters', () => {
    // Prepare
    const report = recoveredReport();
    const hostile: Report = {
      ...report,
      diagnosis: {
        ...report.diagnosis,
        evidence: [{ source: 'nginx-error', at: '2026-11-24T10:00:01.000Z', text: `evil \u001b[2J\u001b]0;owned\u0007 ${'x'.repeat(400)}` }],
      },
    };

    // Act
    const text = renderText(hostile);

    // Assess
    expect(text).not.toContain('\u001b');
    expect(text).not.toContain('\u0007');
    expect(text).toContain('evil \\x1b[2J\\x1b]0;owned\\x07 xxx');
    const evidenceLine = text.split('\n').find((line) => line.includes('evil')) ?? '';
    expect(evidenceLine.endsWith('x…')).toBe(true);
    expect(evidenceLine.length).toBeLessThan(300 + 40);
  });
});

describe('renderMarkdown', () => {
  it('shows the cause, outcome, advice, and the evidence and timeline in code blocks', () => {
    // Prepare
    const report = recoveredReport();

    // Act
    const markdown = renderMarkdown(report);

    // Assess
    expect(markdown).toContain('`process_crashed` → **recovered**');
    expect(markdown).toContain('- Restart it: `pm2 restart web`.');
    expect(markdown).toContain('**Recovery:** recovered 4.5 s after Reflex started');
    expect(markdown).toContain('```text\n10:05:00.123  pm2           web (pm2 id 0): stopped');
    expect(markdown).toContain('**Timeline** (UTC)');
  });

  it('fences log text so that backticks inside cannot end the block', () => {
    // Prepare
    const report = recoveredReport();
    const tricky: Report = {
      ...report,
      diagnosis: { ...report.diagnosis, evidence: [{ source: 'nginx-error', at: '2026-11-24T10:00:01.000Z', text: 'request: "GET /```\n# owned HTTP/1.1"' }] },
    };

    // Act
    const markdown = renderMarkdown(tricky);

    // Assess
    expect(markdown).toContain('````text\n10:00:01.000  nginx-error   request: "GET /```\\x0a# owned HTTP/1.1"\n````');
  });
});

describe('renderStep', () => {
  it('prints one line with time, source and message', () => {
    // Prepare
    const entry: TimelineEntry = { at: '2026-11-24T10:05:01.250Z', source: 'responder', message: 'restarting web\nnow' };

    // Act
    const line = renderStep(entry);

    // Assess
    expect(line).toBe('10:05:01.250  responder     restarting web\\x0anow');
  });

  it('shows a placeholder for an entry without a time', () => {
    // Prepare
    const entry: TimelineEntry = { at: '', source: 'kernel', message: 'OOM killer killed node (pid 1)' };

    // Act
    const line = renderStep(entry, { color: false });

    // Assess
    expect(line).toBe('--:--:--.---  kernel        OOM killer killed node (pid 1)');
  });
});
