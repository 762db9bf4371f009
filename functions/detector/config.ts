/**
 * The detector Lambda's configuration, parsed and checked once at cold start: a missing or invalid variable fails
 * the cold start with its name. The stack sets these variables from the same names.
 */
import type { DetectSettings } from '../core/detect.ts';
import { DEFAULT_DETECT_SETTINGS } from '../core/detect.ts';

/** Names of the detector's environment variables. */
export const DETECTOR_ENV = {
  /** The responder's table: counters and claims live beside its locks and incidents. */
  tableName: 'REFLEX_TABLE_NAME',
  /** Name or ARN of the responder function, invoked asynchronously when an instance crosses the threshold. */
  responderFunction: 'REFLEX_RESPONDER_FUNCTION',
  /** Gateway errors of one instance within the window that start its incident. */
  threshold: 'REFLEX_DETECT_THRESHOLD',
  /** The sliding window, seconds, a multiple of 10 (the bucket). */
  windowSeconds: 'REFLEX_DETECT_WINDOW_SECONDS',
  /** How long a claim holds an instance whose incident never closes: the responder's timeout, seconds. */
  claimSeconds: 'REFLEX_CLAIM_SECONDS',
} as const;

/** Default, lowest and highest value of each whole-number variable. */
export const DETECTOR_NUMBERS = {
  threshold: { default: DEFAULT_DETECT_SETTINGS.threshold, min: 1, max: 100_000 },
  windowSeconds: { default: DEFAULT_DETECT_SETTINGS.windowMs / 1000, min: 10, max: 3600 },
  claimSeconds: { default: DEFAULT_DETECT_SETTINGS.claimTtlMs / 1000, min: 60, max: 3600 },
} as const;

export interface DetectorConfig {
  readonly tableName: string;
  readonly responderFunction: string;
  readonly settings: DetectSettings;
}

export class DetectorConfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DetectorConfigError';
  }
}

const NAME = /^[A-Za-z0-9._\-/#]{1,512}$/;
const FUNCTION = /^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:)?[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]{1,128})?$/;

/** @throws DetectorConfigError naming the variable. */
export function parseDetectorConfig(env: Record<string, string | undefined>): DetectorConfig {
  const required = (name: string, pattern: RegExp): string => {
    const value = env[name];
    if (value === undefined || value === '') throw new DetectorConfigError(`${name} is not set`);
    if (!pattern.test(value)) throw new DetectorConfigError(`${name} is invalid`);
    return value;
  };
  const integer = (key: keyof typeof DETECTOR_NUMBERS): number => {
    const name = DETECTOR_ENV[key];
    const { default: fallback, min, max } = DETECTOR_NUMBERS[key];
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) throw new DetectorConfigError(`${name} must be a whole number from ${min} to ${max}`);
    return value;
  };
  const windowSeconds = integer('windowSeconds');
  const bucketMs = DEFAULT_DETECT_SETTINGS.bucketMs;
  if ((windowSeconds * 1000) % bucketMs !== 0) throw new DetectorConfigError(`${DETECTOR_ENV.windowSeconds} must be a multiple of ${bucketMs / 1000}`);
  return {
    tableName: required(DETECTOR_ENV.tableName, NAME),
    responderFunction: required(DETECTOR_ENV.responderFunction, FUNCTION),
    settings: { threshold: integer('threshold'), windowMs: windowSeconds * 1000, bucketMs, claimTtlMs: integer('claimSeconds') * 1000 },
  };
}
