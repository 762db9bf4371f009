/**
 * Runs the host scripts on this machine with bash: the very files the SSM documents embed.
 * Inputs become REFLEX_* environment variables; nothing is ever spliced into command text.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { HostParams, HostRunResult, HostRunner, HostScript } from '../../core/ports.ts';
import { checkPattern } from '../../core/validate.ts';
import { HOST_INPUTS, hostVariables } from '../../contract/host-inputs.ts';

const SCRIPTS_DIR = fileURLToPath(new URL('../../host/', import.meta.url));

export interface LocalHostRunnerOptions {
  /** Environment the scripts inherit (PATH must reach `pm2` and `node`). Default: this process's. */
  readonly env?: NodeJS.ProcessEnv;
  /** Kill the script after this long. Default 60 s. */
  readonly timeoutMs?: number;
  readonly scriptsDir?: string;
}

export class LocalHostRunner implements HostRunner {
  readonly #env: NodeJS.ProcessEnv;
  readonly #timeoutMs: number;
  readonly #scriptsDir: string;

  constructor(options: LocalHostRunnerOptions = {}) {
    // Inherited REFLEX_* variables must not leak into a run that did not ask for them.
    this.#env = Object.fromEntries(Object.entries(options.env ?? process.env).filter(([key]) => !key.startsWith('REFLEX_')));
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#scriptsDir = options.scriptsDir ?? SCRIPTS_DIR;
  }

  /** Throws InputError (before running anything) when a parameter does not match its pattern. */
  run(_instanceId: string, script: HostScript, params: HostParams): Promise<HostRunResult> {
    const env = { ...this.#env, ...toEnv(params) };
    return new Promise((resolve) => {
      execFile(
        'bash',
        [`${this.#scriptsDir}/${script}.sh`],
        { env, timeout: this.#timeoutMs, maxBuffer: 4 * 1024 * 1024, killSignal: 'SIGKILL' },
        (error, stdout, stderr) => {
          if (!error) return resolve({ ok: true, stdout, stderr, status: 'exit 0' });
          const code = typeof error.code === 'number' ? error.code : undefined;
          const status = error.killed ? 'timed out' : `exit ${code ?? error.code ?? 'unknown'}`;
          const firstLine = stderr.split('\n').find((line) => line.trim() !== '') ?? '';
          resolve({
            ok: false,
            stdout,
            stderr,
            status,
            error: error.killed
              ? `${script} did not finish within ${Math.round(this.#timeoutMs / 1000)} s`
              : `${script} failed (${status})${firstLine ? `: ${firstLine.slice(0, 200)}` : ''}`,
          });
        },
      );
    });
  }
}

/** Validates and maps HostParams to the scripts' environment variables. */
export function toEnv(params: HostParams): Record<string, string> {
  for (const [field, value] of Object.entries(params) as [keyof HostParams, string | undefined][]) {
    if (value !== undefined) checkPattern(field, value, HOST_INPUTS[field].pattern, HOST_INPUTS[field].shape);
  }
  return hostVariables(params);
}
