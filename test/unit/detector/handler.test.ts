/**
 * The detector Lambda end to end inside the process: the exported `handler` with subscription payloads as CloudWatch
 * Logs sends them, its DynamoDB client pointed at dynalite (the SDK's per-service endpoint variable) and the Lambda
 * client mocked, so the asynchronous start of the responder is seen exactly as it is sent.
 */
import { DurableExecutionAlreadyStartedException, InvokeCommand, LambdaClient, type InvokeCommandInput } from '@aws-sdk/client-lambda';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { DynamoDbDetectionStore } from '../../../functions/adapters/aws/detection-store.ts';
import { localContext } from '../../../functions/cli/invoke.ts';
import { parseTrigger } from '../../../functions/core/trigger.ts';
import { DETECTOR_ENV } from '../../../functions/contract/lambda-env.ts';
import { startDynalite, type Dynalite } from '../../helpers/dynalite.ts';
import { QUIET_POWERTOOLS } from '../../helpers/responder-env.ts';
import { controlEvent, errorBatch } from '../../helpers/subscription.ts';

const lambda = mockClient(LambdaClient);
const A = 'i-0abc12345def67890';
// The responder's alias: a durable function is started through a qualified ARN.
const RESPONDER = 'arn:aws:lambda:eu-west-1:123456789012:function:reflex-web-responder:live';
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

/** Whether another incident could claim the instance now: false while an incident holds it. */
function otherIncidentCanClaim(instanceId: string): Promise<boolean> {
  const store = new DynamoDbDetectionStore({ client: dynamo.documentClient, tableName: dynamo.tableName });
  return store.claimIncident({ incidentId: 'alarm-probe', instanceId, firstErrorAt: new Date().toISOString(), expiresAt: Date.now() + 60_000 });
}

describe('detector handler', () => {
  it('starts the responder once, asynchronously, as a durable execution named after the incident, with an event the responder accepts', async () => {
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
    // The incident id is the execution's name: Lambda's idempotency key, so a second start joins the first.
    const { incidentId } = first as { incidentId?: string };
    expect(input.DurableExecutionName).toBe(incidentId);
    expect(event.id).toBe(incidentId);
    expect(input.DurableExecutionName).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    const trigger = parseTrigger(event, { alarmName: 'reflex-web-gateway-errors', maxAgeSeconds: 300, now: new Date() });
    expect(trigger).toMatchObject({ kind: 'detector', instanceIds: [A], firstErrorAt: new Date(now.getTime() - 2000).toISOString() });
  });

  it('counts an execution already started under the incident’s name as started, and keeps the claim', async () => {
    // Prepare: Lambda refuses a second start of the name with another payload
    lambda.on(InvokeCommand).rejects(new DurableExecutionAlreadyStartedException({ message: 'already started', $metadata: {} }));
    const handler = await loadHandler();
    const context = localContext(10_000);
    const b = 'i-0bbc12345def67890';
    // Act
    const outcome = await handler(errorBatch(b, new Date(Date.now() - 2000), 8), context);
    // Assess: started, and the claim still holds the instance (a failed start would have given it back)
    expect(outcome).toMatchObject({ status: 'started', instanceId: b });
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(1);
    expect(await otherIncidentCanClaim(b)).toBe(false);
  });

  it('gives the claim back when the start really fails, so the alarm path or a later batch can start it', async () => {
    // Prepare
    lambda.on(InvokeCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' }));
    const handler = await loadHandler();
    const context = localContext(10_000);
    const c = 'i-0cbc12345def67890';
    // Act
    const outcome = await handler(errorBatch(c, new Date(Date.now() - 2000), 8), context);
    // Assess
    expect(outcome).toMatchObject({ status: 'start-failed', instanceId: c, error: expect.stringContaining('TooManyRequestsException') });
    expect(await otherIncidentCanClaim(c)).toBe(true);
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
