/**
 * The faults the sandbox reproduces, one for each failure Reflex diagnoses. Each returns once the fault is in place
 * and requests through nginx have written gateway errors to the access log, as real traffic would.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isGatewayError } from '../core/evidence/access-log.ts';
import type { HostProfile } from '../core/profile.ts';
import { SandboxError } from './errors.ts';
import { canListen, freePort } from './network.ts';
import { countGatewayLines } from './nginx.ts';
import type { OomKiller } from './oom.ts';
import { APP, type Pm2 } from './pm2.ts';
import { countMatches, isAlive, until } from './processes.ts';
import type { RequestOptions, SandboxFaults } from './types.ts';

/** What the faults reach into: the sandbox's parts, beyond its public API. */
export interface FaultTarget {
  readonly dir: string;
  readonly pm2Home: string;
  readonly appPort: number;
  readonly nginxPort: number;
  readonly bootMs: number;
  /** While this file exists, the demo app dies ~200 ms after every start. */
  readonly crashMarker: string;
  readonly profile: HostProfile;
  readonly pm2Cli: Pm2;
  readonly oom: OomKiller;
  /** The app's pid (0 when down) and status, as PM2 reports them. */
  appState(): Promise<{ pid: number; status: string | undefined }>;
  appPid(): Promise<number>;
  request(path: string, options: RequestOptions): Promise<number>;
  /** Records where the app listens now, for requests `via: 'app'`. */
  moveApp(host: string, port: number): void;
  /** The ecosystem file's source, with PM2's autorestart on or off. */
  ecosystemSource(autorestart: boolean): string;
}

const CRASH_MARKER_TEXT = 'the demo app dies at boot while this file exists\n';
const EXIT_LINE = /App \[web:\d+\] exited with code/g;

/** The faults of one sandbox. */
export function makeFaults(box: FaultTarget): SandboxFaults {
  return {
    crash: async (options = {}) => {
      const pid = await box.appPid();
      if (options.crashOnBoot) await writeFile(box.crashMarker, CRASH_MARKER_TEXT);
      await control(box, '/__demo/crash?code=1');
      await waitDown(box, pid);
      await gatewayErrors(box);
    },
    stop: async () => {
      const pid = await box.appPid();
      await box.pm2Cli.expect(['stop', APP]);
      await waitDown(box, pid);
      await gatewayErrors(box);
    },
    remove: async () => {
      const pid = await box.appPid();
      await box.pm2Cli.expect(['delete', APP]);
      await until('the app to be gone', 10_000, async () => !(await isAlive(pid)));
      await gatewayErrors(box);
    },
    killDaemon: async () => {
      const pid = await box.appPid();
      const daemon = await box.pm2Cli.daemonPid();
      await box.pm2Cli.expect(['kill']);
      await until('the PM2 daemon and the app to be gone', 10_000, async () => !(await isAlive(daemon)) && !(await isAlive(pid)));
      await gatewayErrors(box);
    },
    crashLoop: async () => {
      const pm2Log = join(box.pm2Home, 'pm2.log');
      const exitsBefore = await countMatches(pm2Log, EXIT_LINE);
      await writeFile(box.crashMarker, CRASH_MARKER_TEXT);
      // A second ecosystem with autorestart on; the profile's ecosystem stays the deployed configuration.
      const looping = join(box.dir, 'ecosystem.autorestart.config.cjs');
      await writeFile(looping, box.ecosystemSource(true));
      await box.pm2Cli.expect(['restart', looping, '--only', APP]);
      // The restart's own exit is asked for (it follows `Stopping app`); the loop is the 3 exits after it.
      await until('3 crashes in pm2.log', 20_000, async () => (await countMatches(pm2Log, EXIT_LINE)) - exitsBefore >= 4);
      await gatewayErrors(box);
    },
    portMismatch: async () => {
      let port = await freePort();
      while (port === box.appPort || port === box.nginxPort) port = await freePort();
      // HOSTNAME too: --update-env takes the caller's whole environment.
      await restartWithEnv(box, { PORT: String(port), HOSTNAME: '127.0.0.1' });
      box.moveApp('127.0.0.1', port);
      await untilServing(box, 'the app on its new port');
      await gatewayErrors(box);
      return port;
    },
    proxyMisconfig: async () => {
      if (!(await canListen('::1'))) throw new SandboxError('the IPv6 loopback ::1 is not available on this machine');
      await restartWithEnv(box, { PORT: String(box.appPort), HOSTNAME: '::1' });
      box.moveApp('::1', box.appPort);
      await untilServing(box, 'the app on [::1]');
      await gatewayErrors(box);
    },
    slowPages: async (ms: number) => {
      await control(box, `/__demo/slow?ms=${Math.max(0, Math.round(ms))}`);
      await gatewayErrors(box, '/', 3);
    },
    hang: async () => {
      await control(box, '/__demo/hang');
      await gatewayErrors(box, '/', 3);
    },
    oom: async () => {
      const pid = await box.appPid();
      if (pid === 0) throw new SandboxError('the app is not running: nothing to kill');
      await box.oom.kill(pid, () => control(box, '/__demo/leak'), box.profile.kernelLog);
      await waitDown(box, pid);
      await gatewayErrors(box);
      return box.oom.mode;
    },
  };
}

/** Asks the app itself to do something (the fault switches, on its own port only). */
async function control(box: FaultTarget, path: string): Promise<void> {
  const status = await box.request(path, { via: 'app', method: 'POST', timeoutMs: 3000 });
  if (status !== 200) throw new SandboxError(`the demo app did not accept ${path} (status ${status})`);
}

/** Restarts the app with changed environment variables, as `PORT=… pm2 restart web --update-env` would. */
function restartWithEnv(box: FaultTarget, env: Record<string, string>): Promise<void> {
  return box.pm2Cli.expect(['restart', APP, '--update-env'], env, 'pm2 restart --update-env');
}

/** Waits until the moved app answers on its own address, then lets PM2 report its new pid. */
async function untilServing(box: FaultTarget, what: string): Promise<void> {
  await until(what, box.bootMs + 10_000, async () => (await box.request('/api/health', { via: 'app', timeoutMs: 1000 })) === 200);
  await box.appPid();
}

/** Waits until PM2 no longer reports the app online and its last process is gone. */
async function waitDown(box: FaultTarget, pid: number): Promise<void> {
  // The process first (cheap), then PM2's view of it (each pm2 call is a Node start).
  await until('the app process to exit', 15_000, async () => !(await isAlive(pid)));
  await until('PM2 to report the app down', 15_000, async () => (await box.appState()).status !== 'online', 250);
}

/**
 * Sends requests through nginx (`parallel` at a time) until `min` gateway errors have been answered and
 * written to the access log. Throws when the fault does not show as gateway errors.
 */
async function gatewayErrors(box: FaultTarget, path = '/', parallel = 1, min = 3): Promise<void> {
  const accessLog = box.profile.nginx.accessLog;
  const before = await countGatewayLines(accessLog);
  const statuses: number[] = [];
  for (let round = 0; round < 10 && statuses.filter(isGatewayError).length < min; round++) {
    const batch = await Promise.all(Array.from({ length: parallel }, () => box.request(path, { via: 'nginx' })));
    statuses.push(...batch);
  }
  if (statuses.filter(isGatewayError).length < min) {
    throw new SandboxError(`expected gateway errors through nginx, got ${statuses.join(', ')}`);
  }
  // nginx writes the access line after it answers: wait for the file to catch up.
  await until('gateway errors in the access log', 3000, async () => (await countGatewayLines(accessLog)) - before >= min);
}
