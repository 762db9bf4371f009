/**
 * Reads a Lambda's environment record once, at cold start: each check names the variable, and the caller's own
 * error class carries the message. Shared by the Lambdas' config parsers, which differ only in what they read.
 */
import type { WholeNumberSetting } from './lambda-env.ts';

/** The checks over one environment record. */
export interface EnvReader {
  /** The value, which must be set, non-empty and match `pattern`. */
  required(name: string, pattern: RegExp): string;
  /** The value when set and non-empty (then it must match), else undefined. */
  optional(name: string, pattern: RegExp): string | undefined;
  /** The setting's default when unset or empty, else a whole number within its range. */
  wholeNumber(name: string, setting: WholeNumberSetting): number;
}

/** Checks over `env`; each failure is thrown as `fail(message)`. */
export function envReader(env: Readonly<Record<string, string | undefined>>, fail: (message: string) => Error): EnvReader {
  const required = (name: string, pattern: RegExp): string => {
    const value = env[name];
    if (value === undefined || value === '') throw fail(`${name} is not set`);
    if (!pattern.test(value)) throw fail(`${name} is invalid`);
    return value;
  };
  return {
    required,
    optional: (name, pattern) => (env[name] ? required(name, pattern) : undefined),
    wholeNumber: (name, { default: fallback, min, max }) => {
      const raw = env[name];
      if (raw === undefined || raw === '') return fallback;
      const value = Number(raw);
      if (!Number.isInteger(value) || value < min || value > max) throw fail(`${name} must be a whole number from ${min} to ${max}`);
      return value;
    },
  };
}
