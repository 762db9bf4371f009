/**
 * SNS adapter: publishes the final report once, readable as email and as an Amazon Q Developer in chat
 * applications (formerly AWS Chatbot) custom notification, which Chatbot receives over its HTTPS subscription.
 * The renderings are in report/sns-message.ts; this adapter fits them into one message and sends it.
 */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { Notifier } from '../../core/ports.ts';
import type { Report, TimelineEntry } from '../../core/types.ts';
import { InputError } from '../../core/validate.ts';
import { renderEmailText, toChatbotMessage, toSubject } from '../../report/sns-message.ts';
import { awsErrorName, isAccessDenied, isThrottling } from './errors.ts';

/** SNS's default maximum message size: 256 KiB, counted in UTF-8 bytes. */
export const MAX_MESSAGE_BYTES = 262_144;
const TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/;

/** Renders the email and default text of the message. */
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
    this.render = options.render ?? { text: renderEmailText };
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
