/**
 * Approve mode in Block Kit: the proposal with its two buttons (values the endpoint can read back), and what replaces
 * them once a person answered or the proposal expired.
 */
import { describe, expect, it } from 'vitest';
import { ACTION_IDS, APPROVAL_BLOCK_ID, BUTTON_VALUE_MAX_CHARS, decodeButtonValue } from '../../../functions/contract/slack-actions.ts';
import type { Approval, Report } from '../../../functions/core/types.ts';
import {
  incidentBlocks,
  proposalBlocks,
  type SlackBlock,
  type SlackButton,
} from '../../../functions/report/slack-blocks.ts';
import { reportFixture } from '../../helpers/report.ts';

/** What Lambda hands out: base64 (the local test runner's are base64 JSON too). */
const CALLBACK_ID = Buffer.from(JSON.stringify({ executionId: 'a6c1f0e2-5d3b-4c8e-9f7a-1b2c3d4e5f60', operationId: '7f3e' })).toString('base64');

const PROPOSED: Approval = { kind: 'approve', action: 'restart', proposedAt: '2026-11-24T10:00:03.000Z', expiresAt: '2026-11-24T10:15:03.000Z' };

/** Diagnosed, the restart proposed and not done. */
function draft(approval: Approval = PROPOSED): Report {
  return {
    ...reportFixture({ action: { executed: false }, outcome: 'pending', timings: { diagnosedMs: 3000 } }),
    approval,
  };
}

function actionsOf(blocks: SlackBlock[]): SlackButton[] {
  return blocks.flatMap((block) => (block.type === 'actions' ? block.elements : []));
}

function textOf(blocks: SlackBlock[]): string {
  return blocks
    .flatMap((block) => {
      if (block.type === 'header') return [block.text.text];
      if (block.type === 'section') return [block.text?.text ?? '', ...(block.fields ?? []).map((field) => field.text)];
      if (block.type === 'context') return block.elements.map((element) => element.text);
      if (block.type === 'actions') return block.elements.map((element) => element.text.text);
      return [];
    })
    .join('\n');
}

describe('proposalBlocks', () => {
  it('shows the diagnosis, a primary Restart button and Dismiss, each carrying the callback id and its decision', () => {
    // Prepare
    const report = draft();

    // Act
    const { blocks, text } = proposalBlocks(report, CALLBACK_ID);

    // Assess
    const [approve, dismiss] = actionsOf(blocks);
    expect(blocks.find((block) => block.type === 'actions')).toMatchObject({ block_id: APPROVAL_BLOCK_ID });
    expect(approve).toMatchObject({ type: 'button', action_id: ACTION_IDS.approve, style: 'primary', text: { type: 'plain_text', text: 'Restart web on i-0123456789abcdef0' } });
    expect(dismiss).toMatchObject({ type: 'button', action_id: ACTION_IDS.dismiss, text: { text: 'Dismiss' } });
    expect(dismiss?.style).toBeUndefined();
    expect(decodeButtonValue(approve?.value)).toEqual({ decision: 'approve', callbackId: CALLBACK_ID, expiresAt: PROPOSED.expiresAt, incidentId: 'evt-6a7e8f' });
    expect(decodeButtonValue(dismiss?.value)).toEqual({ decision: 'dismiss', callbackId: CALLBACK_ID, expiresAt: PROPOSED.expiresAt, incidentId: 'evt-6a7e8f' });
    for (const button of [approve, dismiss]) expect(button?.value.length).toBeLessThanOrEqual(BUTTON_VALUE_MAX_CHARS);
    const all = textOf(blocks);
    expect(all).toContain('web on i-0123456789abcdef0: process_crashed, restart awaiting approval');
    expect(all).toContain(report.diagnosis.summary);
    expect(all).toContain('*Proposed:* restart web on i-0123456789abcdef0: the process crashed; a restart brings it back');
    expect(all).toContain('expires at 10:15:03 UTC: if nobody answers by then, nothing is done');
    expect(text.split('\n')[0]).toBe('web on i-0123456789abcdef0: process_crashed, restart awaiting approval');
  });

  it('says Start for a start, and keeps the value within Slack’s limit with the longest callback id Lambda gives', () => {
    // Prepare
    const longest = 'A'.repeat(1024);
    const report = { ...draft({ ...PROPOSED, action: 'start' }), action: { kind: 'start' as const, executed: false, reason: 'the app is missing from PM2' } };

    // Act
    const [approve, dismiss] = actionsOf(proposalBlocks(report, longest).blocks);

    // Assess
    expect(approve?.text.text).toBe('Start web on i-0123456789abcdef0');
    for (const button of [approve, dismiss]) {
      expect(button?.value.length).toBeLessThanOrEqual(BUTTON_VALUE_MAX_CHARS);
      expect(decodeButtonValue(button?.value)?.callbackId).toBe(longest);
    }
  });

  it('offers “Restart web anyway” on an escalated report, behind a confirmation that says why Reflex would not', () => {
    // Prepare
    const report: Report = {
      ...reportFixture({ action: { kind: 'none', executed: false, reason: 'restart budget spent: 3 restarts in the last hour' }, outcome: 'escalated' }),
      approval: { ...PROPOSED, kind: 'override' },
    };

    // Act
    const { blocks } = proposalBlocks(report, CALLBACK_ID);

    // Assess
    const [approve] = actionsOf(blocks);
    expect(approve).toMatchObject({ action_id: ACTION_IDS.approve, style: 'primary', text: { text: 'Restart web anyway' } });
    expect(approve?.confirm).toMatchObject({
      title: { text: 'Restart web anyway?' },
      text: { text: 'Reflex would not: restart budget spent: 3 restarts in the last hour' },
      confirm: { text: 'Restart anyway' },
      deny: { text: 'Cancel' },
      style: 'danger',
    });
    expect(textOf(blocks)).toContain('process_crashed, escalated: restart anyway?');
    expect(textOf(blocks)).toContain('*Not done automatically:* restart budget spent');
  });

  it('draws no button for a callback id Lambda cannot answer (local mode), and says where to answer', () => {
    // Act
    const { blocks } = proposalBlocks(draft(), 'local-approval-1');

    // Assess
    expect(actionsOf(blocks)).toEqual([]);
    expect(textOf(blocks)).toContain('Answer where Reflex asked (its terminal)');
  });

  it('keeps hostile text out of the buttons and the proposal', () => {
    // Prepare
    const report = { ...draft(), app: 'web<!channel>', action: { kind: 'restart' as const, executed: false, reason: 'because <!here> <@U999>' } };

    // Act
    const { blocks } = proposalBlocks(report, CALLBACK_ID);

    // Assess
    const all = textOf(blocks);
    expect(all).not.toMatch(/<!channel>|<!here>|<@U999>/);
    expect(actionsOf(blocks)[0]?.text.text).toBe('Restart web on i-0123456789abcdef0');
  });

  it('refuses a report without a proposal', () => {
    expect(() => proposalBlocks(reportFixture(), CALLBACK_ID)).toThrow(RangeError);
  });
});

describe('incidentBlocks after the answer', () => {
  it('replaces the buttons with who approved and when, then shows the usual outcome', () => {
    // Prepare
    const approval: Approval = { ...PROPOSED, approvedBy: { id: 'U0APPROVER', name: 'ana' }, approvedAt: '2026-11-24T10:02:11.000Z' };
    const recovered: Report = { ...reportFixture(), approval };

    // Act
    const acting = incidentBlocks({ ...draft(approval), action: { kind: 'restart', executed: true, reason: 'approved' } }, 'acting');
    const closed = incidentBlocks(recovered, 'closed');

    // Assess
    for (const { blocks } of [acting, closed]) {
      expect(actionsOf(blocks)).toEqual([]);
      expect(textOf(blocks)).toContain(':white_check_mark: *Restart approved* by <@U0APPROVER> at 10:02:11 UTC');
    }
    expect(textOf(acting.blocks)).toContain('process_crashed, restarting');
    expect(textOf(closed.blocks)).toContain('process_crashed, recovered');
  });

  it('says who dismissed it and that nothing was done', () => {
    // Prepare
    const report: Report = {
      ...reportFixture({ action: { kind: 'none', executed: false, reason: 'dismissed' }, outcome: 'escalated' }),
      approval: { ...PROPOSED, dismissedBy: { id: 'U0DISMISS' }, dismissedAt: '2026-11-24T10:01:00.000Z' },
    };

    // Act
    const { blocks } = incidentBlocks(report, 'closed');

    // Assess
    expect(actionsOf(blocks)).toEqual([]);
    expect(textOf(blocks)).toContain(':no_entry_sign: *Dismissed* by <@U0DISMISS> at 10:01:00 UTC: nothing was done');
  });

  it('says when it expired and that nothing was done', () => {
    // Prepare
    const report: Report = {
      ...reportFixture({ action: { kind: 'none', executed: false, reason: 'nobody answered' }, outcome: 'escalated' }),
      approval: { ...PROPOSED, expired: true },
    };

    // Act
    const { blocks } = incidentBlocks(report, 'closed');

    // Assess
    expect(textOf(blocks)).toContain(':hourglass: *Expired* at 10:15:03 UTC: nobody answered, nothing was done');
  });

  it('names a person who is not a Slack user (the terminal) as plain, safe text, never as a mention', () => {
    // Prepare
    const report: Report = { ...reportFixture(), approval: { ...PROPOSED, kind: 'override', approvedBy: { id: 'terminal', name: 'ops <!channel>' }, approvedAt: '2026-11-24T10:02:11.000Z' } };

    // Act
    const all = textOf(incidentBlocks(report).blocks);

    // Assess
    expect(all).toContain('*Restart anyway approved* by ops  at 10:02:11 UTC');
    expect(all).not.toContain('<!channel>');
  });

  it('renders a report without a proposal exactly as before', () => {
    // Prepare
    const report = reportFixture();
    // Act
    const { blocks } = incidentBlocks(report);
    // Assess
    expect(blocks.map((block) => block.type)).toEqual(['header', 'section', 'section', 'section', 'section', 'section', 'context']);
  });
});
