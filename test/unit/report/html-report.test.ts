import { describe, expect, it } from 'vitest';
import { escapeHtml, renderHtmlReport } from '../../../functions/report/html-report.ts';
import type { Report } from '../../../functions/core/types.ts';
import { reportFixture } from '../../helpers/report.ts';

const HOSTILE = `<script>alert(1)</script><img src=x onerror=alert(2)> "quoted" 'single' & <a href="https://evil.example">x</a>`;

/** The standard report, with unreadable log lines for the page to mention. */
function report(): Report {
  return reportFixture({ skippedLines: 3 });
}

function hostile(): Report {
  const base = report();
  return {
    ...base,
    app: HOSTILE,
    incidentId: HOSTILE,
    diagnosis: { ...base.diagnosis, summary: HOSTILE, advice: [HOSTILE], evidence: [{ source: 'nginx-error', at: base.startedAt, text: HOSTILE }] },
    action: { ...base.action, reason: HOSTILE, error: HOSTILE },
    timeline: [{ at: base.startedAt, source: 'nginx-error', message: HOSTILE }],
  };
}

describe('escapeHtml', () => {
  it('escapes the five characters that matter in content and quoted attributes', () => {
    // Prepare
    const text = `<a href="x" title='y'>&</a>`;
    // Act
    const escaped = escapeHtml(text);
    // Assess
    expect(escaped).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });
});

describe('renderHtmlReport', () => {
  it('renders headline, diagnosis, advice, action, outcome, time to recover and the timeline', () => {
    // Prepare
    const input = report();
    // Act
    const html = renderHtmlReport(input);
    // Assess
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<h1>web on i-0123456789abcdef0: process_crashed <span class="outcome-recovered">→ Recovered</span></h1>');
    expect(html).toContain('The app web exited with code 1');
    expect(html).toContain('<li>Check the last deploy.</li>');
    expect(html).toContain('<li>Restart it: <code>pm2 restart web</code>.</li>');
    expect(html).toContain('<dt>Action</dt><dd>restart, done (the process crashed; a restart brings it back)</dd>');
    expect(html).toContain('<dt>Time to recover</dt><dd>42 s</dd>');
    expect(html).toContain('<tr><td class="t">10:00:05</td><td>responder</td><td class="msg">restart issued</td></tr>');
    expect(html).toContain('3 unreadable log line(s) skipped');
  });

  it('is self-contained: inline style, no script, no external resource', () => {
    // Prepare
    const input = report();
    // Act
    const html = renderHtmlReport(input);
    // Assess
    expect(html).toContain('<style>');
    expect(html).not.toMatch(/<script|<link|<img|src=|href=|@import|url\(/i);
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`);
  });

  it('draws one bar per minute around the incident, zeros included', () => {
    // Prepare
    const input = report();
    // Act
    const html = renderHtmlReport(input);
    // Assess: 09:57 (first count) to 10:01 (end of the response) is five minutes.
    const bars = [...html.matchAll(/<rect class="bar" data-minute="([^"]+)" data-count="(\d+)"/g)].map((m) => [m[1], Number(m[2])]);
    expect(bars).toEqual([
      ['2026-11-24T09:57:00.000Z', 2],
      ['2026-11-24T09:58:00.000Z', 0],
      ['2026-11-24T09:59:00.000Z', 40],
      ['2026-11-24T10:00:00.000Z', 0],
      ['2026-11-24T10:01:00.000Z', 0],
    ]);
    expect(html).toMatch(/<svg class="chart"[^>]*viewBox=/);
  });

  it("marks the responder's steps on the chart as vertical lines with labels", () => {
    // Prepare
    const input = report();
    // Act
    const html = renderHtmlReport(input);
    // Assess
    const markers = [...html.matchAll(/<g class="marker marker-(\w+)"><line x1="([\d.]+)" x2="([\d.]+)"[^>]*\/><text[^>]*>([^<]+)<\/text><\/g>/g)].map(
      (m) => ({ kind: m[1], vertical: m[2] === m[3], label: m[4] }),
    );
    expect(markers).toEqual([
      { kind: 'diagnosed', vertical: true, label: 'diagnosed 10:00:03' },
      { kind: 'action', vertical: true, label: 'restart issued 10:00:05' },
      { kind: 'recovered', vertical: true, label: 'recovered 10:00:42' },
    ]);
  });

  it('places a marker at its time on the minute axis', () => {
    // Prepare
    const input = report();
    // Act
    const html = renderHtmlReport(input);
    // Assess: a bar's centre stands for the middle of its minute (hh:mm:30).
    const centre = (minute: string) => {
      const match = new RegExp(`data-minute="${minute}" data-count="\\d+" x="([\\d.]+)" y="\\d+" width="(\\d+)"`).exec(html);
      return Number(match?.[1]) + Number(match?.[2]) / 2;
    };
    const marker = (kind: string) => Number(new RegExp(`marker-${kind}"><line x1="([\\d.]+)"`).exec(html)?.[1]);
    expect(marker('action')).toBeGreaterThan(centre('2026-11-24T09:59:00.000Z'));
    expect(marker('action')).toBeLessThan(centre('2026-11-24T10:00:00.000Z'));
    expect(marker('recovered')).toBeGreaterThan(centre('2026-11-24T10:00:00.000Z'));
    expect(marker('recovered')).toBeLessThan(centre('2026-11-24T10:01:00.000Z'));
  });

  it('escapes every piece of report text', () => {
    // Prepare
    const input = hostile();
    // Act
    const html = renderHtmlReport(input);
    // Assess
    expect(html).not.toMatch(/<script|<img|<a href|onerror=alert\(2\)>/);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt; &quot;quoted&quot; &#39;single&#39; &amp;');
    expect(html.split('&lt;script&gt;').length - 1).toBeGreaterThanOrEqual(8);
  });

  it('says so when there is nothing to chart, and when the app did not recover', () => {
    // Prepare
    const input: Report = { ...report(), gatewayErrors: [], outcome: 'escalated', timings: { diagnosedMs: 3000 }, startedAt: 'bad', finishedAt: 'bad' };
    // Act
    const html = renderHtmlReport(input);
    // Assess
    expect(html).toContain('No gateway error counts in this report.');
    expect(html).toContain('<dt>Time to recover</dt><dd>not recovered</dd>');
    expect(html).toContain('Escalated, needs a human');
  });
});
