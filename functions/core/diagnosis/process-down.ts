/** Rules for an app that PM2 does not keep running: missing from PM2, crashed, or stopped. */
import type { Pm2LogEvent, Pm2Process } from '../types.ts';
import { RESTART_CANNOT_FIX, appErrorAdvice, appErrorField, appErrorSentence, appLines } from './app-error.ts';
import { clock, commonLines, eventLine, upstreamText } from './evidence-text.ts';
import { probeAnswered, stoppedOnPurpose, type Facts } from './facts.ts';
import { defineRule, type DiagnosisRule } from './rule.ts';

/** The PM2 daemon is gone, or it has no process named like the app. */
export function processMissingRule(): DiagnosisRule {
  return defineRule('process_missing', (evidence, facts) => {
    const { snapshot, app } = evidence;
    if (snapshot.pm2Ok && facts.app) return undefined;
    const stillAnswers = probeAnswered(snapshot.probes.upstream)
      ? ` (something still answers on ${upstreamText(evidence.upstream)}, outside PM2's control)`
      : '';
    const summary = snapshot.pm2Ok
      ? `No PM2 process is named ${app}: it was deleted or never started, so nginx has nothing to proxy to${stillAnswers}.`
      : `The PM2 daemon does not answer, so nothing keeps ${app} running${stillAnswers}.`;
    const why = snapshot.pm2Ok
      ? `Find out who deleted ${app} (a deploy script running \`pm2 delete\`, an operator): see the \`deleted\` lines in $PM2_HOME/pm2.log; \`pm2 resurrect\` restores the list saved by the last \`pm2 save\`.`
      : 'Find out why the PM2 daemon died ($PM2_HOME/pm2.log, `dmesg` for an OOM kill); `pm2 resurrect` restores the saved process list and `pm2 startup` makes PM2 start at boot.';
    const deleted = facts.events.filter((event) => event.kind === 'deleted').slice(-2).map(eventLine);
    return {
      summary,
      advice: [`Start it from its ecosystem file: \`pm2 start <ecosystem> --only ${app}\`, then \`pm2 save\` so a reboot brings it back.`, why],
      evidence: commonLines(evidence, facts, deleted),
    };
  });
}

/** The app died and PM2 did not bring it back. */
export function processCrashedRule(): DiagnosisRule {
  return defineRule('process_crashed', (evidence, facts) => {
    const app = facts.app;
    if (!app) return undefined;
    const crash = crashEvidence(facts, app);
    if (!crash) return undefined;
    const name = evidence.app;
    const how = crash.exit ? `${exitText(crash.exit)} at ${clock(crash.exit.at)}` : `exited with code ${app.exitCode ?? 'unknown'}`;
    const summary =
      app.status === 'errored'
        ? `${name} crashed and PM2 marked it errored, so nothing listens for nginx`
        : `${name} crashed (${how}) and PM2 did not restart it (status ${app.status})`;
    const error = facts.appError?.error;
    const pm2Advice = `PM2 did not bring it back: check \`autorestart\` and \`stop_exit_codes\` for ${name} in the ecosystem file.`;
    const advice = !error
      ? [`Restart it: \`pm2 restart ${name}\`.`, `Read why it crashed: \`pm2 logs ${name} --err --lines 50\`.`, pm2Advice]
      : RESTART_CANNOT_FIX.has(error.kind)
        ? [appErrorAdvice(error, evidence, facts), `A restart alone will not help: ${name} would die the same way.`]
        : [`Restart it: \`pm2 restart ${name}\`.`, appErrorAdvice(error, evidence, facts), pm2Advice];
    return {
      summary: error ? `${summary}: ${appErrorSentence(error)}.` : `${summary}.`,
      advice,
      evidence: commonLines(evidence, facts, [...(crash.exit ? [eventLine(crash.exit)] : []), ...appLines(evidence, facts)]),
      ...appErrorField(facts),
    };
  });
}

/** Someone stopped the app (`pm2 stop`) and nobody started it again. */
export function processStoppedRule(): DiagnosisRule {
  return defineRule('process_stopped', (evidence, facts) => {
    const app = facts.app;
    if (!app || (app.status !== 'stopped' && app.status !== 'stopping')) return undefined;
    const name = evidence.app;
    const stop = facts.events.filter((event) => event.kind === 'stopping').at(-1);
    const summary = stop
      ? `${name} was stopped (\`pm2 stop\` at ${clock(stop.at)}) and nothing started it again.`
      : `${name} is ${app.status} in PM2 and nothing started it again.`;
    return {
      summary,
      advice: [
        `Find out who stopped it (a deploy script, an operator running \`pm2 stop\`) so it does not happen again.`,
        `Start it again: \`pm2 restart ${name}\`.`,
      ],
      evidence: commonLines(evidence, facts, stop ? [eventLine(stop)] : []),
    };
  });
}

/** A crash PM2 did not undo: errored, or stopped after an exit nobody asked for (the exit, when pm2.log has it). */
function crashEvidence(facts: Facts, app: Pm2Process): { exit?: Pm2LogEvent } | undefined {
  if (app.status === 'errored') return {};
  if (app.status !== 'stopped') return undefined;
  const last = facts.events.at(-1);
  if (last?.kind === 'exited' && abnormalExit(last) && !stoppedOnPurpose(facts, last)) return { exit: last };
  const anyStop = facts.events.some((event) => event.kind === 'stopping');
  if (app.exitCode !== undefined && app.exitCode !== 0 && !anyStop) return last?.kind === 'exited' ? { exit: last } : {};
  return undefined;
}

/** An exit PM2 did not ask for: a non-zero code, or a signal other than the SIGINT PM2 logs by default. */
function abnormalExit(event: Pm2LogEvent): boolean {
  return (event.exitCode !== undefined && event.exitCode !== 0) || (event.signal !== undefined && event.signal !== 'SIGINT');
}

/** PM2 logs SIGINT when no signal was involved, so only another signal is worth saying. */
function exitText(exit: Pm2LogEvent): string {
  const code = exit.exitCode !== undefined ? `exited with code ${exit.exitCode}` : 'exited';
  return exit.signal && exit.signal !== 'SIGINT' ? `${code} via ${exit.signal}` : code;
}
