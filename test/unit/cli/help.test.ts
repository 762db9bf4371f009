/** `reflex --help`, `reflex <command> --help`, `reflex --version`: exit 0, on stdout, nothing run. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Io } from '../../../functions/cli/io.ts';
import { main } from '../../../functions/cli/main.ts';

const PACKAGE = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
const COMMANDS = ['init', 'respond', 'watch', 'invoke', 'demo'];

function capture(): Io & { outs: string[]; errs: string[] } {
  const outs: string[] = [];
  const errs: string[] = [];
  return { outs, errs, out: (text) => outs.push(text), err: (text) => errs.push(text), color: false };
}

describe('reflex --help', () => {
  it.each([['--help'], ['-h'], ['help']])('%s lists every command, exit 0', async (flag) => {
    const io = capture();

    expect(await main([flag], io)).toBe(0);
    const text = io.outs.join('\n');
    for (const command of COMMANDS) expect(text).toContain(`reflex ${command}`);
    expect(text).toContain('--version');
    expect(io.errs).toEqual([]);
  });

  it.each(COMMANDS)('reflex %s --help shows its usage and one line per option, without running it', async (command) => {
    const io = capture();

    // `respond --help` without --local: help wins, nothing is loaded or run.
    expect(await main([command, '--help'], io)).toBe(0);
    const [usage, ...rest] = io.outs.join('\n').split('\n');
    expect(usage).toMatch(new RegExp(`^usage: reflex ${command}`));
    const start = rest.indexOf('options:');
    const options = start < 0 ? [] : rest.slice(start + 1, rest.indexOf('', start));
    // demo takes no options.
    expect(options.length > 0).toBe(command !== 'demo');
    for (const line of options) expect(line).toMatch(/^ {2}-\S.* {2,}\S/);
    expect(io.errs).toEqual([]);
  });

  it('lists every respond option the parser takes', async () => {
    const io = capture();

    await main(['help', 'respond'], io);

    for (const flag of ['--local', '--dry-run', '--json', '--report']) expect(io.outs.join('\n')).toContain(flag);
  });

  it('an unknown command is bad input, one line', async () => {
    const io = capture();

    expect(await main(['--help', 'nope'], io)).toBe(2);
    expect(io.errs).toEqual(['reflex: unknown command "nope" (see reflex --help)']);
  });
});

describe('reflex --version', () => {
  it.each([['--version'], ['-v']])('%s prints the version in package.json', async (flag) => {
    const io = capture();

    expect(await main([flag], io)).toBe(0);
    expect(io.outs).toEqual([PACKAGE.version]);
  });
});
