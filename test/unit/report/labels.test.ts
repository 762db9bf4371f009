import { describe, expect, it } from 'vitest';
import type { Outcome, Report } from '../../../functions/core/types.ts';
import { duration } from '../../../functions/report/format.ts';
import { renderHtmlReport } from '../../../functions/report/html-report.ts';
import { OUTCOME_LABELS } from '../../../functions/report/labels.ts';
import { incidentBlocks } from '../../../functions/report/slack-blocks.ts';
import { renderEmailText, toChatbotMessage } from '../../../functions/report/sns-message.ts';
import { renderMarkdown, renderText } from '../../../functions/report/text.ts';
import { reportFixture } from '../../helpers/report.ts';

/** Every rendering of a report, as one text each (the HTML page without its style sheet, which names every outcome). */
function renderings(report: Report): Record<string, string> {
  return {
    terminal: renderText(report),
    markdown: renderMarkdown(report),
    html: renderHtmlReport(report).replace(/<style>[\s\S]*?<\/style>/, ''),
    slack: JSON.stringify(incidentBlocks(report)),
    email: renderEmailText(report),
    chat: toChatbotMessage(report).content.description,
  };
}

describe('duration', () => {
  it.each([
    [0, '0 ms'],
    [850, '850 ms'],
    [999.7, '1.0 s'],
    [4_500, '4.5 s'],
    [9_960, '10 s'],
    [42_000, '42 s'],
    [59_600, '1 min 0 s'],
    [125_000, '2 min 5 s'],
    [-5, '0 ms'],
  ])('%d ms reads %s', (ms, text) => {
    // Act
    const shown = duration(ms);

    // Assess
    expect(shown).toBe(text);
  });
});

describe('outcome labels', () => {
  it.each(['healthy', 'escalated', 'dry_run'] as const)('every rendering words %s the same way', (outcome: Outcome) => {
    // Prepare
    const report = reportFixture({ outcome, timings: { diagnosedMs: 3000 } });

    // Act
    const texts = renderings(report);

    // Assess
    for (const [name, text] of Object.entries(texts)) expect({ name, has: text.toLowerCase().includes(OUTCOME_LABELS[outcome]) }).toEqual({ name, has: true });
  });

  it('every rendering shows a draft as in progress, never as escalated', () => {
    // Prepare
    const draft = reportFixture({ outcome: 'pending', action: { executed: false }, timings: { diagnosedMs: 3000 } });

    // Act
    const texts = renderings(draft);

    // Assess
    for (const [name, text] of Object.entries(texts)) {
      expect({ name, inProgress: text.toLowerCase().includes('in progress'), escalated: /escalated/i.test(text) }).toEqual({ name, inProgress: true, escalated: false });
    }
  });
});
