/** Another process, not this PM2 app, holds the app's port: every start dies with EADDRINUSE. */
import type { Listener } from '../types.ts';
import { appErrorField, appLines } from './app-error.ts';
import { errorLines, eventLine, hostPort, listenerLines, probeLines, quote, statusLine } from './evidence-text.ts';
import { defineRule, type DiagnosisRule } from './rule.ts';

/**
 * The app's error line says EADDRINUSE and `ss` shows who holds that port: a process that is not one of the app's
 * (PM2's pid and its children). When the holder is the app itself, this is not the cause.
 */
export function portInUseRule(): DiagnosisRule {
  return defineRule('port_in_use', (evidence, facts) => {
    const error = facts.appError?.error;
    if (!facts.app || error?.kind !== 'port_in_use') return undefined;
    const address = boundAddress(error.text);
    const port = address?.port ?? evidence.upstream.port;
    const onPort = evidence.snapshot.listeners.filter((listener) => listener.port === port);
    if (onPort.some((listener) => listener.pids.some((pid) => facts.pids.has(pid)))) return undefined;
    const holders = onPort.filter((listener) => listener.pids.length > 0);
    const holder = holders[0];
    if (!holder) return undefined;
    const name = evidence.app;
    const who = holderText(holder);
    const pid = holder.pids[0]!;
    const where = address ? hostPort(address.host, port) : `port ${port}`;
    const exits = facts.events.filter((event) => event.kind === 'exited').slice(-2);
    return {
      summary: `${name} cannot start: ${where} is held by ${who}, which is not ${name} under PM2, so each start fails with ${quote(error.text, 120)}.`,
      advice: [
        `See what holds the port: \`ps -o pid,user,lstart,args -p ${pid}\` (${who}).`,
        `If it is an old copy of ${name} (started by hand, or left behind by a deploy), stop it (\`kill ${pid}\`), then \`pm2 restart ${name}\`; if it is another service, give one of them another port (PORT in ${name}'s env and nginx's proxy_pass).`,
        `Reflex does not kill a process it did not start through PM2, and a restart of ${name} would fail the same way.`,
      ],
      evidence: [statusLine(evidence, facts), ...listenerLines(evidence, holders), ...appLines(evidence, facts), ...exits.map(eventLine), ...errorLines(evidence), ...probeLines(evidence)],
      ...appErrorField(facts),
    };
  });
}

/** `pid 4242 (node)`, `pids 4242, 4243 (node)`. */
function holderText(listener: Listener): string {
  const pids = listener.pids.join(', ');
  return `${listener.pids.length === 1 ? 'pid' : 'pids'} ${pids} (${quote(listener.process ?? 'unknown process', 40)})`;
}

/** `address already in use 127.0.0.1:3000` / `:::3000` → the address and port the app tried to bind. */
function boundAddress(text: string): { host: string; port: number } | undefined {
  const match = /address already in use (\S*):(\d{1,5})\b/.exec(text);
  if (!match) return undefined;
  const port = Number(match[2]);
  return port >= 1 && port <= 65535 ? { host: match[1] || '::', port } : undefined;
}
