/**
 * Slack through an incoming webhook (`@slack/webhook`): one message when an incident opens, one when it ends.
 * Webhooks cannot edit or thread, so there is no live update; use the bot notifier for that.
 */
import { IncomingWebhook, IncomingWebhookHTTPError, IncomingWebhookRequestError, type FetchFunction } from '@slack/webhook';
import type { Notifier } from '../../core/ports.ts';
import { incidentBlocks, type SlackMessage } from '../../report/slack-blocks.ts';
import type { Report } from '../../core/types.ts';
import {
  DEFAULT_RETRY,
  parseRetryAfter,
  realSleep,
  retryConfig,
  SerialQueue,
  withRateLimitRetry,
  type SlackDelivery,
  type SlackRetryOptions,
  type Sleep,
} from './delivery.ts';

export interface WebhookNotifierOptions {
  /** The webhook URL: a secret (anyone holding it can post). Never logged, never in an error. */
  readonly url: string;
  readonly retry?: SlackRetryOptions;
  /** @default setTimeout */
  readonly sleep?: Sleep;
}

/** Posts incident messages to an incoming webhook. Never throws for a delivery failure. */
export class WebhookNotifier implements Notifier {
  private readonly webhook: IncomingWebhook;
  private readonly retry: Required<SlackRetryOptions>;
  private readonly sleep: Sleep;
  /** Retry-After of the last 429; the webhook client's error does not carry headers, so the fetch records it. */
  private lastRetryAfter: number | undefined;
  /** Messages go out one after the other, so "closed" can never overtake "opened". */
  private readonly queue = new SerialQueue();

  constructor(options: WebhookNotifierOptions) {
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.sleep = options.sleep ?? realSleep;
    const recordingFetch: FetchFunction = async (url, init) => {
      const response = await fetch(url, init);
      this.lastRetryAfter = response.status === 429 ? parseRetryAfter(response.headers.get('retry-after')) : undefined;
      return response;
    };
    this.webhook = new IncomingWebhook(options.url, {
      fetch: recordingFetch,
      timeout: this.retry.timeoutMs,
      // 5xx and network failures: a few quick retries (the client already never retries other 4xx, 429 included).
      retryConfig: retryConfig(this.retry),
    });
  }

  /** The "incident opened" message. */
  open(report: Report): Promise<SlackDelivery> {
    return this.send(incidentBlocks(report, 'diagnosing'));
  }

  /** The final message: cause, outcome, evidence, advice, sparkline. */
  close(report: Report): Promise<SlackDelivery> {
    return this.send(incidentBlocks(report, 'closed'));
  }

  /** Notifier port: the final report, as {@link close}. */
  async publish(report: Report): Promise<SlackDelivery[]> {
    return [await this.close(report)];
  }

  private send(message: SlackMessage): Promise<SlackDelivery> {
    return this.queue.run(() => this.deliver(message));
  }

  private async deliver(message: SlackMessage): Promise<SlackDelivery> {
    try {
      await withRateLimitRetry(
        () => this.webhook.send({ text: message.text, blocks: message.blocks, unfurl_links: false, unfurl_media: false }),
        (error) => (error instanceof IncomingWebhookHTTPError && error.statusCode === 429 ? this.lastRetryAfter : undefined),
        this.retry,
        this.sleep,
      );
      return { channel: 'slack', ok: true };
    } catch (error) {
      return { channel: 'slack', ok: false, error: describeWebhookError(error) };
    }
  }
}

/** One sentence, without the URL (a secret) or the raw stack. */
function describeWebhookError(error: unknown): string {
  if (error instanceof IncomingWebhookHTTPError) {
    // Slack's webhook errors are short codes (`no_service`, `invalid_payload`); anything else is not echoed.
    const code = /^[a-z_]{1,40}$/.test(error.body.trim()) ? `: ${error.body.trim()}` : '';
    if (error.statusCode === 429) return `Slack webhook rate limited the message; it was not delivered${code}`;
    return `Slack webhook answered HTTP ${error.statusCode}${code}; the message was not delivered`;
  }
  if (error instanceof IncomingWebhookRequestError) {
    return `could not reach the Slack webhook (${error.original.name}); the message was not delivered`;
  }
  return `Slack webhook delivery failed (${error instanceof Error ? error.name : 'error'})`;
}
