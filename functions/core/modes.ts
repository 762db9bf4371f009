/**
 * Which causes Reflex acts on by itself, which it proposes to a person first, and which it only reports
 * (types.ts `Mode`). Read from host.json (`policy.modes`) locally and from `REFLEX_MODES` on the Lambda; a cause
 * not named is `auto`, so existing deployments behave as before.
 */
import { CAUSES, MODES, type Cause, type Mode } from './types.ts';
import { InputError, describe } from './validate.ts';

export type Modes = Readonly<Partial<Record<Cause, Mode>>>;

/** How long a proposal waits for an answer when none is configured. */
export const DEFAULT_APPROVAL_MINUTES = 15;

export function modeFor(modes: Modes | undefined, cause: Cause): Mode {
  return modes?.[cause] ?? 'auto';
}

/** A `{ cause: mode }` object (host.json, the stack's props); throws InputError naming `field.<cause>`. */
export function parseModes(value: unknown, field: string): Modes {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InputError(`${field}: must be an object of cause → mode (${MODES.join(', ')}), got ${describe(value)}`, field);
  }
  const modes: Partial<Record<Cause, Mode>> = {};
  for (const [cause, mode] of Object.entries(value)) {
    if (!(CAUSES as readonly string[]).includes(cause)) {
      throw new InputError(`${field}.${cause}: not a cause (one of: ${CAUSES.join(', ')})`, `${field}.${cause}`);
    }
    if (!(MODES as readonly unknown[]).includes(mode)) {
      throw new InputError(`${field}.${cause}: must be one of ${MODES.join(', ')}, got ${describe(mode)}`, `${field}.${cause}`);
    }
    modes[cause as Cause] = mode as Mode;
  }
  return modes;
}

/** The `REFLEX_MODES` form: `process_crashed=approve,app_hung=observe` (empty: every cause auto). */
export function parseModesText(text: string, field: string): Modes {
  if (text.trim() === '') return {};
  const entries = text.split(',').map((pair) => {
    const [cause, mode, ...rest] = pair.split('=').map((part) => part.trim());
    if (!cause || mode === undefined || rest.length > 0) {
      throw new InputError(`${field}: must be cause=mode pairs separated by commas, got ${describe(pair)}`, field);
    }
    return [cause, mode] as const;
  });
  return parseModes(Object.fromEntries(entries), field);
}

/** The text form of `modes`, for an environment variable. */
export function modesText(modes: Modes): string {
  return Object.entries(modes)
    .map(([cause, mode]) => `${cause}=${mode}`)
    .join(',');
}

/** The causes a restart or start fixes. */
const RESTARTABLE: ReadonlySet<Cause> = new Set(['process_crashed', 'process_stopped', 'process_missing', 'app_hung', 'oom_killed']);

/** The CLI's `--approve`: every restart-fixable cause that would act by itself asks first; observe stays observe. */
export function approveAll(modes: Modes | undefined): Modes {
  return Object.fromEntries(CAUSES.map((cause) => [cause, RESTARTABLE.has(cause) && modeFor(modes, cause) === 'auto' ? 'approve' : modeFor(modes, cause)]));
}
