/**
 * `reflex init`: its readers (dump.pm2 as PM2 7 writes it, `pm2 jlist`), its decisions on recorded findings (a
 * Debian nginx -T output), where it looks for PM2 homes, and its command line. The run on a real box is
 * test/e2e/init.test.ts.
 */
import { chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseNginxServers } from '../../../functions/core/evidence/nginx-config.ts';
import { findPm2Homes } from '../../../functions/cli/init.ts';
import { decideProfile, parseDumpApps, parseJlistApps, type BoxFindings, type Pm2Home } from '../../../functions/cli/init-profile.ts';
import type { Io } from '../../../functions/cli/io.ts';
import { main } from '../../../functions/cli/main.ts';

const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
/** `pm2 save` of PM2 7.0.4 for one app with `env: { PORT, SECRET_TOKEN }` (machine paths and variables replaced). */
const DUMP = fixture('dump.pm2.json');
const DEBIAN_PROXY = fixture('nginx-T-debian-proxy.txt');

const ubuntu: Pm2Home = {
  home: '/home/ubuntu/.pm2',
  user: 'ubuntu',
  owner: 'ubuntu',
  why: 'home of ubuntu in /etc/passwd',
  listedBy: 'pm2 dump of user ubuntu: /home/ubuntu/.pm2/dump.pm2',
  apps: [{ name: 'web', port: 3000 }],
  saved: ['web'],
};

function findings(patch: Partial<BoxFindings> = {}): BoxFindings {
  return {
    instanceId: 'web-1',
    instanceIdWhy: 'hostname',
    pm2: [structuredClone(ubuntu)],
    nginx: { config: '/etc/nginx/nginx.conf', configWhy: 'nginx -T: its main configuration file', servers: parseNginxServers(DEBIAN_PROXY) },
    kernelLogTried: '/var/log/kern.log',
    ...patch,
  };
}

function capture(): Io & { outs: string[]; errs: string[] } {
  const outs: string[] = [];
  const errs: string[] = [];
  return { outs, errs, out: (text) => outs.push(text), err: (text) => errs.push(text), color: false };
}

describe('parseDumpApps', () => {
  it("reads PM2 7's dump.pm2: the app's name and PORT, nothing else of its environment", () => {
    const apps = parseDumpApps(DUMP);

    expect(apps).toEqual([{ name: 'web', port: 3000 }]);
    expect(JSON.stringify(apps)).not.toContain('sk_live');
  });

  it('lists an app with several instances once, and refuses what is not an array', () => {
    const two = JSON.stringify([{ name: 'api', env: { PORT: '4000' } }, { name: 'api', env: { PORT: '4000' } }, { name: 'bad name!' }]);

    expect(parseDumpApps(two)).toEqual([{ name: 'api', port: 4000 }]);
    expect(parseDumpApps('{"apps":[]}')).toBeUndefined();
    expect(parseDumpApps('not json')).toBeUndefined();
  });
});

describe('parseJlistApps', () => {
  it("reads pm2 jlist after PM2's banner, PORT from the app's env", () => {
    const text = `>>>> In-memory PM2 is out-of-date, do:\n>>>> $ pm2 update\n[{"pid":12,"name":"web","pm2_env":{"status":"online","env":{"PORT":"3000","DATABASE_URL":"postgres://secret"}}},{"name":"worker","pm2_env":{"status":"online"}}]`;

    const apps = parseJlistApps(text);

    expect(apps).toEqual([{ name: 'web', port: 3000 }, { name: 'worker' }]);
    expect(JSON.stringify(apps)).not.toContain('secret');
  });

  it('gives undefined when there is no list', () => {
    expect(parseJlistApps('[PM2][ERROR] Daemon not launched')).toBeUndefined();
  });
});

describe('decideProfile', () => {
  it('writes the Ubuntu profile from a dump and nginx -T: no upstream, pm2.user, the logs in force', () => {
    const decision = decideProfile(findings({ kernelLog: '/var/log/kern.log' }), {});

    expect(decision.profile).toEqual({
      instanceId: 'web-1',
      app: 'web',
      pm2: { home: '/home/ubuntu/.pm2', user: 'ubuntu' },
      healthUrl: 'http://127.0.0.1:80/',
      nginx: { accessLog: '/var/log/nginx/access.log', errorLog: '/var/log/nginx/error.log', config: '/etc/nginx/nginx.conf' },
      kernelLog: '/var/log/kern.log',
    });
    expect(decision.fields).toContainEqual(['app', 'web', 'pm2 dump of user ubuntu: /home/ubuntu/.pm2/dump.pm2']);
    expect(decision.notes.join('\n')).toContain('upstream: not written: nginx proxies to http://127.0.0.1:3000');
  });

  it('writes upstream only when --upstream is given', () => {
    const decision = decideProfile(findings(), { upstream: 'http://127.0.0.1:3000' });

    expect(decision.profile.upstream).toBe('http://127.0.0.1:3000');
    expect(decision.fields).toContainEqual(['upstream', 'http://127.0.0.1:3000', '--upstream']);
  });

  it('leaves kernelLog out when the file is not readable, and says so', () => {
    const decision = decideProfile(findings(), {});

    expect(decision.profile).not.toHaveProperty('kernelLog');
    expect(decision.notes.join('\n')).toContain('kernelLog: not set: /var/log/kern.log is not readable');
  });

  it('stops and names the apps when there are several and no --app', () => {
    const found = findings({ pm2: [{ ...ubuntu, apps: [{ name: 'web', port: 3000 }, { name: 'worker' }] }] });

    expect(() => decideProfile(found, {})).toThrow('app: 2 PM2 apps found: web (user ubuntu, /home/ubuntu/.pm2); worker (user ubuntu, /home/ubuntu/.pm2); pass --app NAME');
  });

  it('picks the app given with --app, and names the ones found when it is not there', () => {
    const found = findings({ pm2: [{ ...ubuntu, apps: [{ name: 'web', port: 3000 }, { name: 'worker' }] }] });

    expect(decideProfile(found, { app: 'web' }).profile.app).toBe('web');
    expect(() => decideProfile(found, { app: 'api' })).toThrow('--app: no PM2 app "api" (found: web (user ubuntu, /home/ubuntu/.pm2); worker');
  });

  it('asks for --pm2-user when the same app name runs under two users, and --pm2-user picks one', () => {
    const other: Pm2Home = { ...ubuntu, home: '/home/deploy/.pm2', user: 'deploy', owner: 'deploy', apps: [{ name: 'web', port: 3000 }] };
    const found = findings({ pm2: [structuredClone(ubuntu), other] });

    expect(() => decideProfile(found, { app: 'web' })).toThrow('pass --pm2-user NAME');
    expect(decideProfile(found, { app: 'web', pm2User: 'deploy' }).profile.pm2).toEqual({ home: '/home/deploy/.pm2', user: 'deploy' });
  });

  it("writes no pm2.user for the caller's own PM2", () => {
    const mine: Pm2Home = { home: '/root/.pm2', owner: 'root', why: '~/.pm2 of root', apps: [{ name: 'web' }] };

    expect(decideProfile(findings({ pm2: [mine] }), {}).profile.pm2).toEqual({ home: '/root/.pm2' });
  });

  it('says to run pm2 save when the app is not in dump.pm2', () => {
    const found = findings({ pm2: [{ ...ubuntu, listedBy: 'pm2 jlist of user ubuntu, daemon pid 812', saved: [] }] });

    expect(decideProfile(found, {}).notes.join('\n')).toContain('run "pm2 save" as ubuntu');
  });

  it('fails naming pm2 when no app is found', () => {
    expect(() => decideProfile(findings({ pm2: [{ ...ubuntu, apps: [] }] }), {})).toThrow('pm2: no PM2 app found (looked in /home/ubuntu/.pm2)');
  });

  it("fails naming nginx when no server proxies (Debian's default site)", () => {
    const found = findings({ nginx: { configWhy: 'nginx -T', servers: parseNginxServers(fixture('nginx-T-debian-default.txt')) } });

    expect(() => decideProfile(found, {})).toThrow('nginx: nginx -T (default configuration) shows no server with proxy_pass; pass --nginx-config FILE');
  });

  it("takes the server that proxies to the app's PORT, and its plain-HTTP IPv4 listen for healthUrl", () => {
    const text = `error_log /var/log/nginx/error.log;
http { access_log /var/log/nginx/access.log;
  server { listen 8081; location / { proxy_pass http://127.0.0.1:4000; } }
  server { listen [::1]:8443 ssl; listen 10.0.0.5:8080; access_log /var/log/nginx/web.log; location / { proxy_pass http://127.0.0.1:3000; } } }`;
    const found = findings({ nginx: { configWhy: 'nginx -T', servers: parseNginxServers(text) } });

    const decision = decideProfile(found, {});

    expect(decision.profile).toMatchObject({ healthUrl: 'http://10.0.0.5:8080/', nginx: { accessLog: '/var/log/nginx/web.log' } });
  });
});

describe('findPm2Homes', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reflex-init-'));
    for (const user of ['ubuntu', 'deploy']) await mkdir(join(dir, user), { recursive: true });
    await mkdir(join(dir, 'ubuntu', '.pm2'));
    await writeFile(join(dir, 'ubuntu', '.pm2', 'dump.pm2'), DUMP);
    // A stale pid file: its daemon is gone, so init must read the dump and never call pm2 (it would spawn one).
    await writeFile(join(dir, 'ubuntu', '.pm2', 'pm2.pid'), '999999999');
    await writeFile(
      join(dir, 'passwd'),
      `root:x:0:0:root:/root:/bin/bash\nubuntu:x:1000:1000::${dir}/ubuntu:/bin/bash\ndeploy:x:1001:1001::${dir}/deploy:/bin/bash\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n`,
    );
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("finds the users whose home holds a .pm2 and lists a stopped daemon's apps from dump.pm2", async () => {
    const homes = await findPm2Homes({ env: { PM2_HOME: join(dir, 'none'), PATH: '' }, passwdFile: join(dir, 'passwd'), pm2User: 'ubuntu' });

    expect(homes).toEqual([
      {
        home: join(dir, 'ubuntu', '.pm2'),
        user: 'ubuntu',
        owner: 'ubuntu',
        why: `home of ubuntu in ${join(dir, 'passwd')}`,
        listedBy: `pm2 dump of user ubuntu: ${join(dir, 'ubuntu', '.pm2', 'dump.pm2')}`,
        apps: [{ name: 'web', port: 3000 }],
        saved: ['web'],
      },
    ]);
  });

  it("takes a $PM2_HOME that another user owns as that user's PM2 (pm2.user)", async () => {
    const shared = join(dir, 'srv-pm2');
    await mkdir(shared);
    await chown(shared, 1001, 1001);

    const homes = await findPm2Homes({ env: { PM2_HOME: shared, PATH: '' }, passwdFile: join(dir, 'passwd'), pm2User: 'deploy' });

    expect(homes).toEqual([{ home: shared, user: 'deploy', owner: 'deploy', why: '$PM2_HOME', apps: [] }]);
  });

  it('names --pm2-user when the user is unknown or has no PM2 home', async () => {
    const options = { env: { PATH: '' }, passwdFile: join(dir, 'passwd') };

    await expect(findPm2Homes({ ...options, pm2User: 'ghost' })).rejects.toThrow(`--pm2-user: no user "ghost" in ${join(dir, 'passwd')}`);
    await expect(findPm2Homes({ ...options, pm2User: 'deploy' })).rejects.toThrow(`--pm2-user: deploy has no PM2 home (${join(dir, 'deploy', '.pm2')} is not a directory)`);
  });
});

describe('reflex init (command line)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reflex-init-cli-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('needs --local, exit 2 with one line', async () => {
    const io = capture();

    expect(await main(['init'], io)).toBe(2);
    expect(io.errs).toEqual(['reflex: init: --local is required (init writes a host profile for local mode)']);
  });

  it('refuses to overwrite --out without --force, before looking at anything', async () => {
    const out = join(dir, 'host.json');
    await writeFile(out, '{"mine":true}\n');
    const io = capture();

    expect(await main(['init', '--local', '--out', out], io)).toBe(2);
    expect(io.errs).toEqual([`reflex: --out: ${out} exists; pass --force to overwrite it`]);
    expect(await readFile(out, 'utf8')).toBe('{"mine":true}\n');
  });

  it.each([
    [['init', '--local', '--app', 'web; rm -rf /'], 'reflex: --app: must be a PM2 app name, got "web; rm -rf /"'],
    [['init', '--local', '--pm2-user', 'Root!'], 'reflex: --pm2-user: must be a Unix user name, got "Root!"'],
    [['init', '--local', '--nginx-config', '/no/such/nginx.conf', '--out', '/no/such/dir/host.json'], 'reflex: --nginx-config: cannot read /no/such/nginx.conf'],
  ])('refuses %j naming the option', async (args, message) => {
    const io = capture();

    expect(await main(args, io)).toBe(2);
    expect(io.errs).toEqual([message]);
  });
});
