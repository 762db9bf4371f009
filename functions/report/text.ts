/**
 * Renderers of a report: text for the terminal, Markdown for email and chat tools, and one line per live step.
 * Log text is printed as text: control characters are made visible (no terminal escape from a log line) and every
 * piece is cut to 300 characters. A draft (`pending`) reads as in progress.
 */
import type { Outcome, Report, Source, TimelineEntry } from '../core/types.ts';
import { clockTime, cut, duration } from './format.ts';
import { actionSentence, OUTCOME_LABELS, timeToRecover } from './labels.ts';

/** Options of the renderers. */
export interface RenderOptions {
  /** ANSI colours for a terminal. @default false */
  readonly color?: boolean;
}

const MAX_TEXT = 300;
const SOURCE_WIDTH = 'nginx-access'.length;

const ANSI = { reset: '\u001b[0m', bold: '\u001b[1m', dim: '\u001b[2m', red: '\u001b[31m', green: '\u001b[32m', yellow: '\u001b[33m' } as const;

const OUTCOME_COLOR: Record<Outcome, string> = {
  healthy: ANSI.green,
  recovered: ANSI.green,
  escalated: ANSI.red,
  dry_run: ANSI.yellow,
  pending: ANSI.yellow,
};

/** Text as text: control characters shown as `\xNN` (tabs as spaces), cut to 300 characters. */
export function plain(text: string): string {
  const visible = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (char) =>
    char === '\t' ? ' ' : `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  return cut(visible, MAX_TEXT);
}

function paint(text: string, code: string, color: boolean | undefined): string {
  return color ? `${code}${text}${ANSI.reset}` : text;
}

/** One live line: time, source, message. */
export function renderStep(entry: TimelineEntry, options: RenderOptions = {}): string {
  return line(entry.at, entry.source, entry.message, options.color);
}

function line(at: string, source: Source, text: string, color: boolean | undefined): string {
  return `${paint(clockTime(at), ANSI.dim, color)}  ${source.padEnd(SOURCE_WIDTH)}  ${plain(text)}`;
}

function recoveryText(report: Report): string {
  const { timings } = report;
  if (timings.recoveredMs === undefined) return timeToRecover(report);
  const acted = timings.actedMs !== undefined ? `, action issued after ${duration(timings.actedMs)}` : '';
  return `recovered ${duration(timings.recoveredMs)} after Reflex started${acted}`;
}

function headline(report: Report): string {
  return `Reflex: ${report.app} on ${report.instanceId}: ${report.diagnosis.cause} → ${OUTCOME_LABELS[report.outcome]}`;
}

/** The report for a terminal. */
export function renderText(report: Report, options: RenderOptions = {}): string {
  const { color } = options;
  const { diagnosis } = report;
  const out = [
    paint(plain(headline(report)), `${ANSI.bold}${OUTCOME_COLOR[report.outcome]}`, color),
    plain(diagnosis.summary),
    '',
    `Action:   ${plain(actionSentence(report.action))}`,
    `Recovery: ${recoveryText(report)}`,
    `Diagnosed after ${duration(report.timings.diagnosedMs)}; incident ${plain(report.incidentId)}, ${plain(report.startedAt)}.`,
    '',
    paint('Advice', ANSI.bold, color),
    ...diagnosis.advice.map((advice) => `  - ${plain(advice)}`),
  ];
  if (diagnosis.evidence.length > 0) {
    out.push('', paint('Evidence', ANSI.bold, color), ...diagnosis.evidence.map((item) => `  ${line(item.at, item.source, item.text, color)}`));
  }
  if (report.timeline.length > 0) {
    out.push('', paint('Timeline', ANSI.bold, color), ...report.timeline.map((entry) => `  ${renderStep(entry, options)}`));
  }
  if (report.skippedLines > 0) out.push('', `${report.skippedLines} unreadable log line${report.skippedLines === 1 ? ' was' : 's were'} skipped.`);
  return `${out.join('\n')}\n`;
}

/** A fenced block that no backtick run inside the content can close (CommonMark: a longer fence wins). */
function fenced(lines: string[]): string[] {
  const longest = Math.max(0, ...lines.map((text) => Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length))));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return [`${fence}text`, ...lines, fence];
}

/** The report as Markdown, for email and chat tools. */
export function renderMarkdown(report: Report): string {
  const { diagnosis } = report;
  const out = [
    `### Reflex: ${plain(report.app)} on ${plain(report.instanceId)}: \`${diagnosis.cause}\` → **${OUTCOME_LABELS[report.outcome]}**`,
    '',
    plain(diagnosis.summary),
    '',
    `**Action:** ${plain(actionSentence(report.action))}  `,
    `**Recovery:** ${recoveryText(report)}  `,
    `**Incident:** ${plain(report.incidentId)}, started ${plain(report.startedAt)}`,
    '',
    '**Advice**',
    ...diagnosis.advice.map((advice) => `- ${plain(advice)}`),
  ];
  if (diagnosis.evidence.length > 0) {
    out.push('', '**Evidence**', ...fenced(diagnosis.evidence.map((item) => line(item.at, item.source, item.text, false))));
  }
  if (report.timeline.length > 0) {
    out.push('', '**Timeline** (UTC)', ...fenced(report.timeline.map((entry) => renderStep(entry))));
  }
  if (report.skippedLines > 0) out.push('', `_${report.skippedLines} unreadable log lines skipped._`);
  return `${out.join('\n')}\n`;
}
