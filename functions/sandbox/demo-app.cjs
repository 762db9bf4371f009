'use strict';
/**
 * A stand-in for a Next.js standalone server (`node server.js`), with fault switches for the sandbox.
 * Plain Node, no dependencies, so PM2 can run it anywhere.
 *
 * Environment: PORT (default 3000), HOSTNAME (default 0.0.0.0; `::1` or `localhost` bind there only, as Next.js
 * does), KEEP_ALIVE_TIMEOUT (ms, as Next.js reads it; default Node's 5000), BOOT_MS (simulated boot work before
 * listening, default 1000), DEMO_CRASH_MARKER (when that file exists at boot, the process dies ~200 ms after start: a
 * crash loop under PM2's autorestart).
 *
 * GET /login sets a 16 KiB session cookie, more than nginx's default proxy_buffer_size: a 502 through nginx.
 *
 * Fault switches, on the app's own port only (the sandbox's nginx refuses /__demo/):
 *   POST /__demo/slow?ms=N     every page except /api/health now takes N ms
 *   POST /__demo/hang          answers, then blocks the event loop forever without burning CPU
 *   POST /__demo/leak          answers, then allocates memory quickly until the kernel kills it
 *   POST /__demo/leak-heap     answers, then allocates JS objects until V8's heap is full (--max-old-space-size)
 *   POST /__demo/busy?ms=N     keeps the event loop busy for N ms (a CPU-heavy render), then answers
 *   POST /__demo/crash?code=1  answers, then dies like an unhandled exception, with that exit code
 */
const fs = require('node:fs');
const http = require('node:http');

// Next.js renames its process; ss and ps show `next-server (v…)`.
process.title = 'next-server (v15.5.0)';

const port = Number(process.env.PORT || 3000);
const hostname = process.env.HOSTNAME || '0.0.0.0';
const bootMs = Number(process.env.BOOT_MS || 1000);
const crashMarker = process.env.DEMO_CRASH_MARKER;

let slowMs = 0;
const leaked = [];
const heapLeak = [];

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

/** Runs `after` once the answer has been flushed to the client. */
function answerThen(res, body, after) {
  res.on('finish', () => setTimeout(after, 20));
  send(res, 200, 'application/json', JSON.stringify(body));
}

function control(url, res) {
  switch (url.pathname) {
    case '/__demo/slow':
      slowMs = Math.max(0, Number(url.searchParams.get('ms') || 0));
      return send(res, 200, 'application/json', JSON.stringify({ slowMs }));
    case '/__demo/hang':
      return answerThen(res, { hang: true }, () => {
        // Atomics.wait sleeps in the kernel: the event loop is blocked, the CPU stays idle.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
      });
    case '/__demo/leak':
      return answerThen(res, { leak: true }, () => {
        // Filled buffers touch every page, so the memory is really resident (not just reserved). The sandbox runs
        // this inside a 64 MiB memory cgroup; the 2 GiB cap only protects a machine where someone calls it bare.
        const timer = setInterval(() => {
          if (leaked.length >= 128) return clearInterval(timer);
          leaked.push(Buffer.alloc(16 * 1024 * 1024, 1));
        }, 5);
      });
    case '/__demo/leak-heap':
      return answerThen(res, { leakHeap: true }, () => {
        // Objects live on V8's heap (Buffers do not); 20 M of them (about 1 GiB) is the cap without a heap limit.
        const timer = setInterval(() => {
          if (heapLeak.length >= 20_000_000) return clearInterval(timer);
          for (let i = 0; i < 100_000; i++) heapLeak.push({ id: heapLeak.length, at: Date.now(), tag: `leak-${i}` });
        }, 1);
      });
    case '/__demo/busy': {
      const until = Date.now() + Math.max(0, Number(url.searchParams.get('ms') || 0));
      while (Date.now() < until);
      return send(res, 200, 'application/json', JSON.stringify({ busy: true }));
    }
    case '/__demo/crash': {
      const code = Number(url.searchParams.get('code') || 1);
      return answerThen(res, { crash: code }, () => {
        console.error(new Error(`demo crash requested (exit code ${code})`).stack);
        process.exit(code);
      });
    }
    default:
      return send(res, 404, 'application/json', JSON.stringify({ error: 'unknown control' }));
  }
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url || '/', 'http://demo.local');
  if (url.pathname.startsWith('/__demo/')) {
    if (req.method !== 'POST') return send(res, 405, 'application/json', JSON.stringify({ error: 'POST only' }));
    return control(url, res);
  }
  if (url.pathname === '/login') {
    res.setHeader('set-cookie', `session=${'x'.repeat(16 * 1024)}; Path=/; HttpOnly; SameSite=Lax`);
    return send(res, 200, 'text/html; charset=utf-8', '<!doctype html><title>login</title><h1>Logged in</h1>');
  }
  if (url.pathname === '/api/health') {
    return send(res, 200, 'application/json', JSON.stringify({ status: 'ok', pid: process.pid }));
  }
  const page = () =>
    send(res, 200, 'text/html; charset=utf-8', `<!doctype html><title>demo</title><h1>Demo app</h1><p>${url.pathname}</p>`);
  if (slowMs > 0) setTimeout(page, slowMs);
  else page();
});

const keepAliveTimeout = Number(process.env.KEEP_ALIVE_TIMEOUT);
if (Number.isInteger(keepAliveTimeout) && keepAliveTimeout >= 0) server.keepAliveTimeout = keepAliveTimeout;

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  // Idle keep-alive sockets can hold close() open; do not make PM2 wait for its kill timeout.
  setTimeout(() => process.exit(0), 500).unref();
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);

if (crashMarker && fs.existsSync(crashMarker)) {
  setTimeout(() => {
    throw new Error(`demo boot failure: crash marker ${crashMarker} is present`);
  }, 200);
}

setTimeout(() => {
  server.listen(port, hostname, () => {
    console.log(`ready on http://${hostname.includes(':') ? `[${hostname}]` : hostname}:${port}`);
  });
}, bootMs);
