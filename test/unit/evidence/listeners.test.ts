import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseListeners } from '../../../functions/core/evidence/listeners.ts';

/** Real `ss -tlnpH` output on this machine, as root and as `nobody` (no users part for other users' sockets). */
const fixture = (name: string): string[] => readFileSync(new URL(`../../fixtures/logs/${name}`, import.meta.url), 'utf8').split('\n');

describe('parseListeners', () => {
  it('reads real root output: addresses, ports, process names with spaces, several users', () => {
    // Prepare
    const lines = [...fixture('ss-tlnpH.txt'), 'State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process', 'garbage'];

    // Act
    const parsed = parseListeners(lines);

    // Assess
    expect(parsed.skipped).toBe(2);
    expect(parsed.items).toEqual([
      { address: '0.0.0.0', port: 2024, pids: [] },
      { address: '127.0.0.1', port: 56645, process: 'nginx', pids: [8043, 8041] },
      { address: '127.0.0.1', port: 39499, process: 'next-server (v1', pids: [7643] },
      { address: '127.0.0.1', port: 42603, process: 'node', pids: [8032] },
      { address: '127.0.0.1', port: 60429, process: 'node', pids: [8032] },
      { address: '::1', port: 40967, process: 'node', pids: [8032] },
    ]);
  });

  it('reads non-root output without a users part', () => {
    const parsed = parseListeners(fixture('ss-tlnpH-nonroot.txt'));

    expect(parsed.skipped).toBe(0);
    expect(parsed.items.at(-1)).toEqual({ address: '127.0.0.1', port: 44455, pids: [] });
  });

  it('reads wildcard and IPv6 addresses', () => {
    const parsed = parseListeners([
      'LISTEN 0      511          *:80          *:*    users:(("nginx",pid=900,fd=7))',
      'LISTEN 0      128       [::]:22       [::]:*    users:(("sshd",pid=512,fd=4))',
      'LISTEN 0      4096 127.0.0.53%lo:53   0.0.0.0:*',
      'LISTEN 0      511    0.0.0.0:8080 0.0.0.0:* users:(("node",pid=1,fd=3))',
      'LISTEN 0      511    127.0.0.1:99999 0.0.0.0:*',
      'UNCONN 0      0      127.0.0.1:323 0.0.0.0:*',
    ]);

    expect(parsed.items.map((listener) => [listener.address, listener.port, listener.process])).toEqual([
      ['*', 80, 'nginx'],
      ['::', 22, 'sshd'],
      ['127.0.0.53', 53, undefined],
      ['0.0.0.0', 8080, 'node'],
    ]);
    expect(parsed.skipped).toBe(2);
  });
});
