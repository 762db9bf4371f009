/**
 * Slack through a bot token (`@slack/web-api`): one message per incident, posted when it opens and updated in place
 * as it moves (diagnosing → restarting → verifying → recovered/escalated), then the whole timeline as one threaded
 * reply. The message reference can be stored (IncidentRecord.slack) so a later run updates the same message.
 * In approve mode the same message carries the proposal's buttons (`propose`), and a later update replaces them
 * with who answered.
 */
import {
  LogLevel,
  WebAPIHTTPError,
  WebAPIPlatformError,
  WebAPIRateLimitedError,
  WebAPIRequestError,
  WebClient,
} from '@slack/web-api';
import type { IncidentPhase, SlackMessageRef } from '../../core/incident.ts';
import type { Notifier } from '../../core/ports.ts';
import { incidentBlocks, proposalBlocks, timelineText, type SlackMessage } from '../../report/slack-blocks.ts';
import type { Report } from '../../core/types.ts';
import {
  DEFAULT_RETRY,
  realSleep,
  retryConfig,
  SerialQueue,
  withRateLimitRetry,
  type SlackDelivery,
  type SlackRetryOptions,
  type Sleep,
} from './delivery.ts';

export interface BotNotifierOptions {
  /** Bot token (`xoxb-…`), a secret: never logged, never in an error. */
  readonly token: string;
  /** Channel id or name the bot is a member of. */
  readonly channel: string;
  /** @default https://slack.com/api/ (tests point it at a local server) */
  readonly slackApiUrl?: string;
  /** The message of this incident posted by an earlier run; updates go to it instead of a new post. */
  readonly message?: SlackMessageRef;
  readonly retry?: SlackRetryOptions;
  /** @default setTimeout */
  readonly sleep?: Sleep;
}

/** An incident's Slack message, kept up to date. Never throws for a delivery failure. */
export class BotNotifier implements Notifier {
  private readonly client: WebClient;
  private readonly channel: string;
  private readonly retry: Required<SlackRetryOptions>;
  private readonly sleep: Sleep;
  private ref: SlackMessageRef | undefined;
  /** Calls go out one after the other: an update can never overtake the post it edits, nor a later update. */
  private readonly queue = new SerialQueue();

  constructor(options: BotNotifierOptions) {
    this.channel = options.channel;
    this.ref = options.message;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.sleep = options.sleep ?? realSleep;
    this.client = new WebClient(options.token, {
      ...(options.slackApiUrl !== undefined && { slackApiUrl: options.slackApiUrl }),
      // 5xx and network failures: the client's p-retry, kept short.
      retryConfig: retryConfig(this.retry),
      // The client would wait out any Retry-After, however long, inside the Lambda's time; instead it reports the
      // rate limit (WebAPIRateLimitedError) and withRateLimitRetry waits only when the wait is short.
      rejectRateLimitedCalls: true,
      timeout: this.retry.timeoutMs,
      logLevel: LogLevel.ERROR,
    });
  }

  /** The message this notifier updates, once posted (store it in the incident record). */
  get message(): SlackMessageRef | undefined {
    return this.ref;
  }

  /** Posts the incident's message (`chat.postMessage`), or updates it when an earlier run already posted it. */
  open(report: Report, phase: IncidentPhase = 'diagnosing'): Promise<SlackDelivery & { readonly message?: SlackMessageRef }> {
    return this.enqueue(async () => {
      const delivery = await this.show(report, phase);
      return this.ref === undefined ? delivery : { ...delivery, message: this.ref };
    });
  }

  /** Shows the incident at `phase` (`chat.update` on the message; a new post when there is none yet). */
  update(phase: IncidentPhase, report: Report): Promise<SlackDelivery> {
    return this.enqueue(() => this.show(report, phase));
  }

  /** The final state on the message, then the whole timeline as one threaded reply. */
  close(report: Report): Promise<SlackDelivery> {
    return this.enqueue(async () => {
      const shown = await this.show(report, 'closed');
      if (!shown.ok || this.ref === undefined) return shown;
      const ref = this.ref;
      return this.call('post the timeline', () =>
        this.client.chat.postMessage({ channel: ref.channel, thread_ts: ref.ts, text: timelineText(report), mrkdwn: true, unfurl_links: false, unfurl_media: false }),
      );
    });
  }

  /**
   * Puts a proposal (approve mode) on the incident's message: the diagnosis, and buttons whose values carry
   * `callbackId` (`chat.update`; a new post when there is no message yet).
   */
  propose(report: Report, callbackId: string): Promise<SlackDelivery> {
    return this.enqueue(async () => {
      let message: SlackMessage;
      try {
        message = proposalBlocks(report, callbackId);
      } catch (error) {
        return { channel: 'slack', ok: false, error: `could not draw the proposal: ${error instanceof Error ? error.message : 'error'}` };
      }
      return this.showMessage(message);
    });
  }

  /** Notifier port: the final report, as {@link close}. */
  async publish(report: Report): Promise<SlackDelivery[]> {
    return [await this.close(report)];
  }

  private show(report: Report, phase: IncidentPhase): Promise<SlackDelivery> {
    return this.showMessage(incidentBlocks(report, phase));
  }

  private async showMessage({ text, blocks }: SlackMessage): Promise<SlackDelivery> {
    const ref = this.ref;
    if (ref !== undefined) {
      return this.call('update the message', () => this.client.chat.update({ channel: ref.channel, ts: ref.ts, text, blocks }));
    }
    let posted: { channel?: string; ts?: string } | undefined;
    const delivery = await this.call('post the message', async () => {
      posted = await this.client.chat.postMessage({ channel: this.channel, text, blocks, unfurl_links: false, unfurl_media: false });
    });
    // chat.update needs the channel id, which Slack returns even when the post named the channel.
    if (delivery.ok && posted?.channel !== undefined && posted.ts !== undefined) this.ref = { channel: posted.channel, ts: posted.ts };
    return delivery;
  }

  private async call(what: string, request: () => Promise<unknown>): Promise<SlackDelivery> {
    try {
      await withRateLimitRetry(request, rateLimitSeconds, this.retry, this.sleep);
      return { channel: 'slack', ok: true };
    } catch (error) {
      return { channel: 'slack', ok: false, error: `could not ${what}: ${describeSlackError(error)}` };
    }
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    return this.queue.run(task);
  }
}

function rateLimitSeconds(error: unknown): number | undefined {
  return error instanceof WebAPIRateLimitedError ? error.retryAfter : undefined;
}

/** One short phrase, without the token or the raw stack. */
function describeSlackError(error: unknown): string {
  if (error instanceof WebAPIPlatformError) return `Slack answered ${error.data.error}`;
  if (error instanceof WebAPIHTTPError) return `Slack answered HTTP ${error.statusCode}`;
  if (error instanceof WebAPIRateLimitedError) return `rate limited by Slack (retry after ${error.retryAfter} s)`;
  if (error instanceof WebAPIRequestError) return `Slack unreachable (${error.original.name})`;
  return `unexpected ${error instanceof Error ? error.name : 'error'}`;
}
