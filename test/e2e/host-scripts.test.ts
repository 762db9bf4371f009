/**
 * functions/host/snapshot.sh and remediate.sh against a live sandbox (real nginx, real PM2), and their input
 * validation: a bad variable stops the script before anything runs.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { profileVariables, runHostScript } from '../../functions/sandbox/host-scripts.ts';
import { AGENT_PATH, startSandbox, type Sandbox } from '../../functions/sandbox/sandbox.ts';
import { ensurePm2OnAgentPath } from '../helpers/global-pm2.ts';
import { SECRET, isAlive, pm2Section, readPid, runScript, sections, type SnapshotPm2 } from '../helpers/host.ts';

const SNAPSHOT_SECTIONS = ['reflex-snapshot 1', 'meta', 'pm2', 'app-pids', 'listeners', 'probe nginx', 'probe upstream', 'nginx-proxy', 'nginx-error', 'pm2-log', 'kernel', 'memory', 'deploy', 'app-log', 'end'];

function appEntry(parts: Map<string, string[]>): SnapshotPm2 | undefined {
  const pm2 = pm2Section(parts);
  return Array.isArray(pm2) ? pm2.find((p) => p.name === 'web') : undefined;
}

/** One line of remediate's `@@verify` section. */
interface Observation {
  at: string;
  pm2: boolean;
  app: { status: string; pid: number; restarts: number; startedAt: string | null } | null;
  probe: { status: number; ms: number; error?: string };
}

/**
 * remediate's output around its `@@verify` section: the lines before it, every observation (each line must be one
 * JSON object: a parse error fails the test) and the last line.
 */
function verification(stdout: string): { before: string[]; observations: Observation[]; result: string } {
  const lines = stdout.trim().split('\n');
  const start = lines.indexOf('@@verify');
  if (start < 0) throw new Error(`no @@verify section in: ${stdout.slice(-3000)}`);
  return {
    before: lines.slice(0, start),
    observations: lines.slice(start + 1, -1).map((line) => JSON.parse(line) as Observation),
    result: lines.at(-1) ?? '',
  };
}

/** The exact shape of an observation: these keys in this order, ISO times with milliseconds. */
function expectObservationShape(observation: Observation): void {
  const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
  expect(Object.keys(observation)).toEqual(['at', 'pm2', 'app', 'probe']);
  expect(observation.at).toMatch(iso);
  if (observation.app) {
    expect(Object.keys(observation.app)).toEqual(['status', 'pid', 'restarts', 'startedAt']);
    expect(observation.app.startedAt ?? '').toMatch(iso);
  }
  expect(Object.keys(observation.probe)).toEqual(observation.probe.error === undefined ? ['status', 'ms'] : ['status', 'ms', 'error']);
  if (observation.probe.error !== undefined) {
    expect(observation.probe.status).toBe(0);
    expect(['refused', 'timeout', 'reset', 'empty_reply', 'other']).toContain(observation.probe.error);
  }
}

/** The last 3 observations: PM2 says online and the probe through nginx answers 200. */
function expectServedAtTheEnd(observations: Observation[]): void {
  expect(observations.length).toBeGreaterThanOrEqual(3);
  for (const observation of observations.slice(-3)) {
    expect(observation).toMatchObject({ pm2: true, app: { status: 'online' }, probe: { status: 200 } });
  }
}

describe('host scripts: input validation', { timeout: 30_000 }, () => {
  let dir: string;
  let env: Record<string, string>;
  let calls: string;
  beforeAll(async () => {
    // A fake pm2 first on PATH records every call: "nothing run" is then observable.
    dir = await mkdtemp(join(tmpdir(), 'reflex-validate-'));
    calls = join(dir, 'pm2-calls');
    await writeFile(join(dir, 'pm2'), `#!/bin/sh\necho "$@" >> '${calls}'\n`);
    await chmod(join(dir, 'pm2'), 0o755);
    // And a fake node: neither the hung restart nor the verification program may run.
    await writeFile(join(dir, 'node'), `#!/bin/sh\necho "node $*" >> '${calls}'\n`);
    await chmod(join(dir, 'node'), 0o755);
    env = { PATH: `${dir}:${process.env.PATH ?? ''}`, HOME: dir };
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const bad: [string, 'snapshot' | 'remediate', Record<string, string>][] = [
    ['REFLEX_APP', 'snapshot', { REFLEX_APP: 'web;touch PWNED' }],
    ['REFLEX_APP', 'snapshot', {}],
    ['REFLEX_PM2_HOME', 'snapshot', { REFLEX_APP: 'web', REFLEX_PM2_HOME: 'relative/.pm2' }],
    ['REFLEX_PM2_USER', 'snapshot', { REFLEX_APP: 'web', REFLEX_PM2_USER: 'root$(id)' }],
    ['REFLEX_PM2_USER', 'snapshot', { REFLEX_APP: 'web', REFLEX_PM2_USER: 'no-such-user-here' }],
    ['REFLEX_HEALTH_URL', 'snapshot', { REFLEX_APP: 'web', REFLEX_HEALTH_URL: 'http://127.0.0.1/`id`' }],
    ['REFLEX_UPSTREAM', 'snapshot', { REFLEX_APP: 'web', REFLEX_UPSTREAM: 'file:///etc/passwd' }],
    ['REFLEX_NGINX_CONFIG', 'snapshot', { REFLEX_APP: 'web', REFLEX_NGINX_CONFIG: '/etc/nginx/nginx.conf;id' }],
    ['REFLEX_NGINX_ERROR_LOG', 'snapshot', { REFLEX_APP: 'web', REFLEX_NGINX_ERROR_LOG: '/var/log/$(id)' }],
    ['REFLEX_KERNEL_LOG', 'snapshot', { REFLEX_APP: 'web', REFLEX_KERNEL_LOG: '/var/log/kern log' }],
    ['REFLEX_SECTIONS', 'snapshot', { REFLEX_APP: 'web', REFLEX_SECTIONS: 'all' }],
    ['REFLEX_PROBE_TIMEOUT', 'snapshot', { REFLEX_APP: 'web', REFLEX_PROBE_TIMEOUT: '100' }],
    ['REFLEX_APP', 'remediate', { REFLEX_APP: 'web;touch PWNED', REFLEX_ACTION: 'restart' }],
    ['REFLEX_ACTION', 'remediate', { REFLEX_APP: 'web', REFLEX_ACTION: 'delete' }],
    ['REFLEX_ECOSYSTEM', 'remediate', { REFLEX_APP: 'web', REFLEX_ACTION: 'start', REFLEX_ECOSYSTEM: '/srv/eco.js && id' }],
    ['REFLEX_PM2_HOME', 'remediate', { REFLEX_APP: 'web', REFLEX_ACTION: 'restart', REFLEX_PM2_HOME: '/home/$USER/.pm2' }],
    ['REFLEX_HEALTH_URL', 'remediate', { REFLEX_APP: 'web', REFLEX_ACTION: 'restart', REFLEX_VERIFY_SECONDS: '30', REFLEX_HEALTH_URL: 'http://127.0.0.1/$(id)' }],
    ['REFLEX_VERIFY_SECONDS', 'remediate', { REFLEX_APP: 'web', REFLEX_ACTION: 'restart', REFLEX_VERIFY_SECONDS: '601' }],
    ['REFLEX_VERIFY_SECONDS', 'remediate', { REFLEX_APP: 'web', REFLEX_ACTION: 'restart', REFLEX_VERIFY_SECONDS: '010' }],
    ['REFLEX_VERIFY_SECONDS', 'remediate', { REFLEX_APP: 'web', REFLEX_ACTION: 'start', REFLEX_VERIFY_SECONDS: '30;id' }],
    ['REFLEX_HUNG_PID', 'remediate', { REFLEX_APP: 'web', REFLEX_ACTION: 'restart', REFLEX_HUNG_PID: '0' }],
    ['REFLEX_HUNG_PID', 'remediate', { REFLEX_APP: 'web', REFLEX_ACTION: 'restart', REFLEX_HUNG_PID: '-1' }],
    ['REFLEX_HUNG_PID', 'remediate', { REFLEX_APP: 'web', REFLEX_ACTION: 'restart', REFLEX_HUNG_PID: '123 456' }],
    ['REFLEX_HUNG_PID', 'remediate', { REFLEX_APP: 'web', REFLEX_ACTION: 'restart', REFLEX_HUNG_PID: '12345678901' }],
  ];

  it.each(bad)('%s: %s exits 2 with one line and runs nothing (%j)', async (variable, script, vars) => {
    const result = await runHostScript(script, { ...env, ...vars });

    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`reflex: invalid ${variable}\n`);
    expect(existsSync(calls)).toBe(false);
  });

  it('a value carrying a command is never executed', async () => {
    const marker = join(dir, 'pwned');
    const result = await runHostScript('remediate', { ...env, REFLEX_APP: `web;touch ${marker}`, REFLEX_ACTION: 'restart' });

    expect(result.code).toBe(2);
    expect(existsSync(marker)).toBe(false);
  });

  it('start with no ecosystem and no saved PM2 list: exit 1, says to run pm2 save, runs no pm2', async () => {
    const result = await runHostScript('remediate', { ...env, REFLEX_APP: 'web', REFLEX_ACTION: 'start', REFLEX_PM2_HOME: join(dir, 'pm2') });

    expect(result.code).toBe(1);
    expect(result.stdout).toContain('does not name web: run `pm2 save`');
    expect(result.stdout.trim().split('\n').at(-1)).toBe('result=failed action=start exit=3');
    expect(existsSync(calls)).toBe(false);
  });

  it('passes a valid app name to pm2 as one argument', async () => {
    const result = await runHostScript('remediate', { ...env, REFLEX_APP: 'web.v2_a-b', REFLEX_ACTION: 'restart', REFLEX_PM2_HOME: join(dir, 'pm2') });

    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n').at(-1)).toBe('result=ok action=restart');
    expect(await readFile(calls, 'utf8')).toBe('restart web.v2_a-b --no-color --mini-list\n');
    await rm(calls);
  });

  it('REFLEX_VERIFY_SECONDS without REFLEX_HEALTH_URL: the plain pm2 restart, no verification, and it says so', async () => {
    const result = await runHostScript('remediate', { ...env, REFLEX_APP: 'web', REFLEX_ACTION: 'restart', REFLEX_PM2_HOME: join(dir, 'pm2'), REFLEX_VERIFY_SECONDS: '30' });

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('reflex: REFLEX_VERIFY_SECONDS without REFLEX_HEALTH_URL: no verification\n');
    expect(result.stdout).not.toContain('@@verify');
    expect(result.stdout.trim().split('\n').at(-1)).toBe('result=ok action=restart');
    expect(await readFile(calls, 'utf8')).toBe('restart web --no-color --mini-list\n');
    await rm(calls);
  });

  it('REFLEX_HUNG_PID is for a restart only: a start ignores it', async () => {
    const result = await runHostScript('remediate', {
      ...env,
      REFLEX_APP: 'web',
      REFLEX_ACTION: 'start',
      REFLEX_PM2_HOME: join(dir, 'pm2'),
      REFLEX_ECOSYSTEM: '/srv/web/ecosystem.config.js',
      REFLEX_HUNG_PID: '4242',
    });

    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n').at(-1)).toBe('result=ok action=start');
    expect(await readFile(calls, 'utf8')).toBe('start /srv/web/ecosystem.config.js --only web --no-color --mini-list\n');
    await rm(calls);
  });
});

describe('snapshot.sh on a healthy host', { timeout: 60_000 }, () => {
  let box: Sandbox;
  let output: string;
  let parts: Map<string, string[]>;
  beforeAll(async () => {
    box = await startSandbox({ bootMs: 300, appEnv: { DEMO_SECRET: SECRET } });
    await box.traffic(3);
    const result = await runScript(box, 'snapshot');
    expect(result.code).toBe(0);
    output = result.stdout;
    parts = sections(output);
  });
  afterAll(async () => {
    await box?.stop();
  });

  it('prints every section of format 1, in order, within the size limits', () => {
    expect([...parts.keys()]).toEqual(SNAPSHOT_SECTIONS);
    expect(output.length).toBeLessThan(12_000);
    expect(output.split('\n').every((line) => line.length <= 300 || line.startsWith('['))).toBe(true);
    expect(parts.get('meta')).toEqual([expect.stringMatching(/^taken_at=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), expect.stringMatching(/^hostname=.+/), 'app=web']);
  });

  it('reports the app online under PM2, with its pid, port and host, and never its environment', async () => {
    const app = appEntry(parts);
    const pid = await box.appPid();

    expect(app).toMatchObject({ name: 'web', pid, pm2_env: { status: 'online', env: { PORT: String(box.appPort), HOSTNAME: '127.0.0.1' } } });
    expect(Object.keys(app?.pm2_env.env ?? {}).sort()).toEqual(['HOSTNAME', 'PORT']);
    expect(output).not.toContain(SECRET);
    expect(output).not.toContain('DEMO_SECRET');
    expect(parts.get('app-pids')?.[0]?.split(' ')).toContain(String(pid));
  });

  it('shows the app listening, both probes answering 200 and the proxy directives', async () => {
    const pid = await box.appPid();

    expect(parts.get('listeners')).toContainEqual(expect.stringMatching(new RegExp(`127\\.0\\.0\\.1:${box.appPort} .*"next-server \\(v1",pid=${pid},`)));
    expect(parts.get('probe nginx')).toEqual([expect.stringMatching(new RegExp(`^url=http://127\\.0\\.0\\.1:${box.nginxPort}/api/health code=200 time=[0-9.]+ exit=0$`))]);
    expect(parts.get('probe upstream')).toEqual([expect.stringMatching(new RegExp(`^url=http://127\\.0\\.0\\.1:${box.appPort}/api/health code=200 time=[0-9.]+ exit=0$`))]);
    expect(parts.get('nginx-proxy')).toEqual(expect.arrayContaining([`proxy_pass http://127.0.0.1:${box.appPort};`, 'proxy_read_timeout 2s;', 'proxy_connect_timeout 1s;']));
  });

  it('reads memory, the PM2 log and the deploy markers', () => {
    expect(parts.get('memory')?.[0]).toMatch(/^total_kb=\d+ available_kb=\d+$/);
    expect(parts.get('pm2-log')).toContainEqual(expect.stringContaining('App [web:0] online'));
    expect(parts.get('deploy')).toEqual([expect.stringMatching(/^pm2_started_at=\d{4}-.*Z$/), expect.stringMatching(/^build_id_mtime=\d{4}-.*Z$/)]);
  });

  it('REFLEX_SECTIONS=probe: only meta, pm2 and the probes', async () => {
    const result = await runScript(box, 'snapshot', { REFLEX_SECTIONS: 'probe' });
    const probe = sections(result.stdout);

    expect(result.code).toBe(0);
    expect([...probe.keys()]).toEqual(['reflex-snapshot 1', 'meta', 'pm2', 'probe nginx', 'probe upstream', 'end']);
    expect(appEntry(probe)?.pm2_env.status).toBe('online');
    expect(probe.get('probe nginx')?.[0]).toContain('code=200');
  });
});

describe('snapshot.sh and remediate.sh on faulty hosts', { timeout: 120_000 }, () => {
  let box: Sandbox | undefined;
  async function sandbox(): Promise<Sandbox> {
    box = await startSandbox({ bootMs: 300, appEnv: { DEMO_SECRET: SECRET } });
    return box;
  }
  afterEach(async () => {
    await box?.stop();
    box = undefined;
  });

  it('crash: snapshot shows it down with exit code 1 and refused connections; remediate restart brings it back', async () => {
    const b = await sandbox();
    await b.faults.crash();

    const down = sections((await runScript(b, 'snapshot')).stdout);
    const fix = await runScript(b, 'remediate', { REFLEX_ACTION: 'restart' });
    await b.waitHealthy(20_000);
    const after = sections((await runScript(b, 'snapshot', { REFLEX_SECTIONS: 'probe' })).stdout);

    expect(appEntry(down)?.pm2_env).toMatchObject({ status: 'stopped', exit_code: 1 });
    expect(appEntry(down)?.pid).toBe(0);
    expect(down.get('app-pids')).toEqual([]);
    expect(down.get('probe nginx')?.[0]).toMatch(/ code=502 .* exit=0$/);
    expect(down.get('probe upstream')?.[0]).toMatch(/ code=000 .* exit=7$/);
    expect(down.get('nginx-error')).toContainEqual(expect.stringContaining('connect() failed (111: Connection refused) while connecting to upstream'));
    expect(down.get('pm2-log')).toContainEqual(expect.stringContaining('App [web:0] exited with code [1]'));
    expect(down.get('listeners')?.some((line) => line.includes(`:${b.appPort} `))).toBe(false);
    expect(fix.code).toBe(0);
    expect(fix.stdout.trim().split('\n').at(-1)).toBe('result=ok action=restart');
    expect(appEntry(after)?.pm2_env.status).toBe('online');
    expect(after.get('probe nginx')?.[0]).toContain('code=200');
  });

  it('remove: restart fails (exit 1, result=failed); start from the ecosystem brings it back', async () => {
    const b = await sandbox();
    await b.faults.remove();

    const snapshot = sections((await runScript(b, 'snapshot')).stdout);
    const restart = await runScript(b, 'remediate', { REFLEX_ACTION: 'restart' });
    const start = await runScript(b, 'remediate', { REFLEX_ACTION: 'start' });
    await b.waitHealthy(20_000);

    expect(pm2Section(snapshot)).toEqual([]);
    expect(restart.code).toBe(1);
    expect(restart.stdout.trim().split('\n').at(-1)).toBe('result=failed action=restart exit=1');
    expect(start.code).toBe(0);
    expect(start.stdout.trim().split('\n').at(-1)).toBe('result=ok action=start');
    expect(await b.appPid()).toBeGreaterThan(0);
  });

  it('killDaemon: snapshot says the daemon is not running and does not start one; start brings it all back', async () => {
    const b = await sandbox();
    await b.faults.killDaemon();

    const result = await runScript(b, 'snapshot');
    const parts = sections(result.stdout);
    const noDaemon = !existsSync(join(b.pm2Home, 'pm2.pid'));
    const start = await runScript(b, 'remediate', { REFLEX_ACTION: 'start' });
    await b.waitHealthy(20_000);

    expect(result.code).toBe(0);
    expect(parts.get('pm2')).toEqual(['{"error":"PM2 daemon not running"}']);
    expect(parts.get('probe nginx')?.[0]).toContain('code=502');
    expect(noDaemon).toBe(true);
    expect(start.stdout.trim().split('\n').at(-1)).toBe('result=ok action=start');
    expect(await readPid(join(b.pm2Home, 'pm2.pid'))).toBeGreaterThan(0);
  });

  it('hang: the probes stop after their 1 s first try, when the app made no read or write call meanwhile', async () => {
    const b = await sandbox();
    await b.faults.hang();

    const started = Date.now();
    const parts = sections((await runScript(b, 'snapshot')).stdout);
    const tookMs = Date.now() - started;

    expect(appEntry(parts)?.pm2_env.status).toBe('online');
    // The first try (1 s) ends before proxy_read_timeout (2 s), so nginx has not answered 504 yet.
    expect(parts.get('probe nginx')?.[0]).toMatch(/ code=000 time=1\.[0-9]+ exit=28$/);
    expect(parts.get('probe upstream')?.[0]).toMatch(/ code=000 time=1\.[0-9]+ cpu=[0-9]+ io=0 window_ms=[0-9]+ exit=28$/);
    expect(tookMs).toBeLessThan(3000);
  });

  it('slow health URL: a first try that goes unanswered while the app reads requests gets a second, full try', async () => {
    const b = await sandbox();
    // Slower than the first try, faster than proxy_read_timeout (2 s): the demo app's own switch, on its own port.
    expect((await fetch(`http://127.0.0.1:${b.appPort}/__demo/slow?ms=1500`, { method: 'POST' })).status).toBe(200);

    const parts = sections((await runScript(b, 'snapshot', { REFLEX_HEALTH_URL: `http://127.0.0.1:${b.nginxPort}/slow-page` })).stdout);

    expect(parts.get('probe nginx')?.[0]).toMatch(/ code=200 time=2\.[0-9]+ exit=0$/);
    expect(parts.get('probe upstream')?.[0]).toMatch(/ code=200 time=2\.[0-9]+ cpu=[0-9]+ io=[1-9][0-9]* window_ms=[0-9]+ exit=0$/);
  });

  it('oom: the kernel section names the killed app pid', async () => {
    const b = await sandbox();
    const pid = await b.appPid();
    await b.faults.oom();

    const parts = sections((await runScript(b, 'snapshot')).stdout);

    expect(parts.get('kernel')).toContainEqual(expect.stringMatching(new RegExp(`out of memory: Killed process ${pid} \\(`, 'i')));
    expect(appEntry(parts)?.pm2_env.status).toBe('stopped');
  });

  it('proxyMisconfig: listeners show [::1]:<appPort> and the upstream probe to 127.0.0.1 is refused', async () => {
    const b = await sandbox();
    await b.faults.proxyMisconfig();

    const parts = sections((await runScript(b, 'snapshot')).stdout);

    expect(parts.get('listeners')).toContainEqual(expect.stringContaining(`[::1]:${b.appPort} `));
    expect(appEntry(parts)?.pm2_env.env).toEqual({ PORT: String(b.appPort), HOSTNAME: '::1' });
    expect(parts.get('probe upstream')?.[0]).toMatch(/ exit=7$/);
    expect(parts.get('probe nginx')?.[0]).toContain('code=502');
  });
});

/**
 * The scripts as the SSM agent runs them on a Debian/Ubuntu box laid out as users have it: as root, from a fresh
 * root-only working directory, with the agent's PATH, no HOME and nothing but the script's inputs in the
 * environment; PM2 under its own user, nginx with sites-enabled and an upstream block with keepalive, and the stack's
 * defaults (no upstream, no ecosystem, no PM2 home given).
 */
describe('host scripts as SSM runs them, on an Ubuntu-like host', { timeout: 120_000 }, () => {
  let box: Sandbox | undefined;
  let agentDir: string;
  beforeAll(async () => {
    await ensurePm2OnAgentPath();
    agentDir = await mkdtemp(join(tmpdir(), 'reflex-agent-'));
  });
  afterAll(async () => {
    await rm(agentDir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await box?.stop();
    box = undefined;
  });

  async function sandbox(): Promise<Sandbox> {
    box = await startSandbox({ bootMs: 300, pm2AsUser: true, nginxLayout: 'debian', profileEcosystem: false, appEnv: { DEMO_SECRET: SECRET } });
    return box;
  }

  /** The stack's inputs: app, PM2 user, health URL, nginx config and error log; no PM2 home, upstream or ecosystem. */
  function agentRun(b: Sandbox, script: 'snapshot' | 'remediate', extra: Record<string, string> = {}) {
    const { REFLEX_APP, REFLEX_PM2_USER, REFLEX_HEALTH_URL, REFLEX_NGINX_CONFIG, REFLEX_NGINX_ERROR_LOG } = profileVariables(b.profile);
    const inputs = { REFLEX_APP, REFLEX_PM2_USER, REFLEX_HEALTH_URL, REFLEX_NGINX_CONFIG, REFLEX_NGINX_ERROR_LOG };
    const env = Object.fromEntries(Object.entries({ ...inputs, ...extra }).filter((entry): entry is [string, string] => entry[1] !== undefined));
    return asAgent(script, env);
  }

  async function asAgent(script: 'snapshot' | 'remediate', inputs: Record<string, string>) {
    const cwd = join(agentDir, `orchestration-${Date.now()}-${Math.random().toString(16).slice(2)}`);
    await mkdir(cwd, { mode: 0o700 });
    // `bash <file>` from that directory, with only these variables: as the agent runs the document's script.
    const file = fileURLToPath(new URL(`../../functions/host/${script}.sh`, import.meta.url));
    return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile('bash', [file], { env: { PATH: AGENT_PATH, ...inputs }, cwd, timeout: 60_000 }, (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) });
      });
    });
  }

  it('the snapshot probes the upstream nginx proxies to, found through sites-enabled and the upstream block', async () => {
    const b = await sandbox();

    const result = await agentRun(b, 'snapshot');
    const parts = sections(result.stdout);
    const probe = sections((await agentRun(b, 'snapshot', { REFLEX_SECTIONS: 'probe' })).stdout);

    expect(result.code).toBe(0);
    expect(b.profile.upstream).toBeUndefined();
    expect(parts.get('nginx-proxy')).toEqual(expect.arrayContaining(['upstream web_backend {', `server 127.0.0.1:${b.appPort};`, 'proxy_pass http://web_backend;']));
    expect(parts.get('probe upstream')).toEqual([expect.stringMatching(new RegExp(`^url=http://127\\.0\\.0\\.1:${b.appPort}/api/health code=200 `))]);
    expect(probe.get('probe upstream')?.[0]).toContain('code=200');
    expect(appEntry(parts)?.pm2_env.status).toBe('online');
    expect(parts.get('pm2-saved')).toEqual(['web']);
    expect(result.stdout).not.toContain(SECRET);
  });

  it('the PM2 daemon is gone and no ecosystem is configured: start resurrects the saved list', async () => {
    const b = await sandbox();
    await b.faults.killDaemon();

    const start = await agentRun(b, 'remediate', { REFLEX_ACTION: 'start' });
    await b.waitHealthy(20_000);

    expect(start.stdout.trim().split('\n').at(-1)).toBe('result=ok action=start');
    expect(start.stdout).not.toContain('EACCES');
    expect(await b.appPid()).toBeGreaterThan(0);
  });

  it('the app was deleted while the daemon runs: start brings back only that app, and never twice', async () => {
    const b = await sandbox();
    await b.faults.remove();

    const first = await agentRun(b, 'remediate', { REFLEX_ACTION: 'start' });
    await b.waitHealthy(20_000);
    const second = await agentRun(b, 'remediate', { REFLEX_ACTION: 'start' });
    const list = await b.pm2('jlist');
    const names = (JSON.parse(list.stdout.split('\n').find((line) => line.startsWith('[')) ?? '[]') as { name: string }[]).map((p) => p.name);

    expect(first.stdout.trim().split('\n').at(-1)).toBe('result=ok action=start');
    expect(second.stdout).toContain('web is already in PM2 list: not started twice');
    expect(names).toEqual(['web']);
  });

  it('restart after a crash works from the root-only directory, as the PM2 user', async () => {
    const b = await sandbox();
    await b.faults.crash();

    const fix = await agentRun(b, 'remediate', { REFLEX_ACTION: 'restart' });
    await b.waitHealthy(20_000);

    expect(fix.stdout.trim().split('\n').at(-1)).toBe('result=ok action=restart');
  });

  it('restart with verification: one run restarts, then watches PM2 and nginx until 3 observations in a row are served', async () => {
    const b = await sandbox();
    await b.faults.crash();

    const fix = await agentRun(b, 'remediate', { REFLEX_ACTION: 'restart', REFLEX_VERIFY_SECONDS: '30' });
    const { before, observations, result } = verification(fix.stdout);
    const pid = await b.appPid();

    expect(fix.code).toBe(0);
    expect(result).toBe('result=ok action=restart verify=recovered');
    expect(before).toContain('restarted web: [web](0) online');
    observations.forEach(expectObservationShape);
    expectServedAtTheEnd(observations);
    expect(observations.at(-1)?.app?.pid).toBe(pid);
    expect(fix.stdout).not.toContain(SECRET);
  });

  it('a hung app restarted with its pid: killed once PM2 is stopping it, so PM2 never waits out its kill_timeout', async () => {
    const b = await sandbox();
    const pid = await b.appPid();
    await b.faults.hang();
    const pm2Log = join(b.pm2Home, 'pm2.log');
    const logBefore = (await readFile(pm2Log, 'utf8')).length;

    const fix = await agentRun(b, 'remediate', { REFLEX_ACTION: 'restart', REFLEX_HUNG_PID: String(pid), REFLEX_VERIFY_SECONDS: '30' });
    const { before, observations, result } = verification(fix.stdout);
    const log = (await readFile(pm2Log, 'utf8')).slice(logBefore);

    expect(fix.code).toBe(0);
    expect(before).toContain(`killed hung pid ${pid} while PM2 stopped it: kill_timeout not waited out`);
    expect(result).toBe('result=ok action=restart verify=recovered');
    expectServedAtTheEnd(observations);
    expect(observations.every((observation) => observation.app?.pid !== pid)).toBe(true);
    expect(await isAlive(pid)).toBe(false);
    // PM2 stopped it (status stopping, so no autorestart raced it), saw it dead and started it once.
    expect(log).toContain('Stopping app:web id:0');
    expect(log).toContain(`pid=${pid} msg=process tree killed`);
    expect(log).not.toContain('still alive after');
    expect(log.match(/App \[web:0\] starting in/g)).toHaveLength(1);
  });

  it('a hung app restarted with a pid PM2 does not run as the app: nothing is killed, a plain restart', async () => {
    const b = await sandbox();
    const pid = await b.appPid();
    // A live process that is not the app: it must survive.
    const decoy = spawn('sleep', ['120'], { stdio: 'ignore' });
    try {
      await b.faults.hang();
      const pm2Log = join(b.pm2Home, 'pm2.log');
      const logBefore = (await readFile(pm2Log, 'utf8')).length;

      const fix = await agentRun(b, 'remediate', { REFLEX_ACTION: 'restart', REFLEX_HUNG_PID: String(decoy.pid), REFLEX_VERIFY_SECONDS: '30' });
      const { before, observations, result } = verification(fix.stdout);
      const log = (await readFile(pm2Log, 'utf8')).slice(logBefore);

      expect(before).toContain(`hung pid ${decoy.pid} is not what PM2 runs as web (pid ${pid} online): plain restart, nothing killed`);
      expect(before.some((line) => line.startsWith('killed'))).toBe(false);
      expect(await isAlive(decoy.pid ?? 0)).toBe(true);
      expect(result).toBe('result=ok action=restart verify=recovered');
      expectServedAtTheEnd(observations);
      // Without the kill, PM2 waited out its kill_timeout on the hung app: what the kill saves.
      expect(log).toContain(`Process with pid ${pid} still alive after 1600ms, sending SIGKILL`);
    } finally {
      decoy.kill('SIGKILL');
    }
  });

  it('an app that dies right after the restart: verify=died, the last observation not online', async () => {
    const b = await sandbox();
    // Every start dies ~200 ms after boot, and PM2 leaves it down (autorestart off).
    await b.faults.crash({ crashOnBoot: true });

    const fix = await agentRun(b, 'remediate', { REFLEX_ACTION: 'restart', REFLEX_VERIFY_SECONDS: '30' });
    const { observations, result } = verification(fix.stdout);

    expect(fix.code).toBe(0);
    expect(result).toBe('result=ok action=restart verify=died');
    observations.forEach(expectObservationShape);
    expect(observations.at(-1)?.app?.status).not.toBe('online');
    expect(observations.some((observation) => observation.probe.status === 200)).toBe(false);
  });

  it('an app still down when the time is up: verify=deadline, and a long verification stays within what SSM keeps', async () => {
    const b = await sandbox();
    // Stopped, but still in PM2's list: a start from the saved list leaves it alone (never started twice).
    await b.faults.stop();

    const run = await agentRun(b, 'remediate', { REFLEX_ACTION: 'start', REFLEX_VERIFY_SECONDS: '20' });
    const { before, observations, result } = verification(run.stdout);
    const times = observations.map((observation) => Date.parse(observation.at));

    expect(before).toContain('web is already in PM2 list: not started twice');
    expect(result).toBe('result=ok action=start verify=deadline');
    observations.forEach(expectObservationShape);
    expect(observations.every((observation) => observation.app?.status === 'stopped' && observation.probe.status === 502)).toBe(true);
    // 20 s of polls every 250 ms would be about 80 lines: thinned to the newest ones and a sample of the older ones.
    expect(observations.length).toBeLessThan(80);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(run.stdout.slice(run.stdout.indexOf('@@verify')).length).toBeLessThan(11_200);
    expect(run.stdout.length).toBeLessThan(24_000);
  });

  it('start after the daemon is gone (pm2 resurrect) verifies too, without ever spawning a daemon to look', async () => {
    const b = await sandbox();
    await b.faults.killDaemon();

    const start = await agentRun(b, 'remediate', { REFLEX_ACTION: 'start', REFLEX_VERIFY_SECONDS: '30' });
    const { observations, result } = verification(start.stdout);

    expect(start.code).toBe(0);
    expect(result).toBe('result=ok action=start verify=recovered');
    observations.forEach(expectObservationShape);
    expect(observations.every((observation) => observation.pm2)).toBe(true);
    expectServedAtTheEnd(observations);
  });

  it('start of a deleted app, from the saved list and from the ecosystem file, verifies after each', async () => {
    const b = await sandbox();
    await b.faults.remove();

    const saved = await agentRun(b, 'remediate', { REFLEX_ACTION: 'start', REFLEX_VERIFY_SECONDS: '30' });
    await b.faults.remove();
    const fromFile = await agentRun(b, 'remediate', { REFLEX_ACTION: 'start', REFLEX_ECOSYSTEM: join(b.dir, 'ecosystem.config.cjs'), REFLEX_VERIFY_SECONDS: '30' });

    for (const run of [saved, fromFile]) {
      const { observations, result } = verification(run.stdout);
      expect(run.code).toBe(0);
      expect(result).toBe('result=ok action=start verify=recovered');
      observations.forEach(expectObservationShape);
      expectServedAtTheEnd(observations);
    }
    expect(verification(saved.stdout).before).toContain(`started web from ${join(b.pm2Home, 'dump.pm2')}`);
    expect(verification(fromFile.stdout).before.join('\n')).toContain('[PM2] App [web] launched');
  });
});
