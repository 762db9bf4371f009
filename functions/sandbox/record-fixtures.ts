/**
 * Records real snapshot.sh outputs, healthy and under each fault, into test/fixtures/snapshots/<fault>.txt.
 * The parser and AWS handler tests use them as SSM command outputs.
 *
 *   npx tsx functions/sandbox/record-fixtures.ts [fault…]
 *
 * Each fault gets a fresh sandbox so that its logs hold that fault only.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { profileVariables, runHostScript } from './host-scripts.ts';
import { startSandbox, type Sandbox } from './sandbox.ts';

const OUT_DIR = fileURLToPath(new URL('../../test/fixtures/snapshots/', import.meta.url));
/** Put in the app's environment to prove that no snapshot carries it. */
const SECRET = 's3cr3t-value';

/** Fixture name → how to get there from a healthy sandbox. */
const FAULTS: Record<string, (box: Sandbox) => Promise<unknown>> = {
  healthy: async () => undefined,
  crash: (box) => box.faults.crash(),
  stop: (box) => box.faults.stop(),
  remove: (box) => box.faults.remove(),
  'kill-daemon': (box) => box.faults.killDaemon(),
  'crash-loop': (box) => box.faults.crashLoop(),
  'port-mismatch': (box) => box.faults.portMismatch(),
  'proxy-misconfig': (box) => box.faults.proxyMisconfig(),
  'slow-pages': (box) => box.faults.slowPages(3000),
  hang: (box) => box.faults.hang(),
  oom: (box) => box.faults.oom(),
};

/** Faults also recorded with REFLEX_SECTIONS=probe (what verification polls see). */
const PROBE_TOO = new Set(['healthy', 'crash']);

async function snapshot(box: Sandbox, sections: 'full' | 'probe'): Promise<string> {
  const result = await runHostScript('snapshot', { ...box.env, ...profileVariables(box.profile), REFLEX_SECTIONS: sections });
  if (result.code !== 0) throw new Error(`snapshot.sh exited ${result.code}: ${result.stderr.trim()}`);
  if (result.stdout.includes(SECRET)) throw new Error('snapshot.sh leaked the app environment');
  return result.stdout;
}

let current: Sandbox | undefined;

// Ctrl-C must not leave nginx or PM2 behind.
process.once('SIGINT', () => {
  void (current?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
});

async function record(name: string, fault: (box: Sandbox) => Promise<unknown>): Promise<void> {
  const box = await startSandbox({ bootMs: 300, appEnv: { DEMO_SECRET: SECRET } });
  current = box;
  try {
    await box.traffic(5);
    await fault(box);
    await writeFile(`${OUT_DIR}${name}.txt`, await snapshot(box, 'full'));
    if (PROBE_TOO.has(name)) await writeFile(`${OUT_DIR}${name}-probe.txt`, await snapshot(box, 'probe'));
    process.stdout.write(`recorded ${name}\n`);
  } finally {
    await box.stop();
  }
}

async function main(names: string[]): Promise<void> {
  const unknown = names.filter((name) => !(name in FAULTS));
  if (unknown.length > 0) throw new Error(`unknown fault: ${unknown.join(', ')} (known: ${Object.keys(FAULTS).join(', ')})`);
  await mkdir(OUT_DIR, { recursive: true });
  for (const name of names.length > 0 ? names : Object.keys(FAULTS)) {
    const fault = FAULTS[name];
    if (fault) await record(name, fault);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`record-fixtures: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
