/**
 * The whole round trip, with the real durable SDK: an incident (a small workflow standing in for the core's) waits in
 * `durableCheckpoints(context).callback`, its proposal goes to Slack through the Journal (the official Slack client
 * against a local server), a click on the button Slack received is signed as Slack signs it and handled by the
 * endpoint, whose answer resumes the waiting execution, which then updates the same message. What this proves beyond
 * the other tests: the callback id the SDK hands out fits the button and comes back intact, and the answer the
 * endpoint sends is the text the incident reads.
 */
import { createHmac } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withDurableExecution, type DurableContext } from '@aws/durable-execution-sdk-js';
import { LocalDurableTestRunner, WaitingOperationStatus } from '@aws/durable-execution-sdk-js-testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Journal } from '../../../functions/adapters/incident-journal.ts';
import { FileStateStore } from '../../../functions/adapters/local/file-state-store.ts';
import { decodeButtonValue } from '../../../functions/contract/slack-actions.ts';
import { parseAnswer, type Answer } from '../../../functions/core/approval.ts';
import type { Approval, Report } from '../../../functions/core/types.ts';
import { handleInteraction, type HttpRequest, type InteractDeps, type Sent } from '../../../functions/interact/interact.ts';
import type { SlackBlock, SlackButton } from '../../../functions/report/slack-blocks.ts';
import { durableCheckpoints } from '../../../functions/responder/durable-checkpoints.ts';
import { reportFixture } from '../../helpers/report.ts';
import { FakeSlack } from '../../helpers/slack-server.ts';

const TOKEN = 'xoxb-1234567890-abcdefghij';
const SIGNING_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const INSTANCE = 'i-0123456789abcdef0';
/** FakeSlack answers every post with this channel id, as Slack answers with the id of the channel posted to. */
const CHANNEL = 'C0CHANNEL';

const slack = new FakeSlack();
let dir: string;
let store: FileStateStore;

beforeAll(async () => {
  // Real time: the proposal's expiry must not be skipped while the test clicks.
  await LocalDurableTestRunner.setupTestEnvironment({ skipTime: false });
  await slack.start();
});

afterAll(async () => {
  await slack.stop();
  await LocalDurableTestRunner.teardownTestEnvironment();
});

beforeEach(async () => {
  slack.reset();
  dir = await mkdtemp(join(tmpdir(), 'reflex-durable-click-'));
  store = new FileStateStore(join(dir, `${INSTANCE}.json`));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- the incident, as the core will drive it

function journal(): Journal {
  return new Journal({ store, slack: { kind: 'bot', token: TOKEN, channel: CHANNEL }, slackApiUrl: slack.apiUrl });
}

function base(): Report {
  return reportFixture({ instanceId: INSTANCE, action: { executed: false }, outcome: 'pending', timings: { diagnosedMs: 3000 } });
}

/** Proposes, waits for the answer (at most `expiresMs`), then shows what came of it; returns the answer. */
function incident(expiresMs: number) {
  return withDurableExecution(async (_event: unknown, context: DurableContext): Promise<Answer | null> => {
    const checkpoints = durableCheckpoints(context);
    // A journal per invocation, as the responder builds one: after the answer it finds the message in the record.
    const journey = journal();
    const proposal = await checkpoints.step('investigate', async () => {
      await journey.phase('diagnosing', base());
      const proposedAt = new Date();
      return { kind: 'approve', action: 'restart', proposedAt: proposedAt.toISOString(), expiresAt: new Date(proposedAt.getTime() + expiresMs).toISOString() } satisfies Approval;
    });
    const proposed: Report = { ...base(), approval: proposal };
    const text = await checkpoints.callback('approval', (callbackId) => journey.propose!(proposed, callbackId), expiresMs);
    const answer = parseAnswer(text) ?? null;
    await checkpoints.step('close', async () => {
      const approval: Approval =
        answer === null
          ? { ...proposal, expired: true }
          : answer.decision === 'approve'
            ? { ...proposal, approvedBy: answer.by, approvedAt: answer.at }
            : { ...proposal, dismissedBy: answer.by, dismissedAt: answer.at };
      const done = answer?.decision === 'approve';
      const closed: Report = {
        ...base(),
        approval,
        outcome: done ? 'recovered' : 'escalated',
        action: done ? { kind: 'restart', executed: true, reason: 'approved' } : { kind: 'none', executed: false, reason: 'not approved' },
        timings: done ? { diagnosedMs: 3000, actedMs: 5000, recoveredMs: 9000 } : { diagnosedMs: 3000 },
      };
      await journey.phase('closed', closed);
      return null;
    });
    return answer;
  });
}

// ---------------------------------------------------------------- Slack's side

function buttonsOnTheMessage(): SlackButton[] {
  const last = slack.updates.at(-1) ?? slack.incidentPosts.at(-1);
  return ((last?.body['blocks'] ?? []) as SlackBlock[]).flatMap((block) => (block.type === 'actions' ? block.elements : []));
}

/** The request Slack posts when `user` clicks `button`. */
function click(button: SlackButton, user = { id: 'U0APPROVER', username: 'ana' }): HttpRequest {
  const body = new URLSearchParams({
    payload: JSON.stringify({
      type: 'block_actions',
      user,
      channel: { id: CHANNEL, name: 'incidents' },
      container: { type: 'message', channel_id: CHANNEL, message_ts: '1764000000.000001' },
      actions: [{ ...button, block_id: 'reflex_approval', action_ts: String(Date.now() / 1000) }],
    }),
  }).toString();
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = `v0=${createHmac('sha256', SIGNING_SECRET).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return { method: 'POST', headers: { 'x-slack-request-timestamp': timestamp, 'x-slack-signature': signature }, body: Buffer.from(body) };
}

const silent = { info: () => {}, warn: () => {}, error: () => {} };

describe('a click on the proposal resumes the waiting incident', () => {
  it.each([
    ['approve', 0, 'approved', /\*Restart approved\* by <@U0APPROVER> at/],
    ['dismiss', 1, 'dismissed', /\*Dismissed\* by <@U0APPROVER> at .* UTC: nothing was done/],
  ] as const)('%s', async (decision, index, body, line) => {
    // Prepare: the incident proposes and waits
    const runner = new LocalDurableTestRunner({ handlerFunction: incident(15 * 60_000) });
    const run = runner.run({ payload: {} });
    const waiting = runner.getOperation('approval');
    await waiting.waitForData(WaitingOperationStatus.SUBMITTED);
    const sdkCallbackId = waiting.getCallbackDetails()?.callbackId;
    const button = buttonsOnTheMessage()[index]!;
    // The endpoint's Lambda call, played by the runner: the id must be the one the SDK handed out
    const answered: string[] = [];
    const deps: InteractDeps = {
      config: { slackSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x', approvers: ['U0APPROVER'] },
      settings: async () => ({ signingSecret: SIGNING_SECRET, channel: CHANNEL }),
      answer: async (callbackId, result): Promise<Sent> => {
        answered.push(callbackId);
        await waiting.sendCallbackSuccess(result);
        return 'sent';
      },
      now: () => new Date(),
      logger: silent,
    };

    // Act
    const response = await handleInteraction(click(button), deps);
    const execution = await run;

    // Assess
    expect(decodeButtonValue(button.value)?.callbackId).toBe(sdkCallbackId);
    expect(answered).toEqual([sdkCallbackId]);
    expect(response).toMatchObject({ statusCode: 200, body });
    expect(execution.getStatus()).toBe('SUCCEEDED');
    expect(execution.getResult()).toEqual({ decision, by: { id: 'U0APPROVER', name: 'ana' }, at: expect.any(String) });
    // One message: posted, the proposal on it, then what came of it; the buttons gone
    expect(slack.calls).toEqual(['chat.postMessage', 'chat.update', 'chat.update', 'thread']);
    expect(buttonsOnTheMessage()).toEqual([]);
    expect(JSON.stringify(slack.updates.at(-1)?.body['blocks'])).toMatch(line);
  });

  it('nobody answers: the callback expires, the message says so, and a late click sends nothing', async () => {
    // Prepare: a proposal that expires in 1 s
    const runner = new LocalDurableTestRunner({ handlerFunction: incident(1000) });
    const run = runner.run({ payload: {} });
    await runner.getOperation('approval').waitForData(WaitingOperationStatus.SUBMITTED);
    const button = buttonsOnTheMessage()[0]!;

    // Act
    const execution = await run;
    let sent = 0;
    const late = await handleInteraction(click(button), {
      config: { slackSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x', approvers: [] },
      settings: async () => ({ signingSecret: SIGNING_SECRET, channel: CHANNEL }),
      answer: async () => {
        sent += 1;
        return 'sent';
      },
      now: () => new Date(),
      logger: silent,
    });

    // Assess
    expect(execution.getStatus()).toBe('SUCCEEDED');
    expect(execution.getResult()).toBeNull();
    expect(JSON.stringify(slack.updates.at(-1)?.body['blocks'])).toContain('nobody answered, nothing was done');
    expect(late.statusCode).toBe(200);
    expect(late.body).toMatch(/^expired at /);
    expect(sent).toBe(0);
  });
});
