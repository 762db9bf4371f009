/**
 * loadProfile on the hosts users really have: Debian/Ubuntu's nginx layout (nginx.conf includes sites-enabled/*),
 * no `upstream` in the profile, PM2 under its own user.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadProfile } from '../../../functions/cli/profile-file.ts';

let dir: string;

/** A Debian-layout nginx config: the proxy_pass lives in sites-enabled/web, not in nginx.conf. */
async function debianNginx(): Promise<string> {
  await mkdir(join(dir, 'nginx', 'sites-enabled'), { recursive: true });
  const conf = join(dir, 'nginx', 'nginx.conf');
  await writeFile(
    conf,
    `user www-data;\nerror_log ${dir}/error.log;\nevents { worker_connections 768; }\nhttp {\n  access_log ${dir}/access.log;\n  include ${dir}/nginx/sites-enabled/*;\n}\n`,
  );
  await writeFile(
    join(dir, 'nginx', 'sites-enabled', 'web'),
    'upstream web { server 127.0.0.1:3000; keepalive 64; }\nserver { listen 80; location / { proxy_pass http://web; } }\n',
  );
  return conf;
}

async function profileFile(profile: object): Promise<string> {
  const path = join(dir, 'host.json');
  await writeFile(path, JSON.stringify(profile));
  return path;
}

function baseProfile(config: string): Record<string, unknown> {
  return {
    instanceId: 'local-1',
    app: 'web',
    healthUrl: 'http://127.0.0.1:80/',
    nginx: { accessLog: join(dir, 'access.log'), errorLog: join(dir, 'error.log'), config },
  };
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'reflex-profile-'));
  await writeFile(join(dir, 'access.log'), '');
  await writeFile(join(dir, 'error.log'), '');
  await writeFile(join(dir, 'passwd'), 'root:x:0:0:root:/root:/bin/bash\nubuntu:x:1000:1000:Ubuntu:/home/ubuntu:/bin/bash\n');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadProfile', () => {
  it('accepts the Debian layout without an upstream: it never reads the nginx config', async () => {
    const config = await debianNginx();
    const path = await profileFile(baseProfile(config));

    const profile = await loadProfile(path, { PM2_HOME: '/srv/.pm2' });

    expect(profile.upstream).toBeUndefined();
    expect(profile.nginx.config).toBe(config);
    expect(profile.pm2.home).toBe('/srv/.pm2');
  });

  it('accepts a profile with neither upstream nor nginx.config (the snapshot runs nginx -T)', async () => {
    const { nginx: _nginx, ...rest } = baseProfile('/unused');
    const path = await profileFile({ ...rest, nginx: { accessLog: join(dir, 'access.log'), errorLog: join(dir, 'error.log') } });

    const profile = await loadProfile(path, {});

    expect(profile.upstream).toBeUndefined();
    expect(profile.nginx.config).toBeUndefined();
  });

  it("defaults pm2.home to pm2.user's own ~/.pm2, not the caller's", async () => {
    const path = await profileFile({ ...baseProfile(await debianNginx()), pm2: { user: 'ubuntu' } });

    const profile = await loadProfile(path, { PM2_HOME: '/root/.pm2' }, { passwdFile: join(dir, 'passwd') });

    expect(profile.pm2).toEqual({ home: '/home/ubuntu/.pm2', user: 'ubuntu' });
  });

  it('names pm2.user when the user does not exist', async () => {
    const path = await profileFile({ ...baseProfile(await debianNginx()), pm2: { user: 'nobody-here' } });

    await expect(loadProfile(path, {}, { passwdFile: join(dir, 'passwd') })).rejects.toThrow(
      `pm2.user: no user "nobody-here" in ${join(dir, 'passwd')}`,
    );
  });

  it('keeps an explicit pm2.home for pm2.user', async () => {
    const path = await profileFile({ ...baseProfile(await debianNginx()), pm2: { user: 'ubuntu', home: '/srv/pm2' } });

    const profile = await loadProfile(path, {}, { passwdFile: join(dir, 'passwd') });

    expect(profile.pm2).toEqual({ home: '/srv/pm2', user: 'ubuntu' });
  });

  it('names a file it cannot read', async () => {
    const path = await profileFile(baseProfile(join(dir, 'missing.conf')));

    await expect(loadProfile(path, {})).rejects.toThrow(`nginx.config: cannot read ${join(dir, 'missing.conf')}`);
  });
});
