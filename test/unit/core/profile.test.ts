import { describe, expect, it } from 'vitest';
import { parseProfile } from '../../../functions/core/profile.ts';

const base = {
  instanceId: 'local-1',
  app: 'web',
  pm2: { home: '/srv/.pm2', ecosystem: '/srv/ecosystem.config.js' },
  upstream: 'http://127.0.0.1:3000',
  healthUrl: 'http://127.0.0.1:8080/',
  nginx: { accessLog: '/var/log/nginx/access.log', errorLog: '/var/log/nginx/error.log', config: '/etc/nginx/nginx.conf' },
  kernelLog: '/var/log/kern.log',
};
const defaults = { pm2Home: '/root/.pm2' };

describe('parseProfile', () => {
  it('accepts the documented profile', () => {
    expect(parseProfile(structuredClone(base), defaults)).toEqual(base);
  });

  it('fills pm2.home from the defaults and keeps optional fields absent', () => {
    const { pm2: _pm2, kernelLog: _kernel, ...rest } = structuredClone(base);

    const profile = parseProfile(rest, defaults);

    expect(profile.pm2).toEqual({ home: '/root/.pm2' });
    expect(profile.kernelLog).toBeUndefined();
  });

  it.each([
    [{ app: 'web; rm -rf /' }, 'app: must be a PM2 app name'],
    [{ healthUrl: 'ftp://x' }, 'healthUrl: must be an http(s) URL'],
    [{ nginx: { accessLog: 'access.log', errorLog: '/e.log' } }, 'nginx.accessLog: must be an absolute path'],
    [{ pm2: { home: '/srv/.pm2', ecosystem: '../eco.js' } }, 'pm2.ecosystem: must be an absolute path'],
    [{ healthURL: 'http://127.0.0.1/' }, 'healthURL: unknown field'],
    [{ nginx: { accessLog: '/a', errorLog: '/e', conf: '/c' } }, 'nginx.conf: unknown field'],
    [{ policy: { maxRestartsPerHour: -1 } }, 'policy.maxRestartsPerHour: must be a whole number'],
    [{ instanceId: 42 }, 'instanceId: must be an instance id'],
  ])('rejects %j naming the field', (patch, message) => {
    expect(() => parseProfile({ ...structuredClone(base), ...patch }, defaults)).toThrow(message);
  });

  it('takes neither upstream nor nginx.config as required: the snapshot works them out from nginx -T', () => {
    const { upstream: _upstream, ...rest } = structuredClone(base);
    const bare = { ...rest, nginx: { accessLog: '/a.log', errorLog: '/e.log' } };

    const profile = parseProfile(bare, defaults);

    expect(profile.upstream).toBeUndefined();
    expect(profile.nginx).toEqual({ accessLog: '/a.log', errorLog: '/e.log' });
  });

  it("puts pm2.user's PM2 home in that user's home, not the caller's", () => {
    const profile = parseProfile({ ...structuredClone(base), pm2: { user: 'ubuntu' } }, { ...defaults, homeOf: (user) => (user === 'ubuntu' ? '/home/ubuntu' : undefined) });

    expect(profile.pm2).toEqual({ home: '/home/ubuntu/.pm2', user: 'ubuntu' });
  });

  it('names pm2.user when its home cannot be found', () => {
    const input = { ...structuredClone(base), pm2: { user: 'ghost' } };

    expect(() => parseProfile(input, { ...defaults, homeOf: () => undefined, userDatabase: '/etc/passwd' })).toThrow(
      'pm2.user: no user "ghost" in /etc/passwd; set "pm2.home" too',
    );
  });

  it('rejects a profile that is not an object', () => {
    expect(() => parseProfile([], defaults)).toThrow('profile: must be a JSON object');
  });
});
