/** What nginx proxies to, read from its configuration (whole files, `nginx -T`, or the snapshot's `@@nginx-proxy` lines). */
import type { ProxyConfig, UpstreamAddress } from '../types.ts';

/** nginx's default for `proxy_read_timeout` and `proxy_connect_timeout`, seconds. */
const DEFAULT_TIMEOUT_SECONDS = 60;

const UNIT_SECONDS: Readonly<Record<string, number>> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/**
 * `http://127.0.0.1:3000` → `{ host: '127.0.0.1', port: 3000 }`; the default port is 80 (443 for https), brackets
 * are stripped (`[::1]` → `::1`). Undefined for anything that is not an http(s) URL with a host.
 */
export function parseUpstreamUrl(url: string): UpstreamAddress | undefined {
  const match = /^(https?):\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?(?:[/?#].*)?$/.exec(url.trim());
  if (!match) return undefined;
  const [, scheme, host = '', port] = match;
  return address(host, port, scheme === 'https' ? 443 : 80);
}

/**
 * The upstream servers nginx proxies to and its proxy timeouts. A `proxy_pass` to an `upstream` block resolves to the
 * block's servers; to anything else, to its own host and port. Undefined when there is no `proxy_pass` at all.
 * When several locations set a timeout, the first one counts.
 */
export function parseProxyConfig(text: string): ProxyConfig | undefined {
  const statements = readStatements(text);
  const blocks = new Map<string, UpstreamAddress[]>();
  const passes: string[] = [];
  const lines: string[] = [];
  let upstreamName: string | undefined;
  let readTimeout: number | undefined;
  let connectTimeout: number | undefined;
  for (const { words, opensBlock } of statements) {
    const [directive, value] = words;
    if (directive === '}') {
      upstreamName = undefined;
    } else if (directive === 'upstream' && opensBlock && value !== undefined) {
      upstreamName = value;
      blocks.set(value, blocks.get(value) ?? []);
      lines.push(`upstream ${value} {`);
    } else if (directive === 'server' && upstreamName !== undefined && !opensBlock && value !== undefined) {
      // `server 127.0.0.1:3000 max_fails=0;` (unix sockets have no address Reflex can probe)
      const server = value.startsWith('unix:') ? undefined : parseHostPort(value);
      if (server) blocks.get(upstreamName)?.push(server);
      lines.push(`${words.join(' ')};`);
    } else if (directive === 'proxy_pass' && value !== undefined) {
      passes.push(value);
      lines.push(`${words.join(' ')};`);
    } else if ((directive === 'proxy_read_timeout' || directive === 'proxy_connect_timeout') && value !== undefined) {
      const seconds = toSeconds(value);
      if (seconds === undefined) continue;
      if (directive === 'proxy_read_timeout') readTimeout ??= seconds;
      else connectTimeout ??= seconds;
      lines.push(`${words.join(' ')};`);
    }
  }
  if (passes.length === 0) return undefined;
  const upstreams: UpstreamAddress[] = [];
  for (const pass of passes) {
    const name = /^https?:\/\/([^/:]+)(?:\/.*)?$/.exec(pass)?.[1];
    const resolved = name !== undefined && blocks.has(name) ? (blocks.get(name) ?? []) : [parseUpstreamUrl(pass)];
    for (const server of resolved) {
      if (server && !upstreams.some((known) => known.host === server.host && known.port === server.port)) upstreams.push(server);
    }
  }
  return {
    upstreams,
    readTimeoutSeconds: readTimeout ?? DEFAULT_TIMEOUT_SECONDS,
    connectTimeoutSeconds: connectTimeout ?? DEFAULT_TIMEOUT_SECONDS,
    lines,
  };
}

interface Statement {
  readonly words: string[];
  /** Ends with `{` rather than `;`. */
  readonly opensBlock: boolean;
}

/** Splits config text into statements ending in `;` or `{`, plus lone `}`; comments removed. */
function readStatements(text: string): Statement[] {
  const statements: Statement[] = [];
  let words: string[] = [];
  const uncommented = text
    .split(/\r?\n/)
    .map((line) => line.replace(/#.*$/, ''))
    .join('\n');
  for (const token of uncommented.match(/[{};]|"[^"]*"|'[^']*'|[^\s{};]+/g) ?? []) {
    if (token === ';' || token === '{') {
      if (words.length > 0) statements.push({ words, opensBlock: token === '{' });
      words = [];
    } else if (token === '}') {
      words = [];
      statements.push({ words: ['}'], opensBlock: false });
    } else {
      words.push(token.replace(/^(["'])(.*)\1$/, '$2'));
    }
  }
  return statements;
}

/** nginx time values: `60`, `5s`, `500ms`, `1m`, `1m30s`. */
function toSeconds(value: string): number | undefined {
  if (!/^(\d+(ms|s|m|h|d)?)+$/.test(value)) return undefined;
  let seconds = 0;
  for (const [, amount, unit] of value.matchAll(/(\d+)(ms|s|m|h|d)?/g)) seconds += Number(amount) * (UNIT_SECONDS[unit ?? 's'] ?? 1);
  return seconds;
}

/** `127.0.0.1:3000`, `localhost`, `[::1]:3000` (an `upstream` server: no scheme, port 80 by default). */
function parseHostPort(value: string): UpstreamAddress | undefined {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?$/.exec(value);
  return match ? address(match[1] ?? '', match[2], 80) : undefined;
}

function address(host: string, port: string | undefined, defaultPort: number): UpstreamAddress | undefined {
  const number = port === undefined ? defaultPort : Number(port);
  if (!Number.isInteger(number) || number < 1 || number > 65535) return undefined;
  return { host: host.replace(/^\[(.*)\]$/, '$1'), port: number };
}
