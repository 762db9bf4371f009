/**
 * The safety rules in local mode, end to end: a real nginx in front of a real PM2 running the demo app, a real
 * crash, and the real `reflex respond --local … --json` command, whose state file (under XDG_STATE_HOME inside the
 * sandbox) persists between runs. Slack is a local HTTP server standing in for an incoming webhook.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { Report } from '../../functions/core/types.ts';
import { startSandbox, type Sandbox } from '../../functions/sandbox/sandbox.ts';
import { FakeSlack } from '../helpers/slack-server.ts';

const CLI = fileURLToPath(new URL('../../functions/cli/reflex.js', import.meta.url));

interface Run {
  readonly code: number;
  readonly report: Report;
  readonly stderr: string;
}

/** `reflex respond --local <profile> --json …` as a user would run it, with the sandbox's PATH and state directory. */
function respond(box: Sandbox, flags: string[] = [], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [CLI, 'respond', '--local', box.profilePath, '--json', ...flags],
      { env: { ...box.env, XDG_STATE_HOME: join(box.dir, 'state'), ...env }, timeout: 90_000 },
      (error, stdout, stderr) => {
        const lines = stdout.trim().split('\n');
        if (lines.length !== 1) {
          reject(new Error(`stdout must be exactly one JSON report; got ${lines.length} lines; stderr: ${stderr}`));
          return;
        }
        resolve({ code: error ? Number(error.code ?? 1) : 0, report: JSON.parse(lines[0]!) as Report, stderr });
      },
    );
  });
}

let sandbox: Sandbox | undefined;
/** Slack's incoming webhook, on a loopback port. */
let slack: FakeSlack | undefined;

async function healthySandbox(): Promise<Sandbox> {
  sandbox = await startSandbox({ bootMs: 300 });
  await sandbox.waitHealthy(15_000);
  return sandbox;
}

afterEach(async () => {
  await sandbox?.stop();
  sandbox = undefined;
  await slack?.stop();
  slack = undefined;
});

describe('safety in local mode (real nginx + PM2)', { timeout: 120_000 }, () => {
  it('a crash is restarted; a second crash right after gets no restart and an escalation that says why (exit 1)', async () => {
    // Prepare
    const box = await healthySandbox();
    await box.faults.crash();
    const first = await respond(box);
    expect(first.report.action).toMatchObject({ kind: 'restart', executed: true });
    expect(first.code).toBe(0);
    await box.faults.crash();
    const pidAfterCrash = await box.appPid();

    // Act
    const second = await respond(box);

    // Assess: no action, escalated, the reason names the spacing; the app was left alone
    expect(second.report.diagnosis.cause).toBe('process_crashed');
    expect(second.report.action).toMatchObject({ kind: 'none', executed: false });
    expect(second.report.action.reason).toMatch(/^last restart less than 1 min ago; at least 5 min apart/);
    expect(second.report.outcome).toBe('escalated');
    expect(second.code).toBe(1);
    expect(await box.appPid()).toBe(pidAfterCrash);
    // Assess: the history that refused it is the state file's, written by the first run
    const state = JSON.parse(await readFile(join(box.dir, 'state', 'reflex', `${box.profile.instanceId}.json`), 'utf8')) as {
      restarts: Record<string, string[]>;
    };
    expect(state.restarts[box.profile.instanceId]).toHaveLength(1);
  });

  it('with a Slack webhook and --report: Slack gets the opening and the closing message, the HTML page is written', async () => {
    // Prepare
    const box = await healthySandbox();
    slack = new FakeSlack();
    await slack.start();
    const html = join(box.dir, 'incident.html');
    await box.faults.crash();

    // Act
    const run = await respond(box, ['--report', html], { REFLEX_SLACK_WEBHOOK_URL: slack.webhookUrl });

    // Assess: the incident
    expect(run.report.action).toMatchObject({ kind: 'restart', executed: true });
    expect(run.report.outcome).toBe('recovered');
    expect(run.code).toBe(0);
    // Assess: two Slack messages, opening and closing
    const where = `web on ${box.profile.instanceId}`;
    expect(slack.headlines).toEqual([
      `Gateway errors on ${where}: diagnosing`,
      `${where}: process_crashed, recovered`,
    ]);
    expect(slack.requests[1]?.body['blocks']).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'header' })]));
    // Assess: the page names the cause and draws the chart
    const page = await readFile(html, 'utf8');
    expect(page).toMatch(/^<!DOCTYPE html>/i);
    expect(page).toContain('process_crashed');
    expect(page).toContain('<svg');
  });
});
