/**
 * Approve mode through the Journal and the real Slack client (@slack/web-api) against a local server that plays
 * Slack: the proposal's buttons on the incident's message, then the same message updated in place once a person
 * answered (approved → restarting → recovered; dismissed) or nobody did (expired). A journal built after the answer
 * stands for the run a durable execution resumes in: it finds the message through the incident record.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Journal } from '../../../functions/adapters/incident-journal.ts';
import { FileStateStore } from '../../../functions/adapters/local/file-state-store.ts';
import { ACTION_IDS, decodeButtonValue } from '../../../functions/contract/slack-actions.ts';
import type { CoreLogger } from '../../../functions/core/ports.ts';
import type { Approval, Report } from '../../../functions/core/types.ts';
import type { SlackBlock, SlackButton } from '../../../functions/report/slack-blocks.ts';
import { reportFixture } from '../../helpers/report.ts';
import { WarningLogger } from '../../helpers/list-logger.ts';
import { FakeSlack, type SlackRequest } from '../../helpers/slack-server.ts';

const TOKEN = 'xoxb-1234567890-abcdefghij';
const INSTANCE = 'i-0123456789abcdef0';
const CALLBACK_ID = Buffer.from(JSON.stringify({ executionId: 'exec-1', operationId: 'approval' })).toString('base64');
const PROPOSED: Approval = { kind: 'approve', action: 'restart', proposedAt: '2026-11-24T10:00:03.000Z', expiresAt: '2026-11-24T10:15:03.000Z' };
const ANA = { id: 'U0APPROVER', name: 'ana' };

/** Diagnosed; the restart waits for a person. */
function draft(approval?: Approval): Report {
  const report = reportFixture({
    instanceId: INSTANCE,
    finishedAt: '2026-11-24T10:00:03.000Z',
    action: { executed: false },
    outcome: 'pending',
    timings: { diagnosedMs: 3000 },
  });
  return approval ? { ...report, approval } : report;
}

const approved: Approval = { ...PROPOSED, approvedBy: ANA, approvedAt: '2026-11-24T10:02:11.000Z' };

function acting(): Report {
  return { ...draft(approved), action: { kind: 'restart', executed: true, reason: 'approved by ana' }, timings: { diagnosedMs: 3000, actedMs: 131_000 } };
}

function recovered(): Report {
  return { ...acting(), outcome: 'recovered', finishedAt: '2026-11-24T10:02:50.000Z', timings: { diagnosedMs: 3000, actedMs: 131_000, recoveredMs: 170_000 } };
}

function notDone(approval: Approval): Report {
  return { ...draft(approval), action: { kind: 'none', executed: false, reason: 'nobody approved the restart' }, outcome: 'escalated', finishedAt: '2026-11-24T10:15:03.000Z' };
}

const slack = new FakeSlack();
let dir: string;
let store: FileStateStore;

beforeAll(async () => {
  await slack.start();
});

afterAll(async () => {
  await slack.stop();
});

beforeEach(async () => {
  slack.reset();
  dir = await mkdtemp(join(tmpdir(), 'reflex-approval-'));
  store = new FileStateStore(join(dir, `${INSTANCE}.json`));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function botJournal(logger?: CoreLogger): Journal {
  return new Journal({ store, slack: { kind: 'bot', token: TOKEN, channel: '#incidents' }, slackApiUrl: slack.apiUrl, ...(logger && { logger }) });
}

function blocksOf(request: SlackRequest | undefined): SlackBlock[] {
  return (request?.body['blocks'] ?? []) as SlackBlock[];
}

function buttonsOf(request: SlackRequest | undefined): SlackButton[] {
  return blocksOf(request).flatMap((block) => (block.type === 'actions' ? block.elements : []));
}

function textOf(request: SlackRequest | undefined): string {
  return JSON.stringify(blocksOf(request));
}

/** The incident up to its proposal, as the core drives it: the diagnosing phase, then the proposal. */
async function propose(): Promise<void> {
  const journal = botJournal();
  await journal.phase('diagnosing', draft());
  expect(journal.propose).toBeTypeOf('function');
  await journal.propose?.(draft(PROPOSED), CALLBACK_ID);
}

describe('Journal.propose with a bot token', () => {
  it('puts the buttons on the incident’s message and stores the message for the run that resumes', async () => {
    // Prepare: Slack is slow to take the first post
    const release = slack.hold();
    const journal = botJournal();
    await journal.phase('diagnosing', draft());

    // Act: the proposal waits for Slack (the durable execution suspends once it returns)
    const proposing = journal.propose?.(draft(PROPOSED), CALLBACK_ID);
    release();
    await proposing;

    // Assess
    expect(slack.calls).toEqual(['chat.postMessage', 'chat.update']);
    const update = slack.updates[0];
    expect(update?.body).toMatchObject({ channel: 'C0CHANNEL', ts: '1764000000.000001' });
    const [approve, dismiss] = buttonsOf(update);
    expect(approve).toMatchObject({ action_id: ACTION_IDS.approve, style: 'primary', text: { text: `Restart web on ${INSTANCE}` } });
    expect(dismiss).toMatchObject({ action_id: ACTION_IDS.dismiss, text: { text: 'Dismiss' } });
    expect(decodeButtonValue(approve?.value)).toMatchObject({ decision: 'approve', callbackId: CALLBACK_ID, expiresAt: PROPOSED.expiresAt });
    expect(decodeButtonValue(dismiss?.value)).toMatchObject({ decision: 'dismiss', callbackId: CALLBACK_ID });
    expect(textOf(update)).toContain('expires at 10:15:03 UTC');
    expect(await store.loadIncident(INSTANCE)).toMatchObject({ phase: 'diagnosing', slack: { channel: 'C0CHANNEL', ts: '1764000000.000001' } });
  });

  it('posts the proposal itself when the incident has no message yet', async () => {
    // Act
    await botJournal().propose?.(draft(PROPOSED), CALLBACK_ID);

    // Assess
    expect(slack.calls).toEqual(['chat.postMessage']);
    expect(buttonsOf(slack.incidentPosts[0])).toHaveLength(2);
    expect((await store.loadIncident(INSTANCE))?.slack).toEqual({ channel: 'C0CHANNEL', ts: '1764000000.000001' });
  });

  it('approved → restarting → recovered: the same message, the buttons replaced by who approved', async () => {
    // Prepare
    await propose();
    slack.forget();

    // Act: the run that resumes after the click
    const resumed = botJournal();
    await resumed.phase('acting', acting());
    await resumed.phase('verifying', acting());
    await resumed.phase('closed', recovered());

    // Assess
    expect(slack.calls).toEqual(['chat.update', 'chat.update', 'chat.update', 'thread']);
    expect(slack.requests.map((request) => request.body['ts'] ?? request.body['thread_ts'])).toEqual(Array.from({ length: 4 }, () => '1764000000.000001'));
    expect(slack.headlines).toEqual([
      `web on ${INSTANCE}: process_crashed, restarting`,
      `web on ${INSTANCE}: process_crashed, verifying recovery`,
      `web on ${INSTANCE}: process_crashed, recovered`,
    ]);
    for (const update of slack.updates) {
      expect(buttonsOf(update)).toEqual([]);
      expect(textOf(update)).toContain('*Restart approved* by <@U0APPROVER> at 10:02:11 UTC');
    }
    expect(resumed.slackDelivery).toEqual({ channel: 'slack', ok: true });
  });

  it('dismissed: the same message says who dismissed it and that nothing was done', async () => {
    // Prepare
    await propose();
    slack.forget();

    // Act
    await botJournal().phase('closed', notDone({ ...PROPOSED, dismissedBy: { id: 'U0DISMISS', name: 'bo' }, dismissedAt: '2026-11-24T10:01:00.000Z' }));

    // Assess
    expect(slack.calls).toEqual(['chat.update', 'thread']);
    expect(slack.updates[0]?.body['ts']).toBe('1764000000.000001');
    expect(buttonsOf(slack.updates[0])).toEqual([]);
    expect(textOf(slack.updates[0])).toContain('*Dismissed* by <@U0DISMISS> at 10:01:00 UTC: nothing was done');
  });

  it('expired: the same message says when, and that nothing was done', async () => {
    // Prepare
    await propose();
    slack.forget();

    // Act
    await botJournal().phase('closed', notDone({ ...PROPOSED, expired: true }));

    // Assess
    expect(slack.calls).toEqual(['chat.update', 'thread']);
    expect(buttonsOf(slack.updates[0])).toEqual([]);
    expect(textOf(slack.updates[0])).toContain('*Expired* at 10:15:03 UTC: nobody answered, nothing was done');
  });

  it('a Slack that refuses the proposal: propose resolves, the failure is logged without the token', async () => {
    // Prepare
    slack.answerAlways({ status: 200, body: { ok: false, error: 'channel_not_found' } });
    const logger = new WarningLogger();

    // Act
    await botJournal(logger).propose?.(draft(PROPOSED), CALLBACK_ID);

    // Assess
    expect(logger.lines.some((line) => line.startsWith('Slack proposal failed') && line.includes('channel_not_found'))).toBe(true);
    expect(logger.lines.join('\n')).not.toContain(TOKEN);
    expect(logger.lines.join('\n')).not.toContain(CALLBACK_ID);
  });
});

describe('Journal without a way to carry an answer back', () => {
  it('has no propose with a webhook, nor without Slack: the core falls back to observe', () => {
    // Act
    const webhook = new Journal({ store, slack: { kind: 'webhook', url: slack.webhookUrl } });
    const none = new Journal({ store });

    // Assess
    expect(webhook.propose).toBeUndefined();
    expect(none.propose).toBeUndefined();
    expect('propose' in webhook).toBe(false);
  });
});
