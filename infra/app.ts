/**
 * The CDK app: `npx cdk synth` (offline, no credentials) and `npx cdk deploy -c appName=shop`.
 * Props come from context (cdk.json, or `-c key=value`); see ReflexStackProps for each one and its default.
 * The stack stays environment-agnostic unless `-c account=… -c region=…` is given: no lookups.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ReflexChecks } from './nag.ts';
import { propsFromContext, resolveProps } from './props.ts';
import { ReflexStack } from './reflex-stack.ts';

const app = new App();
const props = propsFromContext(app);
const { appName } = resolveProps(props);
new ReflexStack(app, `Reflex-${appName.replace(/[^A-Za-z0-9-]/g, '-')}`, {
  ...props,
  description: `Reflex: automatic responder for nginx gateway errors of the PM2 app ${appName}.`,
});
// cdk-nag 3 is a policy-validation plugin: a violation fails the synth with a report. ReflexChecks adds what
// AwsSolutions does not check (an unauthenticated function URL).
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }), new ReflexChecks(app, { verbose: true }));
