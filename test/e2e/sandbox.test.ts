/**
 * The sandbox against real nginx and a real PM2 daemon: every fault must produce the state it claims,
 * seen the way an operator would see it (pm2, ss, curl through nginx, the logs, dmesg).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NginxMissingError, startSandbox, type Sandbox, type SandboxOptions } from '../../functions/sandbox/sandbox.ts';
import { command, eventually, isAlive, listeners, readPid, uidOf, uidOfUser } from '../helpers/host.ts';

/** PM2's view of the app: status, pid, exit code; undefined when PM2 does not know it. */
async function pm2App(box: Sandbox): Promise<{ status: string; pid: number; exitCode?: number; restarts: number } | undefined> {
  const { stdout } = await box.pm2('jlist');
  const list = JSON.parse(stdout.split('\n').find((line) => line.startsWith('[')) ?? '[]') as {
    name: string;
    pid: number;
    pm2_env: { status: string; exit_code?: number; restart_time: number };
  }[];
  const app = list.find((p) => p.name === 'web');
  return app && { status: app.pm2_env.status, pid: app.pid, exitCode: app.pm2_env.exit_code, restarts: app.pm2_env.restart_time };
}

const text = (file: string): Promise<string> => readFile(file, 'utf8').catch(() => '');

describe('startSandbox', { timeout: 90_000 }, () => {
  let box: Sandbox;
  beforeAll(async () => {
    box = await startSandbox({ bootMs: 300 });
  });
  afterAll(async () => {
    await box?.stop();
  });

  it('serves the demo app through nginx and writes the host profile', async () => {
    const statuses = await box.traffic(3);
    const profile = JSON.parse(await text(box.profilePath)) as unknown;

    expect(statuses).toEqual([200, 200, 200]);
    expect(profile).toEqual(box.profile);
    expect(box.profile).toMatchObject({
      instanceId: 'local-1',
      app: 'web',
      pm2: { home: box.pm2Home, ecosystem: join(box.dir, 'ecosystem.config.cjs') },
      upstream: `http://127.0.0.1:${box.appPort}`,
      healthUrl: `http://127.0.0.1:${box.nginxPort}/api/health`,
    });
    expect(box.profile.kernelLog === undefined).toBe(box.oomMode === 'cgroup');
  });

  it('runs the app under PM2 as next-server on 127.0.0.1:<appPort>', async () => {
    const app = await pm2App(box);
    const pid = await box.appPid();
    const socket = (await listeners()).find((line) => line.includes(`127.0.0.1:${box.appPort} `));

    expect(app?.status).toBe('online');
    expect(pid).toBe(app?.pid);
    expect(socket).toContain(`"next-server (v1",pid=${pid},`);
  });

  it('logs JSON access lines with a numeric status', async () => {
    await box.traffic(1, '/json-check');
    // nginx writes the access line after it answers.
    await eventually(async () => (await text(box.profile.nginx.accessLog)).includes('/json-check'), 5000);
    const lines = (await text(box.profile.nginx.accessLog)).trim().split('\n');
    const last = JSON.parse(lines.at(-1) ?? '') as Record<string, unknown>;

    expect(last).toMatchObject({ status: 200, request: 'GET /json-check HTTP/1.1', upstream_status: '200' });
    expect(last.upstream_addr).toBe(`127.0.0.1:${box.appPort}`);
    expect(typeof last.request_time).toBe('number');
  });

  it('keeps the fault switches off the proxy', async () => {
    const viaNginx = await box.request('/__demo/crash?code=1', { via: 'nginx', method: 'POST' });

    expect(viaNginx).toBe(404);
    expect(await box.request('/api/health', { via: 'app' })).toBe(200);
  });

  it('ends nginx, the PM2 daemon and the app by pid, and can be stopped twice', async () => {
    const other = await startSandbox({ bootMs: 300 });
    const pids = {
      nginx: await readPid(join(other.dir, 'nginx', 'nginx.pid')),
      daemon: await readPid(join(other.pm2Home, 'pm2.pid')),
      app: await other.appPid(),
    };

    await other.stop();
    await other.stop();

    expect(Object.values(pids).every((pid) => pid > 0)).toBe(true);
    expect(await isAlive(pids.nginx)).toBe(false);
    expect(await isAlive(pids.daemon)).toBe(false);
    expect(await isAlive(pids.app)).toBe(false);
    expect(existsSync(other.dir)).toBe(false);
  });

  it('throws NginxMissingError saying how to install nginx', async () => {
    const start = startSandbox({ nginxBin: '/nonexistent/sbin/nginx' });

    await expect(start).rejects.toBeInstanceOf(NginxMissingError);
    await expect(start).rejects.toThrow('apt-get install -y nginx');
  });
});

describe('sandbox with the combined log format and a 1 s proxy_read_timeout', { timeout: 90_000 }, () => {
  let box: Sandbox;
  beforeAll(async () => {
    box = await startSandbox({ bootMs: 300, logFormat: 'combined', proxyReadTimeoutSeconds: 1 });
  });
  afterAll(async () => {
    await box?.stop();
  });

  it('slowPages: pages time out through nginx (504) while /api/health stays fast', async () => {
    await box.faults.slowPages(1500);

    expect(await box.request('/', { via: 'nginx' })).toBe(504);
    expect(await box.request('/api/health', { via: 'nginx' })).toBe(200);
    expect(await text(box.profile.nginx.errorLog)).toContain('upstream timed out (110: Connection timed out) while reading response header');
    expect(await text(box.profile.nginx.accessLog)).toMatch(/"GET \/ HTTP\/1\.1" 504 \d+ "-" /);
  });
});

describe('sandbox faults', { timeout: 120_000 }, () => {
  let box: Sandbox | undefined;
  async function sandbox(options: SandboxOptions = {}): Promise<Sandbox> {
    box = await startSandbox({ bootMs: 300, ...options });
    return box;
  }
  afterEach(async () => {
    await box?.stop();
    box = undefined;
  });

  it('crash: the app exits with code 1 and stays down; nginx answers 502', async () => {
    const b = await sandbox();
    const pid = await b.appPid();

    await b.faults.crash();

    const app = await pm2App(b);
    expect(app?.status).not.toBe('online');
    expect(app?.exitCode).toBe(1);
    expect(await isAlive(pid)).toBe(false);
    expect(await b.request('/', { via: 'nginx' })).toBe(502);
    expect(await text(b.profile.nginx.errorLog)).toContain('connect() failed (111: Connection refused) while connecting to upstream');
    expect(await text(join(b.pm2Home, 'pm2.log'))).toMatch(/App \[web:0\] exited with code \[1\]/);
  });

  it('crash with crashOnBoot: a restarted app dies again right after boot', async () => {
    const b = await sandbox();
    await b.faults.crash({ crashOnBoot: true });

    const restarted = await b.pm2('restart', 'web');
    const exits = async (): Promise<number> => (await text(join(b.pm2Home, 'pm2.log'))).match(/App \[web:0\] exited with code \[1\]/g)?.length ?? 0;

    expect(restarted.code).toBe(0);
    expect(await eventually(async () => (await exits()) >= 2)).toBe(true);
    expect(await eventually(async () => (await pm2App(b))?.status !== 'online')).toBe(true);
    expect(await b.request('/', { via: 'nginx' })).toBe(502);
  });

  it('stop: PM2 reports the app stopped; nginx answers 502', async () => {
    const b = await sandbox();

    await b.faults.stop();

    expect((await pm2App(b))?.status).toBe('stopped');
    expect(await text(join(b.pm2Home, 'pm2.log'))).toContain('Stopping app:web id:0');
    expect(await b.request('/', { via: 'nginx' })).toBe(502);
  });

  it('remove: PM2 no longer knows the app; nginx answers 502', async () => {
    const b = await sandbox();
    const pid = await b.appPid();

    await b.faults.remove();

    expect(await pm2App(b)).toBeUndefined();
    expect(await isAlive(pid)).toBe(false);
    expect(await b.request('/', { via: 'nginx' })).toBe(502);
  });

  it('killDaemon: the daemon and the app are gone, and appPid() does not spawn a new daemon', async () => {
    const b = await sandbox();
    const daemon = await readPid(join(b.pm2Home, 'pm2.pid'));
    const pid = await b.appPid();

    await b.faults.killDaemon();

    expect(await isAlive(daemon)).toBe(false);
    expect(await isAlive(pid)).toBe(false);
    expect(await b.appPid()).toBe(0);
    expect(existsSync(join(b.pm2Home, 'pm2.pid'))).toBe(false);
    expect(await b.request('/', { via: 'nginx' })).toBe(502);
  });

  it('crashLoop: PM2 keeps restarting an app that dies at boot; nginx answers 502', async () => {
    const b = await sandbox();

    await b.faults.crashLoop();

    const exits = (await text(join(b.pm2Home, 'pm2.log'))).match(/App \[web:0\] exited with code/g)?.length ?? 0;
    expect(exits).toBeGreaterThanOrEqual(3);
    expect((await pm2App(b))?.restarts).toBeGreaterThanOrEqual(2);
    expect(await b.request('/', { via: 'nginx' })).toBe(502);
  });

  it('portMismatch: the app listens on another port; nginx still proxies to the old one (502)', async () => {
    const b = await sandbox();

    const port = await b.faults.portMismatch();

    const pid = await b.appPid();
    const sockets = await listeners();
    expect(port).not.toBe(b.appPort);
    expect(sockets.some((line) => line.includes(`127.0.0.1:${port} `) && line.includes(`pid=${pid},`))).toBe(true);
    expect(sockets.some((line) => line.includes(`:${b.appPort} `))).toBe(false);
    expect(await b.request('/api/health', { via: 'app' })).toBe(200);
    expect(await b.request('/', { via: 'nginx' })).toBe(502);
  });

  it('proxyMisconfig: the app listens on [::1] while nginx proxies to 127.0.0.1 (502)', async () => {
    const b = await sandbox();

    await b.faults.proxyMisconfig();

    const pid = await b.appPid();
    const sockets = await listeners();
    expect(sockets.some((line) => line.includes(`[::1]:${b.appPort} `) && line.includes(`pid=${pid},`))).toBe(true);
    expect(sockets.some((line) => line.includes(`127.0.0.1:${b.appPort} `))).toBe(false);
    expect(await b.request('/api/health', { via: 'app' })).toBe(200);
    expect(await b.request('/', { via: 'nginx' })).toBe(502);
  });

  it('hang: the process lives but nothing answers; nginx answers 504', async () => {
    const b = await sandbox({ proxyReadTimeoutSeconds: 1 });
    const pid = await b.appPid();

    await b.faults.hang();

    expect(await isAlive(pid)).toBe(true);
    expect((await pm2App(b))?.status).toBe('online');
    expect(await b.request('/api/health', { via: 'app', timeoutMs: 1000 })).toBe(0);
    expect(await b.request('/', { via: 'nginx' })).toBe(504);
  });

  it('oom: the kernel kills the app and logs it with the app pid; nginx answers 502', async () => {
    const b = await sandbox();
    const pid = await b.appPid();

    const mode = await b.faults.oom();

    const kernel = mode === 'cgroup' ? (await command('dmesg', ['--time-format', 'iso'])).stdout : await text(b.profile.kernelLog ?? '');
    const kills = kernel.split('\n').filter((line) => line.includes(`Killed process ${pid} (`));
    expect(mode).toBe(b.oomMode);
    expect(kills).toHaveLength(1);
    expect(kills[0]).toMatch(/(Memory cgroup out of memory|Out of memory): Killed process/);
    expect(await isAlive(pid)).toBe(false);
    expect((await pm2App(b))?.status).not.toBe('online');
    expect(await b.request('/', { via: 'nginx' })).toBe(502);
  });

  it('oom simulated: writes a kernel-format line to kern.log (named by the profile) and kills the app', async () => {
    const b = await sandbox({ oom: 'simulated' });
    const pid = await b.appPid();

    const mode = await b.faults.oom();

    expect(mode).toBe('simulated');
    expect(b.profile.kernelLog).toBe(join(b.dir, 'kern.log'));
    expect(await text(join(b.dir, 'kern.log'))).toMatch(
      new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d,\\d{6}\\+00:00 Out of memory: Killed process ${pid} \\(.+\\) total-vm:\\d+kB, anon-rss:\\d+kB`),
    );
    expect(await isAlive(pid)).toBe(false);
    expect(await b.request('/', { via: 'nginx' })).toBe(502);
  });
});

describe('sandbox on an Ubuntu-like host: PM2 under its own user, the Debian nginx layout', { timeout: 120_000 }, () => {
  let box: Sandbox;
  beforeAll(async () => {
    box = await startSandbox({ bootMs: 300, pm2AsUser: true, nginxLayout: 'debian', logFormat: 'combined' });
  });
  afterAll(async () => {
    await box?.stop();
  });

  it('makes a non-root system user that owns the PM2 daemon and the app', async () => {
    const entry = (await command('getent', ['passwd', box.pm2User ?? ''])).stdout.trim().split(':');
    const uid = await uidOfUser(box.pm2User ?? '');
    const daemon = await readPid(join(box.pm2Home, 'pm2.pid'));

    expect(box.pm2User).toMatch(/^[a-z_][a-z0-9_-]{0,31}$/);
    expect(uid).toBeGreaterThan(0);
    expect(entry[5]).toBe(join(box.dir, 'home'));
    expect(box.pm2Home).toBe(join(box.dir, 'home', '.pm2'));
    expect(await uidOf(daemon)).toBe(uid);
    expect(await uidOf(await box.appPid())).toBe(uid);
    expect((await pm2App(box))?.status).toBe('online');
  });

  it('writes a profile with pm2.user, nginx.conf only, and no upstream', async () => {
    const profile = JSON.parse(await text(box.profilePath)) as Record<string, unknown>;

    expect(profile).toEqual(box.profile);
    expect(box.profile.pm2).toEqual({ home: box.pm2Home, ecosystem: join(box.dir, 'ecosystem.config.cjs'), user: box.pm2User });
    expect(box.profile.nginx.config).toBe(join(box.dir, 'nginx', 'nginx.conf'));
    expect(profile).not.toHaveProperty('upstream');
  });

  it('saves PM2 process list (dump.pm2) with the app in it, as a deploy does', async () => {
    const dump = JSON.parse(await text(join(box.pm2Home, 'dump.pm2'))) as { name: string; pm_cwd: string }[];

    expect(dump.map((app) => app.name)).toEqual(['web']);
  });

  it('lays nginx out as Debian does: includes, the upstream block with keepalive 64, combined access log', async () => {
    const conf = join(box.dir, 'nginx', 'nginx.conf');
    const dump = await command('/usr/sbin/nginx', ['-T', '-p', `${join(box.dir, 'nginx')}/`, '-c', conf]);
    const main = await text(conf);

    expect(dump.code).toBe(0);
    expect(main).toContain(`include ${join(box.dir, 'nginx', 'sites-enabled')}/*;`);
    expect(main).toContain(`include ${join(box.dir, 'nginx', 'conf.d')}/*.conf;`);
    expect(main).not.toContain('proxy_pass');
    expect(dump.stdout).toContain(`# configuration file ${join(box.dir, 'nginx', 'sites-enabled', 'web')}:`);
    expect(dump.stdout).toMatch(new RegExp(`upstream web_backend \\{\\s+server 127\\.0\\.0\\.1:${box.appPort};\\s+keepalive 64;\\s+\\}`));
    expect(dump.stdout).toContain('proxy_pass http://web_backend;');
    expect(dump.stdout).toContain('proxy_set_header Connection "";');
    expect(dump.stdout).toMatch(/^\s*access_log \S+\/access\.log;$/m);
  });

  it('serves through the upstream block and logs combined lines', async () => {
    await box.traffic(1, '/combined-check');
    // nginx writes the access line after it answers.
    await eventually(async () => (await text(box.profile.nginx.accessLog)).includes('/combined-check'), 5000);

    expect(await text(box.profile.nginx.accessLog)).toMatch(/"GET \/combined-check HTTP\/1\.1" 200 \d+ "-" /);
  });

  it('crash: the app under the PM2 user exits with code 1; nginx answers 502', async () => {
    await box.faults.crash();

    expect((await pm2App(box))?.exitCode).toBe(1);
    expect(await box.request('/', { via: 'nginx' })).toBe(502);
    await box.repair();
    expect(await box.request('/', { via: 'nginx' })).toBe(200);
  });
});

describe('sandbox with the Debian layout and the JSON log format', { timeout: 90_000 }, () => {
  it('puts the reflex log_format in conf.d and the site logs JSON to its own file', async () => {
    const box = await startSandbox({ bootMs: 300, nginxLayout: 'debian', profileEcosystem: false });
    try {
      await box.traffic(1, '/json-check');
      // nginx writes the access line after it answers.
      const logged = async (): Promise<string | undefined> =>
        (await text(box.profile.nginx.accessLog)).split('\n').find((line) => line.includes('/json-check'));
      await eventually(async () => (await logged()) !== undefined, 5000);

      expect(await text(join(box.dir, 'nginx', 'conf.d', 'reflex.conf'))).toMatch(/^log_format reflex escape=json /);
      expect(box.profile.nginx.accessLog).toBe(join(box.dir, 'nginx', 'access.json.log'));
      expect(JSON.parse((await logged()) ?? '')).toMatchObject({ status: 200, request: 'GET /json-check HTTP/1.1' });
      expect(box.profile.pm2).toEqual({ home: box.pm2Home });
      expect(box.pm2User).toBeUndefined();
    } finally {
      await box.stop();
    }
  });
});

describe('sandbox stop with a PM2 user', { timeout: 90_000 }, () => {
  it('ends the daemon and the app by pid and deletes the user', async () => {
    const other = await startSandbox({ bootMs: 300, pm2AsUser: true });
    const user = other.pm2User ?? '';
    const pids = { daemon: await readPid(join(other.pm2Home, 'pm2.pid')), app: await other.appPid() };
    const before = await command('getent', ['passwd', user]);

    await other.stop();

    expect(before.code).toBe(0);
    expect(pids.daemon > 0 && pids.app > 0).toBe(true);
    expect(await isAlive(pids.daemon)).toBe(false);
    expect(await isAlive(pids.app)).toBe(false);
    expect((await command('getent', ['passwd', user])).code).toBe(2);
    expect(existsSync(other.dir)).toBe(false);
  });

  it('also ends what something else left running as the PM2 user in its PM2_HOME (a late daemon)', async () => {
    const other = await startSandbox({ bootMs: 300, pm2AsUser: true });
    const user = other.pm2User ?? '';
    // Stands in for a daemon spawned after stop() read PM2's pid file: same user, same PM2_HOME, in no pid file.
    const late = spawn('runuser', ['-u', user, '--', 'env', `PM2_HOME=${other.pm2Home}`, 'sleep', '300'], { detached: true, stdio: 'ignore' });
    late.unref();
    const sleeper = async (): Promise<number> => {
      const { stdout } = await command('ps', ['-o', 'pid=,comm=', '-u', user]);
      const line = stdout.split('\n').find((l) => l.trim().endsWith(' sleep'));
      return Number(line?.trim().split(/\s+/)[0]) || 0;
    };
    expect(await eventually(async () => (await sleeper()) > 0)).toBe(true);
    const pid = await sleeper();

    await other.stop();

    const survived = await isAlive(pid);
    if (survived) process.kill(pid, 'SIGKILL');
    expect(survived).toBe(false);
    expect((await command('getent', ['passwd', user])).code).toBe(2);
  });
});
