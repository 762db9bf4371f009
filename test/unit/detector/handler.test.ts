/**
 * The detector Lambda end to end inside the process: the exported `handler` with subscription payloads as CloudWatch
 * Logs sends them, its DynamoDB client pointed at dynalite (the SDK's per-service endpoint variable) and the Lambda
 * client mocked, so the asynchronous start of the responder is seen exactly as it is sent.
 */
import { InvokeCommand, LambdaClient, type InvokeCommandInput } from '@aws-sdk/client-lambda';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { localContext } from '../../../functions/cli/invoke.ts';
import { parseTrigger } from '../../../functions/core/trigger.ts';
import { DETECTOR_ENV } from '../../../functions/contract/lambda-env.ts';
import { startDynalite, type Dynalite } from '../../helpers/dynalite.ts';
import { QUIET_POWERTOOLS } from '../../helpers/responder-env.ts';
import { controlEvent, errorBatch } from '../../helpers/subscription.ts';

const lambda = mockClient(LambdaClient);
const A = 'i-0abc12345def67890';
const RESPONDER = 'arn:aws:lambda:eu-west-1:123456789012:function:reflex-web-responder';
let dynamo: Dynalite;

beforeAll(async () => {
  dynamo = await startDynalite({ tableName: 'reflex-detector-handler' });
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await dynamo?.stop();
});

beforeEach(() => {
  lambda.reset();
  lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
});

async function loadHandler(): Promise<(event: unknown, context: Context) => Promise<{ status: string }>> {
  vi.resetModules();
  const endpoint = await dynamo.client.config.endpoint!();
  const env = {
    [DETECTOR_ENV.tableName]: dynamo.tableName,
    [DETECTOR_ENV.responderFunction]: RESPONDER,
    AWS_ENDPOINT_URL_DYNAMODB: `${endpoint.protocol}//${endpoint.hostname}:${endpoint.port}`,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    ...QUIET_POWERTOOLS,
  };
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  const module = await import('../../../functions/detector/handler.ts');
  return module.handler as unknown as (event: unknown, context: Context) => Promise<{ status: string }>;
}

describe('detector handler', () => {
  it('starts the responder once, asynchronously, with an event the responder accepts', async () => {
    // Prepare
    const handler = await loadHandler();
    const context = localContext(10_000);
    const now = new Date();
    const batch = errorBatch(A, new Date(now.getTime() - 2000), 8);
    // Act
    const first = await handler(batch, context);
    const again = await handler(batch, context);
    // Assess
    expect(first).toMatchObject({ status: 'started', instanceId: A });
    expect(again).toMatchObject({ status: 'duplicate' });
    const calls = lambda.commandCalls(InvokeCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]!.args[0].input as InvokeCommandInput;
    expect(input).toMatchObject({ FunctionName: RESPONDER, InvocationType: 'Event' });
    const event = JSON.parse(Buffer.from(input.Payload as Uint8Array).toString('utf8'));
    const trigger = parseTrigger(event, { alarmName: 'reflex-web-gateway-errors', maxAgeSeconds: 300, now: new Date() });
    expect(trigger).toMatchObject({ kind: 'detector', instanceIds: [A], firstErrorAt: new Date(now.getTime() - 2000).toISOString() });
  });

  it('answers the control message and drops bad payloads without throwing or starting anything', async () => {
    // Prepare
    const handler = await loadHandler();
    const context = localContext(10_000);
    // Act
    const control = await handler(controlEvent(), context);
    const garbage = await handler({ awslogs: { data: 'bm90IGd6aXA=' } }, context);
    const notAnInstance = await handler(errorBatch('web-1', new Date(Date.now() - 1000), 10), context);
    // Assess
    expect(control).toEqual({ status: 'control' });
    expect(garbage).toMatchObject({ status: 'invalid', reason: expect.stringContaining('not base64 of gzip') });
    expect(notAnInstance).toMatchObject({ status: 'invalid', reason: expect.stringContaining('not an EC2 instance id') });
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
  });

  it('fails the cold start when the responder function is not configured', async () => {
    // Prepare
    vi.stubEnv(DETECTOR_ENV.responderFunction, '');
    vi.resetModules();
    // Act / Assess
    await expect(import('../../../functions/detector/handler.ts')).rejects.toThrow('REFLEX_RESPONDER_FUNCTION is not set');
  });
});
