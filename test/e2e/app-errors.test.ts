/**
 * End to end (issue 10): the app's own error output and the 502s a restart cannot fix, on the Ubuntu-like host of
 * layouts.test.ts (PM2 as its own user, nginx's Debian layout with `upstream { keepalive 64; }`, combined access
 * log, no upstream and no ecosystem in host.json) running the real Next.js standalone server
 * (test/helpers/next-app.ts), through the real `reflex respond --local … --json`.
 *
 * The keep-alive race is the real one: Next.js's own server with KEEP_ALIVE_TIMEOUT=5 (ms) behind nginx's upstream
 * keepalive (60 s), POSTs through nginx on kept-alive connections. Spaced POSTs alone almost never lose the race
 * (the window between Node closing an idle connection and nginx seeing it close is microseconds on loopback: the
 * lead saw none in 75 POSTs). A CPU-heavy request that keeps the app's event loop busy for 150 ms across the moment
 * Node's idle timer is due (5 ms + Node's 1 s buffer) widens the window: nginx sends the POST on the idle connection,
 * and when the loop runs again the overdue timer closes it with the request unread. That loses the race on nearly
 * every try (19 of 20 against a plain Node server with the same timeouts; the 3 the fault waits for came in its first
 * 3 tries in every run here), and nginx logs `recv() failed (104: Connection reset by peer) while reading response
 * header from upstream` (not `upstream prematurely closed connection`, which needs the close to beat the request by
 * microseconds). No stand-in is needed.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox, type SandboxOptions } from '../../functions/sandbox/sandbox.ts';
import { isAlive, listeners, respondLocal, type CliRun } from '../helpers/host.ts';
import { nextServer, type NextServer } from '../helpers/next-app.ts';

/** Ubuntu as deployed (see layouts.test.ts); bootMs only widens the wait for Next.js's first answer. */
const UBUNTU: SandboxOptions = { bootMs: 5_000, pm2AsUser: true, nginxLayout: 'debian', logFormat: 'combined', profileEcosystem: false };

/** `diagnosis.appError` of the contract (issue 10). */
interface AppError {
  readonly kind: string;
  readonly text: string;
  readonly at?: string;
}

let next: NextServer;
let sandbox: Sandbox | undefined;

beforeAll(async () => {
  // Built once and cached by source hash: minutes the first time, nothing after.
  next = await nextServer();
}, 15 * 60_000);

afterEach(async () => {
  await sandbox?.stop();
  sandbox = undefined;
});

async function nextHost(options: SandboxOptions = {}): Promise<Sandbox> {
  sandbox = await startSandbox({ ...UBUNTU, app: { script: next.script, cwd: next.cwd }, ...options });
  await sandbox.waitHealthy(15_000);
  return sandbox;
}

function appError(run: CliRun): AppError | undefined {
  return (run.report.diagnosis as { appError?: AppError }).appError;
}

/** The summary and the advice, as the on-call human reads them. */
function words(run: CliRun): string {
  return [run.report.diagnosis.summary, ...run.report.diagnosis.advice].join('\n');
}

/** Why a report came out as it did, for a failing expectation. */
function why(run: CliRun): string {
  const { diagnosis, action } = run.report;
  return `${words(run)}\naction: ${action.kind} ${action.reason} ${action.error ?? ''}\nappError: ${JSON.stringify(appError(run))}\nstderr: ${run.stderr.slice(-1500)}`;
}

/** Runs `reflex respond` while users keep at it (`users` is called in a loop until the report is in). */
async function respondWhile(box: Sandbox, users: () => Promise<unknown>): Promise<CliRun> {
  let done = false;
  const traffic = (async () => {
    while (!done) await users().catch(() => undefined);
  })();
  try {
    return await respondLocal(box);
  } finally {
    done = true;
    await traffic;
  }
}

describe('reflex respond --local: the app\'s own words and the 502s a restart cannot fix (real Next.js, Ubuntu-like host)', { timeout: 240_000 }, () => {
  it('a stray process outside PM2 holds the port, then pm2 restart: port_in_use, escalated, advice names its pid, nothing killed', async () => {
    const box = await nextHost();
    const stray = await box.faults.orphanHoldsPort();

    const run = await respondLocal(box);

    expect(run.report.diagnosis.cause, why(run)).toBe('port_in_use');
    expect(run.report.action).toMatchObject({ kind: 'none', executed: false });
    expect(run.report.outcome).toBe('escalated');
    expect(run.code).toBe(1);
    expect(words(run)).toContain(String(stray));
    expect(appError(run), why(run)).toMatchObject({ kind: 'port_in_use' });
    expect(appError(run)?.text).toContain('EADDRINUSE');
    // Reflex killed nothing: the stray still holds the port.
    expect(await isAlive(stray)).toBe(true);
    expect((await listeners()).some((line) => line.includes(`127.0.0.1:${box.appPort} `) && line.includes(`pid=${stray},`))).toBe(true);
    // The human ends the stray (by pid) and redeploys: the app serves again.
    await box.repair();
    expect(await isAlive(stray)).toBe(false);
    expect(await box.request('/', { via: 'nginx' })).toBe(200);
  });

  it.each([
    { deploy: 'a deploy that skipped npm ci (server.js cannot load next)', fault: 'deployWithoutModules', kind: 'module_not_found', text: "Cannot find module 'next'" },
    { deploy: 'a deploy without next build (no .next)', fault: 'deployWithoutBuild', kind: 'missing_build', text: 'Could not find a production build' },
  ] as const)('$deploy: escalated with appError $kind', async ({ fault, kind, text }) => {
    const box = await nextHost();
    await box.faults[fault]();

    const run = await respondLocal(box);

    // Either no restart (the app's own words say a restart dies the same way) or one, then crash_loop naming it.
    expect(['process_crashed', 'crash_loop'], why(run)).toContain(run.report.diagnosis.cause);
    expect(run.report.outcome).toBe('escalated');
    expect(run.code).toBe(1);
    expect(appError(run), why(run)).toMatchObject({ kind });
    expect(appError(run)?.text).toContain(text);
    expect(await box.request('/', { via: 'nginx' })).toBe(502);
  });

  it('V8 heap exhausted under --max-old-space-size=64 (a leaking route): heap_exhausted, restart, recovered', async () => {
    const box = await nextHost({ nodeArgs: ['--max-old-space-size=64'] });
    const pid = await box.appPid();
    await box.faults.heapExhaustion();

    const run = await respondLocal(box);

    // The process died (SIGABRT, not a kernel kill): a crash, whose why is the heap.
    expect(run.report.diagnosis.cause, why(run)).toBe('process_crashed');
    expect(appError(run), why(run)).toMatchObject({ kind: 'heap_exhausted' });
    expect(appError(run)?.text).toContain('JavaScript heap out of memory');
    expect(words(run)).toMatch(/heap|memory/i);
    expect(run.report.action).toMatchObject({ kind: 'restart', executed: true });
    expect(run.report.outcome, why(run)).toBe('recovered');
    expect(run.code).toBe(0);
    expect(await box.appPid()).not.toBe(pid);
    expect(await box.request('/', { via: 'nginx' })).toBe(200);
  });

  it('a 16 KiB session cookie on /login (nginx\'s default proxy_buffer_size): header_too_big, no restart, escalated', async () => {
    const box = await nextHost();
    const pid = await box.appPid();
    await box.faults.headerTooBig();

    // Users keep opening the login page while Reflex looks: the 502s go on while /api/health answers.
    const run = await respondWhile(box, () => box.request('/login', { via: 'nginx' }));

    expect(run.report.diagnosis.cause, why(run)).toBe('header_too_big');
    expect(run.report.action).toMatchObject({ kind: 'none', executed: false });
    expect(run.report.outcome).toBe('escalated');
    expect(run.code).toBe(1);
    expect(words(run)).toContain('proxy_buffer_size');
    expect(await box.appPid()).toBe(pid);
    expect(await box.request('/login', { via: 'nginx' })).toBe(502);
    expect(await box.request('/', { via: 'nginx' })).toBe(200);
  });

  it('the app bound to 127.0.0.2 (HOSTNAME from a login shell) while nginx proxies to 127.0.0.1: proxy_misconfig', async () => {
    const box = await nextHost();
    await box.faults.proxyMisconfig('127.0.0.2');

    const run = await respondLocal(box);

    expect(run.report.diagnosis.cause, why(run)).toBe('proxy_misconfig');
    expect(run.report.action.kind).toBe('none');
    expect(run.report.outcome).toBe('escalated');
    expect(run.code).toBe(1);
    expect(words(run)).toContain('127.0.0.2');
    expect(words(run)).toContain('127.0.0.1');
    expect(words(run)).toContain('HOSTNAME');
    expect((await listeners()).some((line) => line.includes(`127.0.0.2:${box.appPort} `))).toBe(true);
  });

  it('the keep-alive race (KEEP_ALIVE_TIMEOUT=5 ms against nginx\'s 60 s, POSTs on reused connections): keepalive_race, escalated', async () => {
    const box = await nextHost({ appEnv: { KEEP_ALIVE_TIMEOUT: '5' } });
    const pid = await box.appPid();
    await box.faults.keepAliveRace();

    // The POSTs go on, and keep losing the race, while Reflex looks.
    const run = await respondWhile(box, () => box.faults.keepAliveRace());

    expect(run.report.diagnosis.cause, why(run)).toBe('keepalive_race');
    expect(run.report.action).toMatchObject({ kind: 'none', executed: false });
    expect(run.report.outcome).toBe('escalated');
    expect(run.code).toBe(1);
    expect(words(run)).toContain('keepalive_timeout');
    expect(words(run)).toContain('KEEP_ALIVE_TIMEOUT');
    expect(await box.appPid()).toBe(pid);
  });
});
