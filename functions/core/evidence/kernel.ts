/** Kernel OOM kills, from dmesg, journalctl, syslog/kern.log or raw kernel lines. */
import type { OomKill, Parsed } from '../types.ts';
import { MAX_TEXT } from './error-log.ts';
import { toIsoFromSyslog, toIsoUtc } from './time.ts';

// The command name is at most 15 chars and may hold spaces and parentheses: `(next-server (v1)`.
// Kernels before 5.x (Amazon Linux 2's 4.14) log `Killed process …` alone, after an `Out of memory: Kill process …` line.
const OOM = /(?:(Memory cgroup out of memory|Out of memory): )?Killed process (\d+) \((.+?)\)(?=[\s,]|$)/;
/** dmesg `--time-format iso`, journalctl `-o short-iso`, rsyslog RFC 3339. */
const ISO_PREFIX = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)\s/;
/** Classic syslog: `Nov 24 00:04:07 host kernel: …`. */
const SYSLOG_PREFIX = /^([A-Z][a-z]{2} {1,2}\d{1,2} \d{2}:\d{2}:\d{2})\s/;
/** Boot-relative stamp only: `[  278.253867] …`. */
const RAW_PREFIX = /^\[\s*\d+\.\d+\]\s/;

/**
 * OOM-kill lines only; other kernel lines are ignored, not counted. `year` dates syslog stamps, which carry none.
 * An OOM line whose timestamp cannot be read is skipped and counted.
 */
export function parseKernelLog(lines: string[], year?: number): Parsed<OomKill> {
  const items: OomKill[] = [];
  let skipped = 0;
  for (const line of lines) {
    const text = line.trim();
    const match = OOM.exec(text);
    if (!match) continue;
    const stamp = readStamp(text.slice(0, match.index), year);
    if (stamp === 'unreadable') {
      skipped += 1;
      continue;
    }
    const anonRss = /anon-rss:(\d+)kB/.exec(text)?.[1];
    items.push({
      ...(stamp !== undefined && { at: stamp }),
      pid: Number(match[2]),
      process: match[3] ?? '',
      ...(anonRss !== undefined && { anonRssKb: Number(anonRss) }),
      cgroup: match[1] === 'Memory cgroup out of memory',
      text: text.slice(0, MAX_TEXT),
    });
  }
  return { items, skipped };
}

/** The line's time; undefined when it has only a boot-relative stamp (or none, or no year for syslog). */
function readStamp(prefix: string, year: number | undefined): string | undefined | 'unreadable' {
  if (prefix.trim() === '' || RAW_PREFIX.test(prefix)) return undefined;
  const iso = ISO_PREFIX.exec(prefix);
  if (iso) return toIsoUtc(iso[1] ?? '') ?? 'unreadable';
  const syslog = SYSLOG_PREFIX.exec(prefix);
  if (syslog) {
    if (year === undefined) return undefined;
    return toIsoFromSyslog(syslog[1] ?? '', year) ?? 'unreadable';
  }
  return 'unreadable';
}
