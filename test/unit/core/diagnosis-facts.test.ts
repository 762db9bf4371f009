import { describe, expect, it } from 'vitest';
import { RULES, diagnose } from '../../../functions/core/diagnosis/index.ts';
import { clock, hostPort, quote } from '../../../functions/core/diagnosis/evidence-text.ts';
import { factsOf } from '../../../functions/core/diagnosis/facts.ts';
import { defineRule } from '../../../functions/core/diagnosis/rule.ts';
import { accessLine, evidenceOf, pm2Item, pm2LogLine, ssLine } from './evidence-builder.ts';

describe('factsOf', () => {
  it('finds the app in PM2, its events oldest first, its pids and its sockets', () => {
    // Prepare
    const evidence = evidenceOf({
      pm2: [pm2Item({ name: 'api', pid: 7001 }), pm2Item()],
      listeners: [ssLine('127.0.0.1:4000', 7001), ssLine('127.0.0.1:3000')],
      pm2Log: [pm2LogLine('10:00:02', 'App [web:0] online'), pm2LogLine('10:00:01', 'App [web:0] starting in -fork mode-'), pm2LogLine('10:00:01', 'App [api:1] online')],
    });

    // Act
    const facts = factsOf(evidence);

    // Assess
    expect(facts.app?.name).toBe('web');
    expect(facts.events.map((event) => event.at)).toEqual(['2026-11-24T10:00:01.000Z', '2026-11-24T10:00:02.000Z']);
    expect([...facts.pids]).toEqual([6957]);
    expect(facts.listeners.map((listener) => listener.port)).toEqual([3000]);
    expect(facts.onlineListeners).toEqual(facts.listeners);
    expect(facts.upstreamListeners.map((listener) => listener.port)).toEqual([3000]);
    expect(facts.servesUpstream).toBe(true);
  });

  it('has no online listeners for an app that is not online, and none at all for an app PM2 does not run', () => {
    // Prepare
    const stopped = evidenceOf({ pm2: [pm2Item({ status: 'stopped' })] });
    const missing = evidenceOf({ pm2: [pm2Item({ name: 'api' })] });

    // Act
    const [whenStopped, whenMissing] = [stopped, missing].map(factsOf);

    // Assess
    expect(whenStopped?.listeners).toHaveLength(1);
    expect(whenStopped?.onlineListeners).toBeUndefined();
    expect(whenStopped?.upstreamListeners).toEqual([]);
    expect(whenMissing?.app).toBeUndefined();
    expect(whenMissing?.listeners).toEqual([]);
  });

  it('says an app on 127.0.0.1 alone does not serve nginx proxying to localhost, which also tries ::1', () => {
    // Prepare
    const evidence = evidenceOf({}, {}, { upstream: { host: 'localhost', port: 3000 } });

    // Act
    const facts = factsOf(evidence);

    // Assess
    expect(facts.upstreamListeners).toHaveLength(1);
    expect(facts.servesUpstream).toBe(false);
  });

  it('keeps every deploy marker, and as recent only those shortly before the first gateway error', () => {
    // Prepare
    const evidence = evidenceOf(
      { deploy: ['build_id_mtime=2026-11-24T09:50:00.000Z', 'pm2_started_at=2026-11-24T08:00:00.000Z'] },
      { accessLines: [accessLine('10:01:00', 200), accessLine('10:02:00', 503)] },
    );

    // Act
    const facts = factsOf(evidence);

    // Assess
    expect(facts.deploys.map((marker) => marker.at)).toEqual(['2026-11-24T09:50:00.000Z', '2026-11-24T08:00:00.000Z']);
    expect(facts.recentDeploys.map((marker) => marker.at)).toEqual(['2026-11-24T09:50:00.000Z']);
  });
});

describe('DiagnosisRule', () => {
  it('gives a rule tried alone the same facts diagnose derives once for all rules', () => {
    // Prepare
    const evidence = evidenceOf({ pm2: [pm2Item({ status: 'stopped', pid: 0, exitCode: 1 })], listeners: [] });
    const facts = factsOf(evidence);

    // Act
    const alone = RULES.map((rule) => rule.evaluate(evidence));
    const shared = RULES.map((rule) => rule.evaluate(evidence, facts));

    // Assess
    expect(shared).toEqual(alone);
    expect(shared.find((found) => found !== undefined)).toEqual(diagnose(evidence));
  });

  it('names what a rule found by the rule id', () => {
    // Prepare
    const rule = defineRule('app_hung', () => ({ summary: 'hung', advice: [], evidence: [] }));

    // Act
    const found = rule.evaluate(evidenceOf());

    // Assess
    expect(found).toEqual({ cause: 'app_hung', summary: 'hung', advice: [], evidence: [] });
  });
});

describe('evidence text', () => {
  it('brackets IPv6 addresses, quotes log text safely, and prints clock times in UTC', () => {
    // Act
    const addresses = [hostPort('127.0.0.1', 3000), hostPort('::1', 3000), hostPort('[::1]', 3000)];
    const quoted = quote('GET /`rm -rf`\n HTTP/1.1');
    const long = quote('x'.repeat(200), 10);

    // Assess
    expect(addresses).toEqual(['127.0.0.1:3000', '[::1]:3000', '[::1]:3000']);
    expect(quoted).toBe('`GET / rm -rf   HTTP/1.1`');
    expect(long).toBe(`\`${'x'.repeat(9)}…\``);
    expect([clock('2026-11-24T10:00:02.500Z'), clock(undefined), clock('soon')]).toEqual(['10:00:02Z', 'an unknown time', 'an unknown time']);
  });
});
