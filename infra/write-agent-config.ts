/**
 * Regenerates infra/cloudwatch-agent.json (the agent configuration for the default props):
 * `npx tsx infra/write-agent-config.ts`. test/infra/agent-config.test.ts fails when the file is stale.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cloudWatchAgentConfigJson } from './cloudwatch-agent.ts';
import { DEFAULTS } from './props.ts';

const target = fileURLToPath(new URL('./cloudwatch-agent.json', import.meta.url));
writeFileSync(target, cloudWatchAgentConfigJson({ appName: DEFAULTS.appName, pm2User: DEFAULTS.pm2User }));
console.log(`wrote ${target}`);
