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
 * The upstream servers nginx proxies to, its proxy timeouts, the upstream keep-alive (`keepalive`, the block's own
 * `keepalive_timeout`) and the header buffers (`proxy_buffer_size`, `proxy_buffers`). A `proxy_pass` to an `upstream` block resolves to the
 * block's servers; to anything else, to its own host and port. Undefined when there is no `proxy_pass` at all.
 * When several locations set a timeout or a buffer, the first one counts.
 */
export function parseProxyConfig(text: string): ProxyConfig | undefined {
  const statements = readStatements(text);
  const blocks = new Map<string, UpstreamAddress[]>();
  const passes: string[] = [];
  const lines: string[] = [];
  let upstreamName: string | undefined;
  let readTimeout: number | undefined;
  let connectTimeout: number | undefined;
  const upstreamTuning: { keepalive?: number; keepaliveTimeoutSeconds?: number; proxyBufferSize?: string; proxyBuffers?: string } = {};
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
    } else if (upstreamName !== undefined && !opensBlock && (directive === 'keepalive' || directive === 'keepalive_timeout') && value !== undefined) {
      // Outside an upstream block keepalive_timeout is about clients, not the app: only the block's own counts.
      if (directive === 'keepalive' && /^\d+$/.test(value)) upstreamTuning.keepalive ??= Number(value);
      if (directive === 'keepalive_timeout') upstreamTuning.keepaliveTimeoutSeconds ??= toSeconds(value);
      lines.push(`${words.join(' ')};`);
    } else if (directive === 'proxy_buffer_size' && value !== undefined) {
      upstreamTuning.proxyBufferSize ??= value;
      lines.push(`${words.join(' ')};`);
    } else if (directive === 'proxy_buffers' && words.length >= 3) {
      upstreamTuning.proxyBuffers ??= words.slice(1, 3).join(' ');
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
    ...(upstreamTuning.keepalive !== undefined && { keepalive: upstreamTuning.keepalive }),
    ...(upstreamTuning.keepaliveTimeoutSeconds !== undefined && { keepaliveTimeoutSeconds: upstreamTuning.keepaliveTimeoutSeconds }),
    ...(upstreamTuning.proxyBufferSize !== undefined && { proxyBufferSize: upstreamTuning.proxyBufferSize }),
    ...(upstreamTuning.proxyBuffers !== undefined && { proxyBuffers: upstreamTuning.proxyBuffers }),
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

/** An address a `server` block listens on: `listen 80` → `{ host: '0.0.0.0', port: 80, ssl: false }`. */
export interface NginxListen {
  /** As written, brackets stripped; `0.0.0.0` for `*` or no address, `::` for `[::]`. */
  readonly host: string;
  readonly port: number;
  readonly ssl: boolean;
}

/** One `http` server of an `nginx -T` output, with the log files in force where it proxies. */
export interface NginxServer {
  readonly listens: NginxListen[];
  /** Where its `proxy_pass` directives lead (through `upstream` blocks); empty when it proxies nothing. */
  readonly upstreams: UpstreamAddress[];
  /** The first access log file in force in a location that proxies (its own, the server's, else http's); `off` skipped. */
  readonly accessLog?: string;
  /** The first error log file in force there (location, server, http, else the main context). */
  readonly errorLog?: string;
}

/**
 * The `http` servers of `nginx -T` output (or of one whole config file), in order. `nginx -T` prints each included
 * file after the one that includes it, so a file's top level (`sites-enabled/*`, `conf.d/*.conf`) counts as `http`
 * level here. Servers inside `stream` or `mail` are left out. Only absolute log paths count: `syslog:`, `stderr`
 * and `memory:` targets are not files Reflex can read.
 */
export function parseNginxServers(text: string): NginxServer[] {
  const root = readTree(text);
  const http = root.children.filter((block) => block.name === 'http');
  const httpLevel = [...http, root];
  const outer = {
    accessLog: firstLog(httpLevel, 'access_log'),
    errorLog: firstLog(http, 'error_log') ?? firstLog([root], 'error_log'),
  };
  const blocks = new Map<string, UpstreamAddress[]>();
  for (const upstream of findBlocks(root, 'upstream')) {
    const name = upstream.args[0];
    if (name === undefined) continue;
    const servers = upstream.directives.filter((words) => words[0] === 'server' && words[1] !== undefined && !words[1].startsWith('unix:'));
    blocks.set(name, servers.map((words) => parseHostPort(words[1] ?? '')).filter((server) => server !== undefined));
  }
  return findBlocks(root, 'server').map((server) => summarize(server, outer, blocks));
}

/** The files an `nginx -T` output is made of, main configuration first (its `# configuration file …:` lines). */
export function nginxConfigFiles(text: string): string[] {
  return [...text.matchAll(/^# configuration file (\/.*):$/gm)].map((match) => match[1] ?? '');
}

interface Block {
  readonly name: string;
  readonly args: string[];
  /** Its own simple directives (`words`), not those of nested blocks. */
  readonly directives: string[][];
  readonly children: Block[];
  /** A location whose own directives, or those of an `if`/`limit_except` in it, include `proxy_pass`. */
  proxies: boolean;
}

function readTree(text: string): Block {
  const root: Block = { name: '', args: [], directives: [], children: [], proxies: false };
  const stack: Block[] = [root];
  for (const { words, opensBlock } of readStatements(text)) {
    const current = stack[stack.length - 1] ?? root;
    if (words[0] === '}') {
      if (stack.length > 1) stack.pop();
    } else if (opensBlock) {
      const block: Block = { name: words[0] ?? '', args: words.slice(1), directives: [], children: [], proxies: false };
      current.children.push(block);
      stack.push(block);
    } else {
      current.directives.push(words);
      if (words[0] === 'proxy_pass') markEnclosingLocation(stack);
    }
  }
  return root;
}

/** A `proxy_pass` belongs to the innermost location around it (also from an `if` or `limit_except` inside it). */
function markEnclosingLocation(stack: Block[]): void {
  for (let index = stack.length - 1; index >= 0; index -= 1) {
    const block = stack[index];
    if (block?.name === 'location') {
      block.proxies = true;
      return;
    }
  }
}

/** Every block called `name`, depth first, not looking inside `stream` and `mail` (TCP/UDP and mail proxies). */
function findBlocks(block: Block, name: string): Block[] {
  const found: Block[] = [];
  for (const child of block.children) {
    if (child.name === 'stream' || child.name === 'mail') continue;
    if (child.name === name) found.push(child);
    else found.push(...findBlocks(child, name));
  }
  return found;
}

type LogValue = string | 'off' | undefined;

/** The first file a level's `access_log`/`error_log` directives name; `off` when that level turns logging off. */
function levelLog(block: Block, directive: 'access_log' | 'error_log'): LogValue {
  const values = block.directives.filter((words) => words[0] === directive).map((words) => words[1] ?? '');
  if (values.length === 0) return undefined;
  return values.find((value) => value.startsWith('/')) ?? 'off';
}

function firstLog(levels: Block[], directive: 'access_log' | 'error_log'): string | undefined {
  for (const level of levels) {
    const value = levelLog(level, directive);
    if (value !== undefined) return value === 'off' ? undefined : value;
  }
  return undefined;
}

/** The proxying locations of a server, each as the chain of blocks from the server down to it. */
function proxyingChains(block: Block, chain: Block[]): Block[][] {
  const chains: Block[][] = [];
  for (const child of block.children) {
    if (child.name !== 'location') continue;
    const inner = [...chain, child];
    if (child.proxies) chains.push(inner);
    chains.push(...proxyingChains(child, inner));
  }
  return chains;
}

/** The innermost level of `chain` that sets the directive decides (nginx does not merge log directives). */
function logInForce(chain: Block[], directive: 'access_log' | 'error_log', outer: string | undefined): string | undefined {
  for (let index = chain.length - 1; index >= 0; index -= 1) {
    const level = chain[index];
    const value = level ? levelLog(level, directive) : undefined;
    if (value !== undefined) return value === 'off' ? undefined : value;
  }
  return outer;
}

function summarize(server: Block, outer: { accessLog?: string; errorLog?: string }, blocks: Map<string, UpstreamAddress[]>): NginxServer {
  const chains = proxyingChains(server, [server]);
  const firstOf = (directive: 'access_log' | 'error_log', fallback: string | undefined): string | undefined =>
    chains.map((chain) => logInForce(chain, directive, fallback)).find((file) => file !== undefined);
  const accessLog = chains.length > 0 ? firstOf('access_log', outer.accessLog) : logInForce([server], 'access_log', outer.accessLog);
  const errorLog = chains.length > 0 ? firstOf('error_log', outer.errorLog) : logInForce([server], 'error_log', outer.errorLog);
  const listens = server.directives.filter((words) => words[0] === 'listen').map(parseListen).filter((listen) => listen !== undefined);
  return {
    // nginx listens on *:80 when a server says nothing (as root).
    listens: listens.length > 0 ? listens : [{ host: '0.0.0.0', port: 80, ssl: false }],
    upstreams: serverUpstreams(server, blocks),
    ...(accessLog !== undefined && { accessLog }),
    ...(errorLog !== undefined && { errorLog }),
  };
}

function serverUpstreams(server: Block, blocks: Map<string, UpstreamAddress[]>): UpstreamAddress[] {
  const upstreams: UpstreamAddress[] = [];
  const visit = (block: Block): void => {
    for (const words of block.directives) {
      const pass = words[0] === 'proxy_pass' ? words[1] : undefined;
      if (pass === undefined) continue;
      const name = /^https?:\/\/([^/:]+)(?:\/.*)?$/.exec(pass)?.[1];
      const resolved = name !== undefined && blocks.has(name) ? (blocks.get(name) ?? []) : [parseUpstreamUrl(pass)];
      for (const found of resolved) {
        if (found && !upstreams.some((known) => known.host === found.host && known.port === found.port)) upstreams.push(found);
      }
    }
    block.children.forEach(visit);
  };
  visit(server);
  return upstreams;
}

/** `listen 80`, `listen 127.0.0.1:8080`, `listen [::]:80 default_server`, `listen 443 ssl`; unix sockets and QUIC left out. */
function parseListen(words: string[]): NginxListen | undefined {
  const [, value = '', ...flags] = words;
  if (value.startsWith('unix:') || flags.includes('quic')) return undefined;
  const match = /^(?:(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.*_-]+):)?(\d{1,5})$/.exec(value) ?? /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]*[A-Za-z_-][A-Za-z0-9._-]*)()$/.exec(value);
  if (!match) return undefined;
  const [, rawHost, rawPort] = match;
  const port = rawPort ? Number(rawPort) : 80;
  if (port < 1 || port > 65535) return undefined;
  const bare = (rawHost ?? '*').replace(/^\[(.*)\]$/, '$1');
  const host = bare === '*' || bare === '' ? '0.0.0.0' : bare;
  return { host, port, ssl: flags.includes('ssl') };
}
