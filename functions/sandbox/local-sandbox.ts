/**
 * The sandbox itself: lays out the directory, writes the profile, nginx's configuration and the ecosystem file,
 * starts nginx and PM2, and stops by pid everything it started. Its parts are in nginx.ts, pm2.ts, pm2-user.ts,
 * oom.ts and faults.ts.
 */
import { chmod, copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SandboxError } from './errors.ts';
import { makeFaults, type FaultTarget } from './faults.ts';
import { freePort, httpStatus } from './network.ts';
import { nginxFiles, startNginx, stopNginx, writeNginxConfig, type NginxSite } from './nginx.ts';
import { OomKiller } from './oom.ts';
import { APP, Pm2, ecosystemSource, pm2Binary } from './pm2.ts';
import { Pm2User, walk } from './pm2-user.ts';
import { killAndWait, readPidFile, sleep, until, type CommandResult } from './processes.ts';
import type { AppFiles } from './releases.ts';
import { Strays } from './strays.ts';
import type { RequestOptions, Sandbox, SandboxFaults, SandboxOptions, SandboxProfile } from './types.ts';

const DEMO_APP = fileURLToPath(new URL('./demo-app.cjs', import.meta.url));

export class LocalSandbox implements Sandbox, FaultTarget {
  readonly profilePath: string;
  readonly pm2Home: string;
  readonly env: Readonly<Record<string, string>>;
  readonly faults: SandboxFaults;
  readonly pm2Cli: Pm2;
  readonly oom = new OomKiller();
  readonly strays = new Strays();
  readonly crashMarker: string;
  readonly bootMs: number;
  nginxPort = 0;
  appPort = 0;
  #profile: SandboxProfile | undefined;
  readonly #nginxDir: string;
  readonly #ecosystem: string;
  /** The server the sandbox deploys, and the one PM2 runs now (a bad-deploy fault replaces it until `repair()`). */
  readonly #appFiles: AppFiles;
  #deployed: AppFiles;
  readonly #user: Pm2User | undefined;
  readonly #readTimeout: number;
  readonly #removeDir: boolean;
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
    const pm2Bin = pm2Binary(options.pm2AsUser === true);
    // A PM2 user gets its own copy of the demo app: the repository may be where that user cannot read.
    const script = options.app?.script ?? (options.pm2AsUser ? join(dir, 'app', 'server.cjs') : DEMO_APP);
    this.#appFiles = { script, cwd: options.app?.cwd ?? join(dir, 'app') };
    this.#deployed = this.#appFiles;
    this.#user = options.pm2AsUser ? new Pm2User(dirname(this.pm2Home)) : undefined;
    this.crashMarker = join(dir, 'crash-marker');
    this.#readTimeout = options.proxyReadTimeoutSeconds ?? 2;
    this.bootMs = options.bootMs ?? 1000;
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
      PATH: [dirname(pm2Bin), dirname(this.nginxBin), process.env.PATH ?? '/usr/bin:/bin'].join(delimiter),
      PM2_HOME: this.pm2Home,
    };
    this.pm2Cli = new Pm2(pm2Bin, this.pm2Home, this.env, () => this.#user?.name);
    this.faults = makeFaults(this);
  }

  get profile(): SandboxProfile {
    if (!this.#profile) throw new SandboxError('the sandbox has not started');
    return this.#profile;
  }

  get pm2User(): string | undefined {
    return this.#user?.name;
  }

  get oomMode(): 'cgroup' | 'simulated' {
    return this.oom.mode;
  }

  get appEnv(): Readonly<Record<string, string>> {
    return this.options.appEnv ?? {};
  }

  get app(): AppFiles | undefined {
    return this.options.app;
  }

  async start(): Promise<void> {
    // nginx workers run as `nobody` and must reach their temp dirs under this directory.
    await chmod(this.dir, 0o755);
    await mkdir(this.pm2Home, { recursive: true });
    if (!this.options.app) {
      await mkdir(join(this.dir, 'app', '.next'), { recursive: true });
      // A Next.js build directory: the snapshot reports the BUILD_ID mtime as a deploy marker.
      await writeFile(join(this.dir, 'app', '.next', 'BUILD_ID'), 'sandbox-build\n');
      if (this.#appFiles.script !== DEMO_APP) await copyFile(DEMO_APP, this.#appFiles.script);
    }

    this.nginxPort = await freePort();
    do this.appPort = await freePort();
    while (this.appPort === this.nginxPort);
    this.#appListenPort = this.appPort;
    await this.oom.prepare(this.options.oom ?? 'auto');

    const layout = this.options.nginxLayout ?? 'single';
    const logFormat = this.options.logFormat ?? 'json';
    const site: NginxSite = {
      dir: this.#nginxDir,
      layout,
      logFormat,
      port: this.nginxPort,
      appPort: this.appPort,
      readTimeoutSeconds: this.#readTimeout,
      ...nginxFiles(this.#nginxDir, layout, logFormat),
    };
    const kernelLog = join(this.dir, 'kern.log');
    const simulatedOom = this.oom.mode === 'simulated';
    await this.#user?.create(this.pm2Cli.bin);
    const ecosystem = this.options.profileEcosystem === false ? {} : { ecosystem: this.#ecosystem };
    this.#profile = {
      instanceId: 'local-1',
      app: APP,
      pm2: { home: this.pm2Home, ...ecosystem, ...(this.pm2User && { user: this.pm2User }) },
      // With the Debian layout the upstream is left for Reflex to find in nginx's configuration, as on a real host.
      ...(layout === 'debian' ? {} : { upstream: `http://127.0.0.1:${this.appPort}` }),
      healthUrl: `http://127.0.0.1:${this.nginxPort}/api/health`,
      nginx: { accessLog: site.accessLog, errorLog: site.errorLog, config: site.config },
      ...(simulatedOom ? { kernelLog } : {}),
    };
    if (simulatedOom) await writeFile(kernelLog, '');
    await writeFile(this.profilePath, `${JSON.stringify(this.#profile, null, 2)}\n`);
    await writeNginxConfig(site);
    await writeFile(this.#ecosystem, this.ecosystemSource(this.options.autorestart ?? false));
    await this.#user?.own([dirname(this.pm2Home), this.pm2Home, this.#ecosystem, ...(this.options.app ? [] : await walk(join(this.dir, 'app')))]);

    await startNginx(this.nginxBin, site, this.env.PATH ?? '');
    await this.pm2Cli.expect(['start', this.#ecosystem, '--only', APP]);
    // Wait on the app itself first: polling through nginx while it boots would log 502s before any fault.
    await until('the app to listen', this.bootMs + 15_000, async () => (await this.request('/api/health', { via: 'app', timeoutMs: 1000 })) === 200, 50);
    await this.waitHealthy(10_000);
    await this.appPid();
    // A deploy under its own user saves PM2's process list ($PM2_HOME/dump.pm2), which `pm2 resurrect` restores.
    if (this.pm2User) await this.pm2Cli.expect(['save']);
  }

  ecosystemSource(autorestart: boolean): string {
    return ecosystemSource({
      ...this.#deployed,
      autorestart,
      nodeArgs: this.options.nodeArgs ?? [],
      env: {
        ...this.options.appEnv,
        PORT: String(this.appPort),
        HOSTNAME: '127.0.0.1',
        BOOT_MS: String(this.bootMs),
        DEMO_CRASH_MARKER: this.crashMarker,
      },
    });
  }

  async deploy(release: AppFiles): Promise<void> {
    this.#deployed = release;
    await writeFile(this.#ecosystem, this.ecosystemSource(this.options.autorestart ?? false));
    // `delete` fails when PM2 no longer knows the app: the start is what matters.
    await this.pm2Cli.run(['delete', APP]);
    await this.pm2Cli.expect(['start', this.#ecosystem, '--only', APP]);
  }

  pm2(...args: string[]): Promise<CommandResult> {
    return this.pm2Cli.run(args);
  }

  async appState(): Promise<{ pid: number; status: string | undefined }> {
    const app = (await this.pm2Cli.jlist()).find((p) => p.name === APP);
    const pid = app?.pid ?? 0;
    if (pid > 0) this.#seenPids.add(pid);
    return { pid, status: app?.pm2_env?.status };
  }

  async appPid(): Promise<number> {
    return (await this.appState()).pid;
  }

  moveApp(host: string, port: number): void {
    this.#appHost = host;
    this.#appListenPort = port;
  }

  request(path: string, options: RequestOptions): Promise<number> {
    const nginx = options.via === 'nginx';
    return httpStatus({
      host: nginx ? '127.0.0.1' : this.#appHost,
      port: nginx ? this.nginxPort : this.#appListenPort,
      path,
      method: options.method ?? 'GET',
      timeoutMs: options.timeoutMs ?? (this.#readTimeout + 3) * 1000,
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

  async repair(timeoutMs = 30_000): Promise<void> {
    await rm(this.crashMarker, { force: true });
    // The human finds the stray holding the port and ends it, and rolls a bad deploy back.
    await this.strays.stopAll();
    this.#deployed = this.#appFiles;
    await writeFile(this.#ecosystem, this.ecosystemSource(this.options.autorestart ?? false));
    // `delete` fails when PM2 no longer knows the app: that is fine, the start below is what matters.
    await this.pm2Cli.run(['delete', APP]);
    await this.pm2Cli.expect(['start', this.#ecosystem, '--only', APP]);
    this.moveApp('127.0.0.1', this.appPort);
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
    const daemon = await this.pm2Cli.daemonPid();
    if (daemon > 0) {
      await this.pm2Cli.run(['kill'], {}, 8000);
      await killAndWait(daemon);
    }
    const scripts = [this.#appFiles.script, this.#deployed.script];
    for (const pid of this.#seenPids) {
      // Only our app: a pid may have been reused since PM2 reported it.
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (cmdline.includes('next-server') || scripts.some((script) => cmdline.includes(script))) await killAndWait(pid);
    }
    await this.strays.stopAll();
    await stopNginx(this.#nginxDir);
    await this.#user?.stopLeftovers(this.pm2Home);
    await this.#user?.remove();
    await this.oom.cleanup();
    if (this.#removeDir) await rm(this.dir, { recursive: true, force: true });
  }
}
