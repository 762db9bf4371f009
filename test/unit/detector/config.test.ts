import { describe, expect, it } from 'vitest';
import { DETECTOR_ENV } from '../../../functions/contract/lambda-env.ts';
import { DetectorConfigError, parseDetectorConfig } from '../../../functions/detector/config.ts';

const BASE = { [DETECTOR_ENV.tableName]: 'reflex-web', [DETECTOR_ENV.responderFunction]: 'reflex-web-responder:live' };

describe('parseDetectorConfig', () => {
  it('takes the contract defaults: 5 errors in 60 s, 10 s buckets, a claim as long as Lambda’s longest run', () => {
    expect(parseDetectorConfig({ ...BASE })).toEqual({
      tableName: 'reflex-web',
      responderFunction: 'reflex-web-responder:live',
      settings: { threshold: 5, windowMs: 60_000, bucketMs: 10_000, claimTtlMs: 900_000 },
    });
  });

  it('accepts the responder as a qualified ARN (an alias or a version)', () => {
    for (const fn of ['arn:aws:lambda:eu-west-1:123456789012:function:reflex-web-responder:live', 'reflex-web-responder:7']) {
      expect(parseDetectorConfig({ ...BASE, [DETECTOR_ENV.responderFunction]: fn }).responderFunction).toBe(fn);
    }
  });

  it('reads set values', () => {
    const env = { ...BASE, [DETECTOR_ENV.threshold]: '20', [DETECTOR_ENV.windowSeconds]: '30', [DETECTOR_ENV.claimSeconds]: '180' };
    expect(parseDetectorConfig(env).settings).toEqual({ threshold: 20, windowMs: 30_000, bucketMs: 10_000, claimTtlMs: 180_000 });
  });

  it.each([
    [{ [DETECTOR_ENV.tableName]: '' }, 'REFLEX_TABLE_NAME is not set'],
    [{ [DETECTOR_ENV.responderFunction]: 'arn:aws:sns:eu-west-1:123456789012:topic' }, 'REFLEX_RESPONDER_FUNCTION is invalid'],
    // The responder is a durable function: an unqualified name or ARN would be refused at the first start.
    [{ [DETECTOR_ENV.responderFunction]: 'reflex-web-responder' }, 'REFLEX_RESPONDER_FUNCTION must name a version or an alias'],
    [{ [DETECTOR_ENV.responderFunction]: 'arn:aws:lambda:eu-west-1:123456789012:function:reflex-web-responder' }, 'REFLEX_RESPONDER_FUNCTION must name a version or an alias'],
    [{ [DETECTOR_ENV.threshold]: '0' }, 'REFLEX_DETECT_THRESHOLD must be a whole number from 1 to 1000000'],
    [{ [DETECTOR_ENV.windowSeconds]: '45' }, 'REFLEX_DETECT_WINDOW_SECONDS must be a multiple of 10'],
    [{ [DETECTOR_ENV.claimSeconds]: '901' }, 'REFLEX_CLAIM_SECONDS must be a whole number from 60 to 900'],
  ])('fails the cold start naming the variable (%#)', (override, message) => {
    expect(() => parseDetectorConfig({ ...BASE, ...override })).toThrow(DetectorConfigError);
    expect(() => parseDetectorConfig({ ...BASE, ...override })).toThrow(message);
  });
});
