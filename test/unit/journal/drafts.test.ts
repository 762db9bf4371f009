/**
 * Drafts are not outcomes: what respond() hands the journal before `closed` is `pending`, Slack shows those
 * phases as in progress (never "escalated" while Reflex is still at work), and the final report, the one
 * `reflex respond --json` prints, is never `pending`.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Journal } from '../../../functions/adapters/incident-journal.ts';
import type { IncidentPhase } from '../../../functions/core/incident.ts';
import type { HostParams, HostRunResult, HostRunner, HostScript, IncidentJournal } from '../../../functions/core/ports.ts';
import { respond, type RespondOptions, type RespondTarget } from '../../../functions/core/respond.ts';
import type { Report } from '../../../functions/core/types.ts';
import { FakeSlack } from '../../helpers/slack-server.ts';

const fixture = (name: string): string => readFileSync(new URL(`../../fixtures/snapshots/${name}.txt`, import.meta.url), 'utf8');

const target: RespondTarget = {
  instanceId: 'i-0123456789abcdef0',
  app: 'web',
  snapshot: { app: 'web', healthUrl: 'http://127.0.0.1:8080/' },
  remediate: { app: 'web' },
};

/** Recorded snapshots: `before` until a remediate succeeds, the healthy probe after it. */
function host(before: string, remediateOk = true): HostRunner {
  let acted = false;
  return {
    async run(_instanceId: string, script: HostScript, _params: HostParams): Promise<HostRunResult> {
      if (script === 'remediate') {
        if (!remediateOk) return { ok: false, stdout: 'result=failed action=restart exit=1\n', stderr: '', status: 'Failed', error: 'the remediate script failed' };
        acted = true;
        return { ok: true, stdout: 'result=ok action=restart\n', stderr: '', status: 'Success' };
      }
      return { ok: true, stdout: acted ? fixture('healthy-probe') : before, stderr: '', status: 'Success' };
    },
  };
}

function clock(): { now(): Date; sleep(ms: number): Promise<void> } {
  let now = Date.parse('2026-11-24T10:05:00.000Z');
  return { now: () => new Date(now), sleep: async (ms) => void (now += ms) };
}

const noLogs = { fetch: async () => ({ accessLines: [], errorLines: [], pm2Lines: [], kernelLines: [] }) };

/** Keeps every phase the journal is told about, with a copy of its report. */
class RecordingJournal implements IncidentJournal {
  readonly phases: { phase: IncidentPhase; report: Report }[] = [];
  async phase(phase: IncidentPhase, report: Report): Promise<void> {
    this.phases.push({ phase, report: structuredClone(report) });
  }
}

const SCENARIOS: { name: string; before: string; remediateOk?: boolean; options?: RespondOptions; outcome: Report['outcome'] }[] = [
  { name: 'crashed, restarted, recovered', before: fixture('crash'), outcome: 'recovered' },
  { name: 'crashed, the restart failed', before: fixture('crash'), remediateOk: false, outcome: 'escalated' },
  { name: 'crash loop: no safe action', before: fixture('crash-loop'), outcome: 'escalated' },
  { name: 'healthy', before: fixture('healthy'), outcome: 'healthy' },
  { name: 'dry run', before: fixture('crash'), options: { dryRun: true }, outcome: 'dry_run' },
];

describe('respond: drafts and the final report', () => {
  it.each(SCENARIOS)('$name: every draft is pending, the final report is $outcome', async ({ before, remediateOk, options, outcome }) => {
    // Prepare
    const journal = new RecordingJournal();

    // Act
    const report = await respond(target, { host: host(before, remediateOk), logs: noLogs, clock: clock(), journal }, options);

    // Assess
    const drafts = journal.phases.filter((entry) => entry.phase !== 'closed');
    expect(drafts.length).toBeGreaterThan(0);
    expect(drafts.map((entry) => entry.report.outcome)).toEqual(drafts.map(() => 'pending'));
    expect(journal.phases.at(-1)).toEqual({ phase: 'closed', report });
    expect(report.outcome).toBe(outcome);
    // What `reflex respond --json` prints: JSON.stringify of this report.
    expect(JSON.parse(JSON.stringify(report))).toMatchObject({ outcome });
    expect(JSON.stringify(report)).not.toContain('"pending"');
  });
});

describe('respond with the Slack journal: in progress until the end', () => {
  const slack = new FakeSlack();
  beforeAll(() => slack.start());
  afterAll(() => slack.stop());
  beforeEach(() => slack.reset());

  it('says diagnosing, restarting and verifying while at work, and escalated only in the last update', async () => {
    // Prepare: the restart goes out, the app never serves again
    const journal = new Journal({ slack: { kind: 'bot', token: 'xoxb-1234567890-abcdefghij', channel: '#incidents' }, slackApiUrl: slack.apiUrl });
    const stuck: HostRunner = {
      run: async (instanceId, script, params) =>
        script === 'remediate' ? host(fixture('crash')).run(instanceId, script, params) : { ok: true, stdout: fixture('crash'), stderr: '', status: 'Success' },
    };

    // Act
    const report = await respond(target, { host: stuck, logs: noLogs, clock: clock(), journal }, { verifyDeadlineMs: 2_000 });

    // Assess
    expect(report.outcome).toBe('escalated');
    expect(slack.headlines).toEqual([
      `Gateway errors on web on ${target.instanceId}: diagnosing`,
      `web on ${target.instanceId}: process_crashed, restarting`,
      `web on ${target.instanceId}: process_crashed, verifying recovery`,
      `web on ${target.instanceId}: process_crashed, escalated, needs a human`,
    ]);
    const messages = slack.requests.filter((request) => request.method !== 'chat.postMessage' || request.body['thread_ts'] === undefined);
    for (const request of messages.slice(0, -1)) expect(JSON.stringify(request.body)).not.toMatch(/escalated|pending/);
  });
});
