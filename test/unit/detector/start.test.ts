/**
 * The detector's start of an incident: an asynchronous invoke of the responder's alias, named after the incident so
 * that Lambda makes a second start of it join the first execution.
 */
import { DurableExecutionAlreadyStartedException, InvokeCommand, LambdaClient, type InvokeCommandInput } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { DetectorStart } from '../../../functions/core/detect.ts';
import { parseTrigger } from '../../../functions/core/trigger.ts';
import { executionName, responderStarter } from '../../../functions/detector/start.ts';

const lambda = mockClient(LambdaClient);
const ALIAS = 'arn:aws:lambda:eu-west-1:123456789012:function:reflex-web-responder:live';

function start(overrides: Partial<DetectorStart> = {}): DetectorStart {
  const now = Date.now();
  return {
    incidentId: 'detect-i-0abc12345def67890-1733100000000',
    instanceId: 'i-0abc12345def67890',
    firstErrorAt: new Date(now - 5000).toISOString(),
    time: new Date(now).toISOString(),
    claimExpiresAt: new Date(now + 900_000).toISOString(),
    ...overrides,
  };
}

function recordingLogger(): { info: (message: string, ...extra: unknown[]) => void; lines: unknown[][] } {
  const lines: unknown[][] = [];
  return { info: (message, ...extra) => lines.push([message, ...extra]), lines };
}

beforeEach(() => {
  lambda.reset();
});

describe('responderStarter', () => {
  it('invokes the alias asynchronously, the incident id as the durable execution name, with a detector event', async () => {
    // Prepare
    lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
    const logger = recordingLogger();
    // Act
    await responderStarter(new LambdaClient({}), ALIAS, logger)(start());
    // Assess
    const [call] = lambda.commandCalls(InvokeCommand);
    const input = call!.args[0].input as InvokeCommandInput;
    expect(input).toMatchObject({ FunctionName: ALIAS, InvocationType: 'Event', DurableExecutionName: 'detect-i-0abc12345def67890-1733100000000' });
    const event = JSON.parse(Buffer.from(input.Payload as Uint8Array).toString('utf8'));
    expect(parseTrigger(event, { alarmName: 'reflex-web-gateway-errors', maxAgeSeconds: 300, now: new Date() })).toMatchObject({
      kind: 'detector',
      eventId: 'detect-i-0abc12345def67890-1733100000000',
      instanceIds: ['i-0abc12345def67890'],
    });
    expect(logger.lines).toEqual([]);
  });

  it('treats an execution already started under that name as started', async () => {
    // Prepare
    lambda.on(InvokeCommand).rejects(new DurableExecutionAlreadyStartedException({ message: 'exists with another payload', $metadata: {} }));
    const logger = recordingLogger();
    // Act / Assess
    await expect(responderStarter(new LambdaClient({}), ALIAS, logger)(start())).resolves.toBeUndefined();
    expect(logger.lines).toEqual([['incident already started', { incidentId: 'detect-i-0abc12345def67890-1733100000000' }]]);
  });

  it('rethrows any other failure, for the detector to give the claim back', async () => {
    // Prepare
    lambda.on(InvokeCommand).rejects(Object.assign(new Error('Function not found: reflex-web-responder:live'), { name: 'ResourceNotFoundException' }));
    // Act / Assess
    await expect(responderStarter(new LambdaClient({}), ALIAS, recordingLogger())(start())).rejects.toThrow('Function not found');
  });
});

describe('executionName', () => {
  it('is the incident id when Lambda accepts it as a name, and refuses one it would not', () => {
    expect(executionName(start())).toBe('detect-i-0abc12345def67890-1733100000000');
    expect(() => executionName(start({ incidentId: `detect-${'x'.repeat(60)}` }))).toThrow('not a valid durable execution name');
    expect(() => executionName(start({ incidentId: 'detect i-1' }))).toThrow('not a valid durable execution name');
  });
});
