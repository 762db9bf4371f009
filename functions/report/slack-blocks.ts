/**
 * Slack Block Kit rendering of an incident. Pure: the Slack adapters send what these functions return.
 *
 * Log lines are hostile input: they can carry `<!channel>` or `<@U…>` (a ping to everyone) or break the message
 * layout. Every piece of report text goes through {@link slackSafe}: special tokens stripped (raw, HTML-escaped and
 * percent-encoded forms), then `&`, `<`, `>` escaped, so no token can survive, then cut to the Slack limits.
 */
import { ACTION_IDS, APPROVAL_BLOCK_ID, CALLBACK_ID, encodeButtonValue, type Decision } from '../contract/slack-actions.ts';
import { SLACK_USER_ID } from '../contract/lambda-env.ts';
import type { IncidentPhase } from '../core/incident.ts';
import type { Approval, Outcome, Person, Report } from '../core/types.ts';
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
  /** A button's label (https://docs.slack.dev/reference/block-kit/block-elements/button-element). */
  buttonTextChars: 75,
  /** A confirmation dialog's title, text, and its two buttons (https://docs.slack.dev/reference/block-kit/composition-objects/confirmation-dialog-object). */
  confirmTitleChars: 100,
  confirmTextChars: 300,
  confirmButtonChars: 30,
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
/** The dialog Slack shows before a button's click is sent. */
export interface SlackConfirm {
  readonly title: PlainText;
  readonly text: PlainText;
  readonly confirm: PlainText;
  readonly deny: PlainText;
  readonly style?: 'primary' | 'danger';
}
/** A button of an actions block: its `value` comes back, signed by Slack, in the click's payload. */
export interface SlackButton {
  readonly type: 'button';
  readonly action_id: string;
  readonly text: PlainText;
  readonly value: string;
  readonly style?: 'primary' | 'danger';
  readonly confirm?: SlackConfirm;
}
export type SlackBlock =
  | { readonly type: 'header'; readonly text: PlainText }
  | { readonly type: 'section'; readonly text?: MrkdwnText; readonly fields?: MrkdwnText[] }
  | { readonly type: 'context'; readonly elements: MrkdwnText[] }
  | { readonly type: 'actions'; readonly block_id: string; readonly elements: SlackButton[] }
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
 * action, time to recover), summary, evidence lines, advice, gateway errors per minute as a sparkline, who approved
 * or dismissed the action when a person was asked (approve mode), and a context line with the incident id. `phase`
 * defaults to `closed` (the final report).
 */
export function incidentBlocks(report: Report, phase: IncidentPhase = 'closed'): SlackMessage {
  return message(report, {
    title: headline(report, phase),
    action: actionText(report, phase),
    recovery: recoveryText(report, phase),
    details: phase !== 'diagnosing',
    approval: report.approval ? [approvalLine(report.approval)] : [],
  });
}

/**
 * A proposal (approve mode): the incident as far as it is known, what Reflex would do and why, and two buttons,
 * **Restart web on i-…** and **Dismiss**, whose values carry `callbackId` and the decision; a context line says when
 * the proposal expires. `kind: 'override'` (an escalated report) offers **Restart web anyway** behind a confirmation.
 * A callback id that Lambda could not be sent an answer for (local mode's) gets no buttons: the answer is given where
 * Reflex asked, and the message says so.
 * @throws RangeError when the report carries no `approval`.
 */
export function proposalBlocks(report: Report, callbackId: string): SlackMessage {
  const approval = report.approval;
  if (!approval) throw new RangeError('proposalBlocks: the report has no approval to propose');
  const where = `${report.app} on ${report.instanceId}`;
  const verb = approval.action;
  const title =
    approval.kind === 'override'
      ? `:rotating_light: ${where}: ${report.diagnosis.cause}, escalated: ${verb} anyway?`
      : `:raised_hand: ${where}: ${report.diagnosis.cause}, ${verb} awaiting approval`;
  const reason = cutEscaped(slackSafe(report.action.reason), SLACK_LIMITS.lineChars);
  const proposal =
    approval.kind === 'override'
      ? `*Not done automatically:* ${reason}\nA person may still ${verb} ${slackSafe(report.app)} on ${slackSafe(report.instanceId)}.`
      : `*Proposed:* ${verb} ${slackSafe(report.app)} on ${slackSafe(report.instanceId)}: ${reason}`;
  const blocks: SlackBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text: cutEscaped(proposal, SLACK_LIMITS.sectionChars), verbatim: true } }];
  const expiry = `proposed at ${timeOfDay(approval.proposedAt)} UTC · expires at ${timeOfDay(approval.expiresAt)} UTC: if nobody answers by then, nothing is done`;
  if (CALLBACK_ID.test(callbackId)) {
    blocks.push(
      { type: 'actions', block_id: APPROVAL_BLOCK_ID, elements: [approveButton(report, approval, callbackId), dismissButton(report, approval, callbackId)] },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `Reflex ${expiry}.`, verbatim: true }] },
    );
  } else {
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `Answer where Reflex asked (its terminal); ${expiry}.`, verbatim: true }] });
  }
  return message(report, {
    title: headerText(title, SLACK_LIMITS.headerChars),
    action: approval.kind === 'override' ? `none so far; ${verb} anyway if a person approves` : `${verb} if a person approves`,
    recovery: 'not recovered',
    details: true,
    approval: blocks,
  });
}

function buttonText(text: string, max: number = SLACK_LIMITS.buttonTextChars): PlainText {
  return { type: 'plain_text', text: headerText(text, max), emoji: true };
}

function buttonValue(report: Report, approval: Approval, callbackId: string, decision: Decision): string {
  return encodeButtonValue({ decision, callbackId, expiresAt: approval.expiresAt, incidentId: report.incidentId });
}

function approveButton(report: Report, approval: Approval, callbackId: string): SlackButton {
  const Verb = approval.action === 'start' ? 'Start' : 'Restart';
  const text = approval.kind === 'override' ? `${Verb} ${report.app} anyway` : `${Verb} ${report.app} on ${report.instanceId}`;
  const button: SlackButton = {
    type: 'button',
    action_id: ACTION_IDS.approve,
    text: buttonText(text),
    value: buttonValue(report, approval, callbackId, 'approve'),
    style: 'primary',
  };
  if (approval.kind !== 'override') return button;
  // Reflex refused this on its own (a spent budget, a crash loop): one more look before it is done anyway.
  return {
    ...button,
    confirm: {
      title: buttonText(`${Verb} ${report.app} anyway?`, SLACK_LIMITS.confirmTitleChars),
      text: buttonText(`Reflex would not: ${report.action.reason}`, SLACK_LIMITS.confirmTextChars),
      confirm: buttonText(`${Verb} anyway`, SLACK_LIMITS.confirmButtonChars),
      deny: buttonText('Cancel', SLACK_LIMITS.confirmButtonChars),
      style: 'danger',
    },
  };
}

function dismissButton(report: Report, approval: Approval, callbackId: string): SlackButton {
  return { type: 'button', action_id: ACTION_IDS.dismiss, text: buttonText('Dismiss'), value: buttonValue(report, approval, callbackId, 'dismiss') };
}

/** A Slack user as a mention (`<@U…>`, Slack shows the name); anyone else (local mode's terminal) by name, made safe. */
export function personText(person: Person): string {
  if (SLACK_USER_ID.test(person.id)) return `<@${person.id}>`;
  return slackSafe(person.name ?? person.id);
}

/** What became of a proposal, in place of its buttons: approved by, dismissed by, expired, or still waiting. */
export function approvalLine(approval: Approval): SlackBlock {
  const what = approval.kind === 'override' ? `${approval.action} anyway` : approval.action;
  let text: string;
  if (approval.approvedBy) {
    text = `:white_check_mark: *${capitalized(what)} approved* by ${personText(approval.approvedBy)} at ${timeOfDay(approval.approvedAt ?? '')} UTC`;
  } else if (approval.dismissedBy) {
    text = `:no_entry_sign: *Dismissed* by ${personText(approval.dismissedBy)} at ${timeOfDay(approval.dismissedAt ?? '')} UTC: nothing was done`;
  } else if (approval.expired) {
    text = `:hourglass: *Expired* at ${timeOfDay(approval.expiresAt)} UTC: nobody answered, nothing was done`;
  } else {
    text = `:raised_hand: *${capitalized(what)} awaiting approval* until ${timeOfDay(approval.expiresAt)} UTC`;
  }
  return { type: 'section', text: { type: 'mrkdwn', text, verbatim: true } };
}

function capitalized(text: string): string {
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}`;
}

interface MessageParts {
  readonly title: string;
  readonly action: string;
  readonly recovery: string;
  /** Summary, evidence and advice: not while diagnosing. */
  readonly details: boolean;
  /** Approve mode's blocks (a proposal's buttons, or what became of it), after the sparkline. */
  readonly approval: SlackBlock[];
}

function message(report: Report, parts: MessageParts): SlackMessage {
  const { title } = parts;
  const blocks: (SlackBlock | undefined)[] = [
    { type: 'header', text: { type: 'plain_text', text: title, emoji: true } },
    {
      type: 'section',
      fields: [
        field('Instance', report.instanceId),
        field('App', report.app),
        field('Action', parts.action),
        field('Time to recover', parts.recovery),
      ],
    },
  ];
  if (parts.details) {
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
  blocks.push(...parts.approval);
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
  const present = blocks.filter((block): block is SlackBlock => block !== undefined);
  // Over the limit (it never is today), the sections go first: the approval blocks and the incident id stay.
  const kept = present.length <= SLACK_LIMITS.blocks ? present : [...present.slice(0, SLACK_LIMITS.blocks - parts.approval.length - 1), ...present.slice(-parts.approval.length - 1)];
  const summary = parts.details ? `\n${report.diagnosis.summary}` : '';
  const text = cutEscaped(slackSafe(`${title.replace(/^:[a-z_]+: /, '')}${summary}`), SLACK_LIMITS.fallbackChars);
  return { text, blocks: kept };
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
