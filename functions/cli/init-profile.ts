/**
 * `reflex init`'s decisions, pure: what it found on the box in, a host profile and where each field came from out.
 * Reading the box (files, `nginx -T`, `pm2 jlist`) is init.ts's job.
 */
import { parseUpstreamUrl, type NginxListen, type NginxServer } from '../core/evidence/nginx-config.ts';
import type { UpstreamAddress } from '../core/types.ts';
import { InputError, PATTERNS } from '../core/validate.ts';

/** One app PM2 knows. Of its environment only PORT is ever read (the rest can hold secrets). */
export interface Pm2App {
  readonly name: string;
  readonly port?: number;
}

/** One PM2 home found on the box and the apps in it. */
export interface Pm2Home {
  readonly home: string;
  /** Set when PM2 runs as another user than the one running init: the profile's `pm2.user`. */
  readonly user?: string;
  /** Who owns it, for messages: `ubuntu`, `root`. */
  readonly owner: string;
  /** Why this home: `$PM2_HOME`, `~/.pm2 of root`, `home of ubuntu in /etc/passwd`. */
  readonly why: string;
  /** Where the app list came from: `pm2 jlist of user ubuntu (daemon pid 812)`, `pm2 dump of root: /root/.pm2/dump.pm2`. */
  readonly listedBy?: string;
  readonly apps: readonly Pm2App[];
  /** The names in `dump.pm2` (what `pm2 resurrect` would restore); undefined when there is no dump. */
  readonly saved?: readonly string[];
}

export interface NginxFindings {
  /** The configuration `nginx -T` read: `--nginx-config`, else the first file it printed. */
  readonly config?: string;
  readonly configWhy: string;
  readonly servers: readonly NginxServer[];
}

export interface BoxFindings {
  readonly instanceId: string;
  readonly instanceIdWhy: string;
  readonly pm2: readonly Pm2Home[];
  readonly nginx: NginxFindings;
  /** The kernel log file, when readable. */
  readonly kernelLog?: string;
  /** The file that was tried for the kernel log. */
  readonly kernelLogTried: string;
}

export interface InitChoices {
  readonly app?: string;
  readonly pm2User?: string;
  readonly upstream?: string;
}

/** The profile as `host.json` holds it, and what init says about it: one line per field, then notes. */
export interface InitDecision {
  readonly profile: Record<string, unknown>;
  readonly fields: readonly (readonly [field: string, value: string, why: string])[];
  readonly notes: readonly string[];
}

/**
 * The apps of a PM2 `dump.pm2` (what `pm2 save` writes: a JSON array of process descriptions). An app with several
 * instances appears once. Undefined when the text is not such an array.
 */
export function parseDumpApps(text: string): Pm2App[] | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  return uniqueApps(value.map((item) => (isRecord(item) ? appOf(item.name, item.PORT ?? (isRecord(item.env) ? item.env.PORT : undefined)) : undefined)));
}

/** The apps of `pm2 jlist` output (a banner may come before the JSON). Undefined when there is no JSON array. */
export function parseJlistApps(text: string): Pm2App[] | undefined {
  const start = text.indexOf('[');
  if (start < 0) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text.slice(start));
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  return uniqueApps(
    value.map((item) => {
      if (!isRecord(item)) return undefined;
      const env = isRecord(item.pm2_env) ? item.pm2_env : {};
      return appOf(item.name, (isRecord(env.env) ? env.env.PORT : undefined) ?? env.PORT);
    }),
  );
}

/**
 * Decides the profile from what was found. Throws InputError (exit 2) naming what to pass when the choice is not
 * clear: several apps without `--app`, none, or no nginx server that proxies.
 */
export function decideProfile(found: BoxFindings, choices: InitChoices): InitDecision {
  const { home, app } = chooseApp(found.pm2, choices);
  const server = chooseServer(found.nginx, app);
  const accessLog = server.accessLog;
  const errorLog = server.errorLog;
  if (accessLog === undefined) {
    throw new InputError(`nginx.accessLog: nginx -T shows no access_log file in force where the server proxies; give it one in ${found.nginx.config ?? 'the nginx configuration'}`, 'nginx.accessLog');
  }
  if (errorLog === undefined) {
    throw new InputError(`nginx.errorLog: nginx -T shows no error_log file for the server that proxies; give it one in ${found.nginx.config ?? 'the nginx configuration'}`, 'nginx.errorLog');
  }
  const listen = chooseListen(server.listens);
  const healthUrl = `${listen.ssl ? 'https' : 'http'}://${probeHost(listen.host)}:${listen.port}/`;
  const proxied = server.upstreams.map(upstreamUrl);
  const serverName = `the server listening on ${listenText(listen)} that proxies to ${proxied.join(', ')}`;

  const fields: [string, string, string][] = [
    ['instanceId', found.instanceId, found.instanceIdWhy],
    ['app', app.name, home.listedBy ?? home.why],
    ['pm2.home', home.home, home.why],
  ];
  if (home.user) fields.push(['pm2.user', home.user, `owner of ${home.home}`]);
  if (choices.upstream) fields.push(['upstream', choices.upstream, '--upstream']);
  fields.push(
    ['healthUrl', healthUrl, `nginx -T: ${serverName}`],
    ['nginx.accessLog', accessLog, 'nginx -T: access_log in force where it proxies'],
    ['nginx.errorLog', errorLog, 'nginx -T: error_log in force where it proxies'],
  );
  if (found.nginx.config) fields.push(['nginx.config', found.nginx.config, found.nginx.configWhy]);
  if (found.kernelLog) fields.push(['kernelLog', found.kernelLog, 'readable']);

  const profile = {
    instanceId: found.instanceId,
    app: app.name,
    pm2: { home: home.home, ...(home.user && { user: home.user }) },
    ...(choices.upstream && { upstream: choices.upstream }),
    healthUrl,
    nginx: { accessLog, errorLog, ...(found.nginx.config && { config: found.nginx.config }) },
    ...(found.kernelLog && { kernelLog: found.kernelLog }),
  };
  return { profile, fields, notes: notesFor(found, home, app, proxied, choices) };
}

function chooseApp(homes: readonly Pm2Home[], choices: InitChoices): { home: Pm2Home; app: Pm2App } {
  const scoped = choices.pm2User === undefined ? homes : homes.filter((home) => (home.user ?? home.owner) === choices.pm2User);
  const all = scoped.flatMap((home) => home.apps.map((app) => ({ home, app })));
  const where = (home: Pm2Home): string => `${home.user ? `user ${home.user}` : home.owner}, ${home.home}`;
  if (all.length === 0) {
    const looked = scoped.map((home) => home.home).join(', ') || 'no PM2 home';
    throw new InputError(`pm2: no PM2 app found (looked in ${looked}); start your app with PM2 and run "pm2 save", or pass --pm2-user NAME`, 'pm2');
  }
  const named = choices.app === undefined ? all : all.filter(({ app }) => app.name === choices.app);
  const list = all.map(({ home, app }) => `${app.name} (${where(home)})`).join('; ');
  if (named.length === 0) throw new InputError(`--app: no PM2 app "${choices.app}" (found: ${list})`, '--app');
  if (named.length > 1) {
    const names = new Set(named.map(({ app }) => app.name)).size;
    const pass = names === 1 ? '--pm2-user NAME' : choices.pm2User === undefined ? '--app NAME (or --pm2-user NAME)' : '--app NAME';
    throw new InputError(`app: ${named.length} PM2 apps found: ${named.map(({ home, app }) => `${app.name} (${where(home)})`).join('; ')}; pass ${pass}`, 'app');
  }
  return named[0] as { home: Pm2Home; app: Pm2App };
}

/** The server that proxies to the app's PORT, else the first one that proxies at all. */
function chooseServer(nginx: NginxFindings, app: Pm2App): NginxServer {
  const proxying = nginx.servers.filter((server) => server.upstreams.length > 0);
  const toApp = proxying.find((server) => server.upstreams.some((upstream) => upstream.port === app.port));
  const chosen = toApp ?? proxying[0];
  if (!chosen) {
    throw new InputError(`nginx: nginx -T (${nginx.config ?? 'default configuration'}) shows no server with proxy_pass; pass --nginx-config FILE for the configuration nginx runs`, 'nginx');
  }
  return chosen;
}

/** Plain HTTP first, IPv4 (or a wildcard) before IPv6: the probe must get an answer, not a TLS handshake. */
function chooseListen(listens: readonly NginxListen[]): NginxListen {
  const rank = (listen: NginxListen): number => (listen.ssl ? 2 : 0) + (listen.host.includes(':') && listen.host !== '::' ? 1 : 0);
  return [...listens].sort((a, b) => rank(a) - rank(b))[0] ?? { host: '0.0.0.0', port: 80, ssl: false };
}

function probeHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === 'localhost') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

function listenText(listen: NginxListen): string {
  return `${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}${listen.ssl ? ' ssl' : ''}`;
}

function upstreamUrl(upstream: UpstreamAddress): string {
  return `http://${upstream.host.includes(':') ? `[${upstream.host}]` : upstream.host}:${upstream.port}`;
}

function notesFor(found: BoxFindings, home: Pm2Home, app: Pm2App, proxied: string[], choices: InitChoices): string[] {
  const notes: string[] = [];
  if (!choices.upstream) {
    notes.push(`upstream: not written: nginx proxies to ${proxied.join(', ')}, and every snapshot reads it from nginx -T again`);
  } else {
    const given = parseUpstreamUrl(choices.upstream);
    if (given && !proxied.includes(upstreamUrl(given))) notes.push(`upstream: ${choices.upstream} is not what nginx proxies to (${proxied.join(', ')})`);
  }
  if (app.port !== undefined && !proxied.some((url) => url.endsWith(`:${app.port}`))) {
    notes.push(`app: ${app.name} has PORT ${app.port}, but nginx proxies to ${proxied.join(', ')}`);
  }
  if (!home.saved?.includes(app.name)) {
    notes.push(`pm2.ecosystem: not set, and ${app.name} is not in ${home.home}/dump.pm2: run "pm2 save"${home.user ? ` as ${home.user}` : ''} so that Reflex can start it again after PM2's daemon is lost`);
  } else {
    notes.push(`pm2.ecosystem: not set: a missing app is started from PM2's saved list (${home.home}/dump.pm2; run "pm2 save" after each deploy)`);
  }
  if (!found.kernelLog) notes.push(`kernelLog: not set: ${found.kernelLogTried} is not readable, so Reflex reads the kernel ring buffer (dmesg)`);
  return notes;
}

function appOf(name: unknown, port: unknown): Pm2App | undefined {
  if (typeof name !== 'string' || !PATTERNS.app.test(name)) return undefined;
  const number = typeof port === 'string' && /^\d{1,5}$/.test(port) ? Number(port) : typeof port === 'number' ? port : undefined;
  return number !== undefined && Number.isInteger(number) && number > 0 && number < 65536 ? { name, port: number } : { name };
}

function uniqueApps(apps: (Pm2App | undefined)[]): Pm2App[] {
  const unique: Pm2App[] = [];
  for (const app of apps) if (app && !unique.some((known) => known.name === app.name)) unique.push(app);
  return unique;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
