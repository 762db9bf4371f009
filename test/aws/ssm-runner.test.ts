import {
  GetCommandInvocationCommand,
  InvalidDocument,
  InvalidInstanceId,
  InvocationDoesNotExist,
  SendCommandCommand,
  SSMClient,
  ThrottlingException,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { SsmHostRunner } from '../../functions/adapters/aws/ssm-runner.ts';
import type { HostParams } from '../../functions/core/ports.ts';
import { InputError } from '../../functions/core/validate.ts';

const ssm = mockClient(SSMClient);
const client = new SSMClient({ region: 'eu-west-1' });
const documents = { snapshot: 'Reflex-Snapshot', remediate: 'Reflex-Remediate' };
const instanceId = 'i-0123456789abcdef0';
const snapshotParams: HostParams = {
  app: 'web',
  pm2User: 'ubuntu',
  healthUrl: 'http://127.0.0.1/',
  nginxErrorLog: '/var/log/nginx/error.log',
};
const snapshotOutput = '@@reflex-snapshot 1\n@@meta\ntaken_at=2026-11-24T10:00:00.123Z\napp=web\n@@end\n';

/** Small waiter delays keep the tests fast; nothing asserts on time. */
function runner(overrides: { maxWaitSeconds?: number } = {}): SsmHostRunner {
  return new SsmHostRunner({ client, documents, minDelaySeconds: 0.01, maxDelaySeconds: 0.02, maxWaitSeconds: overrides.maxWaitSeconds ?? 5 });
}

function sent() {
  return ssm.commandCalls(SendCommandCommand).map((call) => call.args[0].input);
}

beforeEach(() => {
  ssm.reset();
  ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
});

describe('SsmHostRunner', () => {
  it('sends the snapshot document with every parameter and returns its output once executed', async () => {
    // Prepare: the invocation does not exist yet, then runs, then succeeds
    ssm
      .on(GetCommandInvocationCommand)
      .rejectsOnce(new InvocationDoesNotExist({ $metadata: {}, message: 'invocation does not exist' }))
      .resolvesOnce({ Status: 'InProgress', StatusDetails: 'InProgress' })
      .resolves({ Status: 'Success', StatusDetails: 'Success', ResponseCode: 0, StandardOutputContent: snapshotOutput, StandardErrorContent: '' });

    // Act
    const result = await runner().run(instanceId, 'snapshot', structuredClone(snapshotParams));

    // Assess
    expect(result).toEqual({ ok: true, status: 'Success', stdout: snapshotOutput, stderr: '' });
    expect(sent()).toEqual([
      {
        DocumentName: 'Reflex-Snapshot',
        InstanceIds: [instanceId],
        Parameters: {
          App: ['web'],
          Pm2User: ['ubuntu'],
          Pm2Home: [''],
          HealthUrl: ['http://127.0.0.1/'],
          Upstream: [''],
          NginxConfig: [''],
          NginxErrorLog: ['/var/log/nginx/error.log'],
          KernelLog: [''],
          Sections: [''],
        },
        TimeoutSeconds: 30,
        Comment: 'reflex snapshot',
      },
    ]);
    const polls = ssm.commandCalls(GetCommandInvocationCommand);
    expect(polls.length).toBeGreaterThanOrEqual(4);
    expect(polls.every((call) => call.args[0].input.CommandId === 'cmd-1' && call.args[0].input.InstanceId === instanceId)).toBe(true);
    expect(ssm.send.firstCall.thisValue).toBe(client);
  });

  it('sends the remediate document with its own parameters', async () => {
    // Prepare
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Success', StandardOutputContent: 'result=ok action=restart\n' });

    // Act
    const result = await runner().run(instanceId, 'remediate', { app: 'web', pm2Home: '/home/ubuntu/.pm2', action: 'restart' });

    // Assess
    expect(result.ok).toBe(true);
    expect(sent()[0]).toMatchObject({
      DocumentName: 'Reflex-Remediate',
      Parameters: { App: ['web'], Pm2User: [''], Pm2Home: ['/home/ubuntu/.pm2'], HealthUrl: [''], Action: ['restart'], Ecosystem: [''], VerifySeconds: [''], HungPid: [''] },
      Comment: 'reflex remediate',
    });
  });

  it('sends the on-host verification inputs of remediate, and refuses a bad one before sending anything', async () => {
    // Prepare
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Success', StandardOutputContent: 'result=ok action=restart verify=recovered\n' });
    const params = { app: 'web', action: 'restart', healthUrl: 'http://127.0.0.1/api/health', verifySeconds: '60', hungPid: '4242' } as const;

    // Act
    const result = await runner().run(instanceId, 'remediate', params);
    const bad = runner().run(instanceId, 'remediate', { ...params, verifySeconds: '601' });

    // Assess
    expect(result.ok).toBe(true);
    expect(sent()[0]?.Parameters).toEqual({
      App: ['web'],
      Pm2User: [''],
      Pm2Home: [''],
      HealthUrl: ['http://127.0.0.1/api/health'],
      Action: ['restart'],
      Ecosystem: [''],
      VerifySeconds: ['60'],
      HungPid: ['4242'],
    });
    await expect(bad).rejects.toThrow(/verifySeconds/);
    expect(sent()).toHaveLength(1);
  });

  it('reports a failed script with its exit code and first stderr line', async () => {
    // Prepare
    ssm.on(GetCommandInvocationCommand).resolves({
      Status: 'Failed',
      StatusDetails: 'Failed',
      ResponseCode: 2,
      StandardOutputContent: '',
      StandardErrorContent: '\nreflex: invalid REFLEX_PM2_HOME\nsecond line that stays out\n',
    });

    // Act
    const result = await runner().run(instanceId, 'remediate', { app: 'web', action: 'restart' });

    // Assess
    expect(result.ok).toBe(false);
    expect(result.status).toBe('Failed');
    expect(result.error).toContain('exit code 2: reflex: invalid REFLEX_PM2_HOME;');
    expect(result.error).not.toContain('second line');
    expect(result.stderr).toContain('second line');
  });

  it.each([
    { Status: 'Failed', StatusDetails: 'Undeliverable', expected: 'Undeliverable', says: 'SSM agent is offline or the instance is stopped' },
    { Status: 'TimedOut', StatusDetails: 'DeliveryTimedOut', expected: 'DeliveryTimedOut', says: 'not delivered to i-0123456789abcdef0 within 30 s' },
    { Status: 'TimedOut', StatusDetails: 'ExecutionTimedOut', expected: 'ExecutionTimedOut', says: 'ran past its time limit' },
    { Status: 'TimedOut', StatusDetails: undefined, expected: 'TimedOut', says: 'ran past its time limit' },
    { Status: 'Cancelled', StatusDetails: 'Cancelled', expected: 'Cancelled', says: 'was cancelled' },
  ] as const)('maps $StatusDetails ($Status) to a result that says what to do', async ({ Status, StatusDetails, expected, says }) => {
    // Prepare
    ssm.on(GetCommandInvocationCommand).resolves({ Status, StatusDetails });

    // Act
    const result = await runner().run(instanceId, 'snapshot', structuredClone(snapshotParams));

    // Assess
    expect(result.ok).toBe(false);
    expect(result.status).toBe(expected);
    expect(result.error).toContain(says);
  });

  it('gives up when the command does not finish within maxWaitSeconds, naming the last status', async () => {
    // Prepare
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Delayed', StatusDetails: 'Delayed' });

    // Act
    const result = await runner({ maxWaitSeconds: 0.05 }).run(instanceId, 'snapshot', structuredClone(snapshotParams));

    // Assess
    expect(result.ok).toBe(false);
    expect(result.status).toBe('WaiterTimedOut');
    expect(result.error).toContain('did not finish within 0.05 s (last status Delayed)');
  });

  it.each([
    {
      error: new InvalidInstanceId({ $metadata: {}, message: 'Instances [[i-0123456789abcdef0]] not in a valid state for account 123456789012' }),
      status: 'InvalidInstanceId',
      says: 'not managed by Systems Manager, its SSM agent is offline, or it is in another region',
    },
    {
      error: new InvalidDocument({ $metadata: {}, message: 'Document Reflex-Snapshot does not exist in account 123456789012' }),
      status: 'InvalidDocument',
      says: 'SSM document Reflex-Snapshot does not exist',
    },
    {
      error: new ThrottlingException({ $metadata: {}, message: 'Rate exceeded for account 123456789012', Message: 'Rate exceeded' }),
      status: 'ThrottlingException',
      says: 'SSM throttled the snapshot command',
    },
  ])('translates $status on SendCommand without polling', async ({ error, status, says }) => {
    // Prepare
    ssm.on(SendCommandCommand).rejects(error);

    // Act
    const result = await runner().run(instanceId, 'snapshot', structuredClone(snapshotParams));

    // Assess
    expect(result).toMatchObject({ ok: false, status, stdout: '', stderr: '', notRun: true });
    expect(result.error).toContain(says);
    expect(result.error).not.toContain('123456789012');
    expect(ssm.commandCalls(GetCommandInvocationCommand)).toHaveLength(0);
  });

  it('keeps output SSM truncated and says so', async () => {
    // Prepare
    const truncated = `${'x'.repeat(23_980)}--output truncated--`;
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Success', StandardOutputContent: truncated });

    // Act
    const result = await runner().run(instanceId, 'snapshot', structuredClone(snapshotParams));

    // Assess
    expect(result.ok).toBe(true);
    expect(result.stdout).toBe(truncated);
    expect(result.status).toBe('Success (output truncated)');
    expect(result.error).toContain('24,000-character limit');
  });

  it('rejects a bad instance id before sending anything', async () => {
    // Act
    const failure = await runner()
      .run('i-0123; reboot', 'snapshot', structuredClone(snapshotParams))
      .catch((error: unknown) => error);

    // Assess
    expect(failure).toBeInstanceOf(InputError);
    expect((failure as InputError).field).toBe('instanceId');
    expect(ssm.calls()).toHaveLength(0);
  });

  it('rejects a bad parameter value before sending anything, naming the field', async () => {
    // Act
    const failure = await runner()
      .run(instanceId, 'snapshot', { ...structuredClone(snapshotParams), nginxErrorLog: 'relative/error.log' })
      .catch((error: unknown) => error);

    // Assess
    expect(failure).toBeInstanceOf(InputError);
    expect((failure as InputError).field).toBe('params.nginxErrorLog');
    expect(ssm.calls()).toHaveLength(0);
  });

  it('refuses waiter settings the SDK waiter would reject', () => {
    // Act
    const build = () => new SsmHostRunner({ client, documents, minDelaySeconds: 5, maxWaitSeconds: 5 });

    // Assess
    expect(build).toThrow(InputError);
    expect(build).toThrow(/maxWaitSeconds/);
  });
});
