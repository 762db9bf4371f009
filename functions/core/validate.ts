/**
 * Input patterns. The host scripts check the same patterns again before running anything
 * (functions/host/README.md); the SSM documents repeat them as `allowedPattern`.
 */
export const PATTERNS = {
  app: /^[A-Za-z0-9._-]{1,64}$/,
  instanceId: /^i-[0-9a-f]{8,17}$/,
  /** A local instance id (host profile): the EC2 form or a plain label. */
  localInstanceId: /^[A-Za-z0-9._-]{1,64}$/,
  absPath: /^\/[A-Za-z0-9._/-]{0,255}$/,
  pm2User: /^[a-z_][a-z0-9_-]{0,31}$/,
  url: /^https?:\/\/[A-Za-z0-9.:[\]_-]{1,255}(\/[A-Za-z0-9._~/?&=%+-]{0,512})?$/,
  /** A whole number of seconds from 0 to 600, no leading zero (bash reads `010` as octal). */
  verifySeconds: /^(0|[1-9][0-9]?|[1-5][0-9]{2}|600)$/,
  /** A process id: 1 to 10 digits, never 0 (`kill(0)` would signal the whole process group). */
  pid: /^[1-9][0-9]{0,9}$/,
} as const;

/** Pattern source strings, for places that need text (SSM `allowedPattern`, bash `[[ =~ ]]`). */
export const PATTERN_SOURCES = Object.fromEntries(
  Object.entries(PATTERNS).map(([key, pattern]) => [key, pattern.source]),
) as Record<keyof typeof PATTERNS, string>;

/** Bad input: one clear message naming the field or file. The CLI maps it to exit code 2. */
export class InputError extends Error {
  constructor(
    message: string,
    readonly field: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'InputError';
  }
}

export function checkPattern(field: string, value: unknown, pattern: RegExp, what: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new InputError(`${field}: must be ${what}, got ${describe(value)}`, field);
  }
  return value;
}

/** A short, safe rendering of a bad value for an error message. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
