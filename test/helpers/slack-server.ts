/**
 * Slack, played by a local HTTP server on 127.0.0.1: the Web API under `/api/` and incoming webhooks on any other
 * path. The real Slack clients are pointed at it (`slackApiUrl`, the webhook URL), so what is tested is what ships.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The path of {@link FakeSlack.webhookUrl}; its last part stands for the secret in a real webhook URL. */
export const WEBHOOK_PATH = '/services/T000/B000/secretpart';

/** One request Slack received. */
export interface SlackRequest {
  readonly path: string;
  /** The Web API method (`chat.postMessage`), or `webhook` for any path outside `/api/`. */
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  /** JSON bodies as sent; form bodies (the Web API client's) as fields, with `blocks` decoded from its JSON. */
  readonly body: Record<string, unknown>;
}

/** What Slack answers: a string body goes out as text/plain, anything else as JSON. */
export interface SlackReply {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body: unknown;
}

/**
 * Records every request and answers like Slack: a post gets a new `ts` (`1764000000.000001`, then `…002`), an update
 * answers with the `ts` it edited, a webhook answers `ok`. A per-path script of replies goes first, then a reply set
 * with {@link answerAlways}.
 */
export class FakeSlack {
  readonly requests: SlackRequest[] = [];
  private readonly scripts = new Map<string, SlackReply[]>();
  private always: SlackReply | undefined;
  private held: (() => void)[] | undefined;
  private server: Server | undefined;
  private port = 0;
  private ts = 1;

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const path = request.url ?? '';
        const body = parseBody(Buffer.concat(chunks).toString('utf8'), request.headers['content-type']);
        const method = path.startsWith('/api/') ? path.slice('/api/'.length) : 'webhook';
        this.requests.push({ path, method, headers: request.headers, body });
        const answer = (): void => this.answer(path, body, response);
        if (this.held) this.held.push(answer);
        else answer();
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.port = (this.server?.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** A Slack with no history and no scripted answers, answering at once; message timestamps start again at 1. */
  reset(): void {
    this.forget();
    this.scripts.clear();
    this.always = undefined;
    this.held = undefined;
    this.ts = 1;
  }

  /** Forgets the requests seen so far (messages already posted stay posted). */
  forget(): void {
    this.requests.length = 0;
  }

  /** The next requests to `path` (`/api/chat.postMessage`, {@link WEBHOOK_PATH}) get these replies, in order. */
  script(path: string, replies: SlackReply[]): void {
    this.scripts.set(path, [...replies]);
  }

  /** Every request without a scripted reply gets this one (an outage, a revoked token). */
  answerAlways(reply: SlackReply): void {
    this.always = reply;
  }

  /** Answers nothing until the returned function is called (a slow Slack). */
  hold(): () => void {
    this.held = [];
    return () => {
      const waiting = this.held ?? [];
      this.held = undefined;
      for (const answer of waiting) answer();
    };
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api/`;
  }

  get webhookUrl(): string {
    return `http://127.0.0.1:${this.port}${WEBHOOK_PATH}`;
  }

  /** `chat.postMessage`, `chat.update`, `thread` (a threaded reply) or `webhook`, in order. */
  get calls(): string[] {
    return this.requests.map((request) => (isThreadReply(request) ? 'thread' : request.method));
  }

  /** The first line of each message's fallback text (threaded replies left out): the headline without its emoji. */
  get headlines(): string[] {
    return this.requests.filter((request) => !isThreadReply(request)).map((request) => String(request.body['text']).split('\n')[0] ?? '');
  }

  /** The incident messages: Web API posts that are not a threaded reply. */
  get incidentPosts(): SlackRequest[] {
    return this.requests.filter((request) => request.method === 'chat.postMessage' && !isThreadReply(request));
  }

  get updates(): SlackRequest[] {
    return this.requests.filter((request) => request.method === 'chat.update');
  }

  get threadReplies(): SlackRequest[] {
    return this.requests.filter(isThreadReply);
  }

  private answer(path: string, body: Record<string, unknown>, response: ServerResponse): void {
    const reply = this.scripts.get(path)?.shift() ?? this.always ?? this.success(path, body);
    const text = typeof reply.body === 'string' ? reply.body : undefined;
    response.writeHead(reply.status, { 'content-type': text === undefined ? 'application/json' : 'text/plain', ...reply.headers });
    response.end(text ?? JSON.stringify(reply.body));
  }

  private success(path: string, body: Record<string, unknown>): SlackReply {
    if (!path.startsWith('/api/')) return { status: 200, body: 'ok' };
    const ts = path === '/api/chat.update' ? String(body['ts']) : `1764000000.${String(this.ts++).padStart(6, '0')}`;
    return { status: 200, body: { ok: true, channel: 'C0CHANNEL', ts } };
  }
}

function isThreadReply(request: SlackRequest): boolean {
  return request.method === 'chat.postMessage' && request.body['thread_ts'] !== undefined;
}

/** The Web API client sends form bodies with JSON-encoded blocks; webhooks send JSON. */
function parseBody(raw: string, contentType: string | undefined): Record<string, unknown> {
  if (contentType?.includes('application/json')) return JSON.parse(raw) as Record<string, unknown>;
  const body: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    body[key] = key === 'blocks' ? JSON.parse(value) : value;
  }
  return body;
}
