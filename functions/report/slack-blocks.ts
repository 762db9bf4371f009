/**
 * Slack Block Kit rendering of an incident. Pure: the Slack adapters send what these functions return.
 *
 * Log lines are hostile input: they can carry `<!channel>` or `<@U…>` (a ping to everyone) or break the message
 * layout. Every piece of report text goes through {@link slackSafe}: special tokens stripped (raw, HTML-escaped and
 * percent-encoded forms), then `&`, `<`, `>` escaped, so no token can survive, then cut to the Slack limits.
 */
import type { IncidentPhase } from '../core/incident.ts';
import type { Outcome, Report } from '../core/types.ts';
import { cut, timeOfDay } from './format.ts';
import { actionLabel, OUTCOME_LABELS, stepLabel, timeToRecover } from './labels.ts';
import { reportSeries, sparkline } from './sparkline.ts';

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
function headerText(text: string, max: number): string {
  let stripped = text.replace(/[\r\n\t]+/g, ' ');
  for (let pass = 0; pass < 5; pass++) {
    const next = stripped.replace(SPECIAL_TOKEN, '');
    if (next === stripped) break;
    stripped = next;
  }
  stripped = stripped.replace(/[<>]/g, '').replace(BARE_MENTION, '$1\u200b$2');
  return cut(stripped, max);
}

const OUTCOME_EMOJI: Record<Outcome, string> = {
  recovered: ':white_check_mark:',
  escalated: ':rotating_light:',
  healthy: ':large_green_circle:',
  dry_run: ':information_source:',
  pending: ':hourglass_flowing_sand:',
};

/** The headline: cause and outcome (or the step in progress), app and instance. At most 150 characters. */
export function headline(report: Report, phase: IncidentPhase = 'closed'): string {
  const where = `${report.app} on ${report.instanceId}`;
  const cause = report.diagnosis.cause;
  const text = {
    diagnosing: `:mag: Gateway errors on ${where}: ${stepLabel('diagnosing', report.action.kind)}`,
    acting: `:arrows_counterclockwise: ${where}: ${cause}, ${stepLabel('acting', report.action.kind)}`,
    verifying: `:hourglass_flowing_sand: ${where}: ${cause}, ${stepLabel('verifying', report.action.kind)}`,
    closed: `${OUTCOME_EMOJI[report.outcome]} ${where}: ${cause}, ${OUTCOME_LABELS[report.outcome]}`,
  }[phase];
  return headerText(text, SLACK_LIMITS.headerChars);
}

function field(label: string, value: string): MrkdwnText {
  return { type: 'mrkdwn', text: cutEscaped(`*${label}*\n${slackSafe(value)}`, SLACK_LIMITS.fieldChars), verbatim: true };
}

function actionText(report: Report, phase: IncidentPhase): string {
  const { kind, error } = report.action;
  if (phase === 'diagnosing') return 'deciding';
  if (phase === 'acting' && kind !== 'none' && error === undefined) return `${kind} issued`;
  return actionLabel(report.action);
}

function recoveryText(report: Report, phase: IncidentPhase): string {
  if (report.timings.recoveredMs === undefined && phase !== 'closed') return 'in progress';
  return timeToRecover(report);
}

/** The first lines that fit in `budget` characters, one newline each: whole lines only, in order. */
function linesWithin(lines: string[], budget: number): string[] {
  const kept: string[] = [];
  let used = 0;
  for (const line of lines) {
    if (used + line.length + 1 > budget) break;
    kept.push(line);
    used += line.length + 1;
  }
  return kept;
}

/** A mrkdwn section with a title and lines, kept under the section limit by dropping whole lines. */
function listSection(title: string, lines: string[], code: boolean): SlackBlock | undefined {
  if (lines.length === 0) return undefined;
  const fence = code ? '```' : '';
  const kept = linesWithin(lines, SLACK_LIMITS.sectionChars - title.length - 2 * fence.length - 60);
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
        report.diagnosis.evidence.map((line) => codeLine(`${timeOfDay(line.at)} ${line.source} ${line.text}`)),
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
        text: `*Gateway errors per minute* (${timeOfDay(series.from.toISOString()).slice(0, 5)}–${timeOfDay(end.toISOString()).slice(0, 5)} UTC, peak ${peak}/min)\n\`${sparkline(series.counts)}\``,
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
  const lines = report.timeline.map((entry) => codeLine(`${timeOfDay(entry.at)} ${entry.source.padEnd(11)} ${entry.message}`));
  const kept = linesWithin(lines, SLACK_LIMITS.timelineChars - title.length - 80);
  const more = lines.length - kept.length;
  if (kept.length === 0) return `${title}\n_no entries_`;
  return `${title}\n\`\`\`${kept.join('\n')}\`\`\`${more > 0 ? `\n_… ${more} more entries in the JSON report_` : ''}`;
}
