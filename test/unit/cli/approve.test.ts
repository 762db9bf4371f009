/** `--approve` on the command line: the terminal prompt's answers, and the refusal to start without a terminal. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAnswer } from '../../../functions/core/approval.ts';
import type { Io } from '../../../functions/cli/io.ts';
import { main } from '../../../functions/cli/main.ts';
import { terminalApprover } from '../../../functions/cli/prompt.ts';

function capture(): Io & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (text) => void lines.push(text), err: (text) => void errors.push(text), color: false };
}

const tty = (): PassThrough & { isTTY: boolean } => Object.assign(new PassThrough(), { isTTY: true });

describe('terminal approvals', () => {
  it('y approves, anything else dismisses, and the answer names who answered', async () => {
    // Prepare
    const input = tty();
    const approver = terminalApprover({ io: capture(), input, who: 'alice', now: () => new Date('2026-12-02T10:00:00Z') });

    // Act
    const yes = approver.answer('local-1', 5_000);
    input.write('y\n');
    const no = approver.answer('local-2', 5_000);
    input.write('nope\n');

    // Assess
    expect(parseAnswer(await yes)).toEqual({ decision: 'approve', by: { id: 'terminal', name: 'alice' }, at: '2026-12-02T10:00:00.000Z' });
    expect(parseAnswer(await no)).toMatchObject({ decision: 'dismiss' });
  });

  it('no answer before the expiry: undefined (the proposal expired)', async () => {
    // Prepare
    const approver = terminalApprover({ io: capture(), input: tty(), who: 'alice' });

    // Act, Assess
    expect(await approver.answer('local-1', 50)).toBeUndefined();
  });
});

describe('reflex --approve without a terminal', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reflex-approve-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it.each([['respond'], ['watch']])('%s refuses to start: exit 2, one line, nothing run', async (command) => {
    // Prepare: a valid profile; the test's stdin is not a TTY
    const profile = join(dir, 'host.json');
    const log = join(dir, 'access.log');
    await writeFile(log, '');
    await writeFile(profile, JSON.stringify({ instanceId: 'local-1', app: 'web', healthUrl: 'http://127.0.0.1:9/', pm2: { home: dir }, nginx: { accessLog: log, errorLog: log } }));
    const io = capture();

    // Act
    const code = await main([command, '--local', profile, '--approve'], io);

    // Assess
    expect(code).toBe(2);
    expect(io.errors).toEqual(['reflex: --approve needs a terminal to ask on (stdin is not a TTY); run without --approve, or with --dry-run']);
    expect(io.lines).toEqual([]);
  });
});
