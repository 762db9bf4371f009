import {
  AuthorizationErrorException,
  KMSDisabledException,
  NotFoundException,
  PublishCommand,
  SNSClient,
  ThrottledException,
} from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BYTES, SnsNotifier } from '../../functions/adapters/aws/sns-notifier.ts';
import { toChatbotMessage, toSubject } from '../../functions/report/sns-message.ts';
import type { Report, TimelineEntry } from '../../functions/core/types.ts';
import { InputError } from '../../functions/core/validate.ts';
import { reportFixture } from '../helpers/report.ts';

const sns = mockClient(SNSClient);
const client = new SNSClient({ region: 'eu-west-1' });
const topicArn = 'arn:aws:sns:eu-west-1:123456789012:reflex-reports';

/** The standard report, with the values the SNS text is checked for. */
const REPORT: Report = reportFixture({
  startedAt: '2026-11-24T10:00:30.000Z',
  finishedAt: '2026-11-24T10:01:20.000Z',
  diagnosis: {
    summary: 'PM2 app web exited with code 1 and nothing listens on 127.0.0.1:3000.',
    advice: ['Read the app error log: pm2 logs web --err --lines 100', 'Check the last deploy (BUILD_ID changed at 09:57:40).'],
  },
  action: { reason: 'a restart can fix a crashed process; budget 1 of 3 this hour' },
  timeline: [
    { at: '2026-11-24T10:00:00.000Z', source: 'pm2', message: 'App [web:0] exited with code [1] via signal [SIGKILL]' },
    { at: '2026-11-24T10:00:01.000Z', source: 'nginx-error', message: 'connect() failed (111: Connection refused) while connecting to upstream' },
    { at: '2026-11-24T10:00:45.000Z', source: 'responder', message: 'restart issued through SSM' },
    { at: '2026-11-24T10:01:15.000Z', source: 'probe', message: 'nginx answered 200 in 12 ms' },
  ],
  gatewayErrors: [
    { minute: '2026-11-24T10:00:00.000Z', count: 30, byStatus: { '502': 30 } },
    { minute: '2026-11-24T10:01:00.000Z', count: 7, byStatus: { '502': 5, '504': 2 } },
  ],
  timings: { diagnosedMs: 4_200, actedMs: 15_000, recoveredMs: 45_000 },
});

interface SentMessage {
  default: string;
  email: string;
  https: string;
}

function published() {
  const input = sns.commandCalls(PublishCommand)[0]?.args[0].input;
  if (!input?.Message) throw new Error('nothing was published');
  return { input, message: JSON.parse(input.Message) as SentMessage };
}

beforeEach(() => {
  sns.reset();
});

describe('SnsNotifier', () => {
  it('publishes one JSON-structured message: readable text for email, the custom format for chat', async () => {
    // Prepare
    const report = structuredClone(REPORT);
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const notifier = new SnsNotifier({ client, topicArn });

    // Act
    const results = await notifier.publish(report);

    // Assess
    expect(results).toEqual([{ channel: 'sns', ok: true }]);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
    const { input, message } = published();
    expect(input).toMatchObject({
      TopicArn: topicArn,
      MessageStructure: 'json',
      Subject: '[Reflex] web on i-0123456789abcdef0: process_crashed -> recovered',
    });
    expect(message.email).toBe(message.default);
    expect(message.default.split('\n')[0]).toBe('[Reflex] web on i-0123456789abcdef0: process_crashed → recovered');
    expect(message.default).toContain(report.diagnosis.summary);
    expect(message.default).toContain('Action: restart, done (a restart can fix a crashed process; budget 1 of 3 this hour)');
    expect(message.default).toContain('Outcome: recovered in 45 s');
    expect(message.default).toContain('Gateway errors: 37 (502: 35, 504: 2)');
    expect(message.default).toContain('- Read the app error log: pm2 logs web --err --lines 100');
    expect(message.default).toContain('2026-11-24T10:00:45.000Z [responder] restart issued through SSM');
    expect(JSON.parse(message.https)).toEqual(toChatbotMessage(report));
    expect(sns.send.firstCall.thisValue).toBe(client);
  });

  it('uses an injected renderer for the email text', async () => {
    // Prepare
    sns.on(PublishCommand).resolves({ MessageId: 'm-2' });
    const notifier = new SnsNotifier({ client, topicArn, render: { text: (report) => `custom ${report.incidentId}` } });

    // Act
    await notifier.publish(structuredClone(REPORT));

    // Assess
    expect(published().message.default).toBe(`custom ${REPORT.incidentId}`);
  });

  it('drops timeline entries from the middle to stay under 256 KB and says how many', async () => {
    // Prepare
    const report = structuredClone(REPORT);
    const entry = (i: number): TimelineEntry => ({
      at: `2026-11-24T10:00:00.${String(i % 1000).padStart(3, '0')}Z`,
      source: 'nginx-access',
      message: `entry ${i} GET /api/items?page=${i} 502 ${'x'.repeat(120)}`,
    });
    const timeline = Array.from({ length: 3_000 }, (_, i) => entry(i));
    sns.on(PublishCommand).resolves({ MessageId: 'm-3' });

    // Act
    const results = await new SnsNotifier({ client, topicArn }).publish({ ...report, timeline });

    // Assess
    expect(results).toEqual([{ channel: 'sns', ok: true }]);
    const { input, message } = published();
    expect(Buffer.byteLength(input.Message ?? '', 'utf8')).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    const dropped = /\.\.\. (\d+) timeline entries dropped to fit the SNS 256 KB limit/.exec(message.default);
    expect(Number(dropped?.[1])).toBeGreaterThan(0);
    const kept = message.default.split('\n').filter((line) => line.includes('[nginx-access] entry ')).length;
    expect(kept + Number(dropped?.[1])).toBe(3_000);
    expect(message.default).toContain('entry 0 GET');
    expect(message.default).toContain('entry 2999 GET');
  });

  it.each([
    { error: new NotFoundException({ $metadata: {}, message: 'Topic does not exist' }), says: 'does not exist; check the configured topic ARN' },
    {
      error: new AuthorizationErrorException({ $metadata: {}, message: 'User: arn:aws:sts::123456789012:assumed-role/reflex is not authorized' }),
      says: 'may not publish to',
    },
    { error: new KMSDisabledException({ $metadata: {}, message: 'key arn:aws:kms:… is disabled' }), says: 'KMS key' },
    { error: new ThrottledException({ $metadata: {}, message: 'Rate exceeded' }), says: 'SNS throttled the report' },
  ])('returns a failure for $error.name instead of throwing', async ({ error, says }) => {
    // Prepare
    sns.on(PublishCommand).rejects(error);

    // Act
    const results = await new SnsNotifier({ client, topicArn }).publish(structuredClone(REPORT));

    // Assess
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ channel: 'sns', ok: false });
    expect(results[0]?.error).toContain(says);
    expect(results[0]?.error).not.toContain(error.message);
  });

  it('returns a failure when the injected renderer throws, and sends nothing', async () => {
    // Prepare
    const notifier = new SnsNotifier({
      client,
      topicArn,
      render: {
        text: () => {
          throw new TypeError('boom');
        },
      },
    });

    // Act
    const results = await notifier.publish(structuredClone(REPORT));

    // Assess
    expect(results).toEqual([{ channel: 'sns', ok: false, error: 'Reflex could not render the report for SNS (TypeError); nothing was sent.' }]);
    expect(sns.calls()).toHaveLength(0);
  });

  it('refuses a topic ARN that is not one', () => {
    // Act
    const build = () => new SnsNotifier({ client, topicArn: 'reflex-reports' });

    // Assess
    expect(build).toThrow(InputError);
    expect(build).toThrow(/topicArn/);
  });
});

describe('toSubject', () => {
  it('stays printable ASCII on one line and under 100 characters', () => {
    // Prepare
    const report = structuredClone(REPORT);
    const long = { ...report, app: `a${'b'.repeat(63)}`, diagnosis: { ...report.diagnosis, cause: 'upstream_timeout' as const } };
    const odd = { ...report, app: 'wéb\napp' };

    // Act
    const longSubject = toSubject(long);
    const oddSubject = toSubject(odd);

    // Assess
    expect(longSubject.length).toBeLessThan(100);
    expect(longSubject.endsWith('...')).toBe(true);
    expect(oddSubject).toBe('[Reflex] w?b?app on i-0123456789abcdef0: process_crashed -> recovered');
    expect(/^[\x20-\x7e]+$/.test(longSubject + oddSubject)).toBe(true);
  });
});

describe('toChatbotMessage', () => {
  it('follows the custom notification format, threaded by incident', () => {
    // Prepare
    const report = structuredClone(REPORT);

    // Act
    const message = toChatbotMessage(report);

    // Assess
    expect(message).toMatchObject({
      version: '1.0',
      source: 'custom',
      content: {
        textType: 'client-markdown',
        title: '[Reflex] web on i-0123456789abcdef0: process_crashed → recovered',
        nextSteps: report.diagnosis.advice,
        keywords: ['process_crashed', 'recovered'],
      },
      metadata: { threadId: report.incidentId, summary: '[Reflex] web on i-0123456789abcdef0: process_crashed → recovered' },
    });
    expect(message.content.description).toContain('*Cause:* `process_crashed`: PM2 app web exited');
    expect(message.content.description).toContain('*Outcome:* recovered in 45 s');
  });

  it('bounds the card and keeps log text from pinging a Slack channel', () => {
    // Prepare
    const report = structuredClone(REPORT);
    const timeline = Array.from({ length: 200 }, (_, i) => ({
      at: '2026-11-24T10:00:00.000Z',
      source: 'nginx-access' as const,
      message: `GET /<!channel>/${i} ${'y'.repeat(100)}`,
    }));
    const advice = Array.from({ length: 9 }, (_, i) => `step ${i}`);

    // Act
    const message = toChatbotMessage({ ...report, timeline, diagnosis: { ...report.diagnosis, advice } });

    // Assess
    expect(message.content.description.length).toBeLessThanOrEqual(3_000);
    expect(message.content.description).not.toContain('<!channel>');
    expect(message.content.description).toContain('&lt;!channel&gt;');
    expect(message.content.nextSteps).toEqual(['step 0', 'step 1', 'step 2', 'step 3', 'step 4']);
  });
});
