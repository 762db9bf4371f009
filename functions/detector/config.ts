/**
 * The detector Lambda's configuration, parsed and checked once at cold start: a missing or invalid variable fails
 * the cold start with its name. The variable names, defaults and ranges are the contract's (contract/lambda-env.ts).
 */
import { envReader } from '../contract/env-reader.ts';
import { DETECT_BUCKET_SECONDS, DETECTOR_ENV, DETECTOR_SETTINGS } from '../contract/lambda-env.ts';
import type { DetectSettings } from '../core/detect.ts';

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
/** A durable function is only started through a version or an alias: `name:qualifier`, or an ARN ending in one. */
const isQualified = (fn: string): boolean => fn.split(':').length === (fn.startsWith('arn:') ? 8 : 2);

/** @throws DetectorConfigError naming the variable. */
export function parseDetectorConfig(env: Record<string, string | undefined>): DetectorConfig {
  const { required, wholeNumber } = envReader(env, (message) => new DetectorConfigError(message));
  const integer = (key: keyof typeof DETECTOR_SETTINGS): number => wholeNumber(DETECTOR_ENV[key], DETECTOR_SETTINGS[key]);
  const windowSeconds = integer('windowSeconds');
  if (windowSeconds % DETECT_BUCKET_SECONDS !== 0) throw new DetectorConfigError(`${DETECTOR_ENV.windowSeconds} must be a multiple of ${DETECT_BUCKET_SECONDS}`);
  const tableName = required(DETECTOR_ENV.tableName, NAME);
  const responderFunction = required(DETECTOR_ENV.responderFunction, FUNCTION);
  if (!isQualified(responderFunction)) {
    throw new DetectorConfigError(`${DETECTOR_ENV.responderFunction} must name a version or an alias (function:live): the responder is a durable function`);
  }
  return {
    tableName,
    responderFunction,
    settings: {
      threshold: integer('threshold'),
      windowMs: windowSeconds * 1000,
      bucketMs: DETECT_BUCKET_SECONDS * 1000,
      claimTtlMs: integer('claimSeconds') * 1000,
    },
  };
}
