import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REMEDIATE_PARAMETERS } from '../../functions/contract/host-inputs.ts';
import { PATTERN_SOURCES, PATTERNS } from '../../functions/core/validate.ts';
import {
  DocumentBuildError,
  buildCommandDocument,
  optionalPattern,
  portablePattern,
  readHostScript,
} from '../../infra/documents.ts';

const work = mkdtempSync(join(tmpdir(), 'reflex-documents-'));

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/**
 * Runs a document's command the way the SSM agent does: the lines written to an executable file, started with
 * `sh -c <file>`, with only the given SSM_ variables in the environment.
 */
function runLikeTheAgent(runCommand: readonly string[], env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const file = join(work, `_script-${Math.random().toString(36).slice(2)}.sh`);
  writeFileSync(file, runCommand.join('\n'));
  chmodSync(file, 0o755);
  const result = spawnSync('sh', ['-c', file], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A stand-in host script that prints what it received. */
const ECHO_SCRIPT = [
  '#!/usr/bin/env bash',
  'set -euo pipefail',
  'printf "bash=%s\\n" "${BASH_VERSION:+yes}"',
  'printf "app=%s\\n" "$REFLEX_APP"',
  'printf "action=%s\\n" "$REFLEX_ACTION"',
  'printf "pm2_home=[%s]\\n" "$REFLEX_PM2_HOME"',
  'printf "ecosystem=%s\\n" "$REFLEX_ECOSYSTEM"',
  '',
].join('\n');

describe('portablePattern', () => {
  it('escapes a literal [ inside a character class and leaves everything else as is', () => {
    expect(portablePattern('^[A-Za-z0-9.:[\\]_-]{1,3}$')).toBe('^[A-Za-z0-9.:\\[\\]_-]{1,3}$');
    expect(portablePattern(PATTERN_SOURCES.app)).toBe(PATTERN_SOURCES.app);
    expect(portablePattern('^\\[x\\]$')).toBe('^\\[x\\]$');
  });

  it('keeps the meaning of every core pattern', () => {
    const samples = ['web', 'a b', 'http://127.0.0.1/', 'http://[::1]:3000/health?x=1', 'https://x]/', '/srv/web/ecosystem.config.js', 'ubuntu', 'i-0abc12345def67890', ''];
    for (const [key, pattern] of Object.entries(PATTERNS)) {
      const portable = new RegExp(portablePattern(PATTERN_SOURCES[key as keyof typeof PATTERNS]));
      for (const sample of samples) expect([key, sample, portable.test(sample)]).toEqual([key, sample, pattern.test(sample)]);
    }
  });
});

describe('optionalPattern', () => {
  it('accepts empty or a full match, nothing else', () => {
    const optional = new RegExp(optionalPattern(PATTERN_SOURCES.absPath));
    expect(optional.test('')).toBe(true);
    expect(optional.test('/home/ubuntu/.pm2')).toBe(true);
    expect(optional.test('relative/path')).toBe(false);
    expect(optional.test('/ok\n/bad')).toBe(false);
  });
});

describe('buildCommandDocument', () => {
  it('refuses a script containing {{, which SSM would interpolate', () => {
    expect(() => buildCommandDocument('snapshot', 'echo {{App}}\n')).toThrow(DocumentBuildError);
  });

  it('refuses a document over the 64 KB SSM limit', () => {
    expect(() => buildCommandDocument('snapshot', `# ${'x'.repeat(70_000)}\n`)).toThrow(/64/);
  });

  it('fits both real host scripts', () => {
    for (const script of ['snapshot', 'remediate'] as const) {
      const content = buildCommandDocument(script, readHostScript(script));
      expect(Buffer.byteLength(JSON.stringify(content))).toBeLessThan(64 * 1024);
    }
  });
});

describe('the document command, run the way the SSM agent runs it', () => {
  const runCommand = buildCommandDocument('remediate', ECHO_SCRIPT).mainSteps[0].inputs.runCommand;

  it('runs under bash and hands every SSM_ value to its REFLEX_ variable', () => {
    const result = runLikeTheAgent(runCommand, {
      SSM_App: 'web',
      SSM_Pm2User: '',
      SSM_Pm2Home: '',
      SSM_Action: 'restart',
      SSM_Ecosystem: '/srv/web/ecosystem.config.js',
    });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('bash=yes\napp=web\naction=restart\npm2_home=[]\necosystem=/srv/web/ecosystem.config.js\n');
    expect(result.status).toBe(0);
  });

  it('passes values as data, never as shell text', () => {
    const marker = join(work, 'pwned');
    const result = runLikeTheAgent(runCommand, {
      SSM_App: `$(touch ${marker}); \`touch ${marker}\``,
      SSM_Action: 'restart',
      SSM_Ecosystem: '',
      SSM_Pm2Home: '',
      SSM_Pm2User: '',
    });
    expect(result.stdout).toContain(`app=$(touch ${marker}); \`touch ${marker}\`\n`);
    expect(spawnSync('test', ['-e', marker]).status).toBe(1);
  });

  it('stops with exit 2 and says why when the agent is too old to set SSM_ variables', () => {
    const result = runLikeTheAgent(runCommand, {});
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('SSM_App is not set');
    expect(result.stdout).toBe('');
  });

  it('maps exactly the parameters the SSM adapter fills', () => {
    const exports = runCommand.filter((line) => line.startsWith('export '));
    expect(exports).toEqual(Object.entries(REMEDIATE_PARAMETERS).map(([name, { env }]) => `export ${env}="$SSM_${name}"`));
  });
});
