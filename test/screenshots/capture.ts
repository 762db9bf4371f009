/**
 * The README's two pictures, from a real incident: a sandbox (real nginx + PM2 + the demo app) serves traffic, the
 * app crashes, users get 502s for a few minutes, then `respond()` handles it. Its report is rendered as the HTML
 * incident report (renderHtmlReport), as the Slack message (incidentBlocks + timelineText, drawn as static HTML
 * that looks like Slack), and as the approve-mode proposal the same incident would have made before its restart
 * (proposalBlocks: the message with its two buttons), and headless Chromium screenshots all three:
 *
 *   npx tsx test/screenshots/capture.ts [--minutes N]   (default 3 minutes of errors before the response)
 *
 * Writes test/screenshots/incident-report.png, slack-message.png and slack-approval.png.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { localWiring } from '../../functions/cli/local.ts';
import { loadProfile } from '../../functions/cli/profile-file.ts';
import { targetOf } from '../../functions/core/profile.ts';
import { escapeHtml, renderHtmlReport } from '../../functions/report/html-report.ts';
import { renderStep } from '../../functions/report/text.ts';
import { respond } from '../../functions/core/respond.ts';
import {
  incidentBlocks,
  proposalBlocks,
  timelineText,
  type MrkdwnText,
  type SlackBlock,
  type SlackButton,
} from '../../functions/report/slack-blocks.ts';
import type { Report } from '../../functions/core/types.ts';
import { startSandbox, type Sandbox } from '../../functions/sandbox/sandbox.ts';

const OUT_DIR = fileURLToPath(new URL('./', import.meta.url));
const WINDOW = { width: 1200, height: 1400 };

// ---------------------------------------------------------------- a real incident

/** Crashes the app, keeps users knocking for `minutes`, then lets Reflex respond. */
async function realIncident(box: Sandbox, minutes: number): Promise<Report> {
  await box.traffic(20);
  await box.faults.crash();
  const until = Date.now() + minutes * 60_000;
  while (Date.now() < until) {
    await box.traffic(5);
    await new Promise((resolve) => setTimeout(resolve, 4_000));
  }
  // The sandbox shares this machine's kernel: its ring buffer holds other processes' OOM kills, which are no part of
  // this incident. The pictured host has a kernel log of its own, with nothing in it.
  const kernelLog = join(box.dir, 'kern-empty.log');
  await writeFile(kernelLog, '');
  const profile = { ...(await loadProfile(box.profilePath, { ...process.env, ...box.env })), kernelLog };
  // Slack stays off here (no REFLEX_SLACK_* variables): the picture is drawn from the report, nothing is sent.
  const env = { PATH: box.env['PATH'], PM2_HOME: box.env['PM2_HOME'], HOME: process.env['HOME'], XDG_STATE_HOME: join(box.dir, 'state') };
  const progress = { step: (entry: Parameters<typeof renderStep>[0]) => process.stdout.write(`${renderStep(entry, { color: false })}\n`) };
  const { deps, budget } = localWiring(profile, { env, progress });
  return respond(targetOf(profile), deps, { budget });
}

// ---------------------------------------------------------------- Block Kit drawn as a Slack message

/** Slack's emoji for the shortcodes Reflex uses, drawn without an emoji font (this machine may have none). */
const EMOJI: Record<string, { readonly glyph: string; readonly color: string }> = {
  white_check_mark: { glyph: '✓', color: '#2eb67d' },
  rotating_light: { glyph: '!', color: '#e01e5a' },
  large_green_circle: { glyph: '●', color: '#2eb67d' },
  information_source: { glyph: 'i', color: '#1264a3' },
  mag: { glyph: '?', color: '#1264a3' },
  arrows_counterclockwise: { glyph: '↻', color: '#1264a3' },
  hourglass_flowing_sand: { glyph: '…', color: '#ecb22e' },
  hourglass: { glyph: '…', color: '#ecb22e' },
  raised_hand: { glyph: '✋', color: '#ecb22e' },
  no_entry_sign: { glyph: '⊘', color: '#e01e5a' },
};

function emoji(html: string): string {
  return html.replace(/:([a-z_]+):/g, (whole, name: string) => {
    const known = EMOJI[name];
    return known ? `<span class="emoji" style="background:${known.color}">${known.glyph}</span>` : whole;
  });
}

/** Block Kit text arrives with `&`, `<`, `>` escaped for Slack; undo that once, then escape for HTML. */
function unslack(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** mrkdwn basics: ```blocks```, `code`, *bold*, _italic_, line breaks. */
function mrkdwn(text: string): string {
  return unslack(text)
    .split('```')
    .map((part, index) => (index % 2 === 1 ? `<pre>${escapeHtml(part.replace(/^\n|\n$/g, ''))}</pre>` : inline(part)))
    .join('');
}

function inline(text: string): string {
  return text
    .split(/(`[^`\n]+`)/)
    .map((part) => {
      if (/^`[^`\n]+`$/.test(part)) return `<code>${escapeHtml(part.slice(1, -1))}</code>`;
      return emoji(escapeHtml(part))
        .replace(/\*([^*\n]+)\*/g, '<b>$1</b>')
        .replace(/(^|[\s(])_([^_\n]+)_(?=[\s).,]|$)/g, '$1<i>$2</i>');
    })
    .join('')
    .replace(/^\n+|\n+$/g, '')
    .replace(/\n/g, '<br>');
}

function block(item: SlackBlock): string {
  switch (item.type) {
    case 'header':
      return `<div class="header">${emoji(escapeHtml(item.text.text))}</div>`;
    case 'section': {
      const text = item.text ? `<div class="text">${mrkdwn(item.text.text)}</div>` : '';
      const fields = item.fields ? `<div class="fields">${item.fields.map((field: MrkdwnText) => `<div>${mrkdwn(field.text)}</div>`).join('')}</div>` : '';
      return `<div class="section">${text}${fields}</div>`;
    }
    case 'context':
      return `<div class="context">${item.elements.map((element) => `<span>${mrkdwn(element.text)}</span>`).join(' ')}</div>`;
    case 'actions':
      return `<div class="actions">${item.elements.map(button).join('')}</div>`;
    case 'divider':
      return '<hr>';
  }
}

/** A Block Kit button as Slack draws it: green for `primary`, outlined otherwise. */
function button(item: SlackButton): string {
  return `<span class="button${item.style ? ` ${item.style}` : ''}">${escapeHtml(item.text.text)}</span>`;
}

const SLACK_STYLE = `
body{margin:0;background:#fff;font:15px/1.46668 "Liberation Sans","Helvetica Neue",Arial,sans-serif;color:#1d1c1d}
.channel{border-bottom:1px solid #e2e2e2;padding:14px 20px;font-weight:900;font-size:18px}
.message{display:flex;gap:10px;padding:16px 20px}
.avatar{flex:none;width:36px;height:36px;border-radius:6px;background:#4a154b;color:#fff;font-weight:900;display:flex;align-items:center;justify-content:center}
.body{flex:1;min-width:0;max-width:820px}
.who{font-weight:900}.app{font-size:10px;font-weight:700;color:#616061;background:#e8e8e8;border-radius:2px;padding:1px 3px;margin:0 6px;vertical-align:2px}
.when{color:#616061;font-size:12px}
.header{font-size:18px;font-weight:900;margin:8px 0 6px}
.section{margin:8px 0}.fields{display:grid;grid-template-columns:1fr 1fr;gap:8px 16px}
.context{color:#616061;font-size:12px;margin-top:8px}
code{font:12px/1.5 "DejaVu Sans Mono",monospace;color:#e01e5a;background:#f8f8f8;border:1px solid #e2e2e2;border-radius:3px;padding:1px 3px}
pre{font:12px/1.5 "DejaVu Sans Mono",monospace;background:#f8f8f8;border:1px solid #e2e2e2;border-radius:4px;padding:8px;margin:4px 0;white-space:pre-wrap;word-break:break-all}
.emoji{display:inline-flex;align-items:center;justify-content:center;width:20px;height:20px;border-radius:4px;color:#fff;font-size:13px;font-weight:900;vertical-align:-3px}
.actions{display:flex;gap:8px;margin:10px 0 4px}
.button{display:inline-block;border:1px solid #bbbabb;border-radius:4px;padding:0 12px;height:28px;line-height:28px;font-size:13px;font-weight:700;color:#1d1c1d;background:#fff}
.button.primary{background:#007a5a;border-color:#007a5a;color:#fff}
.button.danger{background:#e01e5a;border-color:#e01e5a;color:#fff}
.thread{margin:4px 20px 16px 66px;border-left:3px solid #e2e2e2;padding-left:12px}
.thread .label{color:#1264a3;font-weight:700;font-size:13px;margin-bottom:6px}
`;

/** The final message of the incident and its threaded timeline, as Slack shows them. */
export function renderSlackMessage(report: Report): string {
  const message = incidentBlocks(report, 'closed');
  const when = `${report.finishedAt.slice(11, 16)} UTC`;
  const author = (text: string) =>
    `<div class="avatar">R</div><div class="body"><div><span class="who">Reflex</span><span class="app">APP</span><span class="when">${when}</span></div>${text}</div>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Slack message</title><style>${SLACK_STYLE}</style></head>
<body>
<div class="channel"># incidents</div>
<div class="message">${author(message.blocks.map(block).join(''))}</div>
<div class="thread"><div class="label">1 reply (the timeline, in the thread)</div><div class="message" style="padding:0">${author(`<div class="section">${mrkdwn(timelineText(report))}</div>`)}</div></div>
</body></html>
`;
}

/**
 * The same incident in approve mode, at the moment Reflex asks: diagnosed, the restart decided and not done, the
 * message showing **Restart web on i-…** and **Dismiss** until the proposal expires 15 minutes later. The callback
 * id stands for the one Lambda hands out (base64); the picture shows the message, nothing is sent.
 */
export function proposalOf(report: Report): Report {
  const proposedAt = new Date(Date.parse(report.startedAt) + report.timings.diagnosedMs).toISOString();
  const diagnosed = report.timeline.filter((entry) => entry.at <= proposedAt);
  return {
    ...report,
    finishedAt: proposedAt,
    outcome: 'pending',
    action: { kind: report.action.kind, executed: false, reason: report.action.reason },
    timeline: diagnosed,
    // What the diagnosis had: not what was seen after the restart this proposal comes before.
    diagnosis: { ...report.diagnosis, evidence: report.diagnosis.evidence.filter((line) => line.at <= proposedAt) },
    timings: { ...(report.timings.detectedMs !== undefined && { detectedMs: report.timings.detectedMs }), diagnosedMs: report.timings.diagnosedMs },
    approval: {
      kind: 'approve',
      action: report.action.kind === 'start' ? 'start' : 'restart',
      proposedAt,
      expiresAt: new Date(Date.parse(proposedAt) + 15 * 60_000).toISOString(),
    },
  };
}

const PICTURED_CALLBACK_ID = Buffer.from(JSON.stringify({ execution: 'pictured', operation: 'approval' })).toString('base64');

/** The proposal message (approve mode), as Slack shows it before anyone clicks. */
export function renderSlackProposal(report: Report): string {
  const proposal = proposalOf(report);
  const message = proposalBlocks(proposal, PICTURED_CALLBACK_ID);
  const when = `${proposal.finishedAt.slice(11, 16)} UTC`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Slack proposal</title><style>${SLACK_STYLE}</style></head>
<body>
<div class="channel"># incidents</div>
<div class="message"><div class="avatar">R</div><div class="body"><div><span class="who">Reflex</span><span class="app">APP</span><span class="when">${when}</span></div>${message.blocks.map(block).join('')}</div></div>
</body></html>
`;
}

// ---------------------------------------------------------------- Chromium

function screenshot(page: string, png: string, profileDir: string): Promise<void> {
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--hide-scrollbars',
    `--user-data-dir=${profileDir}`,
    `--screenshot=${png}`,
    `--window-size=${WINDOW.width},${WINDOW.height}`,
    pathToFileURL(page).href,
  ];
  return new Promise((resolve, reject) => {
    execFile('chromium', args, { timeout: 60_000 }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`chromium failed for ${page}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`, { cause: error }));
      else resolve();
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { minutes: { type: 'string', default: '3' } } });
  const minutes = Number(values.minutes);
  if (!Number.isFinite(minutes) || minutes < 0 || minutes > 30) throw new Error(`--minutes: must be a number from 0 to 30, got "${values.minutes}"`);

  const work = await mkdtemp(join(tmpdir(), 'reflex-screenshots-'));
  const box = await startSandbox({ bootMs: 300 });
  const stop = (): void => {
    void box.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  try {
    await box.waitHealthy(15_000);
    process.stdout.write(`crashing the app; ${minutes} min of 502s before the response\n`);
    const report = await realIncident(box, minutes);
    process.stdout.write(`incident: ${report.diagnosis.cause} → ${report.outcome}\n`);
    const pages = { report: join(work, 'incident-report.html'), slack: join(work, 'slack-message.html'), approval: join(work, 'slack-approval.html') };
    await writeFile(pages.report, renderHtmlReport(report));
    await writeFile(pages.slack, renderSlackMessage(report));
    await writeFile(pages.approval, renderSlackProposal(report));
    await writeFile(join(work, 'report.json'), JSON.stringify(report, null, 2));
    for (const [name, page] of [['incident-report', pages.report], ['slack-message', pages.slack], ['slack-approval', pages.approval]] as const) {
      const png = join(OUT_DIR, `${name}.png`);
      await screenshot(page, png, join(work, `chromium-${name}`));
      process.stdout.write(`wrote ${png} (${(await stat(png)).size} bytes)\n`);
    }
  } finally {
    process.off('SIGINT', stop);
    await box.stop();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`capture: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
