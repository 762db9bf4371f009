/**
 * recovery.json: the benchmark's raw runs, and how a new measurement of some faults replaces their old runs while the
 * others keep their figures (`npm run bench -- --from results/recovery.json --merge <new recovery.json>`).
 */
import type { Environment } from './environment.ts';
import type { RunLimits, RunResult } from './recovery-run.ts';

/** A later measurement of some cells (fault × responder) that replaced theirs in the saved runs. */
export interface Remeasure {
  readonly faults: string;
  readonly responders: string;
  readonly runs: number;
  readonly startedAt: string;
  readonly finishedAt?: string;
  readonly loadAverage: Environment['loadAverage'];
}

/** What recovery.json holds: enough to render the results again (`--from`) without running anything. */
export interface SavedRun {
  readonly environment: Environment;
  readonly settings: {
    runs: number;
    faults: string;
    responders: string;
    limits: RunLimits;
    startedAt: string;
    finishedAt?: string;
    /** Oldest first. */
    remeasured?: Remeasure[];
  };
  readonly results: RunResult[];
}

/** Error for a merge that would mix runs measured differently. */
export class MergeError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'MergeError';
  }
}

/**
 * `base` with every cell that `update` measured replaced by `update`'s runs. Both must use the same limits and runs
 * per cell, so that the tables still compare like with like.
 */
export function mergeSaved(base: SavedRun, update: SavedRun): SavedRun {
  if (update.settings.runs !== base.settings.runs) throw new MergeError(`runs per cell differ: ${base.settings.runs} saved, ${update.settings.runs} new`);
  if (JSON.stringify(update.settings.limits) !== JSON.stringify(base.settings.limits)) throw new MergeError('the cap and observation limits differ');
  const key = (result: RunResult): string => `${result.fault}/${result.responder}`;
  const replaced = new Set(update.results.map(key));
  const faults = new Set(base.settings.faults.split(','));
  const responders = new Set(base.settings.responders.split(','));
  const outside = update.results.find((result) => !faults.has(result.fault) || !responders.has(result.responder));
  if (outside) throw new MergeError(`${key(outside)} is not a cell of the saved runs`);
  const remeasure: Remeasure = {
    faults: update.settings.faults,
    responders: update.settings.responders,
    runs: update.settings.runs,
    startedAt: update.settings.startedAt,
    ...(update.settings.finishedAt !== undefined && { finishedAt: update.settings.finishedAt }),
    loadAverage: update.environment.loadAverage,
  };
  return {
    environment: base.environment,
    settings: { ...base.settings, remeasured: [...(base.settings.remeasured ?? []), remeasure] },
    results: [...base.results.filter((result) => !replaced.has(key(result))), ...update.results],
  };
}
