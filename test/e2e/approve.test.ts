/**
 * `reflex respond --local … --approve` on a real nginx + PM2, in a real terminal: `script` (util-linux) gives the
 * CLI a pseudo-terminal, and the answer is typed into it. Approved, the app is restarted and serves again; dismissed,
 * nothing is done and it stays down.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../functions/sandbox/sandbox.ts';

const CLI = fileURLToPath(new URL('../../functions/cli/reflex.js', import.meta.url));

/** The CLI in a pseudo-terminal (`script -qec`), with `typed` as what the person types. */
function inTerminal(box: Sandbox, typed: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const command = [process.execPath, CLI, 'respond', '--local', box.profilePath, '--approve'].map((part) => `'${part}'`).join(' ');
    const child = execFile(
      'script',
      ['-qec', command, '/dev/null'],
      { env: { ...box.env, XDG_STATE_HOME: join(box.dir, 'state'), NO_COLOR: '1' }, timeout: 90_000 },
      (error, stdout) => resolve({ code: error ? Number(error.code ?? 1) : 0, output: stdout }),
    );
    child.stdin?.end(typed);
  });
}

let sandbox: Sandbox | undefined;
afterEach(async () => {
  await sandbox?.stop();
  sandbox = undefined;
});

describe('reflex respond --local --approve (real nginx + PM2, a real terminal)', { timeout: 120_000 }, () => {
  it('asks, the person types y: restarted, recovered, and the report says who approved', async () => {
    sandbox = await startSandbox({ bootMs: 300 });
    await sandbox.waitHealthy(15_000);
    await sandbox.faults.crash();

    const { code, output } = await inTerminal(sandbox, 'y\n');

    expect(output).toMatch(/approve\? restart web on local-1: process_crashed/);
    expect(output).toMatch(/approved by @\S+: restart web on local-1/);
    expect(code).toBe(0);
    expect(await sandbox.request('/', { via: 'nginx' })).toBe(200);
  });

  it('asks, the person types n: nothing is done, the app stays down, exit 1', async () => {
    sandbox = await startSandbox({ bootMs: 300 });
    await sandbox.waitHealthy(15_000);
    await sandbox.faults.crash();
    const pidBefore = await sandbox.appPid();

    const { code, output } = await inTerminal(sandbox, 'n\n');

    expect(output).toMatch(/dismissed by @\S+: nothing was done/);
    expect(code).toBe(1);
    expect(pidBefore).toBe(0);
    expect(await sandbox.appPid()).toBe(0);
    expect(await sandbox.request('/', { via: 'nginx' })).toBe(502);
  });
});
