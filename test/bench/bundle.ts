/**
 * `npm run bench:bundle`: bundles the responder exactly as the CDK NodejsFunction does (infra/reflex-stack.ts), then
 * prints its size against the 1 MB budget and its module initialisation time (a fresh `node` per import) against
 * the 200 ms budget. Figures only: nothing here passes or fails.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { ENV } from '../../functions/contract/lambda-env.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY = join(ROOT, 'functions/responder/handler.ts');
const SIZE_BUDGET_BYTES = 1024 * 1024;
const INIT_BUDGET_MS = 200;
const RUNS = 10;

/** The stack's `bundling` props, as the esbuild flags NodejsFunction turns them into. */
const STACK_BUNDLING = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  minify: true,
  sourcemap: false,
  mainFields: ['module', 'main'],
  banner: { js: "import { createRequire } from 'node:module';const require = createRequire(import.meta.url);" },
  // externalModules: [] — the SDK v3 is bundled too.
  external: [],
} as const;

/** What the deployed function has in its environment (fake values of the right shape: no call is made at load). */
const FAKE_ENVIRONMENT: Record<string, string> = {
  [ENV.appName]: 'web',
  [ENV.pm2User]: 'ubuntu',
  [ENV.pm2Home]: '/home/ubuntu/.pm2',
  [ENV.ecosystem]: '/srv/web/ecosystem.config.cjs',
  [ENV.healthUrl]: 'http://127.0.0.1/',
  [ENV.upstream]: 'http://127.0.0.1:3000',
  [ENV.nginxConfig]: '/etc/nginx/nginx.conf',
  [ENV.nginxErrorLog]: '/var/log/nginx/error.log',
  [ENV.snapshotDocument]: 'Reflex-Snapshot-abc123',
  [ENV.remediateDocument]: 'Reflex-Remediate-abc123',
  [ENV.topicArn]: 'arn:aws:sns:eu-west-1:123456789012:reflex-web',
  [ENV.alarmName]: 'reflex-web-gateway-errors',
  [ENV.windowSeconds]: '300',
  [ENV.accessLogGroup]: '/reflex/web/nginx-access',
  [ENV.errorLogGroup]: '/reflex/web/nginx-error',
  [ENV.pm2LogGroup]: '/reflex/web/pm2',
  [ENV.kernelLogGroup]: '/reflex/web/kernel',
  [ENV.dryRun]: 'false',
  [ENV.verifySeconds]: '120',
  [ENV.tableName]: 'reflex-state',
  [ENV.slackSecretArn]: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:reflex-slack-AbCdEf',
  [ENV.maxRestartsPerHour]: '3',
  [ENV.minMinutesBetweenRestarts]: '5',
  AWS_REGION: 'eu-west-1',
  AWS_LAMBDA_FUNCTION_NAME: 'reflex-responder',
  POWERTOOLS_SERVICE_NAME: 'reflex',
};

/** Imports the bundle once in a fresh process and prints how long the import took, in ms. */
const IMPORT_PROBE = 'const t = performance.now(); await import(process.argv[1]); process.stdout.write(String(performance.now() - t));';

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'reflex-bundle-'));
  try {
    const outfile = join(dir, 'index.mjs');
    const result = await build({ ...STACK_BUNDLING, mainFields: [...STACK_BUNDLING.mainFields], external: [], entryPoints: [ENTRY], outfile, metafile: true, logLevel: 'warning' });
    const bytes = statSync(outfile).size;
    console.log(`bundle: ${(bytes / 1024).toFixed(1)} KB (budget ${SIZE_BUDGET_BYTES / 1024} KB, ${((bytes / SIZE_BUDGET_BYTES) * 100).toFixed(0)} % of it)`);
    console.log('largest packages in the bundle:');
    for (const [name, size] of largestPackages(result.metafile, 8)) console.log(`  ${(size / 1024).toFixed(1).padStart(7)} KB  ${name}`);

    const env = { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...FAKE_ENVIRONMENT };
    const url = pathToFileURL(outfile).href;
    const importMs: number[] = [];
    const processMs: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const started = performance.now();
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', IMPORT_PROBE, url], { env, encoding: 'utf8' });
      processMs.push(performance.now() - started);
      if (child.status !== 0) throw new Error(`importing the bundle failed (exit ${child.status}): ${child.stderr.trim().split('\n').slice(0, 5).join(' | ')}`);
      importMs.push(Number(child.stdout));
    }
    console.log(`module initialisation (import of the bundle, ${RUNS} fresh node ${process.version} processes): ${figures(importMs)} (budget ${INIT_BUDGET_MS} ms)`);
    console.log(`whole process (node start + import + exit): ${figures(processMs)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Output bytes per npm package (or `functions/` for this repository's own code), largest first. */
function largestPackages(metafile: { outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }> }, count: number): [string, number][] {
  const sizes = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      const name = match?.[1] ?? 'functions/ (Reflex)';
      sizes.set(name, (sizes.get(name) ?? 0) + bytesInOutput);
    }
  }
  return [...sizes].sort((a, b) => b[1] - a[1]).slice(0, count);
}

function figures(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  const median = sorted.length % 2 === 0 ? ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2 : (sorted[Math.floor(middle)] ?? 0);
  return `median ${median.toFixed(1)} ms, min ${(sorted[0] ?? 0).toFixed(1)} ms, max ${(sorted.at(-1) ?? 0).toFixed(1)} ms`;
}

main().catch((error: unknown) => {
  console.error(`bench:bundle: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
