/** `ss -tlnpH` LISTEN sockets: who listens where. */
import type { Listener, Parsed } from '../types.ts';

// State Recv-Q Send-Q Local Peer [users:((…))]
const LINE = /^LISTEN\s+\d+\s+\d+\s+(\S+)\s+\S+(?:\s+(.*))?$/;
/** `("next-server (v1",pid=6957,fd=19)`: the name is quoted and may hold spaces and parentheses. */
const USER = /\("((?:[^"\\]|\\.)*)",pid=(\d+),fd=\d+\)/g;

/**
 * `ss -tlnpH` lines. Without root, ss prints no `users:` part: the listener then has no process and no pids.
 * Lines that are not LISTEN sockets are skipped and counted.
 */
export function parseListeners(lines: string[]): Parsed<Listener> {
  const items: Listener[] = [];
  let skipped = 0;
  for (const line of lines) {
    const text = line.trim();
    if (text === '') continue;
    const listener = parseListener(text);
    if (listener) items.push(listener);
    else skipped += 1;
  }
  return { items, skipped };
}

function parseListener(text: string): Listener | undefined {
  const match = LINE.exec(text);
  if (!match) return undefined;
  const local = match[1] ?? '';
  const colon = local.lastIndexOf(':');
  const port = Number(local.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  // `[::1]` → `::1`; `127.0.0.53%lo` → `127.0.0.53`.
  const address = local.slice(0, colon).replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  const users = [...(match[2] ?? '').matchAll(USER)];
  const pids = [...new Set(users.map((user) => Number(user[2])))];
  const process = users[0]?.[1];
  return { address, port, ...(process !== undefined && { process }), pids };
}
