/**
 * CloudWatch Logs, emulated over a host's real log files. An emulated agent tails each file of the CloudWatch
 * agent configuration into its log group, one stream per instance named by the instance id, and stamps each line
 * with the time it read it (the stack's agent configuration sets no timestamp_format, so the real agent does the
 * same). FilterLogEvents answers from those events with the filter patterns the responder uses; StartQuery answers
 * LimitExceededException by default (an account at its Logs Insights concurrency limit), so the fallback runs.
 */
import { open, stat } from 'node:fs/promises';
import { AwsServiceError } from './errors.ts';

/** How often the emulated agent reads its files (the real one flushes every 5 s by default; tests want less). */
const TAIL_INTERVAL_MS = 200;
const MAX_PAGE_EVENTS = 10_000;

export interface LogEvent {
  readonly logStreamName: string;
  readonly timestamp: number;
  readonly ingestionTime: number;
  readonly message: string;
  readonly eventId: string;
}

/** One file the agent ships: `file_path` → `log_group_name`, stream `{instance_id}`. */
export interface CollectedFile {
  readonly filePath: string;
  readonly logGroupName: string;
}

interface Tail {
  readonly file: CollectedFile;
  readonly stream: string;
  offset: number;
  partial: string;
}

export class LogsEmulator {
  /** Every StartQuery call (Logs Insights), whatever it answered. */
  readonly startQueries: Record<string, unknown>[] = [];
  private readonly events = new Map<string, LogEvent[]>();
  private readonly tails: Tail[] = [];
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> = Promise.resolve();
  private sequence = 0;

  constructor(groups: Iterable<string>) {
    for (const group of groups) this.events.set(group, []);
  }

  /** Starts the agent of one instance: its files are read from their current start, then followed. */
  attach(instanceId: string, files: readonly CollectedFile[]): void {
    for (const file of files) {
      if (!this.events.has(file.logGroupName)) throw new Error(`agent configuration names log group ${file.logGroupName}, which the stack does not create`);
      this.tails.push({ file, stream: instanceId, offset: 0, partial: '' });
    }
    this.timer ??= setInterval(() => void this.flush(), TAIL_INTERVAL_MS);
    this.timer.unref();
  }

  /** Stops following the instance's files (its events stay). */
  detach(instanceId: string): void {
    for (let i = this.tails.length - 1; i >= 0; i--) if (this.tails[i]?.stream === instanceId) this.tails.splice(i, 1);
  }

  /** Forgets every event (between tests). */
  clear(): void {
    for (const list of this.events.values()) list.length = 0;
    this.startQueries.length = 0;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reads what was appended to every followed file since the last read. */
  flush(): Promise<void> {
    this.reading = this.reading.then(() => this.readAll()).catch(() => undefined);
    return this.reading;
  }

  handle(operation: string, input: Record<string, unknown>): Record<string, unknown> {
    switch (operation) {
      case 'FilterLogEvents':
        // Only what the agent has shipped: a line written since its last read is not in CloudWatch yet.
        return this.filterLogEvents(input);
      case 'StartQuery':
        this.startQueries.push(input);
        throw new AwsServiceError(400, 'LimitExceededException', 'Account maximum query concurrency limit of [30] reached.');
      case 'GetQueryResults':
      case 'StopQuery':
        throw new AwsServiceError(400, 'ResourceNotFoundException', 'The query does not exist.');
      default:
        throw new AwsServiceError(400, 'InvalidAction', `the CloudWatch Logs emulation does not implement ${operation}`);
    }
  }

  private async readAll(): Promise<void> {
    for (const tail of this.tails) await this.read(tail);
  }

  private async read(tail: Tail): Promise<void> {
    const size = await stat(tail.file.filePath).then((s) => s.size, () => -1);
    if (size < 0) return;
    // Truncated or replaced: start again from the top, as the agent does.
    if (size < tail.offset) {
      tail.offset = 0;
      tail.partial = '';
    }
    if (size === tail.offset) return;
    const handle = await open(tail.file.filePath, 'r');
    try {
      const buffer = Buffer.alloc(size - tail.offset);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, tail.offset);
      tail.offset += bytesRead;
      const text = tail.partial + buffer.subarray(0, bytesRead).toString('utf8');
      const lines = text.split('\n');
      tail.partial = lines.pop() ?? '';
      const now = Date.now();
      const list = this.events.get(tail.file.logGroupName) ?? [];
      for (const line of lines) {
        if (line === '') continue;
        this.sequence += 1;
        list.push({ logStreamName: tail.stream, timestamp: now, ingestionTime: now, message: line, eventId: String(this.sequence).padStart(20, '0') });
      }
    } finally {
      await handle.close();
    }
  }

  private filterLogEvents(input: Record<string, unknown>): Record<string, unknown> {
    const group = String(input['logGroupName'] ?? input['logGroupIdentifier'] ?? '');
    const all = this.events.get(group);
    if (!all) throw new AwsServiceError(400, 'ResourceNotFoundException', 'The specified log group does not exist.');
    const streams = input['logStreamNames'] as string[] | undefined;
    const prefix = input['logStreamNamePrefix'] as string | undefined;
    const start = typeof input['startTime'] === 'number' ? input['startTime'] : 0;
    const end = typeof input['endTime'] === 'number' ? input['endTime'] : Number.MAX_SAFE_INTEGER;
    const limit = typeof input['limit'] === 'number' ? input['limit'] : MAX_PAGE_EVENTS;
    if (limit < 1 || limit > MAX_PAGE_EVENTS) throw new AwsServiceError(400, 'InvalidParameterException', 'limit must be from 1 to 10000.');
    const matches = compileFilterPattern(input['filterPattern'] as string | undefined);
    let found = all.filter(
      (event) =>
        event.timestamp >= start &&
        event.timestamp <= end &&
        (!streams || streams.includes(event.logStreamName)) &&
        (!prefix || event.logStreamName.startsWith(prefix)) &&
        matches(event.message),
    );
    if (input['startFromHead'] === false) found = [...found].reverse();
    const offset = Number(input['nextToken'] ?? 0);
    const page = found.slice(offset, offset + limit);
    const more = offset + limit < found.length;
    return { events: page, searchedLogStreams: [], ...(more && { nextToken: String(offset + limit) }) };
  }
}

/**
 * A CloudWatch Logs filter pattern as a predicate, for the forms Reflex uses: empty (everything), terms and quoted
 * phrases (all must appear), and JSON patterns `{ ($.status = 502) || ($.status = 503) }` with `=`, `!=`, `<`, `>`,
 * `<=`, `>=`, `&&`, `||` and parentheses. Anything else is refused, so a new pattern is noticed rather than ignored.
 */
export function compileFilterPattern(pattern: string | undefined): (message: string) => boolean {
  const text = (pattern ?? '').trim();
  if (text === '') return () => true;
  if (text.startsWith('{')) return compileJsonPattern(text);
  const terms = [...text.matchAll(/"([^"]*)"|(\S+)/g)].map((match) => match[1] ?? match[2] ?? '');
  if (terms.some((term) => /^[-?]|[{}]/.test(term))) throw unsupported(text);
  return (message) => terms.every((term) => message.includes(term));
}

function unsupported(pattern: string): AwsServiceError {
  return new AwsServiceError(400, 'InvalidParameterException', `the emulation does not support the filter pattern ${pattern}`);
}

type Node = (record: unknown) => boolean;

function compileJsonPattern(pattern: string): (message: string) => boolean {
  if (!pattern.endsWith('}')) throw unsupported(pattern);
  const tokens = pattern.slice(1, -1).match(/\$\.[A-Za-z0-9_.]+|"(?:[^"\\]|\\.)*"|&&|\|\||[()]|!=|<=|>=|=|<|>|[^\s()]+/g) ?? [];
  let at = 0;
  const peek = (): string | undefined => tokens[at];
  const take = (): string => {
    const token = tokens[at++];
    if (token === undefined) throw unsupported(pattern);
    return token;
  };
  const comparison = (): Node => {
    if (peek() === '(') {
      take();
      const inner = expression();
      if (take() !== ')') throw unsupported(pattern);
      return inner;
    }
    const selector = take();
    const operator = take();
    const raw = take();
    if (!selector.startsWith('$.') || !['=', '!=', '<', '>', '<=', '>='].includes(operator)) throw unsupported(pattern);
    const path = selector.slice(2).split('.');
    const value: string | number = raw.startsWith('"') ? (JSON.parse(raw) as string) : Number.isFinite(Number(raw)) ? Number(raw) : raw;
    return (record) => {
      let field: unknown = record;
      for (const key of path) field = field !== null && typeof field === 'object' ? (field as Record<string, unknown>)[key] : undefined;
      if (typeof value === 'number') {
        if (typeof field !== 'number') return false;
        return { '=': field === value, '!=': field !== value, '<': field < value, '>': field > value, '<=': field <= value, '>=': field >= value }[operator] ?? false;
      }
      if (typeof field !== 'string') return false;
      if (operator === '=') return wildcard(value).test(field);
      if (operator === '!=') return !wildcard(value).test(field);
      throw unsupported(pattern);
    };
  };
  const expression = (): Node => {
    let left = comparison();
    while (peek() === '&&' || peek() === '||') {
      const operator = take();
      const right = comparison();
      const previous = left;
      left = operator === '&&' ? (record) => previous(record) && right(record) : (record) => previous(record) || right(record);
    }
    return left;
  };
  const root = expression();
  if (at !== tokens.length) throw unsupported(pattern);
  return (message) => {
    let record: unknown;
    try {
      record = JSON.parse(message);
    } catch {
      return false;
    }
    return record !== null && typeof record === 'object' && root(record);
  };
}

function wildcard(value: string): RegExp {
  return new RegExp(`^${value.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}
