/**
 * An emulated AWS account for the responder, as one in-process HTTP server that the real SDK v3 clients reach
 * through `AWS_ENDPOINT_URL_<SERVICE>`: SSM Run Command (test/helpers/aws/ssm.ts) with an agent that runs the
 * deployed documents on this machine, CloudWatch Logs over a host's real log files (test/helpers/aws/logs.ts),
 * SNS Publish (recorded), Secrets Manager GetSecretValue, and dynalite for DynamoDB. What it serves is read from
 * the synthesized stack (test/helpers/aws/template.ts): documents, topic, table, secret and log groups by the
 * physical names the responder's environment resolves to.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { cloudWatchAgentConfig } from '../../infra/cloudwatch-agent.ts';
import { startDynalite, type Dynalite } from './dynalite.ts';
import { AwsServiceError } from './aws/errors.ts';
import { LogsEmulator } from './aws/logs.ts';
import { SsmEmulator } from './aws/ssm.ts';
import { REGION, type Deployment } from './aws/template.ts';

/** One SNS Publish the responder made. */
export interface PublishedMessage {
  readonly TopicArn: string;
  readonly Subject?: string;
  readonly Message: string;
  readonly MessageStructure?: string;
}

/** Where an emulated instance keeps the files its CloudWatch agent ships. */
export interface HostFiles {
  readonly appName: string;
  readonly pm2User: string;
  readonly pm2Home: string;
  readonly accessLog: string;
  readonly nginxErrorLog: string;
  /** Absent: the kernel log is not a file here (dmesg only), nothing is shipped. */
  readonly kernelLog?: string;
}

/** Every API call the emulation answered: `<service>.<operation>` and the error code when it failed. */
export interface ApiCall {
  readonly service: string;
  readonly operation: string;
  readonly error?: string;
}

export interface AwsEmulator {
  readonly ssm: SsmEmulator;
  readonly logs: LogsEmulator;
  readonly published: PublishedMessage[];
  readonly calls: ApiCall[];
  /** Dummy credentials, the region and every `AWS_ENDPOINT_URL_<SERVICE>` the responder's clients need. */
  readonly env: Readonly<Record<string, string>>;
  /** Registers an instance with Systems Manager and starts its CloudWatch agent over `files`. */
  addInstance(instanceId: string, files: HostFiles): void;
  removeInstance(instanceId: string): void;
  /** Forgets log events, messages, calls and DynamoDB items (between tests). Commands already run stay in `ssm`. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the emulation of what `deployment` deploys. */
export async function startAwsEmulator(deployment: Deployment): Promise<AwsEmulator> {
  const [tableName, ...others] = deployment.tables;
  if (!tableName || others.length > 0) throw new Error(`the stack must create exactly one DynamoDB table, found ${deployment.tables.size}`);
  const dynalite = await startDynalite({ tableName, region: REGION });
  const root = await mkdtemp(join(tmpdir(), 'reflex-aws-'));
  const ssm = new SsmEmulator({ documents: deployment.documents, root, region: REGION });
  const logs = new LogsEmulator(deployment.logGroups);
  const published: PublishedMessage[] = [];
  const calls: ApiCall[] = [];
  const services = { ssm, logs, published, deployment };

  const server = http.createServer((request, response) => {
    void answer(services, calls, request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dynamoEndpoint = await dynalite.client.config.endpoint?.();
  const dynamoUrl = dynamoEndpoint ? `${dynamoEndpoint.protocol}//${dynamoEndpoint.hostname}:${dynamoEndpoint.port}` : '';

  return {
    ssm,
    logs,
    published,
    calls,
    env: {
      AWS_REGION: REGION,
      AWS_DEFAULT_REGION: REGION,
      AWS_ACCESS_KEY_ID: 'AKIAEMULATED00000000',
      AWS_SECRET_ACCESS_KEY: 'emulated-secret',
      AWS_SESSION_TOKEN: 'emulated-session',
      AWS_ENDPOINT_URL_SSM: url,
      AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: url,
      AWS_ENDPOINT_URL_SNS: url,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: url,
      AWS_ENDPOINT_URL_DYNAMODB: dynamoUrl,
    },
    addInstance(instanceId, files) {
      ssm.register(instanceId);
      logs.attach(instanceId, agentFiles(files));
    },
    removeInstance(instanceId) {
      logs.detach(instanceId);
    },
    async reset() {
      logs.clear();
      published.length = 0;
      calls.length = 0;
      await clearTable(dynalite, tableName);
    },
    async stop() {
      logs.stop();
      await ssm.settle();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await dynalite.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** The files the stack's CloudWatch agent configuration ships, at this host's paths. */
function agentFiles(files: HostFiles): { filePath: string; logGroupName: string }[] {
  const config = cloudWatchAgentConfig({
    appName: files.appName,
    pm2User: files.pm2User,
    pm2Home: files.pm2Home,
    accessLog: files.accessLog,
    nginxErrorLog: files.nginxErrorLog,
    kernelLog: files.kernelLog ?? '/nonexistent/kern.log',
  });
  return config.logs.logs_collected.files.collect_list.map((entry) => ({ filePath: entry.file_path, logGroupName: entry.log_group_name }));
}

async function clearTable(dynalite: Dynalite, tableName: string): Promise<void> {
  const { Items = [] } = await dynalite.documentClient.send(new ScanCommand({ TableName: tableName }));
  for (const item of Items) {
    await dynalite.documentClient.send(new DeleteCommand({ TableName: tableName, Key: { pk: item['pk'], sk: item['sk'] } }));
  }
}

interface Services {
  readonly ssm: SsmEmulator;
  readonly logs: LogsEmulator;
  readonly published: PublishedMessage[];
  readonly deployment: Deployment;
}

/** Routes one request by protocol: awsJson1_1 by `X-Amz-Target`, awsQuery (SNS) by its `Action` form field. */
async function answer(services: Services, calls: ApiCall[], request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
  const body = await readBody(request);
  const target = String(request.headers['x-amz-target'] ?? '');
  if (target) {
    const [prefix = '', operation = ''] = target.split('.');
    const service = { AmazonSSM: 'ssm', Logs_20140328: 'logs', secretsmanager: 'secretsmanager' }[prefix] ?? prefix;
    try {
      const input = body === '' ? {} : (JSON.parse(body) as Record<string, unknown>);
      const output = await jsonOperation(services, service, operation, input);
      calls.push({ service, operation });
      send(response, 200, 'application/x-amz-json-1.1', JSON.stringify(output));
    } catch (error) {
      const failure = asServiceError(error);
      calls.push({ service, operation, error: failure.code });
      send(response, failure.status, 'application/x-amz-json-1.1', JSON.stringify({ __type: failure.code, message: failure.message }));
    }
    return;
  }
  const form = new URLSearchParams(body);
  const operation = form.get('Action') ?? '';
  try {
    const xml = snsOperation(services, operation, form);
    calls.push({ service: 'sns', operation });
    send(response, 200, 'text/xml', xml);
  } catch (error) {
    const failure = asServiceError(error);
    calls.push({ service: 'sns', operation, error: failure.code });
    const type = failure.status >= 500 ? 'Receiver' : 'Sender';
    send(
      response,
      failure.status,
      'text/xml',
      `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>${type}</Type><Code>${failure.code}</Code><Message>${escapeXml(failure.message)}</Message></Error><RequestId>emulated</RequestId></ErrorResponse>`,
    );
  }
}

async function jsonOperation(services: Services, service: string, operation: string, input: Record<string, unknown>): Promise<Record<string, unknown>> {
  if (service === 'ssm') return services.ssm.handle(operation, input);
  if (service === 'logs') return services.logs.handle(operation, input);
  if (service === 'secretsmanager' && operation === 'GetSecretValue') {
    const id = String(input['SecretId'] ?? '');
    const found = [...services.deployment.secrets].find(([arn]) => arn === id || arn.split(':').at(-1)?.replace(/-[A-Za-z0-9]{6}$/, '') === id);
    if (!found) throw new AwsServiceError(400, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    const [arn, secretString] = found;
    return {
      ARN: arn,
      Name: arn.split(':').at(-1)?.replace(/-[A-Za-z0-9]{6}$/, ''),
      VersionId: '00000000-0000-4000-8000-000000000001',
      SecretString: secretString,
      VersionStages: ['AWSCURRENT'],
      CreatedDate: Date.now() / 1000,
    };
  }
  throw new AwsServiceError(400, 'InvalidAction', `the emulation does not implement ${service}.${operation}`);
}

function snsOperation(services: Services, operation: string, form: URLSearchParams): string {
  if (operation !== 'Publish') throw new AwsServiceError(400, 'InvalidAction', `the SNS emulation does not implement ${operation}`);
  const topicArn = form.get('TopicArn') ?? '';
  if (!services.deployment.topics.has(topicArn)) throw new AwsServiceError(404, 'NotFound', 'Topic does not exist');
  const message = form.get('Message');
  if (message === null || message === '') throw new AwsServiceError(400, 'InvalidParameter', 'Invalid parameter: Message');
  if (Buffer.byteLength(message, 'utf8') > 262_144) throw new AwsServiceError(400, 'InvalidParameter', 'Invalid parameter: Message too long');
  const subject = form.get('Subject');
  if (subject !== null && subject.length >= 100) throw new AwsServiceError(400, 'InvalidParameter', 'Invalid parameter: Subject');
  const structure = form.get('MessageStructure');
  if (structure === 'json') {
    const parsed = JSON.parse(message) as Record<string, unknown>;
    if (typeof parsed['default'] !== 'string') throw new AwsServiceError(400, 'InvalidParameter', 'Invalid parameter: Message Structure - No default entry in JSON message body');
  }
  services.published.push({
    TopicArn: topicArn,
    Message: message,
    ...(subject !== null && { Subject: subject }),
    ...(structure !== null && { MessageStructure: structure }),
  });
  const id = `00000000-0000-4000-8000-${String(services.published.length).padStart(12, '0')}`;
  return `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>${id}</MessageId></PublishResult><ResponseMetadata><RequestId>emulated</RequestId></ResponseMetadata></PublishResponse>`;
}

function asServiceError(error: unknown): AwsServiceError {
  if (error instanceof AwsServiceError) return error;
  return new AwsServiceError(500, 'InternalFailure', (error as Error).message, { cause: error });
}

function readBody(request: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => resolve(body));
    request.on('error', reject);
  });
}

function send(response: http.ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { 'content-type': contentType, 'x-amzn-requestid': 'emulated', 'content-length': Buffer.byteLength(body) });
  response.end(body);
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (char) => `&#${char.charCodeAt(0)};`);
}
