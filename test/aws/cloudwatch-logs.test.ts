import {
  AccessDeniedException,
  CloudWatchLogsClient,
  FilterLogEventsCommand,
  GetQueryResultsCommand,
  LimitExceededException,
  ResourceNotFoundException,
  StartQueryCommand,
  StopQueryCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { CloudWatchLogSource, OOM_KILL_PATTERN, findAffectedInstances } from '../../functions/adapters/aws/cloudwatch-logs.ts';
import { GATEWAY_ERROR_PATTERN } from '../../functions/contract/telemetry.ts';
import { LogQueryError } from '../../functions/adapters/aws/errors.ts';
import type { Clock } from '../../functions/core/ports.ts';
import { InputError } from '../../functions/core/validate.ts';

const logs = mockClient(CloudWatchLogsClient);
const client = new CloudWatchLogsClient({ region: 'eu-west-1' });
const groups = { access: '/reflex/nginx/access', error: '/reflex/nginx/error', pm2: '/reflex/pm2', kernel: '/reflex/kernel' };
const instanceId = 'i-0123456789abcdef0';
const window = { start: new Date('2026-11-24T10:00:00.000Z'), end: new Date('2026-11-24T10:05:00.000Z') };

const accessLine = (second: number) =>
  `{"time":"2026-11-24T10:00:${String(second).padStart(2, '0')}+00:00","status":502,"request":"GET / HTTP/1.1","upstream_status":"502","upstream_addr":"127.0.0.1:3000","upstream_response_time":"0.001","request_time":0.001}`;

/** A clock whose sleep moves time forward: no real waiting, no timing in the assertions. */
function fakeClock(start = Date.parse('2026-11-24T10:05:10.000Z')): Clock {
  let now = start;
  return {
    now: () => new Date(now),
    sleep: async (ms) => {
      now += ms;
    },
  };
}

function callsFor(group: string) {
  return logs.commandCalls(FilterLogEventsCommand).filter((call) => call.args[0].input.logGroupName === group);
}

beforeEach(() => {
  logs.reset();
});

describe('CloudWatchLogSource', () => {
  it('reads each group on the instance stream, filters access and kernel lines, and returns newest last', async () => {
    // Prepare: pages come newest first (startFromHead false)
    logs.on(FilterLogEventsCommand).resolves({ events: [] });
    logs.on(FilterLogEventsCommand, { logGroupName: groups.access }).resolves({
      events: [
        { message: accessLine(2), timestamp: 2, logStreamName: instanceId },
        { message: accessLine(1), timestamp: 1, logStreamName: instanceId },
      ],
    });
    logs.on(FilterLogEventsCommand, { logGroupName: groups.kernel }).resolves({
      events: [{ message: 'Out of memory: Killed process 111337 (node) total-vm:562060kB, anon-rss:416096kB', timestamp: 1 }],
    });
    const source = new CloudWatchLogSource({ client, groups });

    // Act
    const bundle = await source.fetch(instanceId, window);

    // Assess
    expect(bundle).toEqual({
      accessLines: [accessLine(1), accessLine(2)],
      errorLines: [],
      pm2Lines: [],
      kernelLines: ['Out of memory: Killed process 111337 (node) total-vm:562060kB, anon-rss:416096kB'],
    });
    const common = {
      logStreamNames: [instanceId],
      startTime: Date.parse('2026-11-24T10:00:00.000Z'),
      endTime: Date.parse('2026-11-24T10:05:00.000Z'),
      startFromHead: false,
      limit: 200,
      nextToken: undefined,
    };
    expect(callsFor(groups.access)[0]?.args[0].input).toEqual({ ...common, logGroupName: groups.access, filterPattern: GATEWAY_ERROR_PATTERN });
    expect(callsFor(groups.kernel)[0]?.args[0].input).toEqual({ ...common, logGroupName: groups.kernel, filterPattern: OOM_KILL_PATTERN });
    expect(callsFor(groups.error)[0]?.args[0].input).toEqual({ ...common, logGroupName: groups.error, filterPattern: undefined });
    expect(callsFor(groups.pm2)[0]?.args[0].input).toEqual({ ...common, logGroupName: groups.pm2, filterPattern: undefined });
    expect(logs.send.firstCall.thisValue).toBe(client);
  });

  it("reads the app's own output from the pm2-app group when one is configured", async () => {
    // Prepare
    logs.on(FilterLogEventsCommand).resolves({ events: [] });
    logs.on(FilterLogEventsCommand, { logGroupName: '/reflex/web/pm2-app' }).resolves({
      events: [
        { message: 'Error: listen EADDRINUSE: address already in use 127.0.0.1:3000', timestamp: 2 },
        { message: '⨯ Failed to start server', timestamp: 1 },
      ],
    });
    const source = new CloudWatchLogSource({ client, groups: { ...groups, app: '/reflex/web/pm2-app' } });

    // Act
    const bundle = await source.fetch(instanceId, window);

    // Assess
    expect(bundle.appLines).toEqual(['⨯ Failed to start server', 'Error: listen EADDRINUSE: address already in use 127.0.0.1:3000']);
    expect(callsFor('/reflex/web/pm2-app')[0]?.args[0].input).toMatchObject({ logStreamNames: [instanceId], filterPattern: undefined });
  });

  it('pages until maxLinesPerGroup and keeps the newest lines', async () => {
    // Prepare
    logs.on(FilterLogEventsCommand).resolves({ events: [] });
    logs
      .on(FilterLogEventsCommand, { logGroupName: groups.pm2 })
      .resolvesOnce({ events: [{ message: 'line 5' }, { message: 'line 4' }], nextToken: 'page-2' })
      .resolvesOnce({ events: [{ message: 'line 3' }, { message: 'line 2' }], nextToken: 'page-3' })
      .resolves({ events: [{ message: 'line 1' }] });
    const source = new CloudWatchLogSource({ client, groups, maxLinesPerGroup: 3 });

    // Act
    const bundle = await source.fetch(instanceId, window);

    // Assess
    expect(bundle.pm2Lines).toEqual(['line 3', 'line 4', 'line 5']);
    const pm2Calls = callsFor(groups.pm2);
    expect(pm2Calls).toHaveLength(2);
    expect(pm2Calls[1]?.args[0].input).toMatchObject({ nextToken: 'page-2', limit: 1 });
  });

  it('stops after a bounded number of empty pages that still carry a nextToken', async () => {
    // Prepare
    logs.on(FilterLogEventsCommand).resolves({ events: [] });
    logs.on(FilterLogEventsCommand, { logGroupName: groups.error }).resolves({ events: [], nextToken: 'more' });
    const source = new CloudWatchLogSource({ client, groups });

    // Act
    const bundle = await source.fetch(instanceId, window);

    // Assess
    expect(bundle.errorLines).toEqual([]);
    expect(callsFor(groups.error)).toHaveLength(10);
  });

  it('gives no lines for a missing group or stream instead of failing', async () => {
    // Prepare
    logs.on(FilterLogEventsCommand).resolves({ events: [{ message: 'App [web:0] online' }] });
    logs
      .on(FilterLogEventsCommand, { logGroupName: groups.kernel })
      .rejects(new ResourceNotFoundException({ $metadata: {}, message: 'The specified log group does not exist.' }));
    const source = new CloudWatchLogSource({ client, groups });

    // Act
    const bundle = await source.fetch(instanceId, window);

    // Assess
    expect(bundle.kernelLines).toEqual([]);
    expect(bundle.pm2Lines).toEqual(['App [web:0] online']);
  });

  it('turns a refused call into a LogQueryError naming the group, without the SDK message', async () => {
    // Prepare
    logs.on(FilterLogEventsCommand).resolves({ events: [] });
    logs
      .on(FilterLogEventsCommand, { logGroupName: groups.error })
      .rejects(new AccessDeniedException({ $metadata: {}, message: 'User arn:aws:sts::123456789012:assumed-role/x is not authorized' }));
    const source = new CloudWatchLogSource({ client, groups });

    // Act
    const failure = await source.fetch(instanceId, window).catch((error: unknown) => error);

    // Assess
    expect(failure).toBeInstanceOf(LogQueryError);
    expect((failure as Error).message).toContain(groups.error);
    expect((failure as Error).message).toContain('AccessDeniedException');
    expect((failure as Error).message).not.toContain('assumed-role');
  });

  it('rejects a bad instance id before any call', async () => {
    // Prepare
    const source = new CloudWatchLogSource({ client, groups });

    // Act
    const failure = await source.fetch('i-123; rm -rf /', window).catch((error: unknown) => error);

    // Assess
    expect(failure).toBeInstanceOf(InputError);
    expect((failure as InputError).field).toBe('instanceId');
    expect(logs.calls()).toHaveLength(0);
  });
});

describe('findAffectedInstances', () => {
  it('runs one bounded Insights query and returns instance streams, most errors first', async () => {
    // Prepare
    logs.on(StartQueryCommand).resolves({ queryId: 'q-1' });
    logs
      .on(GetQueryResultsCommand)
      .resolvesOnce({ status: 'Running' })
      .resolves({
        status: 'Complete',
        statistics: { bytesScanned: 52_000, recordsMatched: 49 },
        results: [
          [
            { field: '@logStream', value: 'i-0aaaaaaaaaaaaaaaa' },
            { field: 'errors', value: '12' },
          ],
          [
            { field: '@logStream', value: 'ip-10-0-1-248' },
            { field: 'errors', value: '30' },
          ],
          [
            { field: '@logStream', value: 'i-0bbbbbbbbbbbbbbbb' },
            { field: 'errors', value: '37' },
          ],
        ],
      });

    // Act
    const found = await findAffectedInstances({ client, accessGroup: groups.access, window, clock: fakeClock(), limit: 10 });

    // Assess
    expect(found).toEqual({
      via: 'insights',
      bytesScanned: 52_000,
      instances: [
        { instanceId: 'i-0bbbbbbbbbbbbbbbb', gatewayErrors: 37 },
        { instanceId: 'i-0aaaaaaaaaaaaaaaa', gatewayErrors: 12 },
      ],
    });
    expect(logs.commandCalls(StartQueryCommand)[0]?.args[0].input).toEqual({
      logGroupNames: [groups.access],
      startTime: Date.parse('2026-11-24T10:00:00.000Z') / 1000,
      endTime: Date.parse('2026-11-24T10:05:00.000Z') / 1000,
      queryString: 'filter status in [502, 503, 504] | stats count(*) as errors by @logStream | sort errors desc | limit 10',
      limit: 10,
    });
    expect(logs.commandCalls(GetQueryResultsCommand)).toHaveLength(2);
    expect(logs.commandCalls(GetQueryResultsCommand)[0]?.args[0].input).toEqual({ queryId: 'q-1' });
    expect(logs.commandCalls(FilterLogEventsCommand)).toHaveLength(0);
  });

  it('counts with FilterLogEvents when Insights is at its concurrency limit', async () => {
    // Prepare
    logs.on(StartQueryCommand).rejects(new LimitExceededException({ $metadata: {}, message: 'Account maximum query concurrency limit of [30] reached.' }));
    logs
      .on(FilterLogEventsCommand)
      .resolvesOnce({
        events: [
          { logStreamName: 'i-0aaaaaaaaaaaaaaaa', message: accessLine(1) },
          { logStreamName: 'i-0bbbbbbbbbbbbbbbb', message: accessLine(2) },
          { logStreamName: 'not-an-instance', message: accessLine(3) },
        ],
        nextToken: 'page-2',
      })
      .resolves({ events: [{ logStreamName: 'i-0bbbbbbbbbbbbbbbb', message: accessLine(4) }] });

    // Act
    const found = await findAffectedInstances({ client, accessGroup: groups.access, window, clock: fakeClock() });

    // Assess
    expect(found).toEqual({
      via: 'filter',
      instances: [
        { instanceId: 'i-0bbbbbbbbbbbbbbbb', gatewayErrors: 2 },
        { instanceId: 'i-0aaaaaaaaaaaaaaaa', gatewayErrors: 1 },
      ],
    });
    const filterCalls = logs.commandCalls(FilterLogEventsCommand);
    expect(filterCalls).toHaveLength(2);
    expect(filterCalls[0]?.args[0].input).toEqual({
      logGroupName: groups.access,
      startTime: Date.parse('2026-11-24T10:00:00.000Z'),
      endTime: Date.parse('2026-11-24T10:05:00.000Z'),
      filterPattern: GATEWAY_ERROR_PATTERN,
      limit: 10_000,
      nextToken: undefined,
    });
    expect(filterCalls[1]?.args[0].input.nextToken).toBe('page-2');
    expect(logs.commandCalls(GetQueryResultsCommand)).toHaveLength(0);
  });

  it('stops a query that does not complete in time and falls back', async () => {
    // Prepare
    logs.on(StartQueryCommand).resolves({ queryId: 'q-slow' });
    logs.on(GetQueryResultsCommand).resolves({ status: 'Running' });
    logs.on(StopQueryCommand).resolves({ success: true });
    logs.on(FilterLogEventsCommand).resolves({ events: [{ logStreamName: 'i-0aaaaaaaaaaaaaaaa' }] });

    // Act
    const found = await findAffectedInstances({ client, accessGroup: groups.access, window, clock: fakeClock(), queryTimeoutMs: 3_000 });

    // Assess
    expect(found.via).toBe('filter');
    expect(found.instances).toEqual([{ instanceId: 'i-0aaaaaaaaaaaaaaaa', gatewayErrors: 1 }]);
    expect(logs.commandCalls(StopQueryCommand).map((call) => call.args[0].input)).toEqual([{ queryId: 'q-slow' }]);
    expect(logs.commandCalls(GetQueryResultsCommand)).toHaveLength(4);
  });

  it.each(['Failed', 'Cancelled', 'Timeout'] as const)('falls back when the query ends %s', async (status) => {
    // Prepare
    logs.on(StartQueryCommand).resolves({ queryId: 'q-2' });
    logs.on(GetQueryResultsCommand).resolves({ status });
    logs.on(FilterLogEventsCommand).resolves({ events: [] });

    // Act
    const found = await findAffectedInstances({ client, accessGroup: groups.access, window, clock: fakeClock() });

    // Assess
    expect(found).toEqual({ via: 'filter', instances: [] });
    expect(logs.commandCalls(StopQueryCommand)).toHaveLength(0);
  });

  it('says which access group is missing', async () => {
    // Prepare
    logs.on(StartQueryCommand).rejects(new ResourceNotFoundException({ $metadata: {}, message: 'Log group does not exist' }));

    // Act
    const failure = await findAffectedInstances({ client, accessGroup: groups.access, window, clock: fakeClock() }).catch(
      (error: unknown) => error,
    );

    // Assess
    expect(failure).toBeInstanceOf(LogQueryError);
    expect((failure as Error).message).toContain(`StartQuery on ${groups.access} failed (ResourceNotFoundException)`);
  });

  it('refuses a limit that is not a small integer before any call', async () => {
    // Act
    const failure = await findAffectedInstances({ client, accessGroup: groups.access, window, limit: 1.5 }).catch((error: unknown) => error);

    // Assess
    expect(failure).toBeInstanceOf(InputError);
    expect((failure as InputError).field).toBe('limit');
    expect(logs.calls()).toHaveLength(0);
  });
});
