/** Loopback networking of the sandbox: free ports, whether an address can be bound, one HTTP request. */
import http from 'node:http';
import net from 'node:net';

/** A free TCP port on 127.0.0.1, found by binding port 0. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Whether this machine can listen on `host` (the IPv6 loopback may be missing). */
export function canListen(host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(0, host, () => server.close(() => resolve(true)));
  });
}

/** The HTTP status of one request on a fresh connection, 0 when no answer came within `timeoutMs`. */
export function httpStatus(target: { host: string; port: number; path: string; method: string; timeoutMs: number }): Promise<number> {
  const { host, port, path, method, timeoutMs } = target;
  return new Promise((resolve) => {
    const req = http.request({ host, port, path, method, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}
