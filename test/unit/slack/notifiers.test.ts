/**
 * Both Slack notifiers against a real local HTTP server that plays Slack (webhook endpoint and Web API), through the
 * official clients: what is tested is what ships.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BotNotifier } from '../../../functions/adapters/slack/bot-notifier.ts';
import { realSleep, type SlackRetryOptions } from '../../../functions/adapters/slack/delivery.ts';
import { WebhookNotifier } from '../../../functions/adapters/slack/webhook-notifier.ts';
import { SLACK_LIMITS, type SlackBlock } from '../../../functions/report/slack-blocks.ts';
import type { Report } from '../../../functions/core/types.ts';
import { reportFixture } from '../../helpers/report.ts';
import { FakeSlack, WEBHOOK_PATH, type SlackRequest } from '../../helpers/slack-server.ts';

const TOKEN = 'xoxb-1234567890-abcdefghij';

function hostileReport(): Report {
  const base = reportFixture();
  return {
    ...base,
    diagnosis: {
      ...base.diagnosis,
      summary: '<!channel> the app is down <@U123>',
      evidence: [
        { source: 'nginx-error', at: base.startedAt, text: '<script>alert(1)</script> <!here> <#C123|ops>' },
        { source: 'nginx-error', at: base.startedAt, text: 'z'.repeat(10_000) },
      ],
    },
    timeline: [{ at: base.startedAt, source: 'nginx-error', message: '<!everyone> <!subteam^S1|@oncall> <script>x</script>' }],
  };
}

/** Quick retries for tests; waits still really happen (the sleep is recorded, then delegated). */
const FAST: SlackRetryOptions = { retries: 2, minTimeoutMs: 10, maxRetryAfterSeconds: 5, rateLimitRetries: 2, timeoutMs: 5000 };

function recordingSleep(): { waits: number[]; sleep: (ms: number) => Promise<void> } {
  const waits: number[] = [];
  return { waits, sleep: async (ms) => { waits.push(ms); await realSleep(ms); } };
}

function blocksOf(request: SlackRequest | undefined): SlackBlock[] {
  return (request?.body['blocks'] ?? []) as SlackBlock[];
}

/** Every text in a payload, flattened. */
function payloadText(request: SlackRequest | undefined): string {
  return JSON.stringify(request?.body ?? {});
}

const slack = new FakeSlack();

beforeAll(async () => {
  await slack.start();
});

afterAll(async () => {
  await slack.stop();
});

beforeEach(() => {
  slack.reset();
});

describe('WebhookNotifier', () => {
  it('posts one message when the incident opens and one when it ends', async () => {
    // Prepare
    const notifier = new WebhookNotifier({ url: slack.webhookUrl, retry: FAST });
    // Act
    const opened = await notifier.open(reportFixture());
    const closed = await notifier.publish(reportFixture());
    // Assess
    expect([opened, closed]).toEqual([{ channel: 'slack', ok: true }, [{ channel: 'slack', ok: true }]]);
    expect(slack.requests.map((r) => r.path)).toEqual([WEBHOOK_PATH, WEBHOOK_PATH]);
    const [open, close] = slack.requests;
    expect(blocksOf(open)[0]).toMatchObject({ type: 'header', text: { text: expect.stringContaining('diagnosing') } });
    expect(blocksOf(close)[0]).toMatchObject({ type: 'header', text: { text: expect.stringContaining('process_crashed, recovered') } });
    expect(close?.body['text']).toEqual(expect.stringContaining('process_crashed, recovered'));
    expect(blocksOf(close).length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
  });

  it('waits out a 429 Retry-After and then delivers the message exactly once', async () => {
    // Prepare
    slack.script(WEBHOOK_PATH, [{ status: 429, headers: { 'retry-after': '1' }, body: 'rate_limited' }]);
    const { waits, sleep } = recordingSleep();
    const notifier = new WebhookNotifier({ url: slack.webhookUrl, retry: FAST, sleep });
    // Act
    const result = await notifier.close(reportFixture());
    // Assess
    expect(result).toEqual({ channel: 'slack', ok: true });
    expect(waits).toEqual([1000]);
    expect(slack.requests).toHaveLength(2);
    expect(slack.requests[0]?.body).toEqual(slack.requests[1]?.body);
  });

  it('gives up after a bounded number of 5xx answers, without throwing and without the secret URL', async () => {
    // Prepare
    slack.script(WEBHOOK_PATH, Array(10).fill({ status: 500, body: 'internal_error' }));
    const notifier = new WebhookNotifier({ url: slack.webhookUrl, retry: FAST });
    // Act
    const result = await notifier.close(reportFixture());
    // Assess
    expect(result).toEqual({ channel: 'slack', ok: false, error: 'Slack webhook answered HTTP 500: internal_error; the message was not delivered' });
    expect(slack.requests).toHaveLength(1 + (FAST.retries ?? 0));
    expect(JSON.stringify(result)).not.toContain('secretpart');
  });

  it('does not wait for a Retry-After longer than it may', async () => {
    // Prepare
    slack.script(WEBHOOK_PATH, [{ status: 429, headers: { 'retry-after': '120' }, body: 'rate_limited' }]);
    const { waits, sleep } = recordingSleep();
    const notifier = new WebhookNotifier({ url: slack.webhookUrl, retry: FAST, sleep });
    // Act
    const result = await notifier.close(reportFixture());
    // Assess
    expect(result.ok).toBe(false);
    expect(result.error).toContain('rate limited');
    expect(waits).toEqual([]);
    expect(slack.requests).toHaveLength(1);
  });

  it('reports an unreachable webhook as a failed delivery', async () => {
    // Prepare: a loopback port that was free a moment ago and has no listener now.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const notifier = new WebhookNotifier({ url: `http://127.0.0.1:${port}/services/x`, retry: { ...FAST, retries: 0 } });
    // Act
    const result = await notifier.close(reportFixture());
    // Assess
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/^could not reach the Slack webhook/);
  });

  it('neutralises hostile log text in what it sends', async () => {
    // Prepare
    const notifier = new WebhookNotifier({ url: slack.webhookUrl, retry: FAST });
    // Act
    await notifier.close(hostileReport());
    // Assess
    const sent = payloadText(slack.requests[0]);
    expect(sent).not.toMatch(/<!channel>|<@U123>|<!here>|<#C123|<script>/);
    expect(sent).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(sent).not.toContain('z'.repeat(SLACK_LIMITS.lineChars + 1));
  });
});

describe('BotNotifier', () => {
  function bot(options: Partial<ConstructorParameters<typeof BotNotifier>[0]> = {}): BotNotifier {
    return new BotNotifier({ token: TOKEN, channel: '#incidents', slackApiUrl: slack.apiUrl, retry: FAST, ...options });
  }

  it('posts one message, updates it as the incident moves, and threads the timeline once at the end', async () => {
    // Prepare
    const notifier = bot();
    const report = reportFixture();
    // Act
    const opened = await notifier.open(report);
    const acting = await notifier.update('acting', report);
    const verifying = await notifier.update('verifying', report);
    const closed = await notifier.publish(report);
    // Assess
    expect(opened).toEqual({ channel: 'slack', ok: true, message: { channel: 'C0CHANNEL', ts: '1764000000.000001' } });
    expect([acting, verifying, closed]).toEqual([{ channel: 'slack', ok: true }, { channel: 'slack', ok: true }, [{ channel: 'slack', ok: true }]]);
    expect(slack.requests.map((r) => r.path)).toEqual([
      '/api/chat.postMessage',
      '/api/chat.update',
      '/api/chat.update',
      '/api/chat.update',
      '/api/chat.postMessage',
    ]);
    const [post, update1, update2, final, thread] = slack.requests;
    expect(post?.body).toMatchObject({ channel: '#incidents', text: expect.stringContaining('diagnosing') });
    expect(post?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    for (const request of [update1, update2, final]) expect(request?.body).toMatchObject({ channel: 'C0CHANNEL', ts: '1764000000.000001' });
    expect(blocksOf(update1)[0]).toMatchObject({ text: { text: expect.stringContaining('restarting') } });
    expect(blocksOf(update2)[0]).toMatchObject({ text: { text: expect.stringContaining('verifying') } });
    expect(blocksOf(final)[0]).toMatchObject({ text: { text: expect.stringContaining('process_crashed, recovered') } });
    expect(thread?.body).toMatchObject({ channel: 'C0CHANNEL', thread_ts: '1764000000.000001', text: expect.stringContaining('*Timeline*') });
    expect(thread?.body['text']).toContain('10:00:05 responder   restart issued');
  });

  it('updates the message an earlier run posted instead of posting a new one', async () => {
    // Prepare
    const notifier = bot({ message: { channel: 'C0EARLIER', ts: '1763999999.000100' } });
    // Act
    const result = await notifier.close(reportFixture());
    // Assess
    expect(result.ok).toBe(true);
    expect(slack.requests.map((r) => [r.path, r.body['ts'] ?? r.body['thread_ts']])).toEqual([
      ['/api/chat.update', '1763999999.000100'],
      ['/api/chat.postMessage', '1763999999.000100'],
    ]);
  });

  it('keeps updates in order even when they are not awaited one by one', async () => {
    // Prepare
    const notifier = bot();
    const report = reportFixture();
    // Act
    const all = [notifier.open(report), notifier.update('acting', report), notifier.update('verifying', report), notifier.close(report)];
    await Promise.all(all);
    // Assess
    const headers = slack.requests.slice(0, 4).map((r) => JSON.stringify(blocksOf(r)[0]));
    expect(headers.map((h) => /diagnosing|restarting|verifying|recovered/.exec(h)?.[0])).toEqual(['diagnosing', 'restarting', 'verifying', 'recovered']);
  });

  it('waits out a 429 Retry-After and then delivers the message exactly once', async () => {
    // Prepare
    slack.script('/api/chat.postMessage', [{ status: 429, headers: { 'retry-after': '1' }, body: { ok: false, error: 'ratelimited' } }]);
    const { waits, sleep } = recordingSleep();
    const notifier = bot({ sleep });
    // Act
    const result = await notifier.open(reportFixture());
    // Assess
    expect(result).toMatchObject({ ok: true, message: { channel: 'C0CHANNEL' } });
    expect(waits).toEqual([1000]);
    expect(slack.requests.map((r) => r.path)).toEqual(['/api/chat.postMessage', '/api/chat.postMessage']);
  });

  it('gives up after a bounded number of 5xx answers, without throwing', async () => {
    // Prepare
    slack.script('/api/chat.postMessage', Array(10).fill({ status: 503, body: 'unavailable' }));
    const notifier = bot();
    // Act
    const result = await notifier.publish(reportFixture());
    // Assess
    expect(result).toEqual([{ channel: 'slack', ok: false, error: 'could not post the message: Slack answered HTTP 503' }]);
    expect(slack.requests).toHaveLength(1 + (FAST.retries ?? 0));
  });

  it('reports a Slack API error by its code, never the token', async () => {
    // Prepare
    slack.script('/api/chat.postMessage', [{ status: 200, body: { ok: false, error: 'channel_not_found' } }]);
    const notifier = bot();
    // Act
    const result = await notifier.open(reportFixture());
    // Assess
    expect(result).toEqual({ channel: 'slack', ok: false, error: 'could not post the message: Slack answered channel_not_found' });
    expect(notifier.message).toBeUndefined();
    expect(JSON.stringify(result)).not.toContain(TOKEN);
  });

  it('neutralises hostile log text in the message and in the threaded timeline', async () => {
    // Prepare
    const notifier = bot();
    // Act
    await notifier.close(hostileReport());
    // Assess
    const sent = slack.requests.map(payloadText).join('\n');
    expect(slack.requests).toHaveLength(2);
    expect(sent).not.toMatch(/<!channel>|<@U123>|<!here>|<#C123|<!everyone>|<!subteam|<script>/);
    expect(sent).toContain('&lt;script&gt;');
    expect(sent).not.toContain('z'.repeat(SLACK_LIMITS.lineChars + 1));
  });
});
