import { readFileSync } from 'node:fs';
import { App, RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { describe, expect, it } from 'vitest';
import { CONTEXT_KEYS, DEFAULTS, ReflexPropsError, propsFromContext, resolveProps, type ReflexStackProps } from '../../infra/props.ts';

describe('resolveProps', () => {
  it('applies the documented defaults', () => {
    const resolved = resolveProps({});
    expect(resolved).toMatchObject({
      appName: 'web',
      pm2User: 'ubuntu',
      pm2Home: '',
      ecosystemPath: '',
      healthUrl: 'http://127.0.0.1/',
      optInTag: { key: 'reflex:managed', value: 'true' },
      threshold: 5,
      periodSeconds: 60,
      datapoints: 1,
      dryRun: false,
      verifySeconds: 120,
      logRetention: RetentionDays.ONE_MONTH,
      slackSecretArn: '',
      maxRestartsPerHour: 3,
      minMinutesBetweenRestarts: 5,
      removalPolicy: RemovalPolicy.RETAIN,
      executionTimeoutMinutes: 60,
      executionRetentionDays: 7,
    });
  });

  const bad: [string, ReflexStackProps][] = [
    ['appName', { appName: 'web app' }],
    ['appName', { appName: '' }],
    ['pm2User', { pm2User: 'Root' }],
    ['pm2Home', { pm2Home: 'relative/.pm2' }],
    ['ecosystemPath', { ecosystemPath: '/srv/$(id)' }],
    ['healthUrl', { healthUrl: 'ftp://127.0.0.1/' }],
    ['upstream', { upstream: 'http://127.0.0.1:3000/"' }],
    ['optInTag.key', { optInTag: { key: '', value: 'true' } }],
    ['optInTag.value', { optInTag: { key: 'reflex', value: 'a"b' } }],
    ['threshold', { threshold: 0 }],
    ['threshold', { threshold: 2.5 }],
    ['periodSeconds', { periodSeconds: 30 }],
    ['periodSeconds', { periodSeconds: 90 }],
    ['datapoints', { datapoints: 0 }],
    ['datapoints', { periodSeconds: 3600, datapoints: 25 }],
    ['verifySeconds', { verifySeconds: 841 }],
    ['verifySeconds', { verifySeconds: 5 }],
    ['logRetention', { logRetention: 31 as RetentionDays }],
    ['slackSecretArn', { slackSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:reflex/slack' }],
    ['maxRestartsPerHour', { maxRestartsPerHour: -1 }],
    ['minMinutesBetweenRestarts', { minMinutesBetweenRestarts: 1441 }],
    ['executionTimeoutMinutes', { executionTimeoutMinutes: 2 }],
    ['executionTimeoutMinutes', { verifySeconds: 840, executionTimeoutMinutes: 14 }],
    ['executionTimeoutMinutes', { executionTimeoutMinutes: 366 * 24 * 60 + 1 }],
    ['executionTimeoutMinutes', { executionTimeoutMinutes: 30.5 }],
    ['executionRetentionDays', { executionRetentionDays: 0 }],
    ['executionRetentionDays', { executionRetentionDays: 91 }],
  ];

  it.each(bad)('rejects a bad %s with an error naming it', (prop, props) => {
    let error: unknown;
    try {
      resolveProps(props);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ReflexPropsError);
    expect((error as ReflexPropsError).prop).toBe(prop);
    expect((error as ReflexPropsError).message).toContain(`${prop} must be`);
  });

  it('accepts the largest verification window that still fits Lambda\'s 15 minutes', () => {
    expect(resolveProps({ verifySeconds: 840 }).verifySeconds).toBe(840);
  });

  it('accepts an execution timeout from one responder invocation (verifySeconds + 60 s) to 366 days', () => {
    expect(resolveProps({ executionTimeoutMinutes: 3 }).executionTimeoutMinutes).toBe(3);
    expect(resolveProps({ verifySeconds: 840, executionTimeoutMinutes: 15 }).executionTimeoutMinutes).toBe(15);
    expect(resolveProps({ executionTimeoutMinutes: 366 * 24 * 60, executionRetentionDays: 90 })).toMatchObject({
      executionTimeoutMinutes: 527_040,
      executionRetentionDays: 90,
    });
  });
});

describe('propsFromContext', () => {
  it('reads -c strings as numbers, booleans and the opt-in tag', () => {
    const app = new App({
      context: {
        appName: 'shop',
        threshold: '10',
        periodSeconds: '120',
        dryRun: 'true',
        optInTagKey: 'team',
        logRetentionDays: '90',
        removalPolicy: 'destroy',
        executionTimeoutMinutes: '120',
        executionRetentionDays: 14,
      },
    });
    expect(propsFromContext(app)).toEqual({
      appName: 'shop',
      threshold: 10,
      periodSeconds: 120,
      dryRun: true,
      optInTag: { key: 'team', value: 'true' },
      logRetention: RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
      executionTimeoutMinutes: 120,
      executionRetentionDays: 14,
    });
  });

  it('keeps the stack environment-agnostic unless account or region is given', () => {
    expect(propsFromContext(new App()).env).toBeUndefined();
    expect(propsFromContext(new App({ context: { region: 'eu-west-1' } })).env).toEqual({ region: 'eu-west-1' });
  });

  it('reads modes as an object (cdk.json) or as JSON text (-c), and names a bad cause or mode', () => {
    const fromText = propsFromContext(new App({ context: { modes: '{"process_crashed":"approve","app_hung":"observe"}', approvalMinutes: '30' } }));
    expect(fromText).toMatchObject({ modes: { process_crashed: 'approve', app_hung: 'observe' }, approvalMinutes: 30 });
    expect(resolveProps(fromText)).toMatchObject({ modes: { process_crashed: 'approve', app_hung: 'observe' }, approvalMinutes: 30 });
    expect(resolveProps({})).toMatchObject({ modes: {}, approvalMinutes: 15, maxWave: 16 });
    expect(() => resolveProps({ modes: { process_crash: 'approve' } as never })).toThrow(/modes\.process_crash: not a cause/);
    expect(() => resolveProps({ modes: { process_crashed: 'ask' } as never })).toThrow(/modes\.process_crashed: must be one of auto, approve, observe/);
    expect(() => propsFromContext(new App({ context: { modes: '{process_crashed' } }))).toThrow(/modes must be a JSON object/);
  });

  it('names the context key of a value it cannot read', () => {
    expect(() => propsFromContext(new App({ context: { threshold: 'five' } }))).toThrow(/threshold must be a number/);
    expect(() => propsFromContext(new App({ context: { dryRun: 'yes' } }))).toThrow(/dryRun must be true or false/);
    expect(() => propsFromContext(new App({ context: { removalPolicy: 'keep' } }))).toThrow(/removalPolicy/);
  });
});

describe('cdk.json', () => {
  const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
    app: string;
    context: Record<string, unknown>;
  };

  it('runs the TypeScript app with tsx', () => {
    expect(cdkJson.app).toBe('npx tsx infra/app.ts');
  });

  it('only sets known context keys, to the stack defaults', () => {
    for (const [key, value] of Object.entries(cdkJson.context)) {
      expect(CONTEXT_KEYS).toContain(key);
      expect([key, value]).toEqual([key, DEFAULTS[key as keyof typeof DEFAULTS]]);
    }
    expect(resolveProps(propsFromContext(new App({ context: cdkJson.context })))).toEqual(resolveProps({}));
  });
});
