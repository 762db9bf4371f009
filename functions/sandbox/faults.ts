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
import { countMatches, isAlive, sleep, until } from './processes.ts';
import { badRelease, type AppFiles } from './releases.ts';
import type { Strays } from './strays.ts';
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
  readonly strays: Strays;
  /** The app's extra environment (the sandbox's `appEnv` option). */
  readonly appEnv: Readonly<Record<string, string>>;
  /** The server given in the sandbox's `app` option; undefined for the demo app. */
  readonly app: AppFiles | undefined;
  /** The app's pid (0 when down) and status, as PM2 reports them. */
  appState(): Promise<{ pid: number; status: string | undefined }>;
  appPid(): Promise<number>;
  request(path: string, options: RequestOptions): Promise<number>;
  /** Records where the app listens now, for requests `via: 'app'`. */
  moveApp(host: string, port: number): void;
  /** The ecosystem file's source, with PM2's autorestart on or off. */
  ecosystemSource(autorestart: boolean): string;
  /** Deploys `release` as a deploy script does: the ecosystem file pointed at it, `pm2 delete` + `pm2 start`. */
  deploy(release: AppFiles): Promise<void>;
}

const CRASH_MARKER_TEXT = 'the demo app dies at boot while this file exists\n';
const EXIT_LINE = /App \[web:\d+\] exited with code/g;
/** Node closes an idle keep-alive connection this long after `server.keepAliveTimeout` (HTTP_SERVER_KEEP_ALIVE_TIMEOUT_BUFFER). */
const NODE_KEEP_ALIVE_BUFFER_MS = 1000;
/** Node's default `server.keepAliveTimeout`, and Next.js's when `KEEP_ALIVE_TIMEOUT` is unset. */
const NODE_KEEP_ALIVE_DEFAULT_MS = 5000;
/** How long a CPU-heavy request holds the app's event loop in the keep-alive race. */
const BUSY_MS = 150;

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
    proxyMisconfig: async (host = '::1') => {
      if (!(await canListen(host))) throw new SandboxError(`the address ${host} is not available on this machine`);
      await restartWithEnv(box, { PORT: String(box.appPort), HOSTNAME: host });
      box.moveApp(host, box.appPort);
      await untilServing(box, `the app on ${host.includes(':') ? `[${host}]` : host}`);
      await gatewayErrors(box);
    },
    slowPages: async (ms: number) => {
      await control(box, `/__demo/slow?ms=${Math.max(0, Math.round(ms))}`);
      await gatewayErrors(box, '/', 3);
    },
    hang: async () => {
      await control(box, '/__demo/hang');
      // The app blocks 20 ms after it answered; on a loaded machine that timer fires late. Until it has, requests
      // are still served: wait for the app itself to stop answering before counting nginx's 504s.
      await until('the app to stop answering', 10_000, async () => (await box.request('/api/health', { via: 'app', timeoutMs: 300 })) === 0, 100);
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
    orphanHoldsPort: async () => {
      const pid = await box.appPid();
      await box.pm2Cli.expect(['stop', APP]);
      await waitDown(box, pid);
      const stray = await box.strays.start(box.dir, '127.0.0.1', box.appPort);
      // The restart's start fails to listen (EADDRINUSE) and the app exits; PM2 leaves it down (autorestart off).
      await startFails(box, () => box.pm2Cli.expect(['restart', APP]));
      await gatewayErrors(box);
      return stray;
    },
    deployWithoutModules: async () => {
      const release = await badRelease(box.dir, nextApp(box), 'modules');
      await startFails(box, () => box.deploy(release));
      await gatewayErrors(box);
    },
    deployWithoutBuild: async () => {
      const release = await badRelease(box.dir, nextApp(box), 'build');
      await startFails(box, () => box.deploy(release));
      await gatewayErrors(box);
    },
    heapExhaustion: async () => {
      const pid = await box.appPid();
      await control(box, '/__demo/leak-heap');
      await waitDown(box, pid);
      await gatewayErrors(box);
    },
    headerTooBig: async () => {
      await gatewayErrors(box, '/login');
    },
    keepAliveRace: async () => {
      const keepAlive = Number(box.appEnv.KEEP_ALIVE_TIMEOUT ?? NODE_KEEP_ALIVE_DEFAULT_MS);
      // Node's idle timer is due `closesAt` after a response; the busy request spans that moment.
      const closesAt = keepAlive + NODE_KEEP_ALIVE_BUFFER_MS;
      const accessLog = box.profile.nginx.accessLog;
      const before = await countGatewayLines(accessLog);
      const statuses: number[] = [];
      for (let round = 0; round < 10 && statuses.filter(isGatewayError).length < 3; round++) {
        // Leaves one idle connection in nginx's upstream cache (the app has answered on it).
        await box.request('/', { via: 'nginx', method: 'POST' });
        await sleep(Math.max(0, closesAt - BUSY_MS / 3));
        const busy = box.request(`/__demo/busy?ms=${BUSY_MS}`, { via: 'app', method: 'POST' });
        await sleep(BUSY_MS / 2);
        // nginx reuses the idle connection; when the app's loop runs again, its overdue idle timer closes it first.
        statuses.push(await box.request('/', { via: 'nginx', method: 'POST' }));
        await busy;
      }
      if (statuses.filter(isGatewayError).length < 3) {
        throw new SandboxError(`the keep-alive race did not show (POST statuses ${statuses.join(', ')}): is the upstream keepalive on?`);
      }
      await until('gateway errors in the access log', 3000, async () => (await countGatewayLines(accessLog)) - before >= 3);
    },
  };
}

/** The Next.js server of the sandbox, for the faults that break a deploy of it. */
function nextApp(box: FaultTarget): AppFiles {
  if (!box.app) throw new SandboxError('a bad deploy needs a Next.js app (the sandbox option `app`)');
  return box.app;
}

/** Runs a start that must fail; returns once the started process has exited and PM2 reports the app down. */
async function startFails(box: FaultTarget, start: () => Promise<void>): Promise<void> {
  const pm2Log = join(box.pm2Home, 'pm2.log');
  const exitsBefore = await countMatches(pm2Log, EXIT_LINE);
  await start();
  await until('the started app to exit', 20_000, async () => (await countMatches(pm2Log, EXIT_LINE)) > exitsBefore);
  await until('PM2 to report the app down', 15_000, async () => (await box.appState()).status !== 'online', 250);
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
