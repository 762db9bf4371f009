/**
 * The deployed configuration, read from the synthesized stack instead of written by hand: the responder's
 * Lambda environment, with its CloudFormation tokens (Ref, Fn::GetAtt, Fn::Join…) resolved to the physical names an
 * emulated account serves, and the SSM Command documents as CloudFormation would create them.
 */
import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { propsFromContext, type ReflexStackProps } from '../../../infra/props.ts';
import { ReflexStack } from '../../../infra/reflex-stack.ts';
import { ENV } from '../../../functions/contract/lambda-env.ts';

/** The account and region the emulated deployment lives in. */
export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';

/** A template cannot be resolved: an intrinsic or a reference this resolver does not know. */
export class TemplateResolveError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TemplateResolveError';
  }
}

interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

/** What the synthesized stack deploys, by physical name. */
export interface Deployment {
  readonly stackName: string;
  /** The responder function's Environment.Variables, every token resolved. */
  readonly environment: Record<string, string>;
  /** SSM Command documents: name → Content (schema 2.2). */
  readonly documents: Map<string, unknown>;
  /** SNS topics: ARNs. */
  readonly topics: Set<string>;
  /** DynamoDB tables: names. */
  readonly tables: Set<string>;
  /** Secrets Manager secrets: ARN → SecretString. */
  readonly secrets: Map<string, string>;
  /** CloudWatch log groups: names. */
  readonly logGroups: Set<string>;
}

/**
 * Synthesizes the stack as infra/app.ts does (cdk.json's context, the stack named `Reflex-<app>`) with `overrides`
 * on top of the context, without bundling the Lambda code (only its configuration is read), and resolves it.
 */
export function synthesizeDeployment(overrides: Record<string, string>): Deployment {
  const cdkJson = JSON.parse(readFileSync(new URL('../../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> };
  const app = new App({ context: { ...cdkJson.context, ...overrides, 'aws:cdk:bundling-stacks': [] } });
  const props: ReflexStackProps = propsFromContext(app);
  const stackName = `Reflex-${(props.appName ?? 'web').replace(/[^A-Za-z0-9-]/g, '-')}`;
  const stack = new ReflexStack(app, stackName, props);
  return resolveDeployment(stackName, Template.fromStack(stack).toJSON() as { Resources: Record<string, CfnResource> });
}

/** Resolves a template: the physical name of every resource, then the responder's environment through them. */
export function resolveDeployment(stackName: string, template: { Resources: Record<string, CfnResource> }): Deployment {
  const resolver = new IntrinsicResolver(stackName, template.Resources);
  const responder = Object.values(template.Resources).find(
    (resource) => resource.Type === 'AWS::Lambda::Function' && hasVariable(resource, ENV.appName),
  );
  if (!responder) throw new TemplateResolveError(`no Lambda function with ${ENV.appName} in its environment`);
  const variables = (responder.Properties?.['Environment'] as { Variables: Record<string, unknown> }).Variables;
  const environment = Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, resolver.string(value, `Environment.Variables.${name}`)]));

  const deployment: Deployment = {
    stackName,
    environment,
    documents: new Map(),
    topics: new Set(),
    tables: new Set(),
    secrets: new Map(),
    logGroups: new Set(),
  };
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    const ref = (): string => resolver.ref(logicalId);
    switch (resource.Type) {
      case 'AWS::SSM::Document':
        deployment.documents.set(ref(), resource.Properties?.['Content']);
        break;
      case 'AWS::SNS::Topic':
        deployment.topics.add(ref());
        break;
      case 'AWS::DynamoDB::Table':
        deployment.tables.add(ref());
        break;
      case 'AWS::SecretsManager::Secret':
        deployment.secrets.set(ref(), resolver.string(resource.Properties?.['SecretString'] ?? '{}', `${logicalId}.SecretString`));
        break;
      case 'AWS::Logs::LogGroup':
        deployment.logGroups.add(ref());
        break;
    }
  }
  return deployment;
}

function hasVariable(resource: CfnResource, name: string): boolean {
  const variables = (resource.Properties?.['Environment'] as { Variables?: Record<string, unknown> } | undefined)?.Variables;
  return variables !== undefined && name in variables;
}

/** A short, stable suffix from a logical id, as CloudFormation appends a random one to generated names. */
function suffix(logicalId: string, length: number): string {
  let hash = 2166136261;
  for (const char of logicalId) hash = Math.imul(hash ^ char.charCodeAt(0), 16777619) >>> 0;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  for (let i = 0; i < length; i++) {
    out += alphabet[hash % alphabet.length];
    hash = Math.imul(hash ^ i, 2654435761) >>> 0;
  }
  return out;
}

/** Walks CloudFormation intrinsics (Ref, Fn::GetAtt, Fn::Join, Fn::Select, Fn::Split, Fn::Sub) to plain values. */
class IntrinsicResolver {
  constructor(
    private readonly stackName: string,
    private readonly resources: Record<string, CfnResource>,
  ) {}

  /** A value that must come out a string. */
  string(value: unknown, where: string): string {
    const resolved = this.value(value, where);
    if (typeof resolved !== 'string') throw new TemplateResolveError(`${where}: resolves to ${JSON.stringify(resolved)}, not a string`);
    return resolved;
  }

  value(value: unknown, where: string): unknown {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return typeof value === 'string' ? value : String(value);
    if (Array.isArray(value)) return value.map((item, index) => this.value(item, `${where}[${index}]`));
    if (value === null || typeof value !== 'object') throw new TemplateResolveError(`${where}: unexpected ${String(value)}`);
    const keys = Object.keys(value);
    const [key] = keys;
    const arg = (value as Record<string, unknown>)[key ?? ''];
    if (keys.length === 1 && key === 'Ref') return this.ref(this.string(arg, `${where}.Ref`));
    if (keys.length === 1 && key === 'Fn::GetAtt') {
      const [logicalId, attribute] = Array.isArray(arg) ? arg : String(arg).split('.');
      return this.getAtt(String(logicalId), String(attribute), where);
    }
    if (keys.length === 1 && key === 'Fn::Join') {
      const [separator, parts] = arg as [string, unknown[]];
      return (this.value(parts, `${where}.Fn::Join`) as string[]).join(separator);
    }
    if (keys.length === 1 && key === 'Fn::Select') {
      const [index, list] = arg as [unknown, unknown];
      return (this.value(list, `${where}.Fn::Select`) as string[])[Number(this.value(index, where))];
    }
    if (keys.length === 1 && key === 'Fn::Split') {
      const [separator, text] = arg as [string, unknown];
      return this.string(text, `${where}.Fn::Split`).split(separator);
    }
    if (keys.length === 1 && key === 'Fn::Sub') {
      const [text, vars] = (Array.isArray(arg) ? arg : [arg, {}]) as [string, Record<string, unknown>];
      return text.replace(/\$\{([^}]+)\}/g, (_, name: string) =>
        name in vars ? this.string(vars[name], `${where}.Fn::Sub.${name}`) : name.includes('.') ? this.string({ 'Fn::GetAtt': name.split('.') }, where) : this.ref(name),
      );
    }
    if (keys.some((name) => name.startsWith('Fn::'))) throw new TemplateResolveError(`${where}: intrinsic ${key} is not supported`);
    return Object.fromEntries(Object.entries(value).map(([name, item]) => [name, this.value(item, `${where}.${name}`)]));
  }

  /** `Ref`: a pseudo parameter, or what CloudFormation returns for the resource type. */
  ref(name: string): string {
    const pseudo: Record<string, string> = {
      'AWS::AccountId': ACCOUNT,
      'AWS::Region': REGION,
      'AWS::Partition': 'aws',
      'AWS::URLSuffix': 'amazonaws.com',
      'AWS::StackName': this.stackName,
    };
    if (name in pseudo) return pseudo[name] as string;
    const resource = this.resource(name);
    const props = resource.Properties ?? {};
    const given = (prop: string): string | undefined => (props[prop] === undefined ? undefined : this.string(props[prop], `${name}.${prop}`));
    const generated = `${this.stackName}-${name}-${suffix(name, 12)}`;
    switch (resource.Type) {
      case 'AWS::SNS::Topic':
        return `arn:aws:sns:${REGION}:${ACCOUNT}:${given('TopicName') ?? generated}`;
      case 'AWS::SQS::Queue':
        return `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${given('QueueName') ?? generated}`;
      case 'AWS::SecretsManager::Secret':
        return `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${given('Name') ?? name}-${suffix(name, 6)}`;
      case 'AWS::Logs::LogGroup':
        return given('LogGroupName') ?? generated;
      case 'AWS::DynamoDB::Table':
        return given('TableName') ?? generated;
      case 'AWS::SSM::Document':
        return given('Name') ?? generated;
      case 'AWS::SSM::Parameter':
        return given('Name') ?? generated;
      case 'AWS::Lambda::Function':
        return given('FunctionName') ?? generated;
      case 'AWS::CloudWatch::Alarm':
        return given('AlarmName') ?? generated;
      default:
        return generated;
    }
  }

  private getAtt(logicalId: string, attribute: string, where: string): string {
    const resource = this.resource(logicalId);
    const ref = this.ref(logicalId);
    const arn = (service: string, resourcePart: string): string => `arn:aws:${service}:${REGION}:${ACCOUNT}:${resourcePart}`;
    const attributes: Record<string, Record<string, () => string>> = {
      'AWS::Logs::LogGroup': { Arn: () => arn('logs', `log-group:${ref}:*`) },
      'AWS::DynamoDB::Table': { Arn: () => arn('dynamodb', `table/${ref}`) },
      'AWS::SNS::Topic': { TopicArn: () => ref, TopicName: () => ref.split(':').at(-1) ?? ref },
      'AWS::SQS::Queue': { Arn: () => arn('sqs', ref.split('/').at(-1) ?? ref), QueueName: () => ref.split('/').at(-1) ?? ref },
      'AWS::Lambda::Function': { Arn: () => arn('lambda', `function:${ref}`) },
      'AWS::IAM::Role': { Arn: () => `arn:aws:iam::${ACCOUNT}:role/${ref}` },
      'AWS::SecretsManager::Secret': { Id: () => ref },
    };
    const getter = attributes[resource.Type]?.[attribute];
    if (!getter) throw new TemplateResolveError(`${where}: Fn::GetAtt ${logicalId}.${attribute} (${resource.Type}) is not supported`);
    return getter();
  }

  private resource(logicalId: string): CfnResource {
    const resource = this.resources[logicalId];
    if (!resource) throw new TemplateResolveError(`reference to ${logicalId}, which is not in the template`);
    return resource;
  }
}
