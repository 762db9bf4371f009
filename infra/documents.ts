/**
 * The two SSM Command documents (schema 2.2), built from the host scripts in functions/host/ at synth time so the
 * script that runs on an instance is byte for byte the file the local runner executes.
 *
 * Values never touch command text: every parameter has `interpolationType: ENV_VAR` (SSM exports it as
 * `$SSM_<Name>`), an `allowedPattern` from core/validate.ts, and the document maps it to the script's
 * `REFLEX_<NAME>` with a quoted expansion. No `{{ }}` appears anywhere in the command.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PATTERN_SOURCES } from '../functions/core/validate.ts';
import { REMEDIATE_PARAMETERS, SNAPSHOT_PARAMETERS } from '../functions/adapters/aws/ssm-documents.ts';

/** A host script the documents embed, by name. */
export type HostScriptName = 'snapshot' | 'remediate';

/** Bad document input (a script SSM would misread, a document too large): raised at synth. */
export class DocumentBuildError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DocumentBuildError';
  }
}

/** Where the host scripts live, relative to this file. */
export function hostScriptPath(name: HostScriptName): string {
  return fileURLToPath(new URL(`../functions/host/${name}.sh`, import.meta.url));
}

/** The host script's text, read at synth time (single source of truth). */
export function readHostScript(name: HostScriptName): string {
  return readFileSync(hostScriptPath(name), 'utf8');
}

/**
 * The pattern text in a form every regex engine reads the same way. The JS sources keep a literal `[` unescaped
 * inside a character class (`[A-Za-z0-9.:[\]_-]`), which Java reads as a nested class and rejects as unclosed;
 * SSM's engine is not documented, so the document escapes it (`\[`), which means the same thing everywhere.
 */
export function portablePattern(source: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; i += 1) {
    const char = source[i] as string;
    if (char === '\\') {
      out += char + (source[i + 1] ?? '');
      i += 1;
    } else if (char === '[') {
      out += inClass ? '\\[' : char;
      inClass = true;
    } else {
      if (char === ']') inClass = false;
      out += char;
    }
  }
  return out;
}

/** The allowed pattern of an optional parameter: empty (the script's default) or a match. */
export function optionalPattern(source: string): string {
  const inner = source.replace(/^\^/, '').replace(/\$$/, '');
  return `^$|^(${inner})$`;
}

interface ParameterSpec {
  readonly description: string;
  /** A core/validate.ts pattern source, or a literal pattern for the enumerations. */
  readonly pattern: string;
  readonly required: boolean;
}

type SnapshotName = keyof typeof SNAPSHOT_PARAMETERS;
type RemediateName = keyof typeof REMEDIATE_PARAMETERS;

/** The pattern of each parameter, keyed by the names the SSM adapter fills (one definition, functions/adapters). */
const SNAPSHOT_SPECS: Record<SnapshotName, ParameterSpec> = {
  App: { description: 'PM2 app name.', pattern: PATTERN_SOURCES.app, required: true },
  Pm2User: { description: 'OS user that owns PM2; empty: root.', pattern: PATTERN_SOURCES.pm2User, required: false },
  Pm2Home: { description: "PM2_HOME; empty: the PM2 user's ~/.pm2.", pattern: PATTERN_SOURCES.absPath, required: false },
  HealthUrl: { description: 'URL probed through nginx.', pattern: PATTERN_SOURCES.url, required: false },
  Upstream: { description: "The app's own address; empty: what nginx proxies to.", pattern: PATTERN_SOURCES.url, required: false },
  NginxConfig: { description: 'nginx config to read proxy directives from.', pattern: PATTERN_SOURCES.absPath, required: false },
  NginxErrorLog: { description: 'nginx error log.', pattern: PATTERN_SOURCES.absPath, required: false },
  KernelLog: { description: 'Kernel log file; empty: dmesg or journalctl.', pattern: PATTERN_SOURCES.absPath, required: false },
  Sections: { description: 'full (default) or probe (pm2 and probes only).', pattern: '^(full|probe)$', required: false },
};

const REMEDIATE_SPECS: Record<RemediateName, ParameterSpec> = {
  App: { description: 'PM2 app name.', pattern: PATTERN_SOURCES.app, required: true },
  Pm2User: { description: 'OS user that owns PM2; empty: root.', pattern: PATTERN_SOURCES.pm2User, required: false },
  Pm2Home: { description: "PM2_HOME; empty: the PM2 user's ~/.pm2.", pattern: PATTERN_SOURCES.absPath, required: false },
  Action: { description: 'restart or start.', pattern: '^(restart|start)$', required: true },
  Ecosystem: { description: "Ecosystem file for start; empty: start from PM2's saved list (pm2 save).", pattern: PATTERN_SOURCES.absPath, required: false },
};

/** How long the agent lets each script run: a snapshot is a few probes; a restart waits for PM2. */
const TIMEOUT_SECONDS: Record<HostScriptName, number> = { snapshot: 60, remediate: 120 };

/** SSM rejects a document whose content exceeds 64 KB. */
const MAX_DOCUMENT_BYTES = 64 * 1024;

/** The minimum SSM Agent for ENV_VAR interpolation; older agents set no `SSM_` variables at all. */
export const MIN_AGENT_VERSION = '3.3.2746.0';

/** A schema 2.2 parameter as SSM reads it. */
export interface DocumentParameter {
  readonly type: 'String';
  readonly description: string;
  readonly allowedPattern: string;
  readonly interpolationType: 'ENV_VAR';
  readonly default?: string;
}

/** The document content (`AWS::SSM::Document` `Content`), schema 2.2. */
export interface CommandDocumentContent {
  readonly schemaVersion: '2.2';
  readonly description: string;
  readonly parameters: Record<string, DocumentParameter>;
  readonly mainSteps: readonly [
    {
      readonly action: 'aws:runShellScript';
      readonly name: string;
      readonly precondition: { readonly StringEquals: readonly ['platformType', 'Linux'] };
      readonly inputs: { readonly runCommand: readonly string[]; readonly timeoutSeconds: string };
    },
  ];
}

/**
 * The lines that run before the script text. The agent writes `runCommand` to an executable file and runs it
 * with `sh -c <file>`, so the `#!/bin/bash` first line makes the kernel hand the whole file (prelude and script)
 * to bash, which the scripts need (`[[ =~ ]]`, `pipefail`).
 */
export function preludeLines(parameters: Record<string, { readonly env: string }>, required: readonly string[]): string[] {
  const lines = ['#!/bin/bash', '# Reflex: map the SSM parameters (ENV_VAR interpolation) to the variables the script reads.'];
  for (const name of required) {
    lines.push(
      `if [ -z "\${SSM_${name}+x}" ]; then echo "reflex: SSM_${name} is not set: this document needs SSM Agent ${MIN_AGENT_VERSION} or later" >&2; exit 2; fi`,
    );
  }
  for (const [name, { env }] of Object.entries(parameters)) {
    lines.push(`export ${env}="$SSM_${name}"`);
  }
  lines.push('# The host script, embedded verbatim from functions/host/.');
  return lines;
}

/** Builds one document from its parameter map and its script text. Throws DocumentBuildError on bad input. */
export function buildCommandDocument(script: HostScriptName, scriptText: string): CommandDocumentContent {
  const map = script === 'snapshot' ? SNAPSHOT_PARAMETERS : REMEDIATE_PARAMETERS;
  const specs: Record<string, ParameterSpec> = script === 'snapshot' ? SNAPSHOT_SPECS : REMEDIATE_SPECS;
  if (scriptText.includes('{{')) {
    throw new DocumentBuildError(`functions/host/${script}.sh: contains "{{", which SSM would read as a parameter reference`);
  }
  const parameters: Record<string, DocumentParameter> = {};
  for (const name of Object.keys(map)) {
    const spec = specs[name];
    if (!spec) throw new DocumentBuildError(`${script} document: no pattern for parameter ${name}`);
    const pattern = portablePattern(spec.pattern);
    parameters[name] = spec.required
      ? { type: 'String', description: spec.description, allowedPattern: pattern, interpolationType: 'ENV_VAR' }
      : { type: 'String', description: spec.description, allowedPattern: optionalPattern(pattern), interpolationType: 'ENV_VAR', default: '' };
  }
  const required = Object.keys(specs).filter((name) => specs[name]?.required);
  const content: CommandDocumentContent = {
    schemaVersion: '2.2',
    description: `Reflex ${script}: runs functions/host/${script}.sh as root. Inputs are validated by allowedPattern and reach the script as environment variables only.`,
    parameters,
    mainSteps: [
      {
        action: 'aws:runShellScript',
        name: script,
        precondition: { StringEquals: ['platformType', 'Linux'] },
        inputs: {
          runCommand: [...preludeLines(map, required), ...scriptText.replace(/\n$/, '').split('\n')],
          timeoutSeconds: String(TIMEOUT_SECONDS[script]),
        },
      },
    ],
  };
  const size = Buffer.byteLength(JSON.stringify(content), 'utf8');
  if (size > MAX_DOCUMENT_BYTES) {
    throw new DocumentBuildError(`${script} document: ${size} bytes, over SSM's 64 KB (${MAX_DOCUMENT_BYTES}-byte) limit`);
  }
  return content;
}
