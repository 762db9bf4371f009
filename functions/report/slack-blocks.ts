/**
 * Slack Block Kit rendering of an incident. Pure: the Slack adapters send what these functions return.
 *
 * Log lines are hostile input: they can carry `<!channel>` or `<@U…>` (a ping to everyone) or break the message
 * layout. Every piece of report text goes through {@link slackSafe}: special tokens stripped (raw, HTML-escaped and
 * percent-encoded forms), then `&`, `<`, `>` escaped, so no token can survive, then cut to the Slack limits.
 */
import type { IncidentPhase } from '../core/incident.ts';
import { reportSeries, sparkline } from './sparkline.ts';
import type { Report } from '../core/types.ts';

/** Block Kit limits (https://docs.slack.dev/reference/block-kit/blocks) and Reflex's own line cut. */
export const SLACK_LIMITS = {
  headerChars: 150,
  sectionChars: 3000,
  fieldChars: 2000,
  blocks: 50,
  contextElements: 10,
  /** Each log line shown is cut to this. */
  lineChars: 300,
  /** The top-level `text` (notification fallback). */
  fallbackChars: 3000,
  /** The one threaded reply with the whole timeline; Slack truncates messages far above this (40,000). */
  timelineChars: 12_000,
} as const;

export interface PlainText {
  readonly type: 'plain_text';
  readonly text: string;
  readonly emoji?: boolean;
}
export interface MrkdwnText {
  readonly type: 'mrkdwn';
  readonly text: string;
  /** true: Slack does not turn URLs or channel names into links. */
  readonly verbatim?: boolean;
}
export type SlackBlock =
  | { readonly type: 'header'; readonly text: PlainText }
  | { readonly type: 'section'; readonly text?: MrkdwnText; readonly fields?: MrkdwnText[] }
  | { readonly type: 'context'; readonly elements: MrkdwnText[] }
  | { readonly type: 'divider' };

/** What `chat.postMessage`/`chat.update` and an incoming webhook take. */
export interface SlackMessage {
  /** Plain fallback for notifications and clients that cannot show blocks. */
  readonly text: string;
  readonly blocks: SlackBlock[];
}

const OPEN = String.raw`(?:<|&lt;?|&#0*60;?|&#x0*3c;?|%3c|\\u003c)`;
const CLOSE = String.raw`(?:>|&gt;?|&#0*62;?|&#x0*3e;?|%3e|\\u003e)`;
const SIGIL = String.raw`(?:[!@#]|%21|%40|%23|&#0*33;|&#0*64;|&#0*35;|&#x0*21;|&#x0*40;|&#x0*23;)`;
/** `<!channel>`, `<!here|here>`, `<@U123>`, `<#C123|general>`, `<!subteam^S1>`… in any of their encodings. */
const SPECIAL_TOKEN = new RegExp(`${OPEN}\\s*${SIGIL}[^<>\\n]{0,200}?${CLOSE}`, 'gi');
/** Bare words that ping when a client links names. A zero-width space keeps them readable but inert. */
const BARE_MENTION = /([@＠])(channel|here|everyone)\b/gi;

/**
 * Makes report text safe for Slack mrkdwn: strips mention/channel/subteam tokens, defuses bare `@channel`,
 * then escapes `&`, `<`, `>` (Slack's three control characters).
 */
export function slackSafe(text: string): string {
  let stripped = text;
  // Repeat so that a token hidden inside another (`<!ch<!here>annel>`) cannot reassemble.
  for (let pass = 0; pass < 5; pass++) {
    const next = stripped.replace(SPECIAL_TOKEN, '');
    if (next === stripped) break;
    stripped = next;
  }
  return stripped
    .replace(BARE_MENTION, '$1\u200b$2')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

/** Cuts already-escaped text to `max` characters without splitting an `&amp;`-style entity. */
export function cutEscaped(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max - 1).replace(/&[a-z#0-9]*$/i, '')}…`;
}

/** One log/timeline line inside a code block: safe, one line, no backticks that could close the block. */
function codeLine(text: string): string {
  return cutEscaped(slackSafe(text.replace(/[\r\n\t]+/g, ' ').replace(/`/g, "'")), SLACK_LIMITS.lineChars);
}

/** Plain text for headers: tokens stripped, one line, no escaping (plain_text is shown as is). */
function plain(text: string, max: number): string {
  let stripped = text.replace(/[\r\n\t]+/g, ' ');
  for (let pass = 0; pass < 5; pass++) {
    const next = stripped.replace(SPECIAL_TOKEN, '');
    if (next === stripped) break;
    stripped = next;
  }
  stripped = stripped.replace(/[<>]/g, '').replace(BARE_MENTION, '$1\u200b$2');
  return stripped.length <= max ? stripped : `${stripped.slice(0, max - 1)}…`;
}

function time(iso: string): string {
  const at = Date.parse(iso);
  return Number.isNaN(at) ? '--:--:--' : new Date(at).toISOString().slice(11, 19);
}

/** `42 s`, `3 min 05 s`. */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  return `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, '0')} s`;
}

const OUTCOME_LABEL: Record<Report['outcome'], { emoji: string; label: string }> = {
  recovered: { emoji: ':white_check_mark:', label: 'recovered' },
  escalated: { emoji: ':rotating_light:', label: 'escalated: needs a human' },
  healthy: { emoji: ':large_green_circle:', label: 'healthy, no action needed' },
  dry_run: { emoji: ':information_source:', label: 'dry run, no action taken' },
};

/** The headline: cause and outcome (or the step in progress), app and instance. At most 150 characters. */
export function headline(report: Report, phase: IncidentPhase = 'closed'): string {
  const where = `${report.app} on ${report.instanceId}`;
  const cause = report.diagnosis.cause;
  const action = report.action.kind === 'start' ? 'starting' : 'restarting';
  const text = {
    diagnosing: `:mag: Gateway errors on ${where}: diagnosing`,
    acting: `:arrows_counterclockwise: ${where}: ${cause}, ${action}`,
    verifying: `:hourglass_flowing_sand: ${where}: ${cause}, verifying recovery`,
    closed: `${OUTCOME_LABEL[report.outcome].emoji} ${where}: ${cause}, ${OUTCOME_LABEL[report.outcome].label}`,
  }[phase];
  return plain(text, SLACK_LIMITS.headerChars);
}

function field(label: string, value: string): MrkdwnText {
  return { type: 'mrkdwn', text: cutEscaped(`*${label}*\n${slackSafe(value)}`, SLACK_LIMITS.fieldChars), verbatim: true };
}

function actionText(report: Report, phase: IncidentPhase): string {
  const { kind, executed, error } = report.action;
  if (phase === 'diagnosing') return 'deciding';
  if (kind === 'none') return 'none';
  if (error !== undefined) return `${kind} failed: ${error}`;
  if (phase === 'acting') return `${kind} issued`;
  return executed ? `${kind} (done)` : `${kind} (not executed)`;
}

function recoveryText(report: Report, phase: IncidentPhase): string {
  if (report.timings.recoveredMs !== undefined) return formatDuration(report.timings.recoveredMs);
  if (phase !== 'closed') return 'in progress';
  return report.outcome === 'healthy' ? 'already serving' : 'not recovered';
}

/** A mrkdwn section with a title and lines, kept under the section limit by dropping whole lines. */
function listSection(title: string, lines: string[], code: boolean): SlackBlock | undefined {
  if (lines.length === 0) return undefined;
  const fence = code ? '```' : '';
  const budget = SLACK_LIMITS.sectionChars - title.length - 2 * fence.length - 60;
  const kept: string[] = [];
  let used = 0;
  for (const line of lines) {
    if (used + line.length + 1 > budget) break;
    kept.push(line);
    used += line.length + 1;
  }
  const more = lines.length - kept.length;
  const body = `${fence}${kept.join('\n')}${fence}${more > 0 ? `\n_… ${more} more not shown_` : ''}`;
  return { type: 'section', text: { type: 'mrkdwn', text: `${title}\n${body}`, verbatim: true } };
}

/**
 * The incident as one Block Kit message: header (cause + outcome, or the step in progress), fields (instance, app,
 * action, time to recover), summary, evidence lines, advice, gateway errors per minute as a sparkline, and a context
 * line with the incident id. `phase` defaults to `closed` (the final report).
 */
export function incidentBlocks(report: Report, phase: IncidentPhase = 'closed'): SlackMessage {
  const title = headline(report, phase);
  const blocks: (SlackBlock | undefined)[] = [
    { type: 'header', text: { type: 'plain_text', text: title, emoji: true } },
    {
      type: 'section',
      fields: [
        field('Instance', report.instanceId),
        field('App', report.app),
        field('Action', actionText(report, phase)),
        field('Time to recover', recoveryText(report, phase)),
      ],
    },
  ];
  if (phase !== 'diagnosing') {
    blocks.push(
      {
        type: 'section',
        text: { type: 'mrkdwn', text: cutEscaped(slackSafe(report.diagnosis.summary), SLACK_LIMITS.sectionChars), verbatim: true },
      },
      listSection(
        '*Evidence*',
        report.diagnosis.evidence.map((line) => codeLine(`${time(line.at)} ${line.source} ${line.text}`)),
        true,
      ),
      listSection(
        '*What to do*',
        report.diagnosis.advice.map((advice) => `• ${cutEscaped(slackSafe(advice), SLACK_LIMITS.lineChars)}`),
        false,
      ),
    );
  }
  const series = reportSeries(report);
  const peak = Math.max(0, ...series.counts);
  if (series.counts.length > 0 && peak > 0) {
    const end = new Date(series.from.getTime() + (series.counts.length - 1) * 60_000);
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `*Gateway errors per minute* (${time(series.from.toISOString()).slice(0, 5)}–${time(end.toISOString()).slice(0, 5)} UTC, peak ${peak}/min)\n\`${sparkline(series.counts)}\``,
      },
    });
  }
  blocks.push({
    type: 'context',
    elements: [
      {
        type: 'mrkdwn',
        text: cutEscaped(`Incident \`${slackSafe(report.incidentId).replace(/`/g, "'")}\` · started ${slackSafe(report.startedAt)} · Reflex`, SLACK_LIMITS.fieldChars),
        verbatim: true,
      },
    ],
  });
  const present = blocks.filter((block): block is SlackBlock => block !== undefined).slice(0, SLACK_LIMITS.blocks);
  const summary = phase === 'diagnosing' ? '' : `\n${report.diagnosis.summary}`;
  const text = cutEscaped(slackSafe(`${title.replace(/^:[a-z_]+: /, '')}${summary}`), SLACK_LIMITS.fallbackChars);
  return { text, blocks: present };
}

/** The whole timeline for the one threaded reply: `hh:mm:ss source message` lines in a code block, UTC. */
export function timelineText(report: Report): string {
  const title = `*Timeline* of incident \`${slackSafe(report.incidentId).replace(/`/g, "'")}\` (UTC)`;
  const lines = report.timeline.map((entry) => codeLine(`${time(entry.at)} ${entry.source.padEnd(11)} ${entry.message}`));
  const budget = SLACK_LIMITS.timelineChars - title.length - 80;
  const kept: string[] = [];
  let used = 0;
  for (const line of lines) {
    if (used + line.length + 1 > budget) break;
    kept.push(line);
    used += line.length + 1;
  }
  const more = lines.length - kept.length;
  if (kept.length === 0) return `${title}\n_no entries_`;
  return `${title}\n\`\`\`${kept.join('\n')}\`\`\`${more > 0 ? `\n_… ${more} more entries in the JSON report_` : ''}`;
}
