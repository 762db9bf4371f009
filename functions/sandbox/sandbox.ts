/**
 * A throw-away host on this machine: a real nginx (one file, or Debian's layout) in front of a real PM2 daemon (as
 * root, or as a user of its own) running the demo app or a given server, on free loopback ports, in a fresh directory. It reproduces each failure Reflex diagnoses, for the demo and the
 * end-to-end tests. Everything it starts is stopped by pid in `stop()`.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, chmod, copyFile, chown, mkdir, mkdtemp, readdir, readFile, rm, rmdir, stat, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isGatewayError } from '../core/evidence/access-log.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN_DIR = join(REPO_ROOT, 'node_modules', '.bin');
const DEMO_APP = fileURLToPath(new URL('./demo-app.cjs', import.meta.url));
/** The PATH the SSM agent gives a script on Linux; a real host's global pm2 (`npm install -g pm2`) is on it. */
export const AGENT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const REFLEX_CONF = join(REPO_ROOT, 'infra', 'nginx', 'reflex.conf');
const APP = 'web';
/** The memory cgroup limit for `oom()`: small, so the kernel kills the leaking app within a second. */
const OOM_LIMIT_BYTES = 64 * 1024 * 1024;

export class NginxMissingError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'NginxMissingError';
  }
}

/** A sandbox step did not reach the state it promised (a fault that did not take, a start that failed). */
export class SandboxError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SandboxError';
  }
}

/** The host profile contract (`host.json`): where things are on one host, for `reflex` in local mode. */
export interface HostProfile {
  readonly instanceId: string;
  readonly app: string;
  /** `user`: the PM2 user when PM2 does not run as root; `ecosystem`: absent when the profile names none. */
  readonly pm2: { readonly home: string; readonly ecosystem?: string; readonly user?: string };
  /** The app's own address, e.g. `http://127.0.0.1:3000`; absent when Reflex must find it in nginx's configuration. */
  readonly upstream?: string;
  /** Probed through nginx. */
  readonly healthUrl: string;
  readonly nginx: { readonly accessLog: string; readonly errorLog: string; readonly config: string };
  /** Present when OOM kills are written to a file instead of the kernel ring buffer. */
  readonly kernelLog?: string;
}

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
  /** Extra environment for the app (e.g. a fake secret, to prove that snapshots never carry it). */
  readonly appEnv?: Readonly<Record<string, string>>;
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

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
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
  /** The app restarted with HOSTNAME=::1: it listens on [::1]:appPort while nginx proxies to 127.0.0.1. */
  proxyMisconfig(): Promise<void>;
  /** Every page but /api/health takes `ms` (more than proxy_read_timeout: 504s). */
  slowPages(ms: number): Promise<void>;
  /** The app's event loop blocks forever: the process lives, nothing answers (504s). */
  hang(): Promise<void>;
  /** A kernel OOM kill of the app: real through a memory cgroup, or simulated in `<dir>/kern.log`. */
  oom(): Promise<'cgroup' | 'simulated'>;
}

export interface Sandbox {
  readonly dir: string;
  readonly profilePath: string;
  readonly profile: HostProfile;
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

/**
 * Starts nginx and PM2 (with the demo app) in a fresh directory and waits until the app answers through nginx.
 * Throws NginxMissingError when nginx is not installed; on any other failure it cleans up before throwing.
 */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const nginxBin = findNginx(options.nginxBin);
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'reflex-sandbox-')));
  const sandbox = new LocalSandbox(dir, nginxBin, options);
  try {
    await sandbox.start();
    return sandbox;
  } catch (error) {
    await sandbox.stop();
    throw error;
  }
}

function findNginx(given: string | undefined): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/local/nginx/sbin'];
  const candidates = given ? [given] : dirs.filter((d) => d !== '').map((d) => join(d, 'nginx'));
  const found = candidates.find((file) => existsSync(file));
  if (!found) throw new NginxMissingError('nginx is not installed: install it with `apt-get install -y nginx`');
  return found;
}

interface CgroupPlan {
  readonly version: 1 | 2;
  readonly root: string;
}

class LocalSandbox implements Sandbox {
  readonly profilePath: string;
  readonly pm2Home: string;
  readonly env: Readonly<Record<string, string>>;
  readonly faults: SandboxFaults;
  nginxPort = 0;
  appPort = 0;
  oomMode: 'cgroup' | 'simulated' = 'simulated';
  pm2User: string | undefined;
  #profile: HostProfile | undefined;
  readonly #nginxDir: string;
  readonly #ecosystem: string;
  /** The pm2 the sandbox runs: a global one for a PM2 user (it may not reach into the repository), else the repo's. */
  readonly #pm2Bin: string;
  /** The server PM2 runs. */
  readonly #appScript: string;
  /** The PM2 user's uid and gid, once made. */
  #owner: { uid: number; gid: number } | undefined;
  readonly #crashMarker: string;
  readonly #readTimeout: number;
  readonly #bootMs: number;
  readonly #removeDir: boolean;
  #cgroupPlan: CgroupPlan | undefined;
  #cgroupDir: string | undefined;
  /** Where the app listens now: faults move it. */
  #appHost = '127.0.0.1';
  #appListenPort = 0;
  /** Every app pid seen, so that stop() can end a process PM2 lost track of. */
  readonly #seenPids = new Set<number>();
  #stopping: Promise<void> | undefined;

  constructor(
    readonly dir: string,
    private readonly nginxBin: string,
    private readonly options: SandboxOptions,
  ) {
    this.profilePath = join(dir, 'host.json');
    this.pm2Home = options.pm2AsUser ? join(dir, 'home', '.pm2') : join(dir, 'pm2');
    this.#nginxDir = join(dir, 'nginx');
    this.#ecosystem = join(dir, 'ecosystem.config.cjs');
    const globalPm2 = AGENT_PATH.split(delimiter).map((d) => join(d, 'pm2')).find((file) => existsSync(file));
    this.#pm2Bin = options.pm2AsUser && globalPm2 ? globalPm2 : join(BIN_DIR, 'pm2');
    // A PM2 user gets its own copy of the demo app: the repository may be where that user cannot read.
    this.#appScript = options.app?.script ?? (options.pm2AsUser ? join(dir, 'app', 'server.cjs') : DEMO_APP);
    this.#crashMarker = join(dir, 'crash-marker');
    this.#readTimeout = options.proxyReadTimeoutSeconds ?? 2;
    this.#bootMs = options.bootMs ?? 1000;
    this.#removeDir = options.dir === undefined && options.keep !== true;
    // NODE_OPTIONS of a test runner must not reach pm2, its daemon or the app; REFLEX_* must not reach the scripts.
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(
        (entry): entry is [string, string] =>
          entry[1] !== undefined && entry[0] !== 'NODE_OPTIONS' && !entry[0].startsWith('REFLEX_'),
      ),
    );
    this.env = {
      ...inherited,
      PATH: [dirname(this.#pm2Bin), dirname(this.nginxBin), process.env.PATH ?? '/usr/bin:/bin'].join(delimiter),
      PM2_HOME: this.pm2Home,
    };
    this.faults = this.#makeFaults();
  }

  get profile(): HostProfile {
    if (!this.#profile) throw new SandboxError('the sandbox has not started');
    return this.#profile;
  }

  async start(): Promise<void> {
    // nginx workers run as `nobody` and must reach their temp dirs under this directory.
    await chmod(this.dir, 0o755);
    await mkdir(join(this.#nginxDir, 'tmp'), { recursive: true });
    await mkdir(this.pm2Home, { recursive: true });
    if (!this.options.app) {
      await mkdir(join(this.dir, 'app', '.next'), { recursive: true });
      // A Next.js build directory: the snapshot reports the BUILD_ID mtime as a deploy marker.
      await writeFile(join(this.dir, 'app', '.next', 'BUILD_ID'), 'sandbox-build\n');
      if (this.#appScript !== DEMO_APP) await copyFile(DEMO_APP, this.#appScript);
    }

    this.nginxPort = await freePort();
    do this.appPort = await freePort();
    while (this.appPort === this.nginxPort);
    this.#appListenPort = this.appPort;

    this.#cgroupPlan = this.options.oom === 'simulated' ? undefined : await findCgroup();
    this.oomMode = this.#cgroupPlan ? 'cgroup' : 'simulated';

    const debian = this.options.nginxLayout === 'debian';
    const nginxConfig = join(this.#nginxDir, 'nginx.conf');
    // Debian logs combined lines to access.log; the JSON format has its own file, as infra/nginx/reflex.conf does.
    const accessLog = join(this.#nginxDir, debian && this.options.logFormat !== 'combined' ? 'access.json.log' : 'access.log');
    const errorLog = join(this.#nginxDir, 'error.log');
    const kernelLog = join(this.dir, 'kern.log');
    if (this.options.pm2AsUser) await this.#makeUser();
    const ecosystem = this.options.profileEcosystem === false ? {} : { ecosystem: this.#ecosystem };
    this.#profile = {
      instanceId: 'local-1',
      app: APP,
      pm2: { home: this.pm2Home, ...ecosystem, ...(this.pm2User && { user: this.pm2User }) },
      // With the Debian layout the upstream is left for Reflex to find in nginx's configuration, as on a real host.
      ...(debian ? {} : { upstream: `http://127.0.0.1:${this.appPort}` }),
      healthUrl: `http://127.0.0.1:${this.nginxPort}/api/health`,
      nginx: { accessLog, errorLog, config: nginxConfig },
      ...(this.oomMode === 'simulated' ? { kernelLog } : {}),
    };
    if (this.oomMode === 'simulated') await writeFile(kernelLog, '');
    await writeFile(this.profilePath, `${JSON.stringify(this.#profile, null, 2)}\n`);
    if (debian) await this.#writeDebianNginx(accessLog, errorLog);
    else await writeFile(nginxConfig, this.#nginxConfig(accessLog, errorLog));
    await writeFile(this.#ecosystem, this.#ecosystemSource(this.options.autorestart ?? false));
    await this.#giveToPm2User();

    const nginx = await run(this.nginxBin, ['-p', `${this.#nginxDir}/`, '-c', nginxConfig, '-e', errorLog], {
      // nginx writes local time without an offset; Reflex hosts log in UTC.
      env: { PATH: this.env.PATH ?? '', TZ: 'UTC' },
    });
    if (nginx.code !== 0) throw new SandboxError(`nginx did not start: ${firstLine(nginx.stderr)}`);

    const started = await this.pm2('start', this.#ecosystem, '--only', APP);
    if (started.code !== 0) throw new SandboxError(`pm2 start failed: ${firstLine(started.stderr || started.stdout)}`);
    // Wait on the app itself first: polling through nginx while it boots would log 502s before any fault.
    await until('the app to listen', this.#bootMs + 15_000, async () => (await this.request('/api/health', { via: 'app', timeoutMs: 1000 })) === 200, 50);
    await this.waitHealthy(10_000);
    await this.appPid();
    // A deploy under its own user saves PM2's process list ($PM2_HOME/dump.pm2), which `pm2 resurrect` restores.
    if (this.pm2User) await this.#expectPm2(['save']);
  }

  /** A fresh system user for PM2 (`pm2User`), with its home under the sandbox directory. */
  async #makeUser(): Promise<void> {
    if (process.getuid?.() !== 0) throw new SandboxError('pm2AsUser needs root: it makes a user with useradd');
    const home = dirname(this.pm2Home);
    for (let attempt = 0; attempt < 20; attempt++) {
      const name = `reflex-${randomBytes(4).toString('hex')}`;
      const made = await run('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', home, '--shell', '/bin/sh', name]);
      if (made.code === 0) {
        // Named first, so that stop() removes the user even if what follows fails.
        this.pm2User = name;
        this.#owner = await idsOf(name);
        const reach = await run('runuser', ['-u', name, '--', 'test', '-x', this.#pm2Bin]);
        if (reach.code !== 0) {
          throw new SandboxError(`the PM2 user cannot run ${this.#pm2Bin}: install pm2 globally (npm install -g pm2), or keep the repository where other users can read it`);
        }
        return;
      }
      // 9: the name is taken (try another); 1 and 10: /etc/passwd or /etc/group is locked by another useradd.
      if (![1, 9, 10].includes(made.code)) throw new SandboxError(`useradd failed: ${firstLine(made.stderr)}`);
      await sleep(100 + attempt * 50);
    }
    throw new SandboxError('useradd failed 20 times: /etc/passwd stayed locked');
  }

  /** The PM2 user's files: its home (PM2_HOME), the demo app's directory, the ecosystem file. */
  async #giveToPm2User(): Promise<void> {
    const owner = this.#owner;
    if (!owner) return;
    const home = dirname(this.pm2Home);
    const paths = [home, this.pm2Home, this.#ecosystem, ...(this.options.app ? [] : await walk(join(this.dir, 'app')))];
    for (const path of paths) await chown(path, owner.uid, owner.gid);
    // As Ubuntu makes homes: private to their user (root still reads it).
    await chmod(home, 0o750);
  }

  /**
   * Ends what still runs as the PM2 user with this sandbox's PM2_HOME: a daemon that something (a host script, a
   * test) spawned after the one stop() knew of. Otherwise it would outlive the sandbox, and keep userdel from working.
   */
  async #stopUserLeftovers(): Promise<void> {
    const owner = this.#owner;
    if (!owner) return;
    const marker = `PM2_HOME=${this.pm2Home}\0`;
    for (const entry of await readdir('/proc').catch(() => [] as string[])) {
      const pid = Number(entry);
      if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) continue;
      const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
      if (Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? -1) !== owner.uid) continue;
      const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
      if (environ.includes(marker)) await killAndWait(pid);
    }
  }

  /** Removes the PM2 user once its processes are gone (userdel refuses while one runs, and while /etc/passwd is locked). */
  async #removeUser(): Promise<void> {
    const name = this.pm2User;
    if (!name) return;
    for (let attempt = 0; attempt < 20; attempt++) {
      const removed = await run('userdel', attempt < 19 ? [name] : ['--force', name]);
      // 6: no such user (already removed).
      if (removed.code === 0 || removed.code === 6) return;
      await sleep(100 + attempt * 50);
    }
  }

  #nginxConfig(accessLog: string, errorLog: string): string {
    const tmp = join(this.#nginxDir, 'tmp');
    const format =
      this.options.logFormat === 'combined'
        ? `access_log ${accessLog} combined;`
        : [
            // The JSON format of DESIGN.md: $status unquoted (metric filters compare numbers), $upstream_* quoted.
            `log_format reflex escape=json '{"time":"$time_iso8601","status":$status,"request":"$request",'`,
            `    '"upstream_status":"$upstream_status","upstream_addr":"$upstream_addr",'`,
            `    '"upstream_response_time":"$upstream_response_time","request_time":$request_time}';`,
            `  access_log ${accessLog} reflex;`,
          ].join('\n');
    return `# Reflex sandbox: generated, throw-away.
worker_processes 1;
daemon on;
pid ${join(this.#nginxDir, 'nginx.pid')};
error_log ${errorLog} warn;

events {
  worker_connections 128;
}

http {
  ${format}
  client_body_temp_path ${tmp}/client;
  proxy_temp_path ${tmp}/proxy;
  fastcgi_temp_path ${tmp}/fastcgi;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;

  server {
    listen 127.0.0.1:${this.nginxPort};
    server_name sandbox;

    # The demo app's fault switches are reachable on its own port only.
    location /__demo/ {
      return 404;
    }

    location / {
      proxy_pass http://127.0.0.1:${this.appPort};
      proxy_connect_timeout 1s;
      proxy_read_timeout ${this.#readTimeout}s;
      proxy_set_header Host $host;
    }
  }
}
`;
  }

  /**
   * The Debian/Ubuntu layout: nginx.conf declares the logs and includes conf.d/*.conf and sites-enabled/*; the
   * site lives in sites-available/web behind an upstream block with keep-alive connections, as a deploy guide sets it up.
   */
  async #writeDebianNginx(accessLog: string, errorLog: string): Promise<void> {
    const tmp = join(this.#nginxDir, 'tmp');
    const json = this.options.logFormat !== 'combined';
    for (const sub of ['conf.d', 'sites-available', 'sites-enabled']) await mkdir(join(this.#nginxDir, sub), { recursive: true });
    const combinedLog = join(this.#nginxDir, 'access.log');
    await writeFile(
      join(this.#nginxDir, 'nginx.conf'),
      `# Reflex sandbox: generated, throw-away. Laid out as Debian's /etc/nginx/nginx.conf.
worker_processes 1;
daemon on;
pid ${join(this.#nginxDir, 'nginx.pid')};
error_log ${errorLog};

events {
  worker_connections 128;
}

http {
  sendfile on;
  default_type application/octet-stream;

  access_log ${combinedLog};
  error_log ${errorLog};

  client_body_temp_path ${tmp}/client;
  proxy_temp_path ${tmp}/proxy;
  fastcgi_temp_path ${tmp}/fastcgi;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;

  include ${this.#nginxDir}/conf.d/*.conf;
  include ${this.#nginxDir}/sites-enabled/*;
}
`,
    );
    if (json) await writeFile(join(this.#nginxDir, 'conf.d', 'reflex.conf'), `${await reflexLogFormat()}
`);
    const site = join(this.#nginxDir, 'sites-available', 'web');
    await writeFile(
      site,
      `upstream web_backend {
  server 127.0.0.1:${this.appPort};
  keepalive 64;
}

server {
  listen 127.0.0.1:${this.nginxPort};
  server_name sandbox;
${json ? `  access_log ${accessLog} reflex;
` : ''}
  # The demo app's fault switches are reachable on its own port only.
  location /__demo/ {
    return 404;
  }

  location / {
    proxy_pass http://web_backend;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $host;
    proxy_connect_timeout 1s;
    proxy_read_timeout ${this.#readTimeout}s;
  }
}
`,
    );
    await symlink(site, join(this.#nginxDir, 'sites-enabled', 'web'));
  }

  #ecosystemSource(autorestart: boolean): string {
    const app = {
      name: APP,
      script: this.#appScript,
      cwd: this.options.app?.cwd ?? join(this.dir, 'app'),
      exec_mode: 'fork',
      instances: 1,
      // false by default: a crash stays down, as it does in production once PM2 has used up max_restarts.
      autorestart,
      // Small bounds so that a crash loop ends `errored` within seconds.
      max_restarts: 5,
      min_uptime: 1000,
      env: {
        ...this.options.appEnv,
        PORT: String(this.appPort),
        HOSTNAME: '127.0.0.1',
        BOOT_MS: String(this.#bootMs),
        DEMO_CRASH_MARKER: this.#crashMarker,
      },
    };
    return `// Reflex sandbox: generated, throw-away.\nmodule.exports = ${JSON.stringify({ apps: [app] }, null, 2)};\n`;
  }

  pm2(...args: string[]): Promise<CommandResult> {
    return this.#pm2(args);
  }

  #pm2(args: string[], extraEnv: Record<string, string> = {}, timeoutMs = 60_000): Promise<CommandResult> {
    const env = { ...this.env, ...extraEnv };
    const pm2 = this.#pm2Bin;
    if (!this.pm2User) return run(pm2, args, { env, timeoutMs });
    // As remediate.sh does it, from a directory the user can enter: PM2 spawns its daemon in the caller's cwd.
    const asUser = ['-u', this.pm2User, '--', 'env', `PM2_HOME=${this.pm2Home}`, pm2, ...args];
    return run('runuser', asUser, { env, timeoutMs, cwd: dirname(this.pm2Home) });
  }

  async #daemonPid(): Promise<number> {
    const pid = await readPidFile(join(this.pm2Home, 'pm2.pid'));
    return pid > 0 && (await isAlive(pid)) ? pid : 0;
  }

  async #jlist(): Promise<{ name: string; pid: number; pm2_env?: { status?: string } }[]> {
    if ((await this.#daemonPid()) === 0) return [];
    const result = await this.#pm2(['jlist']);
    const line = result.stdout.split('\n').find((l) => l.startsWith('['));
    if (result.code !== 0 || !line) return [];
    return JSON.parse(line) as { name: string; pid: number; pm2_env?: { status?: string } }[];
  }

  async #appState(): Promise<{ pid: number; status: string | undefined }> {
    const app = (await this.#jlist()).find((p) => p.name === APP);
    const pid = app?.pid ?? 0;
    if (pid > 0) this.#seenPids.add(pid);
    return { pid, status: app?.pm2_env?.status };
  }

  async appPid(): Promise<number> {
    return (await this.#appState()).pid;
  }

  request(path: string, options: RequestOptions): Promise<number> {
    const host = options.via === 'nginx' ? '127.0.0.1' : this.#appHost;
    const port = options.via === 'nginx' ? this.nginxPort : this.#appListenPort;
    const timeoutMs = options.timeoutMs ?? (this.#readTimeout + 3) * 1000;
    return new Promise((resolve) => {
      const req = http.request({ host, port, path, method: options.method ?? 'GET', agent: false, timeout: timeoutMs }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(res.statusCode ?? 0));
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(0));
      req.end();
    });
  }

  async traffic(count: number, path = '/'): Promise<number[]> {
    const statuses: number[] = [];
    for (let i = 0; i < Math.min(count, 1000); i++) statuses.push(await this.request(path, { via: 'nginx' }));
    return statuses;
  }

  async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const seen: number[] = [];
    let streak = 0;
    while (streak < 3) {
      if (Date.now() > deadline) {
        throw new SandboxError(`the app did not answer 200 through nginx within ${timeoutMs} ms (last: ${seen.slice(-5).join(', ')})`);
      }
      const status = await this.request('/api/health', { via: 'nginx', timeoutMs: 2000 });
      seen.push(status);
      streak = status === 200 ? streak + 1 : 0;
      if (streak < 3) await sleep(status === 200 ? 20 : 100);
    }
  }

  /** Asks the app itself to do something (the fault switches). */
  async #control(path: string): Promise<void> {
    const status = await this.request(path, { via: 'app', method: 'POST', timeoutMs: 3000 });
    if (status !== 200) throw new SandboxError(`the demo app did not accept ${path} (status ${status})`);
  }

  /**
   * Sends requests through nginx (`parallel` at a time) until `min` gateway errors have been answered and
   * written to the access log. Throws when the fault does not show as gateway errors.
   */
  async #gatewayErrors(path = '/', parallel = 1, min = 3): Promise<void> {
    const accessLog = this.profile.nginx.accessLog;
    const before = await countGatewayLines(accessLog);
    const statuses: number[] = [];
    for (let round = 0; round < 10 && statuses.filter(isGatewayError).length < min; round++) {
      const batch = await Promise.all(Array.from({ length: parallel }, () => this.request(path, { via: 'nginx' })));
      statuses.push(...batch);
    }
    if (statuses.filter(isGatewayError).length < min) {
      throw new SandboxError(`expected gateway errors through nginx, got ${statuses.join(', ')}`);
    }
    // nginx writes the access line after it answers: wait for the file to catch up.
    await until('gateway errors in the access log', 3000, async () => (await countGatewayLines(accessLog)) - before >= min);
  }

  /** Waits until PM2 no longer reports the app online and its last process is gone. */
  async #waitDown(pid: number): Promise<void> {
    // The process first (cheap), then PM2's view of it (each pm2 call is a Node start).
    await until('the app process to exit', 15_000, async () => !(await isAlive(pid)));
    await until('PM2 to report the app down', 15_000, async () => (await this.#appState()).status !== 'online', 250);
  }

  /** Restarts the app with changed environment variables, as `PORT=… pm2 restart web --update-env` would. */
  async #restartWithEnv(env: Record<string, string>): Promise<void> {
    const result = await this.#pm2(['restart', APP, '--update-env'], env);
    if (result.code !== 0) throw new SandboxError(`pm2 restart --update-env failed: ${firstLine(result.stderr || result.stdout)}`);
  }

  #makeFaults(): SandboxFaults {
    return {
      crash: async (options = {}) => {
        const pid = await this.appPid();
        if (options.crashOnBoot) await writeFile(this.#crashMarker, 'the demo app dies at boot while this file exists\n');
        await this.#control('/__demo/crash?code=1');
        await this.#waitDown(pid);
        await this.#gatewayErrors();
      },
      stop: async () => {
        const pid = await this.appPid();
        await this.#expectPm2(['stop', APP]);
        await this.#waitDown(pid);
        await this.#gatewayErrors();
      },
      remove: async () => {
        const pid = await this.appPid();
        await this.#expectPm2(['delete', APP]);
        await until('the app to be gone', 10_000, async () => !(await isAlive(pid)));
        await this.#gatewayErrors();
      },
      killDaemon: async () => {
        const pid = await this.appPid();
        const daemon = await this.#daemonPid();
        await this.#expectPm2(['kill']);
        await until('the PM2 daemon and the app to be gone', 10_000, async () => !(await isAlive(daemon)) && !(await isAlive(pid)));
        await this.#gatewayErrors();
      },
      crashLoop: async () => {
        const pm2Log = join(this.pm2Home, 'pm2.log');
        const exitsBefore = await countMatches(pm2Log, /App \[web:\d+\] exited with code/g);
        await writeFile(this.#crashMarker, 'the demo app dies at boot while this file exists\n');
        // A second ecosystem with autorestart on; the profile's ecosystem stays the deployed configuration.
        const looping = join(this.dir, 'ecosystem.autorestart.config.cjs');
        await writeFile(looping, this.#ecosystemSource(true));
        await this.#expectPm2(['restart', looping, '--only', APP]);
        // The restart's own exit is asked for (it follows `Stopping app`); the loop is the 3 exits after it.
        await until('3 crashes in pm2.log', 20_000, async () => (await countMatches(pm2Log, /App \[web:\d+\] exited with code/g)) - exitsBefore >= 4);
        await this.#gatewayErrors();
      },
      portMismatch: async () => {
        let port = await freePort();
        while (port === this.appPort || port === this.nginxPort) port = await freePort();
        // HOSTNAME too: --update-env takes the caller's whole environment.
        await this.#restartWithEnv({ PORT: String(port), HOSTNAME: '127.0.0.1' });
        this.#appListenPort = port;
        await until('the app on its new port', this.#bootMs + 10_000, async () => (await this.request('/api/health', { via: 'app', timeoutMs: 1000 })) === 200);
        await this.appPid();
        await this.#gatewayErrors();
        return port;
      },
      proxyMisconfig: async () => {
        if (!(await canListen('::1'))) throw new SandboxError('the IPv6 loopback ::1 is not available on this machine');
        await this.#restartWithEnv({ PORT: String(this.appPort), HOSTNAME: '::1' });
        this.#appHost = '::1';
        this.#appListenPort = this.appPort;
        await until('the app on [::1]', this.#bootMs + 10_000, async () => (await this.request('/api/health', { via: 'app', timeoutMs: 1000 })) === 200);
        await this.appPid();
        await this.#gatewayErrors();
      },
      slowPages: async (ms: number) => {
        await this.#control(`/__demo/slow?ms=${Math.max(0, Math.round(ms))}`);
        await this.#gatewayErrors('/', 3);
      },
      hang: async () => {
        await this.#control('/__demo/hang');
        await this.#gatewayErrors('/', 3);
      },
      oom: async () => {
        const pid = await this.appPid();
        if (pid === 0) throw new SandboxError('the app is not running: nothing to kill');
        if (this.#cgroupPlan) await this.#oomInCgroup(this.#cgroupPlan, pid);
        else await this.#oomSimulated(pid);
        await this.#waitDown(pid);
        await this.#gatewayErrors();
        return this.oomMode;
      },
    };
  }

  async #expectPm2(args: string[]): Promise<void> {
    const result = await this.#pm2(args);
    if (result.code !== 0) throw new SandboxError(`pm2 ${args[0]} failed: ${firstLine(result.stderr || result.stdout)}`);
  }

  /** A real kernel OOM kill: the app moves into a small memory cgroup, then allocates until the kernel kills it. */
  async #oomInCgroup(plan: CgroupPlan, pid: number): Promise<void> {
    const dir = join(plan.root, `reflex-sandbox-${process.pid}-${pid}`);
    await mkdir(dir);
    this.#cgroupDir = dir;
    if (plan.version === 1) {
      await writeFile(join(dir, 'memory.limit_in_bytes'), String(OOM_LIMIT_BYTES));
      // With swap, the cgroup would swap instead of killing.
      await writeFile(join(dir, 'memory.memsw.limit_in_bytes'), String(OOM_LIMIT_BYTES)).catch(() => undefined);
    } else {
      await writeFile(join(dir, 'memory.max'), String(OOM_LIMIT_BYTES));
      await writeFile(join(dir, 'memory.swap.max'), '0').catch(() => undefined);
    }
    await writeFile(join(dir, 'cgroup.procs'), String(pid));
    await this.#control('/__demo/leak');
    await until('the kernel to kill the app', 15_000, async () => !(await isAlive(pid)));
    const pattern = new RegExp(`Killed process ${pid} `);
    await until('the OOM kill in dmesg', 5000, async () => pattern.test((await run('dmesg', ['--time-format', 'iso'])).stdout));
  }

  /** Without a writable memory cgroup: the line the kernel would write, then the kernel's SIGKILL. */
  async #oomSimulated(pid: number): Promise<void> {
    const kernelLog = this.profile.kernelLog;
    if (!kernelLog) throw new SandboxError('no kernel log file in the profile');
    const comm = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => 'node\n')).trim();
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
    const line =
      `${dmesgStamp(new Date())} Out of memory: Killed process ${pid} (${comm}) total-vm:${kb('VmSize')}kB, ` +
      `anon-rss:${kb('RssAnon')}kB, file-rss:${kb('RssFile')}kB, shmem-rss:${kb('RssShmem')}kB, UID:${process.getuid?.() ?? 0} ` +
      `pgtables:${kb('VmPTE')}kB oom_score_adj:0`;
    await appendFile(kernelLog, `${line}\n`);
    process.kill(pid, 'SIGKILL');
  }

  async repair(timeoutMs = 30_000): Promise<void> {
    await rm(this.#crashMarker, { force: true });
    // `delete` fails when PM2 no longer knows the app: that is fine, the start below is what matters.
    await this.#pm2(['delete', APP]);
    await this.#expectPm2(['start', this.#ecosystem, '--only', APP]);
    this.#appHost = '127.0.0.1';
    this.#appListenPort = this.appPort;
    await this.waitHealthy(timeoutMs);
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    // PM2's pid files name the app processes it runs now, without a pm2 call.
    const pidFiles = await readdir(join(this.pm2Home, 'pids')).catch(() => [] as string[]);
    for (const file of pidFiles) {
      const pid = await readPidFile(join(this.pm2Home, 'pids', file));
      if (pid > 0) this.#seenPids.add(pid);
    }
    const daemon = await this.#daemonPid();
    if (daemon > 0) {
      await this.#pm2(['kill'], {}, 8000);
      await killAndWait(daemon);
    }
    const script = this.#appScript;
    for (const pid of this.#seenPids) {
      // Only our app: a pid may have been reused since PM2 reported it.
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (cmdline.includes('next-server') || cmdline.includes(script)) await killAndWait(pid);
    }
    await this.#stopNginx();
    await this.#stopUserLeftovers();
    await this.#removeUser();
    if (this.#cgroupDir) {
      const cgroup = this.#cgroupDir;
      await until('the sandbox cgroup to empty', 5000, async () => rmdir(cgroup).then(() => true, () => false)).catch(() => undefined);
    }
    if (this.#removeDir) await rm(this.dir, { recursive: true, force: true });
  }

  async #stopNginx(): Promise<void> {
    const master = await readPidFile(join(this.#nginxDir, 'nginx.pid'));
    if (master === 0 || !(await isAlive(master))) return;
    const workers = (await run('ps', ['-o', 'pid=', '--ppid', String(master)])).stdout
      .split('\n')
      .map((s) => Number(s.trim()))
      .filter((n) => n > 0);
    process.kill(master, 'SIGQUIT');
    const quit = await until('nginx to quit', 3000, async () => !(await isAlive(master))).then(() => true, () => false);
    if (!quit) await killAndWait(master);
    for (const worker of workers) await killAndWait(worker);
  }
}

// ---------------------------------------------------------------- helpers

function run(file: string, args: string[], options: { env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        env: options.env ?? process.env,
        timeout: options.timeoutMs ?? 30_000,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
        ...(options.cwd && { cwd: options.cwd }),
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it is truthy; throws SandboxError naming `what` at the deadline. */
async function until(what: string, timeoutMs: number, check: () => Promise<boolean>, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new SandboxError(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

function firstLine(text: string): string {
  return text.split('\n').find((line) => line.trim() !== '')?.trim().slice(0, 200) ?? '';
}

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

function canListen(host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(0, host, () => server.close(() => resolve(true)));
  });
}

/** The `log_format reflex …;` line of infra/nginx/reflex.conf: the one format deployed hosts use. */
async function reflexLogFormat(): Promise<string> {
  const conf = await readFile(REFLEX_CONF, 'utf8');
  const line = conf.split('\n').find((l) => l.startsWith('log_format reflex '));
  if (!line) throw new SandboxError(`${REFLEX_CONF}: no log_format reflex line`);
  return line;
}

/** A user's uid and gid, from the passwd database. */
async function idsOf(name: string): Promise<{ uid: number; gid: number }> {
  const entry = (await run('getent', ['passwd', name])).stdout.trim().split(':');
  const uid = Number(entry[2]);
  const gid = Number(entry[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new SandboxError(`getent passwd ${name}: no such user`);
  return { uid, gid };
}

/** A directory and everything under it. */
async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return [dir, ...entries.map((entry) => join(dir, entry))];
}

async function readPidFile(file: string): Promise<number> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : 0;
}

/** Alive and not a zombie (a zombie still answers signal 0). */
async function isAlive(pid: number): Promise<boolean> {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // Field 3, after the parenthesised command name (which may itself contain spaces and parentheses).
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return stat !== '' && state !== 'Z';
}

async function killAndWait(pid: number): Promise<void> {
  if (!(await isAlive(pid))) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  await until(`pid ${pid} to exit`, 3000, async () => !(await isAlive(pid))).catch(() => undefined);
}

async function countMatches(file: string, pattern: RegExp): Promise<number> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.match(pattern)?.length ?? 0;
}

/** Gateway errors in an access log, JSON (`"status":502`) or combined (`" 502 `). */
function countGatewayLines(file: string): Promise<number> {
  return countMatches(file, /"status":50[234][,}]|" 50[234] /g);
}

/** A memory cgroup this process may create children in, or undefined (then `oom()` is simulated). */
async function findCgroup(): Promise<CgroupPlan | undefined> {
  if ((await run('dmesg', ['--time-format', 'iso'])).code !== 0) return undefined;
  const candidates: CgroupPlan[] = [];
  if (existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes')) candidates.push({ version: 1, root: '/sys/fs/cgroup/memory' });
  const controllers = await readFile('/sys/fs/cgroup/cgroup.subtree_control', 'utf8').catch(() => '');
  if (controllers.split(/\s+/).includes('memory')) candidates.push({ version: 2, root: '/sys/fs/cgroup' });
  for (const plan of candidates) {
    const probe = join(plan.root, `reflex-probe-${process.pid}-${Date.now()}`);
    const ok = await mkdir(probe).then(
      async () => {
        const limitFile = join(probe, plan.version === 1 ? 'memory.limit_in_bytes' : 'memory.max');
        const writable = await stat(limitFile).then(
          () => writeFile(limitFile, String(OOM_LIMIT_BYTES)).then(() => true, () => false),
          () => false,
        );
        await rmdir(probe).catch(() => undefined);
        return writable;
      },
      () => false,
    );
    if (ok) return plan;
  }
  return undefined;
}

/** The timestamp `dmesg --time-format iso` prints: `2026-11-24T10:00:00,123456+00:00`. */
function dmesgStamp(at: Date): string {
  return `${at.toISOString().slice(0, 19)},${String(at.getUTCMilliseconds() * 1000).padStart(6, '0')}+00:00`;
}
