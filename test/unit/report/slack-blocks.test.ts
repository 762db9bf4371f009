import { describe, expect, it } from 'vitest';
import { incidentBlocks, slackSafe, SLACK_LIMITS, timelineText, type SlackBlock } from '../../../functions/report/slack-blocks.ts';
import type { Report } from '../../../functions/core/types.ts';
import { reportFixture } from '../../helpers/report.ts';

const HOSTILE = [
  '<!channel> wake up',
  '<!here|here> and <!everyone>',
  'ping <@U123ABC> and <@W999|bob>',
  'see <#C024BE7LR|general>',
  'team <!subteam^S0123|@oncall>',
  'escaped &lt;!channel&gt; and encoded %3C!here%3E and &#60;@U123&#62;',
  '<script>alert(1)</script> & more',
  'closing ``` fence ` tick',
];

/** The standard report, with the nginx side of the crash in its evidence and timeline, and errors up to 10:00. */
function report(): Report {
  return reportFixture({
    diagnosis: {
      evidence: [
        {
          source: 'nginx-error',
          at: '2026-11-24T09:59:58.000Z',
          text: '2026/11/24 09:59:58 [error] 188#188: *8433 connect() failed (111: Connection refused) while connecting to upstream',
        },
        { source: 'pm2', at: '2026-11-24T09:59:57.000Z', text: 'App [web:0] exited with code [1] via signal [SIGINT]' },
      ],
    },
    timeline: [
      { at: '2026-11-24T09:59:57.000Z', source: 'pm2', message: 'App [web:0] exited with code [1]' },
      { at: '2026-11-24T09:59:58.000Z', source: 'nginx-error', message: 'connect() failed (111: Connection refused)' },
      { at: '2026-11-24T10:00:05.000Z', source: 'responder', message: 'restart issued' },
      { at: '2026-11-24T10:00:42.000Z', source: 'probe', message: 'nginx answered 200' },
    ],
    gatewayErrors: [
      { minute: '2026-11-24T09:58:00.000Z', count: 2, byStatus: { '502': 2 } },
      { minute: '2026-11-24T09:59:00.000Z', count: 40, byStatus: { '502': 40 } },
      { minute: '2026-11-24T10:00:00.000Z', count: 12, byStatus: { '502': 10, '504': 2 } },
    ],
  });
}

function withEvidence(lines: string[]): Report {
  const base = report();
  return {
    ...base,
    diagnosis: {
      ...base.diagnosis,
      summary: `${HOSTILE[0]} ${HOSTILE[6]}`,
      advice: [HOSTILE[2] ?? ''],
      evidence: lines.map((text) => ({ source: 'nginx-error' as const, at: '2026-11-24T10:00:00.000Z', text })),
    },
  };
}

/** Every text a message carries, for checks that must hold everywhere. */
function texts(blocks: SlackBlock[]): string[] {
  return blocks.flatMap((block) => {
    if (block.type === 'header') return [block.text.text];
    if (block.type === 'section') return [...(block.text ? [block.text.text] : []), ...(block.fields ?? []).map((f) => f.text)];
    if (block.type === 'context') return block.elements.map((element) => element.text);
    return [];
  });
}

describe('slackSafe', () => {
  it('strips mention, channel and subteam tokens in raw, escaped and encoded forms before escaping', () => {
    // Prepare
    const input = HOSTILE.slice(0, 6).join(' | ');
    // Act
    const safe = slackSafe(input);
    // Assess
    expect(safe).not.toMatch(/channel>|here>|everyone>|U123|W999|C024BE7LR|subteam|%3C|&#60;|&lt;!|&amp;lt;/i);
    expect(safe).toContain('wake up');
  });

  it('escapes &, < and > so no other token can reach Slack', () => {
    // Prepare
    const input = '<script>alert(1)</script> & <http://evil.example|click>';
    // Act
    const safe = slackSafe(input);
    // Assess
    expect(safe).toBe('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;http://evil.example|click&gt;');
  });

  it('cannot be tricked into reassembling a token from nested pieces', () => {
    // Prepare
    const input = '<!chan<!here>nel> <<@U1>@U2>';
    // Act
    const safe = slackSafe(input);
    // Assess
    expect(safe).not.toContain('<');
    expect(safe).not.toMatch(/@U2|!channel&gt;$/);
  });

  it('defuses bare @channel, @here and @everyone', () => {
    // Prepare
    const input = 'hey @channel, @here and @everyone';
    // Act
    const safe = slackSafe(input);
    // Assess
    expect(safe).not.toMatch(/@(channel|here|everyone)/);
    expect(safe).toContain('@\u200bchannel');
  });
});

describe('incidentBlocks', () => {
  it('renders header, fields, summary, evidence, advice, sparkline and context for a closed incident', () => {
    // Prepare
    const input = report();
    // Act
    const { blocks, text } = incidentBlocks(input);
    // Assess
    expect(blocks.map((block) => block.type)).toEqual(['header', 'section', 'section', 'section', 'section', 'section', 'context']);
    const [header, fields] = blocks;
    expect(header).toEqual({ type: 'header', text: { type: 'plain_text', text: expect.stringContaining('process_crashed, recovered'), emoji: true } });
    expect(fields?.type === 'section' && fields.fields?.map((f) => f.text)).toEqual([
      '*Instance*\ni-0123456789abcdef0',
      '*App*\nweb',
      '*Action*\nrestart, done',
      '*Time to recover*\n42 s',
    ]);
    const all = texts(blocks).join('\n');
    expect(all).toContain('```09:59:58 nginx-error 2026/11/24 09:59:58 [error]');
    expect(all).toContain('• Read the app error log around 10:00 for the exception.');
    expect(all).toContain('`▂█▄▁`');
    expect(all).toContain('Incident `evt-6a7e8f`');
    expect(text).toContain('web on i-0123456789abcdef0: process_crashed, recovered');
  });

  it('shows the step in progress in the header', () => {
    // Prepare
    const input = report();
    // Act
    const headers = (['diagnosing', 'acting', 'verifying', 'closed'] as const).map(
      (phase) => (incidentBlocks(input, phase).blocks[0] as Extract<SlackBlock, { type: 'header' }>).text.text,
    );
    // Assess
    expect(headers).toEqual([
      ':mag: Gateway errors on web on i-0123456789abcdef0: diagnosing',
      ':arrows_counterclockwise: web on i-0123456789abcdef0: process_crashed, restarting',
      ':hourglass_flowing_sand: web on i-0123456789abcdef0: process_crashed, verifying recovery',
      ':white_check_mark: web on i-0123456789abcdef0: process_crashed, recovered',
    ]);
  });

  it('says escalated and not recovered when the restart did not help', () => {
    // Prepare
    const input: Report = { ...report(), outcome: 'escalated', timings: { diagnosedMs: 3000, actedMs: 5000 } };
    // Act
    const { blocks } = incidentBlocks(input);
    // Assess
    const all = texts(blocks).join('\n');
    expect(all).toContain(':rotating_light:');
    expect(all).toContain('escalated, needs a human');
    expect(all).toContain('*Time to recover*\nnot recovered');
  });

  it('neutralises hostile log text everywhere in the message', () => {
    // Prepare
    const input = withEvidence([...HOSTILE, 'x'.repeat(10_000)]);
    // Act
    const { blocks, text } = incidentBlocks(input);
    // Assess
    const all = [...texts(blocks), text].join('\n');
    expect(all).not.toMatch(/<!channel>|<!here|<!everyone>|<@U123ABC>|<#C024BE7LR|<!subteam|<script>/);
    expect(all).not.toMatch(/[<>]/);
    expect(all).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; more');
    expect(all).toContain("closing ''' fence ' tick");
    const evidence = texts(blocks).find((t) => t.startsWith('*Evidence*')) ?? '';
    const lines = evidence.replace(/```/g, '\n').split('\n');
    expect(Math.max(...lines.map((line) => line.length))).toBeLessThanOrEqual(SLACK_LIMITS.lineChars);
    expect(evidence).toContain('x'.repeat(250));
  });

  it('keeps within Block Kit limits whatever the report holds', () => {
    // Prepare
    const input = withEvidence(Array.from({ length: 500 }, (_, n) => `line ${n} ${'é&<'.repeat(120)}`));
    const long = { ...input, app: 'a'.repeat(64), diagnosis: { ...input.diagnosis, summary: 's'.repeat(10_000), advice: Array(100).fill('advice '.repeat(100)) } };
    // Act
    const { blocks, text } = incidentBlocks(long);
    // Assess
    expect(blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
    const header = blocks[0] as Extract<SlackBlock, { type: 'header' }>;
    expect(header.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.headerChars);
    for (const block of blocks) {
      if (block.type === 'section' && block.text) expect(block.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionChars);
      if (block.type === 'section') for (const f of block.fields ?? []) expect(f.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fieldChars);
    }
    expect(texts(blocks).join('\n')).toContain('more not shown');
    expect(text.length).toBeLessThanOrEqual(SLACK_LIMITS.fallbackChars);
    expect(text).not.toMatch(/&[a-z]*…/);
  });

  it('leaves the sparkline out when no gateway error was counted', () => {
    // Prepare
    const input: Report = { ...report(), gatewayErrors: [] };
    // Act
    const { blocks } = incidentBlocks(input);
    // Assess
    expect(texts(blocks).join('\n')).not.toContain('Gateway errors per minute');
  });
});

describe('timelineText', () => {
  it('lists every entry as time, source and message in one code block', () => {
    // Prepare
    const input = report();
    // Act
    const text = timelineText(input);
    // Assess
    expect(text).toBe(
      [
        '*Timeline* of incident `evt-6a7e8f` (UTC)',
        '```09:59:57 pm2         App [web:0] exited with code [1]',
        '09:59:58 nginx-error connect() failed (111: Connection refused)',
        '10:00:05 responder   restart issued',
        '10:00:42 probe       nginx answered 200```',
      ].join('\n'),
    );
  });

  it('neutralises hostile entries and says how many entries did not fit', () => {
    // Prepare
    const base = report();
    const input: Report = {
      ...base,
      timeline: Array.from({ length: 400 }, (_, n) => ({ at: base.startedAt, source: 'nginx-error' as const, message: `${HOSTILE[n % HOSTILE.length]} ${'y'.repeat(200)}` })),
    };
    // Act
    const text = timelineText(input);
    // Assess
    expect(text.length).toBeLessThanOrEqual(SLACK_LIMITS.timelineChars);
    expect(text).not.toMatch(/[<>]/);
    expect(text).toMatch(/_… \d+ more entries in the JSON report_$/);
  });
});
