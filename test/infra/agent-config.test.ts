import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { AGENT_FLUSH_SECONDS, cloudWatchAgentConfig, cloudWatchAgentConfigJson, logGroupNames, pm2LogFileStem } from '../../infra/cloudwatch-agent.ts';
import { DEFAULTS } from '../../infra/props.ts';
import { ReflexStack } from '../../infra/reflex-stack.ts';

describe('infra/cloudwatch-agent.json', () => {
  it('is what cloudWatchAgentConfigJson produces for the default props (regenerate: npx tsx infra/write-agent-config.ts)', () => {
    const committed = readFileSync(new URL('../../infra/cloudwatch-agent.json', import.meta.url), 'utf8');
    expect(committed).toBe(cloudWatchAgentConfigJson({ appName: DEFAULTS.appName, pm2User: DEFAULTS.pm2User }));
  });
});

describe('cloudWatchAgentConfig', () => {
  it('ships every file to its /reflex/<app>/ group, one stream per instance, in UTC', () => {
    const entries = cloudWatchAgentConfig({ appName: 'web', pm2User: 'ubuntu' }).logs.logs_collected.files.collect_list;
    expect(entries.map((entry) => [entry.file_path, entry.log_group_name])).toEqual([
      ['/var/log/nginx/access.json.log', '/reflex/web/nginx-access'],
      ['/var/log/nginx/error.log', '/reflex/web/nginx-error'],
      ['/home/ubuntu/.pm2/logs/web-out.log', '/reflex/web/pm2-app'],
      ['/home/ubuntu/.pm2/logs/web-out-0.log', '/reflex/web/pm2-app'],
      ['/home/ubuntu/.pm2/logs/web-error.log', '/reflex/web/pm2-app'],
      ['/home/ubuntu/.pm2/logs/web-error-0.log', '/reflex/web/pm2-app'],
      ['/home/ubuntu/.pm2/pm2.log', '/reflex/web/pm2'],
      ['/var/log/kern.log', '/reflex/web/kernel'],
    ]);
    for (const entry of entries) {
      expect(entry.log_stream_name).toBe('{instance_id}');
      expect(entry.timezone).toBe('UTC');
    }
  });

  it('follows PM2_HOME, root\'s home and PM2\'s own file naming', () => {
    const custom = cloudWatchAgentConfig({ appName: 'shop', pm2User: 'deploy', pm2Home: '/srv/pm2' }).logs.logs_collected.files.collect_list;
    expect(custom.map((entry) => entry.file_path)).toContain('/srv/pm2/pm2.log');
    const root = cloudWatchAgentConfig({ appName: 'my_app', pm2User: 'root' }).logs.logs_collected.files.collect_list;
    expect(root.map((entry) => entry.file_path)).toContain('/root/.pm2/logs/my-app-out.log');
    expect(pm2LogFileStem('my_app.v2-x')).toBe('my-app.v2-x');
  });
});

describe('the stack and the agent configuration', () => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const template = Template.fromStack(new ReflexStack(app, 'AgentConfig', { appName: 'shop', pm2User: 'deploy' }));

  it('stores the same JSON in the AmazonCloudWatch-reflex-<app> parameter', () => {
    template.hasResourceProperties('AWS::SSM::Parameter', {
      Name: 'AmazonCloudWatch-reflex-shop',
      Value: cloudWatchAgentConfigJson({
        appName: 'shop',
        pm2User: 'deploy',
        nginxErrorLog: DEFAULTS.nginxErrorLog,
        kernelLog: DEFAULTS.kernelLog,
      }),
    });
  });

  it('flushes lines to CloudWatch Logs within 5 s, the first term of the detector’s latency', () => {
    const stored = Object.values(template.findResources('AWS::SSM::Parameter')).map(
      (parameter) => JSON.parse((parameter as { Properties: { Value: string } }).Properties.Value) as { logs: { force_flush_interval: number } },
    );
    expect(stored.map((config) => config.logs.force_flush_interval)).toEqual([AGENT_FLUSH_SECONDS]);
    expect(AGENT_FLUSH_SECONDS).toBe(5);
  });

  it('creates every log group the agent writes to', () => {
    const created = Object.values(template.findResources('AWS::Logs::LogGroup')).map(
      (group) => (group as { Properties: { LogGroupName: string } }).Properties.LogGroupName,
    );
    const shipped = cloudWatchAgentConfig({ appName: 'shop', pm2User: 'deploy' }).logs.logs_collected.files.collect_list.map(
      (entry) => entry.log_group_name,
    );
    for (const group of shipped) expect(created).toContain(group);
    expect(created).toContain(logGroupNames('shop').responder);
    expect(created).toContain(logGroupNames('shop').detector);
  });
});
