/** The snapshot's curl probes: `url=… code=… time=… [cpu=… io=… window_ms=…] exit=…`. */
import type { ListenerSample, ProbeResult } from '../types.ts';

const LINE = /^url=(\S+) code=(\d{3}) time=(\d+(?:\.\d+)?)(?: cpu=(\d{1,6}) io=(\d{1,15}) window_ms=(\d{1,9}))? exit=(\d{1,3})$/;

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
  const [, url = '', code, time, cpu, io, windowMs, exit] = match;
  const exitCode = Number(exit);
  const error = exitCode === 0 ? undefined : (CURL_ERRORS[exitCode] ?? 'other');
  // The snapshot samples the processes on the upstream port only while its first, short try goes unanswered.
  const listener: ListenerSample | undefined =
    cpu === undefined ? undefined : { cpuPercent: Number(cpu), ioCalls: Number(io), windowMs: Number(windowMs) };
  return {
    target,
    url,
    at,
    // curl prints 000 when no HTTP answer came.
    status: Number(code),
    timeMs: Math.round(Number(time) * 1000),
    ...(error !== undefined && { error }),
    ...(listener !== undefined && { listener }),
  };
}
