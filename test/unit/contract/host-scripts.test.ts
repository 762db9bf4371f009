/**
 * The host scripts check their inputs themselves, in POSIX ERE (`re_*` lines, `check`, `[[ … =~ … ]]`). These tests
 * pin every such check to functions/contract/host-inputs.ts: the same variables, the same required ones, and the
 * same patterns, so a change to one side only fails here.
 *
 * Patterns are compared as text after one documented normalisation (eregOf), then run through bash itself on
 * samples at every boundary, so the normalisation cannot hide a difference in meaning.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HOST_INPUTS, MANUAL_HOST_INPUTS } from '../../../functions/contract/host-inputs.ts';
import type { HostScript } from '../../../functions/core/ports.ts';

const SCRIPTS: readonly HostScript[] = ['snapshot', 'remediate'];

/** One input check as a script writes it. */
interface ScriptCheck {
  readonly env: string;
  /** The ERE, with any `$re_*` reference resolved. */
  readonly ere: string;
  /** false when an empty or unset value passes (`check`, or `-z "$X" ||`). */
  readonly required: boolean;
}

interface ParsedScript {
  readonly checks: ScriptCheck[];
  /** `=~` operands that are neither an input check nor a `$re_*` variable: unpinned patterns. */
  readonly stray: string[];
  /** `re_*` variables no input check uses. */
  readonly unused: string[];
}

function parseScript(script: HostScript): ParsedScript {
  const text = readFileSync(new URL(`../../../functions/host/${script}.sh`, import.meta.url), 'utf8');
  const variables = new Map<string, string>();
  for (const [, name, ere] of text.matchAll(/^(re_\w+)='([^']*)'$/gm)) variables.set(name as string, ere as string);
  const resolve = (operand: string): string => {
    const reference = /^"?\$(re_\w+)"?$/.exec(operand)?.[1];
    if (reference === undefined) return operand.replace(/^'(.*)'$/, '$1');
    const ere = variables.get(reference);
    if (ere === undefined) throw new Error(`${script}.sh uses $${reference}, which it never sets`);
    return ere;
  };

  const checks: ScriptCheck[] = [];
  const used = new Set<string>();
  const stray: string[] = [];
  for (const line of text.split('\n').map((raw) => raw.trim())) {
    const viaHelper = /^check (REFLEX_\w+) ("\$re_\w+"|'[^']*')$/.exec(line);
    const inline = /^\[\[ (.*) =~ (\S+) \]\] \|\| invalid (REFLEX_\w+)$/.exec(line);
    if (viaHelper) {
      const [, env, operand] = viaHelper as unknown as [string, string, string];
      checks.push({ env, ere: resolve(operand), required: false });
      used.add(operand.replace(/["$]/g, ''));
    } else if (inline) {
      const [, left, operand, env] = inline as unknown as [string, string, string, string];
      checks.push({ env, ere: resolve(operand), required: !left.startsWith('-z ') });
      used.add(operand.replace(/["$]/g, ''));
    } else {
      // Any other `=~` must match against a pinned `re_*` variable (or be the `check` helper's own `$2`).
      for (const [, operand] of line.matchAll(/=~ (\S+)/g)) {
        if (!/^"?\$(re_\w+|\d)"?$/.test(operand as string)) stray.push(line);
      }
    }
  }
  const unused = [...variables.keys()].filter((name) => !used.has(name));
  return { checks, stray, unused };
}

/**
 * The JS pattern as the scripts write it in POSIX ERE. Two differences in notation, no difference in meaning:
 * - `/` needs no escape in ERE (`RegExp.source` writes `\/`);
 * - a bracket expression has no escapes: a literal `]` (JS `\]`) is written first, after a `^` if negated.
 * Any other escape inside brackets has no ERE equivalent and is refused.
 */
function eregOf(pattern: RegExp): string {
  const source = pattern.source;
  let out = '';
  for (let i = 0; i < source.length; i += 1) {
    const char = source[i] as string;
    if (char === '\\') {
      const next = source[i + 1] ?? '';
      out += next === '/' ? '/' : char + next;
      i += 1;
    } else if (char === '[') {
      let body = '';
      let closing = false;
      let j = i + 1;
      const negated = source[j] === '^';
      if (negated) j += 1;
      for (; source[j] !== ']'; j += 1) {
        if (j >= source.length) throw new Error(`unclosed bracket in /${source}/`);
        if (source[j] === '\\') {
          const escaped = source[j + 1];
          if (escaped === ']') closing = true;
          else if (escaped === '/' || escaped === '[' || escaped === '-') body += escaped;
          else throw new Error(`/${source}/: \\${escaped} in a bracket expression has no POSIX ERE spelling`);
          j += 1;
        } else {
          body += source[j];
        }
      }
      out += `[${negated ? '^' : ''}${closing ? ']' : ''}${body}]`;
      i = j;
    } else {
      out += char;
    }
  }
  return out;
}

/** What the contract says `script` checks: every input it takes, by variable. */
function contractChecks(script: HostScript): Map<string, { pattern: RegExp; required: boolean }> {
  const expected = new Map<string, { pattern: RegExp; required: boolean }>();
  for (const input of Object.values(HOST_INPUTS)) {
    if ((input.scripts as readonly HostScript[]).includes(script)) expected.set(input.env, { pattern: input.pattern, required: input.required });
  }
  for (const [env, input] of Object.entries(MANUAL_HOST_INPUTS)) {
    if ((input.scripts as readonly HostScript[]).includes(script)) expected.set(env, { pattern: input.pattern, required: false });
  }
  return expected;
}

/** Values at each pattern's edges: lengths, characters, the URL's bracket class, enumerations, newlines. */
const SAMPLES = [
  '',
  'web',
  'shop.v2_a-b',
  'a'.repeat(64),
  'a'.repeat(65),
  'web; rm -rf /',
  'web\nx',
  ' web',
  '/',
  '/srv/web/ecosystem.config.js',
  `/${'a'.repeat(255)}`,
  `/${'a'.repeat(256)}`,
  'relative/path',
  '/srv/my app',
  'ubuntu',
  '_apt',
  'www-data',
  'Root',
  '1user',
  'u'.repeat(32),
  'u'.repeat(33),
  'http://127.0.0.1/',
  'https://example.com',
  'http://[::1]:3000/health?x=1&y=%20',
  'https://x]/',
  'http://a b/',
  'ftp://x',
  'http://',
  `http://${'h'.repeat(255)}`,
  `http://${'h'.repeat(256)}`,
  `http://h/${'p'.repeat(511)}`,
  `http://h/${'p'.repeat(512)}`,
  'http://h/"quoted"',
  'full',
  'probe',
  'fullprobe',
  'restart',
  'start',
  'stop',
  'restart|start',
  '0',
  '3',
  '99',
  '100',
  '-1',
  // Seconds 0–600 and pids at their edges.
  '00',
  '01',
  '010',
  '9',
  '10',
  '59',
  '199',
  '500',
  '599',
  '600',
  '601',
  '700',
  '1000',
  '1',
  '1234567',
  '1234567890',
  '12345678901',
  '0123',
  '12a',
  '1 2',
  '+5',
];

/** Which samples bash's `[[ $sample =~ $ere ]]` accepts, in order. */
function bashAccepts(ere: string): boolean[] {
  const program = 'ere=$1; shift; for value in "$@"; do if [[ $value =~ $ere ]]; then echo 1; else echo 0; fi; done';
  const result = spawnSync('bash', ['-c', program, 'bash', ere, ...SAMPLES], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`bash failed: ${result.stderr}`);
  return result.stdout.trim().split('\n').map((line) => line === '1');
}

describe.each(SCRIPTS)('functions/host/%s.sh', (script) => {
  const parsed = parseScript(script);
  const expected = contractChecks(script);

  it('checks exactly the variables the contract gives it, each once', () => {
    expect(parsed.checks.map((check) => check.env).sort()).toEqual([...expected.keys()].sort());
  });

  it('requires exactly the inputs the contract marks required', () => {
    const required = parsed.checks.map((check) => [check.env, check.required]);
    expect(required).toEqual(parsed.checks.map((check) => [check.env, expected.get(check.env)?.required]));
  });

  it("writes each variable's pattern as the contract's, in POSIX ERE", () => {
    const actual = parsed.checks.map((check) => [check.env, check.ere]);
    expect(actual).toEqual(parsed.checks.map((check) => [check.env, eregOf(expected.get(check.env)?.pattern ?? /(?:)/)]));
  });

  it('means the same in bash as in JavaScript, on every sample', () => {
    for (const check of parsed.checks) {
      const pattern = expected.get(check.env)?.pattern ?? /(?:)/;
      const inJs = SAMPLES.map((sample) => pattern.test(sample));
      expect([check.env, bashAccepts(check.ere)]).toEqual([check.env, inJs]);
    }
  });

  it('matches no other pattern that the contract does not pin', () => {
    expect(parsed.stray).toEqual([]);
    expect(parsed.unused).toEqual([]);
  });
});

describe('eregOf', () => {
  it('writes a literal ] first in its bracket expression and drops the escape of /', () => {
    expect(eregOf(/^https?:\/\/[A-Za-z0-9.:[\]_-]{1,3}$/)).toBe('^https?://[]A-Za-z0-9.:[_-]{1,3}$');
    expect(eregOf(/^[^\]a]$/)).toBe('^[^]a]$');
    expect(eregOf(/^\/[a/]$/)).toBe('^/[a/]$');
  });

  it('refuses an escape that POSIX brackets cannot spell', () => {
    expect(() => eregOf(/^[\d]$/)).toThrow(/no POSIX ERE spelling/);
  });
});
