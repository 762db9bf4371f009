import { describe, expect, it } from 'vitest';
import { parseProxyConfig, parseUpstreamUrl } from '../../../functions/core/evidence/nginx-config.ts';

describe('parseUpstreamUrl', () => {
  it.each([
    ['http://127.0.0.1:3000', { host: '127.0.0.1', port: 3000 }],
    ['http://localhost:3000/', { host: 'localhost', port: 3000 }],
    ['http://[::1]:3000/health', { host: '::1', port: 3000 }],
    ['http://app', { host: 'app', port: 80 }],
    ['https://example.com/x', { host: 'example.com', port: 443 }],
  ])('reads %s', (url, expected) => {
    expect(parseUpstreamUrl(url)).toEqual(expected);
  });

  it.each(['127.0.0.1:3000', 'ftp://x', 'http://', 'http://x:0', 'http://x:70000', 'http://$upstream'])('refuses %j', (url) => {
    expect(parseUpstreamUrl(url)).toBeUndefined();
  });
});

describe('parseProxyConfig', () => {
  it('reads a whole server file with an upstream block, ignoring comments', () => {
    // Prepare
    const text = `
# proxy_pass http://10.0.0.9:9999;
upstream app {
    server 127.0.0.1:3000 max_fails=0;   # the Next.js server
    keepalive 16;
}
server {
    listen 80;
    server_name example;
    location / {
        proxy_pass http://app;
        proxy_read_timeout 5s;
        proxy_http_version 1.1;
    }
}`;

    // Act
    const config = parseProxyConfig(text);

    // Assess
    expect(config).toEqual({
      upstreams: [{ host: '127.0.0.1', port: 3000 }],
      readTimeoutSeconds: 5,
      connectTimeoutSeconds: 60,
      keepalive: 16,
      lines: ['upstream app {', 'server 127.0.0.1:3000 max_fails=0;', 'keepalive 16;', 'proxy_pass http://app;', 'proxy_read_timeout 5s;'],
    });
  });

  it.each([
    ['proxy_pass http://127.0.0.1:3000;', { host: '127.0.0.1', port: 3000 }],
    ['proxy_pass http://localhost:3000/;', { host: 'localhost', port: 3000 }],
    ['proxy_pass http://[::1]:3000;', { host: '::1', port: 3000 }],
  ])('reads %s with the default timeouts', (text, upstream) => {
    expect(parseProxyConfig(text)).toMatchObject({ upstreams: [upstream], readTimeoutSeconds: 60, connectTimeoutSeconds: 60 });
  });

  it('reads the snapshot @@nginx-proxy lines, units and several servers', () => {
    const text = ['upstream web {', 'server [::1]:3000;', 'server localhost;', 'server unix:/run/web.sock;', '}', 'server {', 'proxy_pass http://web/;', 'proxy_read_timeout 2m;', 'proxy_connect_timeout 500ms;', '}', '}'].join('\n');

    const config = parseProxyConfig(text);

    expect(config?.upstreams).toEqual([
      { host: '::1', port: 3000 },
      { host: 'localhost', port: 80 },
    ]);
    expect(config?.readTimeoutSeconds).toBe(120);
    expect(config?.connectTimeoutSeconds).toBe(0.5);
  });

  it('keeps the first timeout and ignores unreadable values', () => {
    const config = parseProxyConfig('proxy_read_timeout soon;\nproxy_pass http://127.0.0.1:3000;\nproxy_read_timeout 1m30s;\nproxy_read_timeout 10s;');

    expect(config?.readTimeoutSeconds).toBe(90);
  });

  it('is undefined without proxy_pass', () => {
    expect(parseProxyConfig('server { listen 80; root /var/www; } # proxy_pass http://127.0.0.1:3000;')).toBeUndefined();
  });
});

describe('parseProxyConfig: keep-alive and header buffers', () => {
  it("reads the upstream block's keepalive and keepalive_timeout, not the clients' keepalive_timeout, and the buffers", () => {
    // Prepare: the snapshot's @@nginx-proxy lines
    const text = [
      'keepalive_timeout 75s;',
      'upstream app {',
      'server 127.0.0.1:3000;',
      'keepalive 64;',
      'keepalive_timeout 30s;',
      '}',
      'server {',
      'proxy_pass http://app;',
      'proxy_buffer_size 16k;',
      'proxy_buffers 8 16k;',
      '}',
    ].join('\n');

    // Act
    const config = parseProxyConfig(text);

    // Assess
    expect(config).toMatchObject({ keepalive: 64, keepaliveTimeoutSeconds: 30, proxyBufferSize: '16k', proxyBuffers: '8 16k' });
    expect(config?.lines).toEqual(expect.arrayContaining(['keepalive 64;', 'keepalive_timeout 30s;', 'proxy_buffer_size 16k;', 'proxy_buffers 8 16k;']));
    expect(config?.lines).not.toContain('keepalive_timeout 75s;');
  });

  it('leaves them out when the config does not set them', () => {
    // Act
    const config = parseProxyConfig('proxy_pass http://127.0.0.1:3000;');

    // Assess
    expect(config).not.toHaveProperty('keepalive');
    expect(config).not.toHaveProperty('keepaliveTimeoutSeconds');
    expect(config).not.toHaveProperty('proxyBufferSize');
  });
});
