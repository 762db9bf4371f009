/** The snapshot's curl probes: `url=… code=… time=… exit=…`. */
import type { ProbeResult } from '../types.ts';

const LINE = /^url=(\S+) code=(\d{3}) time=(\d+(?:\.\d+)?) exit=(\d{1,3})$/;

/** curl exit codes that say why no HTTP answer came. */
const CURL_ERRORS: Readonly<Record<number, ProbeResult['error']>> = {
  7: 'refused',
  28: 'timeout',
  52: 'empty_reply',
  56: 'reset',
};

/** One probe line; `at` is when the snapshot was taken. Undefined when the line is not a probe line. */
export function parseProbe(target: 'nginx' | 'upstream', line: string, at: string): ProbeResult | undefined {
  const match = LINE.exec(line.trim());
  if (!match) return undefined;
  const [, url = '', code, time, exit] = match;
  const exitCode = Number(exit);
  const error = exitCode === 0 ? undefined : (CURL_ERRORS[exitCode] ?? 'other');
  return {
    target,
    url,
    at,
    // curl prints 000 when no HTTP answer came.
    status: Number(code),
    timeMs: Math.round(Number(time) * 1000),
    ...(error !== undefined && { error }),
  };
}
