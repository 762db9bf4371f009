/**
 * SSM Run Command, emulated: SendCommand and GetCommandInvocation as the service answers them, and an agent that
 * runs a Command document (schema 2.2, aws:runShellScript) on this machine the way the SSM agent does on an
 * instance: as root, from `runCommand` written to a file in a fresh 0700 orchestration directory that is also the
 * working directory, `sh -c <file>`, with exactly the agent's PATH, no HOME, each parameter as `SSM_<name>`
 * (interpolationType ENV_VAR) and the agent's own AWS_SSM_INSTANCE_ID and AWS_SSM_REGION_NAME; nothing of the test
 * runner's environment. One command at a time per instance; stdout cut at 24,000 characters, stderr at 8,000.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AGENT_PATH } from '../../../functions/sandbox/sandbox.ts';
import { AwsServiceError } from './errors.ts';

/** What GetCommandInvocation returns of a plugin's output. */
export const MAX_STDOUT_CHARS = 24_000;
export const MAX_STDERR_CHARS = 8_000;
/** How long a new invocation stays invisible to GetCommandInvocation. */
const INVOCATION_DELAY_MS = 100;

interface DocumentParameter {
  readonly type?: string;
  readonly allowedPattern?: string;
  readonly default?: string;
  readonly interpolationType?: string;
}

interface CommandDocument {
  readonly schemaVersion: string;
  readonly parameters?: Record<string, DocumentParameter>;
  readonly mainSteps: readonly { readonly action: string; readonly name: string; readonly inputs: { readonly runCommand: readonly string[]; readonly timeoutSeconds?: string } }[];
}

type Status = 'Pending' | 'InProgress' | 'Success' | 'Failed' | 'TimedOut';

/** One command on one instance, as the emulation saw it. */
export interface Invocation {
  readonly commandId: string;
  readonly instanceId: string;
  readonly documentName: string;
  /** Every document parameter, defaults filled in. */
  readonly parameters: Record<string, string>;
  readonly comment: string;
  readonly requestedAt: Date;
  /** The orchestration directory the script ran in. */
  readonly workingDirectory: string;
  status: Status;
  statusDetails: string;
  responseCode: number;
  /** The complete output; GetCommandInvocation returns the cut versions. */
  stdout: string;
  stderr: string;
  startedAt?: Date;
  endedAt?: Date;
  /** GetCommandInvocation calls answered so far. */
  polls: number;
  readonly done: Promise<void>;
}

export interface SsmEmulatorOptions {
  /** Document name → Content, as the stack deploys them. */
  readonly documents: ReadonlyMap<string, unknown>;
  /** Where `<root>/var/lib/amazon/ssm/<instance>/…` is created. */
  readonly root: string;
  readonly region: string;
}

/** The SSM API (the calls the responder makes) and one agent per registered instance. */
export class SsmEmulator {
  readonly invocations: Invocation[] = [];
  private readonly documents: ReadonlyMap<string, CommandDocument>;
  private readonly instances = new Map<string, Promise<void>>();

  constructor(private readonly options: SsmEmulatorOptions) {
    this.documents = new Map([...options.documents].map(([name, content]) => [name, checkDocument(name, content)]));
  }

  /** The instance is managed by Systems Manager from now on (its agent is online). */
  register(instanceId: string): void {
    if (!this.instances.has(instanceId)) this.instances.set(instanceId, Promise.resolve());
  }

  /** Waits for every command sent so far to end. */
  async settle(): Promise<void> {
    await Promise.all(this.invocations.map((invocation) => invocation.done));
  }

  /** Answers one `AmazonSSM.<operation>` call. */
  handle(operation: string, input: Record<string, unknown>): Record<string, unknown> {
    switch (operation) {
      case 'SendCommand':
        return this.sendCommand(input);
      case 'GetCommandInvocation':
        return this.getCommandInvocation(input);
      default:
        throw new AwsServiceError(400, 'InvalidAction', `the SSM emulation does not implement ${operation}`);
    }
  }

  private sendCommand(input: Record<string, unknown>): Record<string, unknown> {
    const documentName = String(input['DocumentName'] ?? '');
    const document = this.documents.get(documentName);
    if (!document) throw new AwsServiceError(400, 'InvalidDocument', `Document ${documentName} does not exist.`);
    const instanceIds = (input['InstanceIds'] as string[] | undefined) ?? [];
    if (instanceIds.length === 0 || instanceIds.length > 50) throw new AwsServiceError(400, 'InvalidInstanceId', 'InstanceIds: 1 to 50 instances.');
    for (const instanceId of instanceIds) {
      if (!this.instances.has(instanceId)) throw new AwsServiceError(400, 'InvalidInstanceId', 'Instances not in a valid state for account');
    }
    const parameters = checkParameters(document, (input['Parameters'] as Record<string, unknown> | undefined) ?? {});
    const timeoutSeconds = input['TimeoutSeconds'];
    if (timeoutSeconds !== undefined && (typeof timeoutSeconds !== 'number' || timeoutSeconds < 30 || timeoutSeconds > 2_592_000)) {
      throw new AwsServiceError(400, 'ValidationException', 'TimeoutSeconds must be from 30 to 2592000.');
    }
    const commandId = randomUUID();
    const requestedAt = new Date();
    const comment = String(input['Comment'] ?? '');
    for (const instanceId of instanceIds) this.enqueue({ commandId, instanceId, documentName, document, parameters, comment, requestedAt });
    return {
      Command: {
        CommandId: commandId,
        DocumentName: documentName,
        DocumentVersion: '1',
        Comment: comment,
        Parameters: Object.fromEntries(Object.entries(parameters).map(([name, value]) => [name, [value]])),
        InstanceIds: instanceIds,
        Targets: [],
        RequestedDateTime: requestedAt.getTime() / 1000,
        Status: 'Pending',
        StatusDetails: 'Pending',
        MaxConcurrency: '50',
        MaxErrors: '0',
        TargetCount: instanceIds.length,
        CompletedCount: 0,
        ErrorCount: 0,
        DeliveryTimedOutCount: 0,
        TimeoutSeconds: timeoutSeconds ?? 3600,
      },
    };
  }

  private getCommandInvocation(input: Record<string, unknown>): Record<string, unknown> {
    const invocation = this.invocations.find((candidate) => candidate.commandId === input['CommandId'] && candidate.instanceId === input['InstanceId']);
    // Right after SendCommand the service does not know the invocation yet.
    if (!invocation || invocation.polls++ === 0 || Date.now() - invocation.requestedAt.getTime() < INVOCATION_DELAY_MS) {
      throw new AwsServiceError(400, 'InvocationDoesNotExist', '');
    }
    const terminal = invocation.status !== 'Pending' && invocation.status !== 'InProgress';
    const seconds = (date: Date | undefined): string => (date ? date.toISOString() : '');
    return {
      CommandId: invocation.commandId,
      InstanceId: invocation.instanceId,
      Comment: invocation.comment,
      DocumentName: invocation.documentName,
      DocumentVersion: '1',
      PluginName: this.documents.get(invocation.documentName)?.mainSteps[0]?.name ?? '',
      ResponseCode: terminal ? invocation.responseCode : -1,
      ExecutionStartDateTime: seconds(invocation.startedAt),
      ExecutionElapsedTime: invocation.startedAt && invocation.endedAt ? elapsed(invocation.endedAt.getTime() - invocation.startedAt.getTime()) : '',
      ExecutionEndDateTime: seconds(invocation.endedAt),
      Status: invocation.status,
      StatusDetails: invocation.statusDetails,
      StandardOutputContent: terminal ? invocation.stdout.slice(0, MAX_STDOUT_CHARS) : '',
      StandardOutputUrl: '',
      StandardErrorContent: terminal ? invocation.stderr.slice(0, MAX_STDERR_CHARS) : '',
      StandardErrorUrl: '',
      CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
    };
  }

  private enqueue(command: {
    commandId: string;
    instanceId: string;
    documentName: string;
    document: CommandDocument;
    parameters: Record<string, string>;
    comment: string;
    requestedAt: Date;
  }): void {
    const orchestration = join(this.options.root, 'var/lib/amazon/ssm', command.instanceId, 'document/orchestration', command.commandId);
    let finish: () => void = () => undefined;
    const { document, ...fields } = command;
    const invocation: Invocation = {
      ...fields,
      workingDirectory: join(orchestration, 'awsrunShellScript', '0.awsrunShellScript'),
      status: 'Pending',
      statusDetails: 'Pending',
      responseCode: -1,
      stdout: '',
      stderr: '',
      polls: 0,
      done: new Promise<void>((resolve) => (finish = resolve)),
    };
    this.invocations.push(invocation);
    // The agent runs one command at a time per instance: this one starts when the previous one has ended.
    const previous = this.instances.get(command.instanceId) ?? Promise.resolve();
    const next = previous.then(() => this.execute(invocation, document, orchestration)).finally(finish);
    this.instances.set(command.instanceId, next.catch(() => undefined));
  }

  private async execute(invocation: Invocation, document: CommandDocument, orchestration: string): Promise<void> {
    invocation.status = 'InProgress';
    invocation.statusDetails = 'InProgress';
    invocation.startedAt = new Date();
    try {
      for (const [index, step] of document.mainSteps.entries()) {
        const directory = join(orchestration, 'awsrunShellScript', `${index}.awsrunShellScript`);
        const result = await this.runStep(invocation, step, directory);
        invocation.stdout += result.stdout;
        invocation.stderr += result.stderr;
        invocation.responseCode = result.code;
        if (result.timedOut) {
          invocation.status = 'TimedOut';
          invocation.statusDetails = 'ExecutionTimedOut';
          return;
        }
        if (result.code !== 0) {
          invocation.status = 'Failed';
          invocation.statusDetails = 'Failed';
          return;
        }
      }
      invocation.status = 'Success';
      invocation.statusDetails = 'Success';
    } catch (error) {
      invocation.stderr += `emulated agent: ${(error as Error).message}\n`;
      invocation.responseCode = 1;
      invocation.status = 'Failed';
      invocation.statusDetails = 'Failed';
    } finally {
      invocation.endedAt = new Date();
    }
  }

  private async runStep(
    invocation: Invocation,
    step: CommandDocument['mainSteps'][number],
    directory: string,
  ): Promise<{ code: number; stdout: string; stderr: string; timedOut: boolean }> {
    // Every level root-only, as /var/lib/amazon/ssm is on an instance: a user switched to from here cannot enter it.
    await mkdir(directory, { recursive: true, mode: 0o700 });
    const script = join(directory, '_script.sh');
    const text = step.inputs.runCommand.join('\n').replace(/\{\{\s*(\w+)\s*\}\}/g, (_, name: string) => invocation.parameters[name] ?? '');
    await writeFile(script, `${text}\n`, { mode: 0o700 });
    const env: Record<string, string> = {
      PATH: AGENT_PATH,
      AWS_SSM_INSTANCE_ID: invocation.instanceId,
      AWS_SSM_REGION_NAME: this.options.region,
    };
    for (const [name, value] of Object.entries(invocation.parameters)) env[`SSM_${name}`] = value;
    const timeoutMs = Number(step.inputs.timeoutSeconds ?? 3600) * 1000;
    return new Promise((resolve) => {
      const child = spawn('sh', ['-c', script], { cwd: directory, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const timer = setTimeout(() => {
        timedOut = true;
        // The agent kills the script's whole process tree at its timeout.
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      }, timeoutMs);
      child.on('error', (error) => {
        clearTimeout(timer);
        resolve({ code: 1, stdout, stderr: `${stderr}${error.message}\n`, timedOut });
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code: code ?? (signal ? 137 : 1), stdout, stderr, timedOut });
      });
    });
  }
}

function checkDocument(name: string, content: unknown): CommandDocument {
  const document = content as CommandDocument;
  if (document?.schemaVersion !== '2.2') throw new Error(`document ${name}: schemaVersion must be 2.2 for this emulation`);
  for (const step of document.mainSteps ?? []) {
    if (step.action !== 'aws:runShellScript') throw new Error(`document ${name}: step ${step.name} is ${step.action}, only aws:runShellScript runs here`);
  }
  for (const [parameter, spec] of Object.entries(document.parameters ?? {})) {
    if (spec.interpolationType !== 'ENV_VAR') throw new Error(`document ${name}: parameter ${parameter} is not interpolationType ENV_VAR`);
  }
  return document;
}

/** SendCommand's parameter checks: known names, one string each, required ones present, allowedPattern matched. */
function checkParameters(document: CommandDocument, given: Record<string, unknown>): Record<string, string> {
  const specs = document.parameters ?? {};
  const invalid = (why: string): never => {
    throw new AwsServiceError(400, 'InvalidParameters', why);
  };
  for (const name of Object.keys(given)) if (!(name in specs)) invalid(`Parameter "${name}" is not defined in the document.`);
  const values: Record<string, string> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const list = given[name];
    if (list === undefined) {
      if (spec.default === undefined) invalid(`Parameter "${name}" is required.`);
      values[name] = spec.default ?? '';
      continue;
    }
    if (!Array.isArray(list) || list.length !== 1 || typeof list[0] !== 'string') invalid(`Parameter "${name}" takes one String value.`);
    const value = (list as string[])[0] as string;
    if (spec.allowedPattern !== undefined && !new RegExp(spec.allowedPattern).test(value)) {
      invalid(`Parameter "${name}" "${value}" failed to satisfy constraint: Member must satisfy regular expression pattern: ${spec.allowedPattern}`);
    }
    values[name] = value;
  }
  return values;
}

/** `PT1.234S`, as the service writes ExecutionElapsedTime. */
function elapsed(ms: number): string {
  return `PT${(ms / 1000).toFixed(3)}S`;
}
