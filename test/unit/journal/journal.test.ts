/**
 * The incident Journal on its own: the incident record it saves at each phase (in a real FileStateStore), and what
 * it sends to Slack in each mode, through the official clients pointed at a local HTTP server that plays Slack.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Journal } from '../../../functions/adapters/incident-journal.ts';
import { FileStateStore } from '../../../functions/adapters/local/file-state-store.ts';
import type { IncidentRecord } from '../../../functions/core/incident.ts';
import type { CoreLogger, IncidentStore } from '../../../functions/core/ports.ts';
import type { Report } from '../../../functions/core/types.ts';
import { reportFixture } from '../../helpers/report.ts';
import { WarningLogger } from '../../helpers/list-logger.ts';
import { FakeSlack } from '../../helpers/slack-server.ts';

const TOKEN = 'xoxb-1234567890-abcdefghij';
const INSTANCE = 'i-0123456789abcdef0';
const T0 = Date.parse('2026-11-24T10:00:00.000Z');

// ---------------------------------------------------------------- reports at each phase

/** Diagnosed, the restart decided but not issued yet. */
const DRAFT: Report = reportFixture({
  instanceId: INSTANCE,
  finishedAt: '2026-11-24T10:00:03.000Z',
  action: { executed: false },
  // A draft's outcome is not decided yet: what respond() sends before closed.
  outcome: 'pending',
  timeline: [
    { at: '2026-11-24T09:59:57.000Z', source: 'pm2', message: 'App [web:0] exited with code [1]' },
    { at: '2026-11-24T10:00:03.000Z', source: 'responder', message: 'diagnosed process_crashed' },
  ],
  timings: { diagnosedMs: 3000 },
});

function acting(): Report {
  return { ...structuredClone(DRAFT), action: { ...DRAFT.action, executed: true }, timings: { diagnosedMs: 3000, actedMs: 4000 } };
}

function closed(): Report {
  return {
    ...acting(),
    outcome: 'recovered',
    finishedAt: '2026-11-24T10:00:40.000Z',
    timings: { diagnosedMs: 3000, actedMs: 4000, recoveredMs: 40_000 },
  };
}

// ---------------------------------------------------------------- wiring

const slack = new FakeSlack();
let dir: string;
let now: number;
let store: FileStateStore;

beforeAll(async () => {
  await slack.start();
});

afterAll(async () => {
  await slack.stop();
});

beforeEach(async () => {
  slack.reset();
  now = T0;
  dir = await mkdtemp(join(tmpdir(), 'reflex-journal-'));
  store = new FileStateStore(join(dir, `${INSTANCE}.json`), { clock: () => new Date(now) });
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function botJournal(logger?: CoreLogger, journalStore: IncidentStore = store): Journal {
  return new Journal({
    store: journalStore,
    slack: { kind: 'bot', token: TOKEN, channel: '#incidents' },
    slackApiUrl: slack.apiUrl,
    now: () => new Date(now),
    ...(logger && { logger }),
  });
}

/** Moves the journal's clock: each phase is saved with the time it happened. */
function at(seconds: number): void {
  now = T0 + seconds * 1000;
}

// ---------------------------------------------------------------- tests

describe('Journal: the incident record', () => {
  it('saves each phase; the restart time is in the store when "acting" returns, even while Slack is slow', async () => {
    // Prepare: Slack answers nothing for now
    const release = slack.hold();
    const journal = botJournal();

    // Act + Assess, phase by phase
    at(3);
    await journal.phase('diagnosing', DRAFT);
    expect(await store.loadIncident(INSTANCE)).toEqual({
      incidentId: DRAFT.incidentId,
      instanceId: INSTANCE,
      openedAt: '2026-11-24T10:00:03.000Z',
      updatedAt: '2026-11-24T10:00:03.000Z',
      phase: 'diagnosing',
      cause: 'process_crashed',
    });

    at(4);
    await journal.phase('acting', acting());
    expect(await store.loadIncident(INSTANCE)).toMatchObject({ phase: 'acting', actionKind: 'restart', actionIssuedAt: '2026-11-24T10:00:04.000Z' });
    expect(slack.calls).toEqual(['chat.postMessage']);

    at(5);
    await journal.phase('verifying', acting());
    expect(await store.loadIncident(INSTANCE)).toMatchObject({ phase: 'verifying', actionIssuedAt: '2026-11-24T10:00:04.000Z' });

    release();
    at(40);
    await journal.phase('closed', closed());
    expect(await store.loadIncident(INSTANCE)).toEqual({
      incidentId: DRAFT.incidentId,
      instanceId: INSTANCE,
      openedAt: '2026-11-24T10:00:03.000Z',
      updatedAt: '2026-11-24T10:00:40.000Z',
      phase: 'closed',
      cause: 'process_crashed',
      actionKind: 'restart',
      actionIssuedAt: '2026-11-24T10:00:04.000Z',
      outcome: 'recovered',
      slack: { channel: 'C0CHANNEL', ts: '1764000000.000001' },
    });
  });

  it('an incident without an action has no actionIssuedAt', async () => {
    // Prepare
    const journal = new Journal({ store, now: () => new Date(now) });
    const none: Report = { ...structuredClone(DRAFT), action: { kind: 'none', executed: false, reason: 'budget spent' } };

    // Act
    await journal.phase('diagnosing', none);
    await journal.phase('closed', { ...none, outcome: 'escalated' });

    // Assess
    const record = await store.loadIncident(INSTANCE);
    expect(record).toMatchObject({ phase: 'closed', outcome: 'escalated' });
    expect(record?.actionIssuedAt).toBeUndefined();
  });
});

describe('Journal: Slack with a bot token', () => {
  it('posts one message, updates it in place at each phase, threads the timeline at the end', async () => {
    // Prepare
    const journal = botJournal();

    // Act
    await journal.phase('diagnosing', DRAFT);
    await journal.phase('acting', acting());
    await journal.phase('verifying', acting());
    await journal.phase('closed', closed());

    // Assess
    expect(slack.calls).toEqual(['chat.postMessage', 'chat.update', 'chat.update', 'chat.update', 'thread']);
    expect(slack.headlines).toEqual([
      `Gateway errors on web on ${INSTANCE}: diagnosing`,
      `web on ${INSTANCE}: process_crashed, restarting`,
      `web on ${INSTANCE}: process_crashed, verifying recovery`,
      `web on ${INSTANCE}: process_crashed, recovered`,
    ]);
    const [post, ...rest] = slack.requests;
    expect(post?.body['channel']).toBe('#incidents');
    // chat.update takes the channel id Slack returned, not the name it was posted to
    for (const request of rest) expect(request.body).toMatchObject({ channel: 'C0CHANNEL' });
    expect(rest.map((request) => request.body['ts'] ?? request.body['thread_ts'])).toEqual(Array.from({ length: 4 }, () => '1764000000.000001'));
    expect(String(slack.requests.at(-1)?.body['text'])).toContain('*Timeline* of incident');
    expect(journal.slackDelivery).toEqual({ channel: 'slack', ok: true });
  });

  it('a second journal for the same incident updates the stored message instead of posting a new one', async () => {
    // Prepare: a first run went through the whole incident and stored its message
    const first = botJournal();
    await first.phase('diagnosing', DRAFT);
    await first.phase('closed', closed());
    const stored = (await store.loadIncident(INSTANCE))?.slack;
    slack.forget();

    // Act: a later run of the same incident
    const second = botJournal();
    await second.phase('diagnosing', DRAFT);
    await second.phase('closed', closed());

    // Assess
    expect(stored).toEqual({ channel: 'C0CHANNEL', ts: '1764000000.000001' });
    expect(slack.calls).toEqual(['chat.update', 'chat.update', 'thread']);
    expect(slack.requests.map((request) => request.body['ts'] ?? request.body['thread_ts'])).toEqual(Array.from({ length: 3 }, () => stored?.ts));
  });

  it('a run that follows an unfinished one carries on its record: the restart stays recorded, the message is reused', async () => {
    // Prepare: what a Lambda cut off while verifying left in the store
    const unfinished: IncidentRecord = {
      incidentId: DRAFT.incidentId,
      instanceId: INSTANCE,
      openedAt: '2026-11-24T09:59:58.000Z',
      updatedAt: '2026-11-24T10:00:05.000Z',
      phase: 'verifying',
      cause: 'process_crashed',
      actionKind: 'restart',
      actionIssuedAt: '2026-11-24T10:00:04.000Z',
      slack: { channel: 'C0CHANNEL', ts: '1763999999.000042' },
    };
    await store.saveIncident(unfinished);
    const none: Report = { ...structuredClone(DRAFT), action: { kind: 'none', executed: false, reason: 'last restart less than 1 min ago' } };

    // Act
    at(90);
    const journal = botJournal();
    await journal.phase('diagnosing', none);
    await journal.phase('closed', { ...none, outcome: 'escalated' });

    // Assess
    expect(await store.loadIncident(INSTANCE)).toMatchObject({
      openedAt: '2026-11-24T09:59:58.000Z',
      phase: 'closed',
      actionKind: 'restart',
      actionIssuedAt: '2026-11-24T10:00:04.000Z',
      slack: unfinished.slack,
    });
    expect(slack.calls).toEqual(['chat.update', 'chat.update', 'thread']);
  });

  it('another incident on the same instance gets its own message', async () => {
    // Prepare
    const first = botJournal();
    await first.phase('diagnosing', DRAFT);
    await first.phase('closed', closed());
    slack.forget();
    const next: Report = { ...closed(), incidentId: 'evt-other-i-0123456789abcdef0' };

    // Act
    const second = botJournal();
    await second.phase('diagnosing', next);
    await second.phase('closed', next);

    // Assess
    expect(slack.calls).toEqual(['chat.postMessage', 'chat.update', 'thread']);
    // ts 1 was the first incident's message, 2 its timeline reply
    expect(await store.loadIncident(INSTANCE)).toMatchObject({ incidentId: next.incidentId, slack: { ts: '1764000000.000003' } });
  });
});

describe('Journal: Slack with an incoming webhook', () => {
  it('sends one message when the incident opens and one when it ends', async () => {
    // Prepare
    const journal = new Journal({ store, slack: { kind: 'webhook', url: slack.webhookUrl }, now: () => new Date(now) });

    // Act
    await journal.phase('diagnosing', DRAFT);
    await journal.phase('acting', acting());
    await journal.phase('verifying', acting());
    await journal.phase('closed', closed());

    // Assess
    expect(slack.calls).toEqual(['webhook', 'webhook']);
    expect(slack.headlines).toEqual([`Gateway errors on web on ${INSTANCE}: diagnosing`, `web on ${INSTANCE}: process_crashed, recovered`]);
    expect(slack.requests[1]?.body['blocks']).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'header' })]));
    // A webhook returns no message reference: nothing to store
    expect((await store.loadIncident(INSTANCE))?.slack).toBeUndefined();
    expect(journal.slackDelivery).toEqual({ channel: 'slack', ok: true });
  });
});

describe('Journal: failures never throw', () => {
  it('Slack refuses every call: each phase resolves, the record is saved, the failure is logged without the token', async () => {
    // Prepare
    slack.answerAlways({ status: 200, body: { ok: false, error: 'not_in_channel' } });
    const logger = new WarningLogger();
    const journal = botJournal(logger);

    // Act
    await journal.phase('diagnosing', DRAFT);
    await journal.phase('acting', acting());
    await journal.phase('closed', closed());

    // Assess
    expect(await store.loadIncident(INSTANCE)).toMatchObject({ phase: 'closed', actionIssuedAt: expect.any(String), outcome: 'recovered' });
    expect(journal.slackDelivery).toEqual({ channel: 'slack', ok: false, error: 'could not post the message: Slack answered not_in_channel' });
    expect(logger.lines.filter((line) => line.startsWith('Slack delivery failed'))).toHaveLength(3);
    expect(logger.lines.join('\n')).not.toContain(TOKEN);
  });

  it('the webhook answers 404: each phase resolves; the webhook URL is not logged', async () => {
    // Prepare
    slack.answerAlways({ status: 404, body: 'no_service' });
    const logger = new WarningLogger();
    const journal = new Journal({ store, slack: { kind: 'webhook', url: slack.webhookUrl }, logger, now: () => new Date(now) });

    // Act
    await journal.phase('diagnosing', DRAFT);
    await journal.phase('closed', closed());

    // Assess
    expect(journal.slackDelivery?.ok).toBe(false);
    expect(journal.slackDelivery?.error).toContain('HTTP 404');
    expect(logger.lines.join('\n')).not.toContain('secretpart');
  });

  it('the store fails: each phase resolves, Slack still follows the incident, the failure is logged', async () => {
    // Prepare
    const broken: IncidentStore = Object.assign(Object.create(store) as IncidentStore, {
      loadIncident: () => Promise.reject(new Error('disk on fire')),
      saveIncident: () => Promise.reject(new Error('disk on fire')),
    });
    const logger = new WarningLogger();
    const journal = botJournal(logger, broken);

    // Act
    await journal.phase('diagnosing', DRAFT);
    await journal.phase('acting', acting());
    await journal.phase('closed', closed());

    // Assess
    expect(slack.calls).toEqual(['chat.postMessage', 'chat.update', 'chat.update', 'thread']);
    expect(logger.lines.filter((line) => line.startsWith('could not save the incident record'))).toHaveLength(3);
    expect(logger.lines.some((line) => line.startsWith('could not read the incident record'))).toBe(true);
  });
});
