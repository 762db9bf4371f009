/**
 * The `nginx -T` readers `reflex init` uses, on real output of Debian's nginx 1.22: the package's own configuration
 * (nginx.conf + sites-enabled/default), and the same layout with an app site (an `upstream` block with
 * `keepalive 64`). The second was recorded from a copy of /etc/nginx in a temporary directory, its path then
 * written back as /etc/nginx.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nginxConfigFiles, parseNginxServers } from '../../../functions/core/evidence/nginx-config.ts';

const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const DEBIAN_DEFAULT = fixture('nginx-T-debian-default.txt');
const DEBIAN_PROXY = fixture('nginx-T-debian-proxy.txt');

describe('parseNginxServers', () => {
  it("reads Debian's default site: the http-level logs, listening on port 80, proxying nothing", () => {
    const servers = parseNginxServers(DEBIAN_DEFAULT);

    expect(servers).toEqual([
      {
        listens: [
          { host: '0.0.0.0', port: 80, ssl: false },
          { host: '::', port: 80, ssl: false },
        ],
        upstreams: [],
        accessLog: '/var/log/nginx/access.log',
        errorLog: '/var/log/nginx/error.log',
      },
    ]);
  });

  it('finds the app site in sites-enabled, its upstream block, and the logs in force where it proxies', () => {
    const servers = parseNginxServers(DEBIAN_PROXY);

    const proxying = servers.filter((server) => server.upstreams.length > 0);
    expect(servers).toHaveLength(2);
    expect(proxying).toEqual([
      {
        listens: [
          { host: '0.0.0.0', port: 80, ssl: false },
          { host: '::', port: 80, ssl: false },
        ],
        upstreams: [{ host: '127.0.0.1', port: 3000 }],
        // /_next/static/ proxies with access_log off: the location `/` decides.
        accessLog: '/var/log/nginx/access.log',
        errorLog: '/var/log/nginx/error.log',
      },
    ]);
  });

  it("takes a server's and a location's own logs over http's, and the first non-off one", () => {
    const text = `
error_log /var/log/nginx/main-error.log warn;
http {
  access_log /var/log/nginx/access.log combined;
  server {
    listen 127.0.0.1:8080;
    access_log syslog:server=unix:/dev/log;
    access_log /srv/web/access.json reflex buffer=32k;
    error_log /srv/web/error.log;
    location /static/ { proxy_pass http://127.0.0.1:3000; access_log off; }
    location / { if ($x) { proxy_pass http://127.0.0.1:3000; } }
  }
}`;

    expect(parseNginxServers(text)).toEqual([
      {
        listens: [{ host: '127.0.0.1', port: 8080, ssl: false }],
        upstreams: [{ host: '127.0.0.1', port: 3000 }],
        accessLog: '/srv/web/access.json',
        errorLog: '/srv/web/error.log',
      },
    ]);
  });

  it('falls back to the main-level error_log, and has no access log when http turns it off', () => {
    const text = `error_log /var/log/nginx/error.log;\nhttp { access_log off; server { listen 443 ssl; location / { proxy_pass http://[::1]:3000; } } }`;

    expect(parseNginxServers(text)).toEqual([
      { listens: [{ host: '0.0.0.0', port: 443, ssl: true }], upstreams: [{ host: '::1', port: 3000 }], errorLog: '/var/log/nginx/error.log' },
    ]);
  });

  it('has no access log when the only proxying location turns it off', () => {
    const text = `http { access_log /var/log/nginx/access.log; server { listen 80; location / { access_log off; proxy_pass http://127.0.0.1:3000; } } }`;

    expect(parseNginxServers(text)[0]?.accessLog).toBeUndefined();
  });

  it('leaves out stream servers and reads the default listen, localhost and unix sockets', () => {
    const text = `stream { server { listen 9000; proxy_pass 127.0.0.1:9001; } }
http { server { location / { proxy_pass http://127.0.0.1:3000; } } server { listen localhost:8081; listen unix:/run/x.sock; } }`;

    const servers = parseNginxServers(text);

    expect(servers.map((server) => server.listens)).toEqual([[{ host: '0.0.0.0', port: 80, ssl: false }], [{ host: 'localhost', port: 8081, ssl: false }]]);
  });
});

describe('nginxConfigFiles', () => {
  it('lists the files nginx -T printed, the main configuration first', () => {
    expect(nginxConfigFiles(DEBIAN_PROXY)).toEqual([
      '/etc/nginx/nginx.conf',
      '/etc/nginx/mime.types',
      '/etc/nginx/sites-enabled/default',
      '/etc/nginx/sites-enabled/web',
      '/etc/nginx/proxy_params',
    ]);
  });
});
