/**
 * The two SSM Command documents (schema 2.2), built from the host scripts in functions/host/ at synth time so the
 * script that runs on an instance is byte for byte the file the local runner executes.
 *
 * Values never touch command text: every parameter has `interpolationType: ENV_VAR` (SSM exports it as
 * `$SSM_<Name>`), an `allowedPattern` from its pattern in functions/contract/host-inputs.ts, and the document maps
 * it to the script's `REFLEX_<NAME>` with a quoted expansion. No `{{ }}` appears anywhere in the command.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { inputsOf, type HostInput } from '../functions/contract/host-inputs.ts';
import type { HostScript } from '../functions/core/ports.ts';

/** Bad document input (a script SSM would misread, a document too large): raised at synth. */
export class DocumentBuildError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DocumentBuildError';
  }
}

/** Where the host scripts live, relative to this file. */
export function hostScriptPath(name: HostScript): string {
  return fileURLToPath(new URL(`../functions/host/${name}.sh`, import.meta.url));
}

/** The host script's text, read at synth time (single source of truth). */
export function readHostScript(name: HostScript): string {
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

/** remediate.sh bounds its pm2 action with `timeout 120`. */
const REMEDIATE_ACTION_SECONDS = 120;
/** The most VerifySeconds allows (functions/core/validate.ts PATTERNS.verifySeconds). */
export const MAX_VERIFY_SECONDS = 600;

/**
 * How long the agent lets each script run: a snapshot is a few probes; remediate waits for PM2 (at most 120 s),
 * then verifies on the host for up to VerifySeconds (at most 600 s), with the node start and a margin on top.
 */
export const TIMEOUT_SECONDS: Record<HostScript, number> = {
  snapshot: 60,
  remediate: REMEDIATE_ACTION_SECONDS + MAX_VERIFY_SECONDS + 60,
};

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
export function preludeLines(inputs: readonly HostInput[]): string[] {
  const lines = ['#!/bin/bash', '# Reflex: map the SSM parameters (ENV_VAR interpolation) to the variables the script reads.'];
  for (const { parameter } of inputs.filter((input) => input.required)) {
    lines.push(
      `if [ -z "\${SSM_${parameter}+x}" ]; then echo "reflex: SSM_${parameter} is not set: this document needs SSM Agent ${MIN_AGENT_VERSION} or later" >&2; exit 2; fi`,
    );
  }
  for (const { parameter, env } of inputs) {
    lines.push(`export ${env}="$SSM_${parameter}"`);
  }
  lines.push('# The host script, embedded verbatim from functions/host/.');
  return lines;
}

/** The parameter as the document declares it: a required one has no default, so SSM refuses a command without it. */
function documentParameter(input: HostInput): DocumentParameter {
  const pattern = portablePattern(input.pattern.source);
  return input.required
    ? { type: 'String', description: input.description, allowedPattern: pattern, interpolationType: 'ENV_VAR' }
    : { type: 'String', description: input.description, allowedPattern: optionalPattern(pattern), interpolationType: 'ENV_VAR', default: '' };
}

/** Builds one document from the script's inputs and its text. Throws DocumentBuildError on bad input. */
export function buildCommandDocument(script: HostScript, scriptText: string): CommandDocumentContent {
  if (scriptText.includes('{{')) {
    throw new DocumentBuildError(`functions/host/${script}.sh: contains "{{", which SSM would read as a parameter reference`);
  }
  const inputs = inputsOf(script).map(([, input]) => input);
  const parameters = Object.fromEntries(inputs.map((input) => [input.parameter, documentParameter(input)]));
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
          runCommand: [...preludeLines(inputs), ...scriptText.replace(/\n$/, '').split('\n')],
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
