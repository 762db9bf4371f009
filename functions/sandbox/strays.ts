/**
 * Stray processes for the sandbox: a process outside PM2 that holds the app's port, as a `node server.js` left
 * running from a shell, or a child that inherited the listening socket, does on a real host. Each is started
 * detached, tracked by pid and stopped by pid; Reflex must never be the one to kill it.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { SandboxError } from './errors.ts';
import { isAlive, killAndWait, until } from './processes.ts';

/** Holds host:port without speaking HTTP: every connection is closed at once (nginx answers 502). */
const STRAY_SOURCE = `'use strict';
// Reflex sandbox: a stray process holding the app's port. Not under PM2; the sandbox stops it by pid.
const net = require('node:net');
const [host, port] = process.argv.slice(2);
net.createServer((socket) => socket.destroy()).listen(Number(port), host);
`;

export class Strays {
  readonly #pids = new Set<number>();

  /** Starts a stray listening on host:port (which must be free); resolves with its pid once it listens. */
  async start(dir: string, host: string, port: number): Promise<number> {
    const script = join(dir, 'stray.cjs');
    await writeFile(script, STRAY_SOURCE);
    const child = spawn(process.execPath, [script, host, String(port)], { detached: true, stdio: 'ignore' });
    child.unref();
    const pid = child.pid ?? 0;
    if (pid === 0) throw new SandboxError('the stray process did not start');
    this.#pids.add(pid);
    await until(`the stray (pid ${pid}) to listen on ${host}:${port}`, 5000, async () => (await isAlive(pid)) && (await accepts(host, port)));
    return pid;
  }

  /** The strays that still run. */
  async running(): Promise<number[]> {
    const alive: number[] = [];
    for (const pid of this.#pids) if (await isAlive(pid)) alive.push(pid);
    return alive;
  }

  /** Stops every stray, by pid. */
  async stopAll(): Promise<void> {
    for (const pid of this.#pids) await killAndWait(pid);
    this.#pids.clear();
  }
}

/** Whether a TCP connection to host:port is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(1000, () => socket.destroy());
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('close', () => resolve(false));
  });
}
