/** How both Lambdas are bundled: one ESM file for Node 22, every dependency inside. */
import { OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';

export const LAMBDA_BUNDLING: BundlingOptions = {
  format: OutputFormat.ESM,
  target: 'node22',
  minify: true,
  sourceMap: false,
  mainFields: ['module', 'main'],
  // Some dependencies (Slack's HTTP stack) still call require() for Node built-ins; ESM has no require.
  banner: "import { createRequire } from 'node:module';const require = createRequire(import.meta.url);",
  // The SDK v3 is bundled, not taken from the runtime, so the tested versions are the deployed ones.
  externalModules: [],
};
