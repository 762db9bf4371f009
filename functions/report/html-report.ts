/**
 * The incident as one self-contained HTML page: inline CSS, an inline SVG chart, no script and no external resource
 * (a Content-Security-Policy forbids both), so it can be attached to a ticket or opened from disk as is.
 * Every piece of report text is HTML-escaped: log lines are hostile input.
 */
import type { Report } from '../core/types.ts';
import { duration, timeOfDay } from './format.ts';
import { actionSentence, OUTCOME_LABELS, timeToRecover } from './labels.ts';
import { reportSeries, type ReportSeries } from './sparkline.ts';

const MINUTE_MS = 60_000;

/** Advice names commands in `backticks`: show them as code. Runs on escaped text, so nothing else turns into markup. */
function withCode(escaped: string): string {
  return escaped.replace(/`([^`]+)`/g, '<code>$1</code>');
}

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** The outcome's label, capitalised: it starts a heading and a table cell. */
function outcomeText(report: Report): string {
  const label = OUTCOME_LABELS[report.outcome];
  return `${label.charAt(0).toUpperCase()}${label.slice(1)}`;
}

/** A vertical line on the chart for something the responder did. */
interface Marker {
  readonly at: number;
  readonly label: string;
  readonly kind: 'diagnosed' | 'action' | 'recovered';
}

function markers(report: Report): Marker[] {
  const start = Date.parse(report.startedAt);
  if (Number.isNaN(start)) return [];
  const { diagnosedMs, actedMs, recoveredMs } = report.timings;
  const list: Marker[] = [{ at: start + diagnosedMs, label: 'diagnosed', kind: 'diagnosed' }];
  if (actedMs !== undefined) list.push({ at: start + actedMs, label: `${report.action.kind} issued`, kind: 'action' });
  if (recoveredMs !== undefined) list.push({ at: start + recoveredMs, label: 'recovered', kind: 'recovered' });
  return list;
}

/** Chart geometry, px. The plot is at least `minWidth` wide so marker labels fit; bars get thinner as minutes grow. */
const CHART = { left: 44, right: 16, top: 48, plot: 150, bottom: 26, minWidth: 600, minStep: 10 } as const;

/** Bars of gateway errors per minute (one per minute, zeros included) and the responder's steps as marker lines. */
function chart(series: ReportSeries, marks: Marker[]): string {
  if (series.counts.length === 0) return '<p class="muted">No gateway error counts in this report.</p>';
  const step = Math.max(CHART.minStep, CHART.minWidth / series.counts.length);
  const barWidth = Math.max(2, Math.round(step * 0.7));
  const width = Math.round(CHART.left + series.counts.length * step + CHART.right);
  const height = CHART.top + CHART.plot + CHART.bottom;
  const peak = Math.max(1, ...series.counts);
  const baseline = CHART.top + CHART.plot;
  const from = series.from.getTime();
  const bars = series.counts.map((count, index) => {
    const minute = new Date(from + index * MINUTE_MS).toISOString();
    const barHeight = Math.round((count / peak) * CHART.plot);
    const x = (CHART.left + index * step + (step - barWidth) / 2).toFixed(1);
    return (
      `<rect class="bar" data-minute="${minute}" data-count="${count}" x="${x}" y="${baseline - barHeight}" ` +
      `width="${barWidth}" height="${barHeight}"><title>${timeOfDay(minute).slice(0, 5)} UTC: ${count}</title></rect>`
    );
  });
  const end = from + series.counts.length * MINUTE_MS;
  const lines = marks
    .filter((mark) => mark.at >= from && mark.at <= end)
    .map((mark, index) => {
      const x = (CHART.left + ((mark.at - from) / MINUTE_MS) * step).toFixed(1);
      // One label row per marker above the plot, so markers seconds apart stay readable.
      const labelY = CHART.top - 8 - (index % 3) * 13;
      const anchor = Number(x) > width * 0.6 ? 'end' : 'start';
      return (
        `<g class="marker marker-${mark.kind}"><line x1="${x}" x2="${x}" y1="${CHART.top - 4}" y2="${baseline}"/>` +
        `<text x="${x}" y="${labelY}" text-anchor="${anchor}">${escapeHtml(mark.label)} ${timeOfDay(new Date(mark.at).toISOString())}</text></g>`
      );
    });
  const axis =
    `<line class="axis" x1="${CHART.left}" x2="${width - CHART.right}" y1="${baseline}" y2="${baseline}"/>` +
    `<text class="tick" x="${CHART.left - 6}" y="${CHART.top + 4}" text-anchor="end">${peak}</text>` +
    `<text class="tick" x="${CHART.left - 6}" y="${baseline}" text-anchor="end">0</text>` +
    `<text class="tick" x="${CHART.left}" y="${baseline + 18}">${timeOfDay(series.from.toISOString()).slice(0, 5)}</text>` +
    `<text class="tick" x="${width - CHART.right}" y="${baseline + 18}" text-anchor="end">${timeOfDay(new Date(end - MINUTE_MS).toISOString()).slice(0, 5)} UTC</text>`;
  return (
    `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" ` +
    `role="img" aria-label="Gateway errors per minute, with the responder's actions">${axis}${bars.join('')}${lines.join('')}</svg>`
  );
}

const STYLE = `
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d2330;background:#f6f7f9;margin:0}
main{max-width:960px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px;text-transform:uppercase;letter-spacing:.04em;color:#4a5263}
.card{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:16px 20px;margin-top:16px}
.muted{color:#6b7385}.cause{font-family:ui-monospace,monospace;background:#eef1f6;padding:1px 6px;border-radius:4px}
.outcome-recovered,.outcome-healthy{color:#1a7f37}.outcome-escalated{color:#c0262d}.outcome-dry_run,.outcome-pending{color:#7a5a00}
pre{background:#f0f2f5;padding:10px;border-radius:6px;overflow-x:auto;white-space:pre-wrap;word-break:break-all;font-size:13px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}dt{color:#6b7385}dd{margin:0}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eceef2;vertical-align:top}
td.msg{font-family:ui-monospace,monospace;word-break:break-all}td.t{white-space:nowrap}
.chart{max-width:100%;height:auto}.bar{fill:#d9534f}.axis{stroke:#9aa1ad}.tick{font-size:11px;fill:#6b7385}
.marker line{stroke:#2f6fde;stroke-width:2;stroke-dasharray:4 3}.marker text{font-size:11px;fill:#2f6fde}
.marker-recovered line{stroke:#1a7f37}.marker-recovered text{fill:#1a7f37}.marker-diagnosed line{stroke:#8a8f99}.marker-diagnosed text{fill:#6b7385}
`;

/** The report as one self-contained HTML page. */
export function renderHtmlReport(report: Report): string {
  const { diagnosis, action, timings } = report;
  const headline = `${report.app} on ${report.instanceId}: ${diagnosis.cause}`;
  const timing = (label: string, ms: number | undefined) =>
    ms === undefined ? '' : `<dt>${label}</dt><dd>${escapeHtml(duration(ms))}</dd>`;
  const evidence = diagnosis.evidence.length
    ? `<pre>${diagnosis.evidence.map((line) => escapeHtml(`${timeOfDay(line.at)} ${line.source} ${line.text}`)).join('\n')}</pre>`
    : '<p class="muted">No evidence lines.</p>';
  const advice = diagnosis.advice.length
    ? `<ul>${diagnosis.advice.map((item) => `<li>${withCode(escapeHtml(item))}</li>`).join('')}</ul>`
    : '<p class="muted">Nothing to do.</p>';
  const rows = report.timeline
    .map(
      (entry) =>
        `<tr><td class="t">${escapeHtml(timeOfDay(entry.at))}</td><td>${escapeHtml(entry.source)}</td><td class="msg">${escapeHtml(entry.message)}</td></tr>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Reflex: ${escapeHtml(headline)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<header>
<h1>${escapeHtml(headline)} <span class="outcome-${escapeHtml(report.outcome)}">→ ${escapeHtml(outcomeText(report))}</span></h1>
<p class="muted">Incident ${escapeHtml(report.incidentId)} · ${escapeHtml(report.startedAt)} to ${escapeHtml(report.finishedAt)} (UTC)</p>
</header>
<section class="card">
<h2>Diagnosis</h2>
<p><span class="cause">${escapeHtml(diagnosis.cause)}</span> ${escapeHtml(diagnosis.summary)}</p>
${evidence}
</section>
<section class="card">
<h2>What to do</h2>
${advice}
</section>
<section class="card">
<h2>Action and outcome</h2>
<dl>
<dt>Action</dt><dd>${escapeHtml(actionSentence(action))}</dd>
<dt>Outcome</dt><dd class="outcome-${escapeHtml(report.outcome)}">${escapeHtml(outcomeText(report))}</dd>
${timing('Time to diagnose', timings.diagnosedMs)}
${timing('Time to act', timings.actedMs)}
<dt>Time to recover</dt><dd>${escapeHtml(timeToRecover(report))}</dd>
</dl>
</section>
<section class="card">
<h2>Gateway errors per minute</h2>
${chart(reportSeries(report), markers(report))}
</section>
<section class="card">
<h2>Timeline</h2>
${rows ? `<table><thead><tr><th>UTC</th><th>Source</th><th>Event</th></tr></thead><tbody>${rows}</tbody></table>` : '<p class="muted">No entries.</p>'}
</section>
<footer><p class="muted">Generated by Reflex. ${report.skippedLines} unreadable log line(s) skipped.</p></footer>
</main>
</body>
</html>
`;
}
