/**
 * CloudWatch Logs adapter: the LogSource of the AWS flow, and the one bounded Logs Insights query that finds
 * which instances serve gateway errors. The CloudWatch agent writes one stream per instance, named by its id.
 */
import {
  FilterLogEventsCommand,
  GetQueryResultsCommand,
  StartQueryCommand,
  StopQueryCommand,
  type CloudWatchLogsClient,
  type ResultField,
} from '@aws-sdk/client-cloudwatch-logs';
import type { LogBundle } from '../../core/types.ts';
import type { Clock, LogSource, LogWindow } from '../../core/ports.ts';
import { GATEWAY_ERROR_PATTERN, GATEWAY_STATUSES } from '../../contract/telemetry.ts';
import { InputError, PATTERNS, checkPattern } from '../../core/validate.ts';
import { LogQueryError, awsErrorName, isAccessDenied, isThrottling } from './errors.ts';

/** Keeps only kernel OOM kills (`Out of memory: Killed process 111337 (node) …`). */
export const OOM_KILL_PATTERN = '"Killed process"';

/** FilterLogEvents returns at most 10,000 events a page. */
const MAX_PAGE_EVENTS = 10_000;
/** Pages can come back partly full or empty with a nextToken: the page count is bounded too. */
const MAX_PAGES_PER_GROUP = 10;
const MAX_FALLBACK_PAGES = 20;
const QUERY_POLL_MS = 1_000;
const FAILED_QUERY_STATES = new Set(['Failed', 'Cancelled', 'Timeout', 'Unknown']);

export interface LogGroups {
  readonly access: string;
  readonly error: string;
  readonly pm2: string;
  readonly kernel: string;
  /** The app's own stdout and stderr (`/reflex/<app>/pm2-app`); absent: only the snapshot's tail of them is read. */
  readonly app?: string;
}

export interface CloudWatchLogSourceOptions {
  readonly client: CloudWatchLogsClient;
  readonly groups: LogGroups;
  /** Newest lines kept per group. @default 200 */
  readonly maxLinesPerGroup?: number;
}

/** Reads one instance's stream in each of the log groups (four, five with the app's own output) over the incident window. */
export class CloudWatchLogSource implements LogSource {
  private readonly client: CloudWatchLogsClient;
  private readonly groups: LogGroups;
  private readonly maxLines: number;

  constructor(options: CloudWatchLogSourceOptions) {
    this.client = options.client;
    this.groups = options.groups;
    this.maxLines = options.maxLinesPerGroup ?? 200;
    if (!Number.isInteger(this.maxLines) || this.maxLines < 1 || this.maxLines > MAX_PAGE_EVENTS) {
      throw new InputError(`maxLinesPerGroup: must be an integer from 1 to ${MAX_PAGE_EVENTS}, got ${this.maxLines}`, 'maxLinesPerGroup');
    }
  }

  /** Raw `message` lines per group, newest last. A missing group or stream gives no lines, not an error. */
  async fetch(instanceId: string, window: LogWindow): Promise<LogBundle> {
    checkPattern('instanceId', instanceId, PATTERNS.instanceId, 'an EC2 instance id like i-0123456789abcdef0');
    const app = this.groups.app;
    const [accessLines, errorLines, pm2Lines, kernelLines, appLines] = await Promise.all([
      this.newestLines(this.groups.access, instanceId, window, GATEWAY_ERROR_PATTERN),
      this.newestLines(this.groups.error, instanceId, window),
      this.newestLines(this.groups.pm2, instanceId, window),
      this.newestLines(this.groups.kernel, instanceId, window, OOM_KILL_PATTERN),
      app ? this.newestLines(app, instanceId, window) : Promise.resolve(undefined),
    ]);
    return { accessLines, errorLines, pm2Lines, kernelLines, ...(appLines && { appLines }) };
  }

  private async newestLines(group: string, instanceId: string, window: LogWindow, filterPattern?: string): Promise<string[]> {
    const newestFirst: string[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    try {
      do {
        const page = await this.client.send(
          new FilterLogEventsCommand({
            logGroupName: group,
            logStreamNames: [instanceId],
            startTime: window.start.getTime(),
            endTime: window.end.getTime(),
            filterPattern,
            // Newest first, so stopping at the bound keeps the lines closest to the alarm.
            startFromHead: false,
            limit: this.maxLines - newestFirst.length,
            nextToken,
          }),
        );
        for (const event of page.events ?? []) {
          if (event.message !== undefined && newestFirst.length < this.maxLines) newestFirst.push(event.message);
        }
        nextToken = page.nextToken;
        pages += 1;
      } while (nextToken && newestFirst.length < this.maxLines && pages < MAX_PAGES_PER_GROUP);
    } catch (error) {
      if (awsErrorName(error) === 'ResourceNotFoundException') return [];
      throw logQueryError('FilterLogEvents', group, error);
    }
    return newestFirst.reverse();
  }
}

export interface AffectedInstance {
  readonly instanceId: string;
  readonly gatewayErrors: number;
}

export interface AffectedInstances {
  /** Most gateway errors first. */
  readonly instances: AffectedInstance[];
  /** `filter` when Logs Insights was busy, failed or too slow and FilterLogEvents counted instead. */
  readonly via: 'insights' | 'filter';
  /** What the Insights query scanned (it is billed per GB). */
  readonly bytesScanned?: number;
}

export interface FindAffectedInstancesOptions {
  readonly client: CloudWatchLogsClient;
  readonly accessGroup: string;
  readonly window: LogWindow;
  readonly clock?: Clock;
  /** How long to wait for the Insights query before stopping it and counting with FilterLogEvents. @default 20000 */
  readonly queryTimeoutMs?: number;
  /** Most instances returned. @default 50 */
  readonly limit?: number;
}

const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * The instances whose access log stream holds gateway errors (502/503/504) in the window, with their counts.
 * One bounded Logs Insights query; when Insights is at its concurrency limit, fails or does not finish in time,
 * FilterLogEvents counts events per stream instead. Streams not named like an instance id are skipped.
 */
export async function findAffectedInstances(options: FindAffectedInstancesOptions): Promise<AffectedInstances> {
  const { client, accessGroup, window } = options;
  const clock = options.clock ?? systemClock;
  const timeoutMs = options.queryTimeoutMs ?? 20_000;
  const limit = options.limit ?? 50;
  // The limit is written into the query text: only a small integer may go there.
  if (!Number.isInteger(limit) || limit < 1 || limit > 1_000) {
    throw new InputError(`limit: must be an integer from 1 to 1000, got ${limit}`, 'limit');
  }
  const fallback = () => countWithFilter(client, accessGroup, window, limit);

  let queryId: string | undefined;
  try {
    const command = new StartQueryCommand({
      logGroupNames: [accessGroup],
      // Logs Insights takes epoch seconds; widen to whole seconds so the window is fully covered.
      startTime: Math.floor(window.start.getTime() / 1000),
      endTime: Math.ceil(window.end.getTime() / 1000),
      queryString: `filter status in [${GATEWAY_STATUSES.join(', ')}] | stats count(*) as errors by @logStream | sort errors desc | limit ${limit}`,
      limit,
    });
    const started = await client.send(withoutRetries(command));
    queryId = started.queryId;
  } catch (error) {
    if (awsErrorName(error) === 'LimitExceededException' || isThrottling(error)) return fallback();
    throw logQueryError('StartQuery', accessGroup, error);
  }
  if (!queryId) return fallback();

  const deadline = clock.now().getTime() + timeoutMs;
  for (;;) {
    let page;
    try {
      page = await client.send(new GetQueryResultsCommand({ queryId }));
    } catch (error) {
      throw logQueryError('GetQueryResults', accessGroup, error);
    }
    if (page.status === 'Complete') {
      return { instances: fromInsightsRows(page.results ?? [], limit), via: 'insights', bytesScanned: page.statistics?.bytesScanned };
    }
    if (page.status !== undefined && FAILED_QUERY_STATES.has(page.status)) return fallback();
    if (clock.now().getTime() >= deadline) {
      await stopQuietly(client, queryId);
      return fallback();
    }
    await clock.sleep(QUERY_POLL_MS);
  }
}

/**
 * The command, sent once. `LimitExceededException` is StartQuery's documented answer when the account's concurrent
 * Logs Insights queries are used up, and the SDK classifies it as throttling: it would retry twice with back-off
 * (about 1.4 s) before the fallback that answers anyway. A command-level middleware with the retry middleware's
 * name replaces the client's for this command only.
 */
function withoutRetries(command: StartQueryCommand): StartQueryCommand {
  command.middlewareStack.add((next) => (args) => next(args), {
    name: 'retryMiddleware',
    step: 'finalizeRequest',
    priority: 'high',
    tags: ['RETRY'],
    override: true,
  });
  return command;
}

function fromInsightsRows(rows: ResultField[][], limit: number): AffectedInstance[] {
  const instances: AffectedInstance[] = [];
  for (const row of rows) {
    const stream = row.find((cell) => cell.field === '@logStream')?.value;
    const errors = Number(row.find((cell) => cell.field === 'errors')?.value);
    if (stream && PATTERNS.instanceId.test(stream) && Number.isFinite(errors)) {
      instances.push({ instanceId: stream, gatewayErrors: errors });
    }
  }
  return instances.sort(byErrorsThenId).slice(0, limit);
}

async function countWithFilter(client: CloudWatchLogsClient, group: string, window: LogWindow, limit: number): Promise<AffectedInstances> {
  const counts = new Map<string, number>();
  let nextToken: string | undefined;
  let pages = 0;
  try {
    do {
      const page = await client.send(
        new FilterLogEventsCommand({
          logGroupName: group,
          startTime: window.start.getTime(),
          endTime: window.end.getTime(),
          filterPattern: GATEWAY_ERROR_PATTERN,
          limit: MAX_PAGE_EVENTS,
          nextToken,
        }),
      );
      for (const event of page.events ?? []) {
        const stream = event.logStreamName;
        if (stream && PATTERNS.instanceId.test(stream)) counts.set(stream, (counts.get(stream) ?? 0) + 1);
      }
      nextToken = page.nextToken;
      pages += 1;
    } while (nextToken && pages < MAX_FALLBACK_PAGES);
  } catch (error) {
    throw logQueryError('FilterLogEvents', group, error);
  }
  const instances = [...counts].map(([instanceId, gatewayErrors]) => ({ instanceId, gatewayErrors }));
  return { instances: instances.sort(byErrorsThenId).slice(0, limit), via: 'filter' };
}

function byErrorsThenId(a: AffectedInstance, b: AffectedInstance): number {
  return b.gatewayErrors - a.gatewayErrors || a.instanceId.localeCompare(b.instanceId);
}

/** Stopping only saves scan cost: a query that already ended cannot be stopped, and that is fine. */
async function stopQuietly(client: CloudWatchLogsClient, queryId: string): Promise<void> {
  try {
    await client.send(new StopQueryCommand({ queryId }));
  } catch {
    // Nothing to do: the fallback below does not depend on the query being stopped.
  }
}

function logQueryError(operation: string, group: string, error: unknown): LogQueryError {
  const name = awsErrorName(error);
  let advice = 'check the log group name and the responder role';
  if (name === 'ResourceNotFoundException') advice = 'the log group does not exist: check the configured group name and region';
  else if (isAccessDenied(error)) advice = `the responder role may not call logs:${operation} on this group: check its policy`;
  else if (isThrottling(error)) advice = 'CloudWatch Logs is throttling this account: retry in a minute';
  return new LogQueryError(`CloudWatch Logs ${operation} on ${group} failed (${name}): ${advice}.`, { cause: error });
}
