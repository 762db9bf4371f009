/**
 * The sandbox's public contract: its options, and what a started sandbox offers the demo, the bench and the
 * end-to-end tests. The implementation is in local-sandbox.ts; sandbox.ts is the entry that starts one.
 */
import type { HostProfile } from '../core/profile.ts';
import type { CommandResult } from './processes.ts';

/**
 * Core's host profile as the sandbox writes it to `host.json`: every path absolute, `pm2.home` set, and
 * `nginx.config` always named (the sandbox runs nginx on a configuration of its own).
 */
export type SandboxProfile = HostProfile & { readonly nginx: { readonly config: string } };

export interface SandboxOptions {
  /** Directory to build the sandbox in (kept on stop). Default: a fresh temp dir, removed on stop. */
  readonly dir?: string;
  /** nginx access log format. @default 'json' */
  readonly logFormat?: 'json' | 'combined';
  /** nginx `proxy_read_timeout`, seconds. @default 2 */
  readonly proxyReadTimeoutSeconds?: number;
  /** Simulated boot time of the app before it listens. @default 1000 */
  readonly bootMs?: number;
  /** PM2 `autorestart`. @default false: a crash stays down, as it does once PM2 has used up `max_restarts`. */
  readonly autorestart?: boolean;
  /**
   * Extra environment for the app (e.g. a fake secret, to prove that snapshots never carry it, or Next.js's
   * `KEEP_ALIVE_TIMEOUT`, in milliseconds).
   */
  readonly appEnv?: Readonly<Record<string, string>>;
  /** PM2 `node_args`, e.g. `['--max-old-space-size=64']` for `heapExhaustion()`. @default none */
  readonly nodeArgs?: readonly string[];
  /** `auto`: a real kernel OOM kill when a memory cgroup is writable, else simulated. @default 'auto' */
  readonly oom?: 'auto' | 'simulated';
  /** Keep the directory after `stop()` (for a look at the logs). @default false */
  readonly keep?: boolean;
  /** The nginx binary. @default the first `nginx` on PATH, /usr/sbin, /usr/local/sbin or /usr/local/nginx/sbin */
  readonly nginxBin?: string;
  /**
   * Run PM2 (daemon and app) as a fresh non-root system user made for this sandbox (home `<dir>/home`, PM2_HOME
   * `<dir>/home/.pm2`), deleted on stop. The sandbox then runs `pm2 save` after its first start, as a real deploy
   * does with `pm2 save` + `pm2 startup`. @default false: the current user (root), PM2_HOME `<dir>/pm2`
   */
  readonly pm2AsUser?: boolean;
  /**
   * `single`: one nginx.conf. `debian`: the Debian/Ubuntu layout, `nginx.conf` including `conf.d/*.conf` and
   * `sites-enabled/*`, the access log declared in the http block, the site in `sites-available/web` (symlinked
   * into `sites-enabled/`) behind `upstream web_backend { … keepalive 64; }`; the profile then has no `upstream`.
   * @default 'single'
   */
  readonly nginxLayout?: 'single' | 'debian';
  /** The app server PM2 runs: the demo app, or another server with the same fault switches. @default the demo app */
  readonly app?: { readonly script: string; readonly cwd: string };
  /** Name the ecosystem file in the profile (the file is written either way, for `repair()`). @default true */
  readonly profileEcosystem?: boolean;
}

export interface RequestOptions {
  /** `nginx`: through the proxy; `app`: straight to where the app listens now. */
  readonly via: 'nginx' | 'app';
  readonly method?: string;
  /** @default proxy_read_timeout + 3 s */
  readonly timeoutMs?: number;
}

/** Each fault returns once it is in place and requests through nginx have produced gateway errors in the logs. */
export interface SandboxFaults {
  /**
   * The app exits with code 1 (like an unhandled exception); PM2 leaves it down. With `crashOnBoot`, the crash
   * marker is in place too, so that every later start dies again ~200 ms after boot.
   */
  crash(options?: { readonly crashOnBoot?: boolean }): Promise<void>;
  /** `pm2 stop web`. */
  stop(): Promise<void>;
  /** `pm2 delete web`: PM2 no longer knows the app. */
  remove(): Promise<void>;
  /** `pm2 kill`: the daemon and the app are gone. */
  killDaemon(): Promise<void>;
  /** The app dies ~200 ms after every start while PM2 restarts it (autorestart on) until it is errored. */
  crashLoop(): Promise<void>;
  /** The app restarted on another free port (`--update-env`); nginx still proxies to the old one. Returns the new port. */
  portMismatch(): Promise<number>;
  /**
   * The app restarted with HOSTNAME=`host` (as a login shell on RHEL exports it): it listens on host:appPort while
   * nginx proxies to 127.0.0.1. @default '::1'
   */
  proxyMisconfig(host?: string): Promise<void>;
  /** Every page but /api/health takes `ms` (more than proxy_read_timeout: 504s). */
  slowPages(ms: number): Promise<void>;
  /** The app's event loop blocks forever: the process lives, nothing answers (504s). */
  hang(): Promise<void>;
  /** A kernel OOM kill of the app: real through a memory cgroup, or simulated in `<dir>/kern.log`. */
  oom(): Promise<'cgroup' | 'simulated'>;
  /**
   * A stray process, not under PM2 (started by the sandbox, stopped by pid in `stop()` and `repair()`), takes the
   * app's port while the app is stopped; then `pm2 restart web` fails with EADDRINUSE. The stray holds the port
   * without speaking HTTP (it closes every connection), so nginx answers 502. Returns the stray's pid.
   */
  orphanHoldsPort(): Promise<number>;
  /**
   * A deploy that skipped `npm ci`: a copy of the app's directory without node_modules, the ecosystem file pointed
   * at it, `pm2 delete` + `pm2 start`. server.js dies with `Cannot find module 'next'`. Needs `options.app`.
   */
  deployWithoutModules(): Promise<void>;
  /**
   * A deploy that skipped `next build`: a copy of the app's directory without `.next` (node_modules linked), the
   * ecosystem file pointed at it, `pm2 delete` + `pm2 start`. Next.js dies: no production build. Needs `options.app`.
   */
  deployWithoutBuild(): Promise<void>;
  /** The app allocates JS objects until V8's heap is full and it aborts; give it `nodeArgs: ['--max-old-space-size=64']`. */
  heapExhaustion(): Promise<void>;
  /** Requests to /login, whose 16 KiB session cookie overflows nginx's `proxy_buffer_size`: a 502 on that page only. */
  headerTooBig(): Promise<void>;
  /**
   * The keep-alive race of nginx's upstream `keepalive` against Node's idle timeout (`KEEP_ALIVE_TIMEOUT` + 1 s),
   * for real: POSTs through nginx, each on a connection nginx kept alive, sent just after Node's idle timer is due
   * while a CPU-heavy request keeps the app's event loop busy (150 ms), so that Node closes the connection with the
   * request unread. nginx logs `recv() failed (104: Connection reset by peer)`. Needs the Debian layout (`keepalive`).
   */
  keepAliveRace(): Promise<void>;
}

export interface Sandbox {
  readonly dir: string;
  /** `host.json`: the profile below, as `reflex respond --local` reads it. */
  readonly profilePath: string;
  readonly profile: SandboxProfile;
  readonly nginxPort: number;
  /** The port nginx proxies to. */
  readonly appPort: number;
  readonly pm2Home: string;
  /** The PM2 user's name, when `pm2AsUser`. */
  readonly pm2User?: string;
  /** How `oom()` will kill the app. */
  readonly oomMode: 'cgroup' | 'simulated';
  /** Environment for pm2 and the host scripts: the repo's node_modules/.bin first on PATH, and PM2_HOME. */
  readonly env: Readonly<Record<string, string>>;
  /**
   * Runs the repo's pm2 with these arguments in the sandbox's PM2_HOME, as the PM2 user when there is one.
   * Note: pm2 spawns a daemon if none runs.
   */
  pm2(...args: string[]): Promise<CommandResult>;
  /** The app's pid as PM2 reports it; 0 when it is down or the daemon is not running (never spawns one). */
  appPid(): Promise<number>;
  /** The HTTP status of one request, 0 when no answer came in time. */
  request(path: string, options: RequestOptions): Promise<number>;
  /** `count` sequential requests through nginx; their statuses. */
  traffic(count: number, path?: string): Promise<number[]>;
  /** Resolves after 3 consecutive 200s from /api/health through nginx; throws SandboxError at the deadline. */
  waitHealthy(timeoutMs: number): Promise<void>;
  readonly faults: SandboxFaults;
  /**
   * What a human does after a fault a restart must not fix: redeploys the app as the ecosystem file describes it
   * (crash marker removed, `pm2 delete` + `pm2 start`), then waits until it serves through nginx.
   */
  repair(timeoutMs?: number): Promise<void>;
  /** Stops everything the sandbox started, by pid. Safe to call twice. */
  stop(): Promise<void>;
}
