/**
 * The on-host verification that remediate.sh prints after its action (functions/host/README.md): a `@@verify` line,
 * then one JSON observation per poll, and a last line `result=ok action=<action> verify=<verdict>`.
 * A line that is not a well-formed observation is skipped and counted, never fatal.
 */
import { z } from 'zod';
import type { Observation } from '../verify.ts';

/** How the script's own loop ended; the core folds the observations itself and has the last word. */
export type HostVerdict = 'recovered' | 'died' | 'deadline';

export interface HostVerification {
  readonly observations: Observation[];
  /** Undefined when the script did not verify (no `verify=` on its result line). */
  readonly verdict?: HostVerdict;
  readonly skipped: number;
}

const ObservationLine = z.object({
  at: z.iso.datetime({ offset: true }),
  pm2: z.boolean(),
  app: z
    .object({
      status: z.string().max(32),
      pid: z.number().int().nonnegative(),
      restarts: z.number().int().nonnegative(),
      startedAt: z.iso.datetime({ offset: true }).optional(),
    })
    .nullable(),
  probe: z.object({
    status: z.number().int().min(0).max(999),
    ms: z.number().nonnegative(),
    error: z.enum(['refused', 'timeout', 'reset', 'empty_reply', 'other']).optional(),
  }),
});

const SECTION = '@@verify';
const RESULT = /^result=ok action=\S+ verify=(recovered|died|deadline)$/;

export function parseVerifyLines(stdout: string): HostVerification {
  const observations: Observation[] = [];
  let verdict: HostVerdict | undefined;
  let skipped = 0;
  let inSection = false;
  for (const raw of stdout.split('\n')) {
    const line = raw.trim();
    const result = RESULT.exec(line);
    if (result) {
      verdict = result[1] as HostVerdict;
      inSection = false;
      continue;
    }
    if (line === SECTION) {
      inSection = true;
      continue;
    }
    if (!inSection || line === '') continue;
    const parsed = ObservationLine.safeParse(parseJson(line));
    if (!parsed.success) {
      skipped++;
      continue;
    }
    const { at, pm2, app, probe } = parsed.data;
    observations.push({
      at,
      pm2Ok: pm2,
      ...(app && { app: { status: app.status, pid: app.pid, restartTime: app.restarts, ...(app.startedAt && { startedAt: app.startedAt }) } }),
      nginx: { status: probe.status, timeMs: probe.ms, ...(probe.error && { error: probe.error }) },
    });
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
