/**
 * The real Next.js app (test/fixtures/next-app, built by test/helpers/next-app.ts) under the repository's PM2, in a
 * temporary PM2_HOME on a free loopback port: the facts about Next.js 16 on a real box that Reflex relies on, and the
 * fault switches the sandbox drives.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../functions/sandbox/sandbox.ts';
import { eventually, isAlive, listeners, readPid } from '../helpers/host.ts';
import { nextServer, type NextServer } from '../helpers/next-app.ts';

const PM2 = fileURLToPath(new URL('../../node_modules/.bin/pm2', import.meta.url));

interface Pm2Entry {
  name: string;
  pid: number;
  pm_id: number;
  pm2_env: { status: string; exit_code?: number; restart_time: number; exec_mode: string; pm_out_log_path: string; pm_err_log_path: string };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

let app: NextServer;
let dir: string;
let port: number;
let env: Record<string, string>;
/** Every pid PM2 has reported, so that the end can stop an app PM2 lost track of. */
const seenPids = new Set<number>();

function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: 60_000, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

async function pm2(...args: string[]): Promise<string> {
  const result = await run(PM2, args);
  if (result.code !== 0) throw new Error(`pm2 ${args.join(' ')} failed (${result.code}): ${result.stderr || result.stdout}`);
  return result.stdout;
}

async function jlist(): Promise<Pm2Entry[]> {
  const entries = JSON.parse(await pm2('jlist')) as Pm2Entry[];
  for (const entry of entries) if (entry.pid > 0) seenPids.add(entry.pid);
  return entries;
}

async function web(): Promise<Pm2Entry> {
  const entry = (await jlist()).find((candidate) => candidate.name === 'web');
  if (!entry) throw new Error('PM2 does not know the app web');
  return entry;
}

/** Writes an ecosystem file for `web` (fork mode, `instances: 1`, as the sandbox's) and starts it. */
async function startWeb(options: { autorestart: boolean; crashMarker?: string }): Promise<void> {
  const ecosystem = join(dir, 'ecosystem.config.cjs');
  const appEnv = { PORT: String(port), HOSTNAME: '127.0.0.1', ...(options.crashMarker ? { DEMO_CRASH_MARKER: options.crashMarker } : {}) };
  const config = {
    apps: [
      {
        name: 'web',
        script: app.script,
        cwd: app.cwd,
        exec_mode: 'fork',
        instances: 1,
        autorestart: options.autorestart,
        max_restarts: 3,
        min_uptime: 1000,
        env: appEnv,
      },
    ],
  };
  await writeFile(ecosystem, `module.exports = ${JSON.stringify(config, null, 2)};\n`);
  await pm2('start', ecosystem);
}

/** One request on a fresh connection (no keep-alive: a socket of a dead server must not be reused). */
function request(path: string, options: { method?: string; timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const target = { host: '127.0.0.1', port, path, method: options.method ?? 'GET', agent: false, timeout: options.timeoutMs ?? 10_000 };
    const req = http.request({ ...target, ...(options.signal ? { signal: options.signal } : {}) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer to ${path} within ${options.timeoutMs ?? 10_000} ms`)));
    req.on('error', reject);
    req.end();
  });
}

async function healthStatus(timeoutMs = 1000): Promise<number> {
  return request('/api/health', { timeoutMs }).then((answer) => answer.status, () => 0);
}

async function waitServing(): Promise<void> {
  expect(await eventually(async () => (await healthStatus()) === 200, 30_000)).toBe(true);
}

/** pm2.log from `offset` on: each test reads only what its own actions logged. */
async function pm2LogSince(offset: number): Promise<string> {
  return (await readFile(join(env.PM2_HOME!, 'pm2.log'), 'utf8')).slice(offset);
}

async function pm2LogLength(): Promise<number> {
  return (await readFile(join(env.PM2_HOME!, 'pm2.log'), 'utf8').catch(() => '')).length;
}

async function killAndWait(pid: number): Promise<void> {
  if (!(await isAlive(pid))) return;
  process.kill(pid, 'SIGKILL');
  await eventually(async () => !(await isAlive(pid)), 5000);
}

/** Stops the daemon and every app process by pid (a pid must still be ours: PM2 or the Next.js server). */
async function stopAll(): Promise<void> {
  const home = env.PM2_HOME!;
  for (const file of await readdir(join(home, 'pids')).catch(() => [] as string[])) seenPids.add(await readPid(join(home, 'pids', file)));
  const daemon = await readPid(join(home, 'pm2.pid'));
  if (daemon > 0 && (await isAlive(daemon))) {
    await run(PM2, ['kill']);
    await killAndWait(daemon);
  }
  for (const pid of seenPids) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.startsWith('next-server')) await killAndWait(pid);
  }
}

beforeAll(async () => {
  app = await nextServer();
  dir = await mkdtemp(join(tmpdir(), 'reflex-next-app-'));
  port = await freePort();
  // NODE_OPTIONS of the test runner must not reach pm2, its daemon or the app.
  const inherited = Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[0] !== 'NODE_OPTIONS');
  env = { ...Object.fromEntries(inherited), PM2_HOME: join(dir, 'pm2') };
  await startWeb({ autorestart: false });
  await waitServing();
});

afterAll(async () => {
  if (env) await stopAll();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the real Next.js app under PM2', () => {
  it('is Next.js 16.4.6, built as a standalone server.js with a BUILD_ID', () => {
    expect(app.version).toBe('16.4.6');
    expect(basename(app.script)).toBe('server.js');
    expect(app.buildId).toMatch(/^[\w-]{8,}$/);
  });

  it('runs in fork mode with `instances: 1`, and PM2 names its logs web-out-0.log and web-error-0.log', async () => {
    const entry = await web();

    expect(entry.pm_id).toBe(0);
    expect(entry.pm2_env.exec_mode).toBe('fork_mode');
    expect(basename(entry.pm2_env.pm_out_log_path)).toBe('web-out-0.log');
    expect(basename(entry.pm2_env.pm_err_log_path)).toBe('web-error-0.log');
  });

  it('renames its process next-server (v16.4.6); ss shows it cut to 15 characters', async () => {
    const { pid } = await web();

    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0')[0];
    const listener = (await listeners()).find((line) => line.includes(`127.0.0.1:${port} `));

    expect(cmdline).toBe(`next-server (v${app.version})`);
    expect(listener).toContain(`users:(("next-server (v1",pid=${pid},`);
  });

  it('answers /api/health with its pid, and renders pages per request with their static assets', async () => {
    const { pid } = await web();

    const health = await request('/api/health');
    const home = await request('/');
    const other = await request('/some/page');
    const chunk = /\/_next\/static\/[^"]+\.js/.exec(home.body)?.[0];
    const asset = await request(chunk ?? '/_next/static/missing.js');
    const robots = await request('/robots.txt');

    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ status: 'ok', pid });
    expect(health.headers['cache-control']).toContain('no-store');
    expect(home.status).toBe(200);
    expect(home.headers['content-type']).toContain('text/html');
    // Next.js marks a page rendered per request as uncacheable; a prerendered one would be `s-maxage=…`.
    expect(home.headers['cache-control']).toContain('no-store');
    expect(home.body).toContain('Demo app');
    expect(other.status).toBe(200);
    expect(other.body).toContain('/some/page');
    expect(asset.status).toBe(200);
    expect(robots.status).toBe(200);
  });

  it('takes fault switches by POST only, and names unknown ones', async () => {
    const get = await request('/__demo/slow?ms=1500');
    const unknown = await request('/__demo/nope', { method: 'POST' });

    expect(get.status).toBe(405);
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body)).toEqual({ error: 'unknown control' });
  });

  it('/__demo/slow makes every page slow, but not /api/health', async () => {
    const set = await request('/__demo/slow?ms=1500', { method: 'POST' });
    const started = Date.now();
    const page = await request('/');
    const pageMs = Date.now() - started;
    // A page that never ends while the health check answers: /api/health is not slowed down at all.
    await request('/__demo/slow?ms=60000', { method: 'POST' });
    let pageDone = false;
    const abandon = new AbortController();
    const pending = request('/', { timeoutMs: 60_000, signal: abandon.signal }).finally(() => (pageDone = true));
    const health = await request('/api/health');
    const doneWhenHealthAnswered = pageDone;
    abandon.abort();
    await pending.catch(() => undefined);
    await request('/__demo/slow?ms=0', { method: 'POST' });

    expect(JSON.parse(set.body)).toEqual({ slowMs: 1500 });
    expect(page.status).toBe(200);
    expect(pageMs).toBeGreaterThanOrEqual(1500);
    expect(health.status).toBe(200);
    expect(doneWhenHealthAnswered).toBe(false);
  }, 90_000);

  // 130 comes from Next.js (128 + SIGINT); the `[SIGINT]` is PM2's placeholder for "no signal".
  it('pm2 stop: Next.js catches SIGINT and exits with code 130', async () => {
    const offset = await pm2LogLength();

    await pm2('stop', 'web');

    const log = await pm2LogSince(offset);
    expect(log).toContain('App [web:0] exited with code [130] via signal [SIGINT]');
    expect(log).not.toContain('SIGKILL');
    expect((await web()).pm2_env.status).toBe('stopped');
  });

  it('/__demo/hang blocks it: it ignores SIGINT until PM2 sends SIGKILL after 1600 ms', async () => {
    await pm2('start', 'web');
    await waitServing();
    const { pid } = await web();

    const hang = await request('/__demo/hang', { method: 'POST' });
    const stuck = await eventually(async () => (await healthStatus()) === 0, 10_000);
    const offset = await pm2LogLength();
    await pm2('stop', 'web');

    const log = await pm2LogSince(offset);
    expect(JSON.parse(hang.body)).toEqual({ hang: true });
    expect(stuck).toBe(true);
    expect(log).toContain(`Process with pid ${pid} still alive after 1600ms, sending SIGKILL`);
    // Killed by a signal, the process has no exit code: PM2 writes 0.
    expect(log).toContain('App [web:0] exited with code [0] via signal [SIGKILL]');
  }, 60_000);

  it('/__demo/crash?code=3 answers, writes an Error stack to web-error-0.log and exits with code 3', async () => {
    await pm2('start', 'web');
    await waitServing();
    const offset = await pm2LogLength();

    const crash = await request('/__demo/crash?code=3', { method: 'POST' });
    const stopped = await eventually(async () => (await web()).pm2_env.status === 'stopped', 15_000);

    const entry = await web();
    const errors = await readFile(entry.pm2_env.pm_err_log_path, 'utf8');
    expect(JSON.parse(crash.body)).toEqual({ crash: 3 });
    expect(stopped).toBe(true);
    expect(entry.pm2_env.exit_code).toBe(3);
    // No signal was involved: PM2 7 writes `SIGINT` whenever the process exited without one (God.js).
    expect(await pm2LogSince(offset)).toContain('App [web:0] exited with code [3] via signal [SIGINT]');
    expect(errors).toMatch(/Error: demo crash requested \(exit code 3\)\n\s+at /);
  }, 60_000);

  it('with DEMO_CRASH_MARKER present it dies at every boot, before answering, until PM2 gives up', async () => {
    await pm2('delete', 'web');
    const marker = join(dir, 'crash-marker');
    await writeFile(marker, '');
    const offset = await pm2LogLength();

    await startWeb({ autorestart: true, crashMarker: marker });
    let answered = false;
    const errored = await eventually(async () => {
      if ((await healthStatus(500)) === 200) answered = true;
      return (await web()).pm2_env.status === 'errored';
    }, 45_000);

    const entry = await web();
    const log = await pm2LogSince(offset);
    const errors = await readFile(entry.pm2_env.pm_err_log_path, 'utf8');
    expect(errored).toBe(true);
    expect(answered).toBe(false);
    // max_restarts: 3 means three starts in all, so two restarts.
    expect(entry.pm2_env.restart_time).toBe(2);
    expect(log.match(/App \[web:0\] exited with code \[1\]/g)).toHaveLength(3);
    expect(log).toContain('had too many unstable restarts (3). Stopped. "errored"');
    expect(errors).toContain(`Error: demo boot failure: crash marker ${marker} is present`);
  }, 90_000);
});
