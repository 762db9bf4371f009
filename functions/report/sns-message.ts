/**
 * The report as SNS carries it: a subject, a plain text for email, and an Amazon Q Developer in chat applications
 * (formerly AWS Chatbot) custom notification. Each is bounded here; the SNS adapter fits them into one message.
 */
import type { Report, TimelineEntry } from '../core/types.ts';
import { cut, duration } from './format.ts';
import { actionSentence, OUTCOME_LABELS } from './labels.ts';

/** SNS rejects a subject of 100 characters or more. */
const MAX_SUBJECT_CHARS = 99;
/**
 * Bounds for the chat card. Conservative on purpose: the description fits one Slack section (3,000 characters),
 * and a card stays short enough to read on a phone.
 */
const CHAT_TITLE_CHARS = 250;
const CHAT_DESCRIPTION_CHARS = 3_000;
const CHAT_SUMMARY_CHARS = 250;
const CHAT_NEXT_STEPS = 5;
const CHAT_NEXT_STEP_CHARS = 300;
const CHAT_TIMELINE_ENTRIES = 12;
/** Subjects are ASCII (SNS), and the chat card follows them. */
const ASCII_ELLIPSIS = '...';

/** The Amazon Q Developer in chat applications custom notification (schema version 1.0). */
export interface ChatbotMessage {
  readonly version: '1.0';
  readonly source: 'custom';
  readonly content: {
    readonly textType: 'client-markdown';
    readonly title: string;
    readonly description: string;
    readonly nextSteps: string[];
    readonly keywords: string[];
  };
  readonly metadata: {
    /** One thread per incident. */
    readonly threadId: string;
    readonly summary: string;
  };
}

/** `[Reflex] <app> on <instance>: <cause> -> <outcome>`: printable ASCII, one line, under 100 characters. */
export function toSubject(report: Report): string {
  const raw = `[Reflex] ${report.app} on ${report.instanceId}: ${report.diagnosis.cause} -> ${report.outcome}`;
  const ascii = raw
    .replace(/[^\x20-\x7e]/g, '?')
    .replace(/\s+/g, ' ')
    .trim();
  return cut(ascii, MAX_SUBJECT_CHARS, ASCII_ELLIPSIS);
}

/** The report as an Amazon Q Developer in chat applications custom notification, bounded for a chat card. */
export function toChatbotMessage(report: Report): ChatbotMessage {
  const lines = [
    `*Cause:* \`${report.diagnosis.cause}\`: ${report.diagnosis.summary}`,
    `*Action:* ${actionSentence(report.action)}`,
    `*Outcome:* ${outcomeText(report)}`,
  ];
  const errors = gatewayErrorsText(report);
  if (errors) lines.push(`*Gateway errors:* ${errors}`);
  const timeline = keepEnds(report.timeline, CHAT_TIMELINE_ENTRIES);
  if (timeline.length > 0) {
    const shown = timeline.length < report.timeline.length ? ` (${timeline.length - 1} of ${report.timeline.length})` : '';
    lines.push('', `*Timeline*${shown}`, ...timeline.map((entry) => `• ${timelineLine(entry)}`));
  }
  lines.push('', `Incident \`${report.incidentId}\``);
  return {
    version: '1.0',
    source: 'custom',
    content: {
      textType: 'client-markdown',
      title: cut(escapeChat(headline(report)), CHAT_TITLE_CHARS, ASCII_ELLIPSIS),
      description: cut(escapeChat(lines.join('\n')), CHAT_DESCRIPTION_CHARS, ASCII_ELLIPSIS),
      nextSteps: report.diagnosis.advice.slice(0, CHAT_NEXT_STEPS).map((step) => cut(escapeChat(step), CHAT_NEXT_STEP_CHARS, ASCII_ELLIPSIS)),
      keywords: [report.diagnosis.cause, report.outcome],
    },
    metadata: { threadId: report.incidentId, summary: cut(headline(report), CHAT_SUMMARY_CHARS, ASCII_ELLIPSIS) },
  };
}

/** The plain text for email and SNS's default: headline, summary, action, outcome, advice, timeline. */
export function renderEmailText(report: Report): string {
  const lines = [headline(report), report.diagnosis.summary, '', `Action: ${actionSentence(report.action)}`, `Outcome: ${outcomeText(report)}`];
  const errors = gatewayErrorsText(report);
  if (errors) lines.push(`Gateway errors: ${errors}`);
  if (report.diagnosis.advice.length > 0) lines.push('', 'Advice:', ...report.diagnosis.advice.map((step) => `- ${step}`));
  if (report.timeline.length > 0) lines.push('', 'Timeline:', ...report.timeline.map(timelineLine));
  lines.push('', `Incident ${report.incidentId}, ${report.startedAt} to ${report.finishedAt}`);
  return lines.join('\n');
}

/** The first and last entries with an ellipsis entry between them when there are more than `keep`. */
function keepEnds(entries: TimelineEntry[], keep: number): TimelineEntry[] {
  if (entries.length <= keep) return entries;
  const headCount = Math.ceil((keep - 1) / 3);
  const tailCount = keep - 1 - headCount;
  const between: TimelineEntry = {
    at: entries[headCount - 1]?.at ?? entries[0]?.at ?? '',
    source: 'responder',
    message: `... ${entries.length - headCount - tailCount} more`,
  };
  return [...entries.slice(0, headCount), between, ...entries.slice(entries.length - tailCount)];
}

function headline(report: Report): string {
  return `[Reflex] ${report.app} on ${report.instanceId}: ${report.diagnosis.cause} → ${report.outcome}`;
}

function outcomeText(report: Report): string {
  const recoveredMs = report.timings.recoveredMs;
  if (report.outcome === 'recovered' && recoveredMs !== undefined) return `recovered in ${duration(recoveredMs)}`;
  return OUTCOME_LABELS[report.outcome];
}

/** `37 (502: 30, 504: 7)`, or empty when none were counted. */
function gatewayErrorsText(report: Report): string {
  const byStatus = new Map<string, number>();
  let total = 0;
  for (const minute of report.gatewayErrors) {
    total += minute.count;
    for (const [status, count] of Object.entries(minute.byStatus)) byStatus.set(status, (byStatus.get(status) ?? 0) + count);
  }
  if (total === 0) return '';
  const parts = [...byStatus].sort(([a], [b]) => a.localeCompare(b)).map(([status, count]) => `${status}: ${count}`);
  return parts.length > 0 ? `${total} (${parts.join(', ')})` : String(total);
}

function timelineLine(entry: TimelineEntry): string {
  return `${entry.at} [${entry.source}] ${entry.message}`;
}

/** Slack reads `<…>` as links and mentions (`<!channel>`): log lines must not be able to ping anyone. */
function escapeChat(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
