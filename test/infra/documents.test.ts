import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REMEDIATE_PARAMETERS } from '../../functions/contract/host-inputs.ts';
import { PATTERN_SOURCES, PATTERNS } from '../../functions/core/validate.ts';
import {
  DocumentBuildError,
  MAX_VERIFY_SECONDS,
  TIMEOUT_SECONDS,
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
  'printf "health_url=%s\\n" "$REFLEX_HEALTH_URL"',
  'printf "verify_seconds=%s\\n" "$REFLEX_VERIFY_SECONDS"',
  'printf "hung_pid=[%s]\\n" "$REFLEX_HUNG_PID"',
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
      SSM_HealthUrl: 'http://127.0.0.1/api/health',
      SSM_VerifySeconds: '120',
      SSM_HungPid: '',
    });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(
      'bash=yes\napp=web\naction=restart\npm2_home=[]\necosystem=/srv/web/ecosystem.config.js\nhealth_url=http://127.0.0.1/api/health\nverify_seconds=120\nhung_pid=[]\n',
    );
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

  it('takes the verification inputs: the health URL, VerifySeconds and HungPid, each optional and pattern-checked', () => {
    const { parameters } = buildCommandDocument('remediate', readHostScript('remediate'));
    const accepts = (name: string, value: string) => new RegExp(parameters[name]?.allowedPattern ?? '^$').test(value);

    expect(Object.keys(parameters)).toEqual(['App', 'Pm2User', 'Pm2Home', 'HealthUrl', 'Action', 'Ecosystem', 'VerifySeconds', 'HungPid']);
    expect(['', '0', '1', '60', '600'].map((value) => accepts('VerifySeconds', value))).toEqual([true, true, true, true, true]);
    expect(['601', '010', '-1', '1.5', '60\n'].map((value) => accepts('VerifySeconds', value))).toEqual([false, false, false, false, false]);
    expect(['', '1', '4194304', '1234567890'].map((value) => accepts('HungPid', value))).toEqual([true, true, true, true]);
    expect(['0', '12345678901', '12 3', '$$'].map((value) => accepts('HungPid', value))).toEqual([false, false, false, false]);
    expect(accepts('HealthUrl', 'http://127.0.0.1/api/health')).toBe(true);
    expect(accepts('HealthUrl', 'http://127.0.0.1/`id`')).toBe(false);
  });

  it('lets remediate run its action (120 s) and the longest verification (VerifySeconds 600) before the agent stops it', () => {
    const seconds = (script: 'snapshot' | 'remediate') => Number(buildCommandDocument(script, readHostScript(script)).mainSteps[0].inputs.timeoutSeconds);

    expect(PATTERNS.verifySeconds.test(String(MAX_VERIFY_SECONDS))).toBe(true);
    expect(PATTERNS.verifySeconds.test(String(MAX_VERIFY_SECONDS + 1))).toBe(false);
    // The script's own bounds: `timeout 120` on the pm2 action, then the verification program's limit (seconds + 30).
    expect(seconds('remediate')).toBeGreaterThanOrEqual(120 + MAX_VERIFY_SECONDS + 30);
    expect(seconds('remediate')).toBe(TIMEOUT_SECONDS.remediate);
    expect(seconds('snapshot')).toBe(60);
  });

  it('maps exactly the parameters the SSM adapter fills', () => {
    const exports = runCommand.filter((line) => line.startsWith('export '));
    expect(exports).toEqual(Object.entries(REMEDIATE_PARAMETERS).map(([name, { env }]) => `export ${env}="$SSM_${name}"`));
  });
});
