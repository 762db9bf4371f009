/**
 * The sandbox's nginx: where its files go, its configuration in either layout (one file, or Debian's), and
 * starting and stopping it by the pid in its pid file.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NginxMissingError, SandboxError } from './errors.ts';
import { countMatches, firstLine, isAlive, killAndWait, readPidFile, run, until } from './processes.ts';

const REFLEX_CONF = fileURLToPath(new URL('../../infra/nginx/reflex.conf', import.meta.url));

/** What the nginx configuration says: where it lives, how it logs, what it proxies to. */
export interface NginxSite {
  /** nginx's prefix directory: configuration, pid file, logs and temp dirs. */
  readonly dir: string;
  readonly layout: 'single' | 'debian';
  readonly logFormat: 'json' | 'combined';
  readonly port: number;
  readonly appPort: number;
  readonly readTimeoutSeconds: number;
  readonly config: string;
  readonly accessLog: string;
  readonly errorLog: string;
}

/** The nginx binary: `given`, else the first `nginx` on PATH, /usr/sbin, /usr/local/sbin or /usr/local/nginx/sbin. */
export function findNginx(given: string | undefined): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/local/nginx/sbin'];
  const candidates = given ? [given] : dirs.filter((d) => d !== '').map((d) => join(d, 'nginx'));
  const found = candidates.find((file) => existsSync(file));
  if (!found) throw new NginxMissingError('nginx is not installed: install it with `apt-get install -y nginx`');
  return found;
}

/** The configuration and log files of a layout under `dir`. */
export function nginxFiles(dir: string, layout: NginxSite['layout'], logFormat: NginxSite['logFormat']): Pick<NginxSite, 'config' | 'accessLog' | 'errorLog'> {
  // Debian logs combined lines to access.log; the JSON format has its own file, as infra/nginx/reflex.conf does.
  const accessLog = join(dir, layout === 'debian' && logFormat !== 'combined' ? 'access.json.log' : 'access.log');
  return { config: join(dir, 'nginx.conf'), accessLog, errorLog: join(dir, 'error.log') };
}

/** Writes the site's configuration (and nginx's temp dirs, which its workers, as `nobody`, must reach). */
export async function writeNginxConfig(site: NginxSite): Promise<void> {
  await mkdir(join(site.dir, 'tmp'), { recursive: true });
  if (site.layout === 'debian') await writeDebianLayout(site);
  else await writeFile(site.config, singleFile(site));
}

/** Starts nginx as a daemon on the site's configuration; throws SandboxError with nginx's first complaint. */
export async function startNginx(bin: string, site: NginxSite, path: string): Promise<void> {
  const nginx = await run(bin, ['-p', `${site.dir}/`, '-c', site.config, '-e', site.errorLog], {
    // nginx writes local time without an offset; Reflex hosts log in UTC.
    env: { PATH: path, TZ: 'UTC' },
  });
  if (nginx.code !== 0) throw new SandboxError(`nginx did not start: ${firstLine(nginx.stderr)}`);
}

/** Stops the nginx whose pid file is in `dir`, and its workers: SIGQUIT, SIGKILL after 3 s. */
export async function stopNginx(dir: string): Promise<void> {
  const master = await readPidFile(join(dir, 'nginx.pid'));
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

/** Gateway errors in an access log, JSON (`"status":502`) or combined (`" 502 `). */
export function countGatewayLines(file: string): Promise<number> {
  return countMatches(file, /"status":50[234][,}]|" 50[234] /g);
}

/** nginx's temp dirs, inside the sandbox: the default ones may not exist or be writable. */
function tempPaths(site: NginxSite): string {
  const tmp = join(site.dir, 'tmp');
  return `  client_body_temp_path ${tmp}/client;
  proxy_temp_path ${tmp}/proxy;
  fastcgi_temp_path ${tmp}/fastcgi;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;`;
}

function singleFile(site: NginxSite): string {
  const format =
    site.logFormat === 'combined'
      ? `access_log ${site.accessLog} combined;`
      : [
          // The JSON format of DESIGN.md: $status unquoted (metric filters compare numbers), $upstream_* quoted.
          `log_format reflex escape=json '{"time":"$time_iso8601","status":$status,"request":"$request",'`,
          `    '"upstream_status":"$upstream_status","upstream_addr":"$upstream_addr",'`,
          `    '"upstream_response_time":"$upstream_response_time","request_time":$request_time}';`,
          `  access_log ${site.accessLog} reflex;`,
        ].join('\n');
  return `# Reflex sandbox: generated, throw-away.
worker_processes 1;
daemon on;
pid ${join(site.dir, 'nginx.pid')};
error_log ${site.errorLog} warn;

events {
  worker_connections 128;
}

http {
  ${format}
${tempPaths(site)}

  server {
    listen 127.0.0.1:${site.port};
    server_name sandbox;

    # The demo app's fault switches are reachable on its own port only.
    location /__demo/ {
      return 404;
    }

    location / {
      proxy_pass http://127.0.0.1:${site.appPort};
      proxy_connect_timeout 1s;
      proxy_read_timeout ${site.readTimeoutSeconds}s;
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
async function writeDebianLayout(site: NginxSite): Promise<void> {
  const json = site.logFormat !== 'combined';
  for (const sub of ['conf.d', 'sites-available', 'sites-enabled']) await mkdir(join(site.dir, sub), { recursive: true });
  const combinedLog = join(site.dir, 'access.log');
  await writeFile(
    site.config,
    `# Reflex sandbox: generated, throw-away. Laid out as Debian's /etc/nginx/nginx.conf.
worker_processes 1;
daemon on;
pid ${join(site.dir, 'nginx.pid')};
error_log ${site.errorLog};

events {
  worker_connections 128;
}

http {
  sendfile on;
  default_type application/octet-stream;

  access_log ${combinedLog};
  error_log ${site.errorLog};

${tempPaths(site)}

  include ${site.dir}/conf.d/*.conf;
  include ${site.dir}/sites-enabled/*;
}
`,
  );
  if (json) await writeFile(join(site.dir, 'conf.d', 'reflex.conf'), `${await reflexLogFormat()}\n`);
  const available = join(site.dir, 'sites-available', 'web');
  await writeFile(
    available,
    `upstream web_backend {
  server 127.0.0.1:${site.appPort};
  keepalive 64;
}

server {
  listen 127.0.0.1:${site.port};
  server_name sandbox;
${json ? `  access_log ${site.accessLog} reflex;\n` : ''}
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
    proxy_read_timeout ${site.readTimeoutSeconds}s;
  }
}
`,
  );
  await symlink(available, join(site.dir, 'sites-enabled', 'web'));
}

/** The `log_format reflex …;` line of infra/nginx/reflex.conf: the one format deployed hosts use. */
async function reflexLogFormat(): Promise<string> {
  const conf = await readFile(REFLEX_CONF, 'utf8');
  const line = conf.split('\n').find((l) => l.startsWith('log_format reflex '));
  if (!line) throw new SandboxError(`${REFLEX_CONF}: no log_format reflex line`);
  return line;
}
