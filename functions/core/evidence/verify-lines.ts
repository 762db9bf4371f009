/**
 * The on-host verification that remediate.sh prints after its action (functions/host/README.md): a `@@verify` line,
 * then one JSON observation per poll, and a last line `result=ok action=<action> verify=<verdict>`.
 * A line that is not a well-formed observation is skipped and counted, never fatal.
 */
import type { Observation } from '../verify.ts';

/** How the script's own loop ended; the core folds the observations itself and has the last word. */
export type HostVerdict = 'recovered' | 'died' | 'deadline' | 'error';

export interface HostVerification {
  readonly observations: Observation[];
  /** Undefined when the script did not verify (no `verify=` on its result line). */
  readonly verdict?: HostVerdict;
  readonly skipped: number;
}

const PROBE_ERRORS: ReadonlySet<string> = new Set(['refused', 'timeout', 'reset', 'empty_reply', 'other']);
/** An ISO time with a zone, as `new Date().toISOString()` writes it. */
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

/** One `@@verify` line as an observation, or undefined when it is not a well-formed one. */
function observationFrom(value: unknown): Observation | undefined {
  if (!isRecord(value) || !isTime(value['at']) || typeof value['pm2'] !== 'boolean') return undefined;
  const { at, pm2, app, probe } = value;
  if (!isRecord(probe) || !isCount(probe['status']) || probe['status'] > 999 || typeof probe['ms'] !== 'number' || !(probe['ms'] >= 0)) return undefined;
  const error = probe['error'];
  if (error !== undefined && !(typeof error === 'string' && PROBE_ERRORS.has(error))) return undefined;
  let process: Observation['app'];
  if (app !== null) {
    if (!isRecord(app) || typeof app['status'] !== 'string' || app['status'].length > 32 || !isCount(app['pid']) || !isCount(app['restarts'])) return undefined;
    // PM2 has no start time for an app it never started: null.
    const startedAt = app['startedAt'] ?? undefined;
    if (startedAt !== undefined && !isTime(startedAt)) return undefined;
    process = { status: app['status'], pid: app['pid'], restartTime: app['restarts'], ...(startedAt !== undefined && { startedAt }) };
  }
  return {
    at,
    pm2Ok: pm2,
    ...(process && { app: process }),
    nginx: { status: probe['status'], timeMs: probe['ms'], ...(error !== undefined && { error }) },
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isTime(value: unknown): value is string {
  return typeof value === 'string' && ISO_TIME.test(value) && !Number.isNaN(Date.parse(value));
}

function isCount(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0;
}

const SECTION = '@@verify';
const RESULT = /^result=ok action=\S+ verify=(recovered|died|deadline|error)$/;

export function parseVerifyLines(stdout: string): HostVerification {
  const observations: Observation[] = [];
  let verdict: HostVerdict | undefined;
  let skipped = 0;
  let inSection = false;
  for (const raw of stdout.split('\n')) {
    const line = raw.trim();
    const result = RESULT.exec(line);
    if (result) verdict = result[1] as HostVerdict;
    // The result line ends the section, whatever it says.
    if (line.startsWith('result=')) {
      inSection = false;
      continue;
    }
    if (line === SECTION) {
      inSection = true;
      continue;
    }
    if (!inSection || line === '') continue;
    const observation = observationFrom(parseJson(line));
    if (observation) observations.push(observation);
    else skipped++;
  }
  return { observations, ...(verdict && { verdict }), skipped };
}

function parseJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}
