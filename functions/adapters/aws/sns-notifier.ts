/**
 * SNS adapter: publishes the final report once, readable as email and as an Amazon Q Developer in chat
 * applications (formerly AWS Chatbot) custom notification, which Chatbot receives over its HTTPS subscription.
 */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { Notifier } from '../../core/ports.ts';
import type { Outcome, Report, TimelineEntry } from '../../core/types.ts';
import { InputError } from '../../core/validate.ts';
import { awsErrorName, isAccessDenied, isThrottling } from './errors.ts';

/** SNS's default maximum message size: 256 KiB, counted in UTF-8 bytes. */
export const MAX_MESSAGE_BYTES = 262_144;
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
const TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/;

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

export interface ReportTextRenderer {
  text(report: Report): string;
}

export interface SnsNotifierOptions {
  readonly client: SNSClient;
  /** A standard topic: FIFO topics would need a message group id. */
  readonly topicArn: string;
  /** Renders the email/default text; the built-in plain-text renderer when absent. */
  readonly render?: ReportTextRenderer;
}

/** Publishes the report to one SNS topic. Never throws: a failed delivery is returned, said for a human. */
export class SnsNotifier implements Notifier {
  private readonly client: SNSClient;
  private readonly topicArn: string;
  private readonly render: ReportTextRenderer;

  constructor(options: SnsNotifierOptions) {
    if (!TOPIC_ARN.test(options.topicArn)) {
      throw new InputError(`topicArn: must be a standard SNS topic ARN, got ${JSON.stringify(options.topicArn).slice(0, 80)}`, 'topicArn');
    }
    this.client = options.client;
    this.topicArn = options.topicArn;
    this.render = options.render ?? { text: renderText };
  }

  async publish(report: Report): Promise<{ readonly channel: string; readonly ok: boolean; readonly error?: string }[]> {
    let message: string;
    let subject: string;
    try {
      message = buildMessage(report, this.render);
      subject = toSubject(report);
    } catch (error) {
      return [{ channel: 'sns', ok: false, error: `Reflex could not render the report for SNS (${awsErrorName(error)}); nothing was sent.` }];
    }
    try {
      await this.client.send(new PublishCommand({ TopicArn: this.topicArn, Subject: subject, Message: message, MessageStructure: 'json' }));
      return [{ channel: 'sns', ok: true }];
    } catch (error) {
      return [{ channel: 'sns', ok: false, error: publishError(error, this.topicArn) }];
    }
  }
}

/** `[Reflex] <app> on <instance>: <cause> -> <outcome>`: printable ASCII, one line, under 100 characters. */
export function toSubject(report: Report): string {
  const raw = `[Reflex] ${report.app} on ${report.instanceId}: ${report.diagnosis.cause} -> ${report.outcome}`;
  const ascii = raw
    .replace(/[^\x20-\x7e]/g, '?')
    .replace(/\s+/g, ' ')
    .trim();
  return cut(ascii, MAX_SUBJECT_CHARS);
}

/** The report as an Amazon Q Developer in chat applications custom notification, bounded for a chat card. */
export function toChatbotMessage(report: Report): ChatbotMessage {
  const lines = [
    `*Cause:* \`${report.diagnosis.cause}\`: ${report.diagnosis.summary}`,
    `*Action:* ${actionText(report)}`,
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
      title: cut(escapeChat(headline(report)), CHAT_TITLE_CHARS),
      description: cut(escapeChat(lines.join('\n')), CHAT_DESCRIPTION_CHARS),
      nextSteps: report.diagnosis.advice.slice(0, CHAT_NEXT_STEPS).map((step) => cut(escapeChat(step), CHAT_NEXT_STEP_CHARS)),
      keywords: [report.diagnosis.cause, report.outcome],
    },
    metadata: { threadId: report.incidentId, summary: cut(headline(report), CHAT_SUMMARY_CHARS) },
  };
}

/** The built-in plain-text rendering: headline, summary, action, advice, timeline. */
export function renderText(report: Report): string {
  const lines = [headline(report), report.diagnosis.summary, '', `Action: ${actionText(report)}`, `Outcome: ${outcomeText(report)}`];
  const errors = gatewayErrorsText(report);
  if (errors) lines.push(`Gateway errors: ${errors}`);
  if (report.diagnosis.advice.length > 0) lines.push('', 'Advice:', ...report.diagnosis.advice.map((step) => `- ${step}`));
  if (report.timeline.length > 0) lines.push('', 'Timeline:', ...report.timeline.map(timelineLine));
  lines.push('', `Incident ${report.incidentId}, ${report.startedAt} to ${report.finishedAt}`);
  return lines.join('\n');
}

/**
 * The MessageStructure=json body. When it is over SNS's limit, timeline entries are dropped from the middle
 * (the start says what broke, the end what Reflex did) and a marker says how many.
 */
function buildMessage(report: Report, render: ReportTextRenderer): string {
  const build = (candidate: Report, text = render.text(candidate)) =>
    JSON.stringify({ default: text, email: text, https: JSON.stringify(toChatbotMessage(candidate)) });
  const whole = build(report);
  if (fits(whole)) return whole;

  let low = 0;
  let high = report.timeline.length - 1;
  let best: string | undefined;
  while (low <= high) {
    const keep = Math.floor((low + high) / 2);
    const candidate = build(withTimeline(report, keep));
    if (fits(candidate)) {
      best = candidate;
      low = keep + 1;
    } else {
      high = keep - 1;
    }
  }
  if (best) return best;

  // Even without a timeline the text is too long (huge advice, or a custom renderer): cut the text itself.
  const bare = withTimeline(report, 0);
  const text = render.text(bare);
  let keepChars = text.length;
  let message = build(bare, text);
  while (!fits(message) && keepChars > 0) {
    keepChars = Math.floor(keepChars * 0.8);
    message = build(bare, `${text.slice(0, keepChars)}\n... (cut to fit the SNS 256 KB limit)`);
  }
  return message;
}

function fits(message: string): boolean {
  return Buffer.byteLength(message, 'utf8') <= MAX_MESSAGE_BYTES;
}

/** The report with only `keep` timeline entries (first half and last half) and a marker for the rest. */
function withTimeline(report: Report, keep: number): Report {
  const dropped = report.timeline.length - keep;
  if (dropped <= 0) return report;
  const head = report.timeline.slice(0, Math.ceil(keep / 2));
  const tail = report.timeline.slice(report.timeline.length - Math.floor(keep / 2));
  const marker: TimelineEntry = {
    at: head.at(-1)?.at ?? report.timeline[0]?.at ?? report.startedAt,
    source: 'responder',
    message: `... ${dropped} timeline entries dropped to fit the SNS 256 KB limit`,
  };
  return { ...report, timeline: [...head, marker, ...tail] };
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

function actionText(report: Report): string {
  const { kind, executed, reason, error } = report.action;
  const what = kind === 'none' ? 'none' : `${kind}${executed ? '' : ' (not executed)'}`;
  return `${what}: ${reason}${error ? ` Failed: ${error}` : ''}`;
}

const OUTCOMES: Record<Outcome, string> = {
  healthy: 'healthy: nothing to fix',
  recovered: 'recovered',
  escalated: 'escalated: a human is needed',
  dry_run: 'dry run: nothing was changed',
};

function outcomeText(report: Report): string {
  const recoveredMs = report.timings.recoveredMs;
  if (report.outcome === 'recovered' && recoveredMs !== undefined) return `recovered in ${Math.round(recoveredMs / 1000)} s`;
  return OUTCOMES[report.outcome] ?? report.outcome;
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

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

function publishError(error: unknown, topicArn: string): string {
  const name = awsErrorName(error);
  if (name === 'NotFoundException') return `SNS topic ${topicArn} does not exist; check the configured topic ARN and region.`;
  if (isAccessDenied(error)) return `the responder may not publish to ${topicArn}; check its sns:Publish permission.`;
  if (name.startsWith('KMS')) return `the KMS key of ${topicArn} refused the report (${name}); check the key policy allows the responder.`;
  if (isThrottling(error)) return `SNS throttled the report for ${topicArn}; it was not sent.`;
  if (name === 'InvalidParameterException' || name === 'InvalidParameterValueException') {
    return `SNS rejected the report as invalid (${name}); it was not sent, please report this Reflex bug with the incident id.`;
  }
  return `publishing the report to ${topicArn} failed (${name}); it was not sent.`;
}
