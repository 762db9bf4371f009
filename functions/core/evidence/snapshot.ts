/** The snapshot script's output (format version 1, functions/host/README.md) → HostSnapshot. */
import type { DeployMarkers, HostSnapshot, MemoryInfo, ProbeResult } from '../types.ts';
import { parseAppLogSection } from './app-log.ts';
import { parseErrorLog } from './error-log.ts';
import { SnapshotParseError } from './errors.ts';
import { parseKernelLog } from './kernel.ts';
import { parseListeners } from './listeners.ts';
import { parseProxyConfig } from './nginx-config.ts';
import { parsePm2List, parsePm2Log } from './pm2.ts';
import { parseProbe } from './probe.ts';
import { toIsoUtc } from './time.ts';
import { PATTERNS } from '../validate.ts';

const HEADER = /^@@reflex-snapshot(?:\s+(\S+))?\s*$/;
const VERSION = '1';
/** Used only when the meta section has no readable `taken_at` (the script always writes one). */
const UNKNOWN_TIME = new Date(0).toISOString();

/**
 * Parses one snapshot. Throws SnapshotParseError only when the text is not a version-1 snapshot at all;
 * inside it, unknown sections are ignored and garbage lines are counted in `skipped`.
 */
export function parseSnapshot(text: string): HostSnapshot {
  const sections = splitSections(text);
  let skipped = sections.stray;
  const meta = readKeyValues(sections.get('meta'));
  skipped += meta.skipped;
  const metaTime = toIsoUtc(meta.values.get('taken_at') ?? '');
  if (metaTime === undefined) skipped += 1;
  const takenAt = metaTime ?? UNKNOWN_TIME;
  const year = metaTime === undefined ? undefined : Number(metaTime.slice(0, 4));

  const pm2Text = (sections.get('pm2') ?? []).join('\n').trim();
  const pm2 = pm2Text === '' ? { ok: false as const, error: 'the snapshot has no pm2 process list' } : parsePm2List(pm2Text);
  const appPids = readPids(sections.get('app-pids'));
  const listeners = parseListeners(sections.get('listeners') ?? []);
  const nginxProbe = readProbe('nginx', sections.get('probe nginx'), takenAt);
  const upstreamProbe = readProbe('upstream', sections.get('probe upstream'), takenAt);
  const proxyLines = sections.get('nginx-proxy');
  const proxy = proxyLines ? parseProxyConfig(proxyLines.join('\n')) : undefined;
  const errorLog = parseErrorLog(sections.get('nginx-error') ?? []);
  const pm2Log = parsePm2Log(sections.get('pm2-log') ?? []);
  const kernel = parseKernelLog(sections.get('kernel') ?? [], year);
  const appLog = parseAppLogSection(sections.get('app-log') ?? []);
  const memory = readMemory(sections.get('memory'));
  const deploy = readKeyValues(sections.get('deploy'));
  const saved = readNames(sections.get('pm2-saved'));
  const pm2StartedAt = toIsoUtc(deploy.values.get('pm2_started_at') ?? '');
  const buildIdChangedAt = toIsoUtc(deploy.values.get('build_id_mtime') ?? '');
  const deployMarkers: DeployMarkers = {
    ...(pm2StartedAt !== undefined && { pm2StartedAt }),
    ...(buildIdChangedAt !== undefined && { buildIdChangedAt }),
  };
  skipped +=
    appPids.skipped +
    listeners.skipped +
    nginxProbe.skipped +
    upstreamProbe.skipped +
    errorLog.skipped +
    pm2Log.skipped +
    kernel.skipped +
    appLog.skipped +
    memory.skipped +
    deploy.skipped +
    saved.skipped;

  return {
    takenAt,
    app: meta.values.get('app') ?? '',
    pm2Ok: pm2.ok,
    ...(!pm2.ok && { pm2Error: pm2.error }),
    processes: pm2.ok ? pm2.processes : [],
    appPids: appPids.pids,
    listeners: listeners.items,
    probes: {
      ...(nginxProbe.probe && { nginx: nginxProbe.probe }),
      ...(upstreamProbe.probe && { upstream: upstreamProbe.probe }),
    },
    ...(proxy && { proxy }),
    errorLog: errorLog.items,
    pm2Log: pm2Log.items,
    oomKills: kernel.items,
    appLog: appLog.items,
    ...(memory.info && { memory: memory.info }),
    deploy: deployMarkers,
    ...(saved.names && { savedApps: saved.names }),
    skipped,
  };
}

interface Sections {
  get(name: string): string[] | undefined;
  /** Lines outside any section. */
  readonly stray: number;
}

function splitSections(text: string): Sections {
  const lines = text.split(/\r?\n/);
  const start = lines.findIndex((line) => HEADER.test(line.trim()));
  if (start === -1) {
    const first = lines.find((line) => line.trim() !== '')?.trim();
    throw new SnapshotParseError(
      first === undefined
        ? 'snapshot output is empty: expected a first line "@@reflex-snapshot 1"'
        : `snapshot output has no "@@reflex-snapshot 1" header (first line: ${JSON.stringify(first.slice(0, 60))})`,
    );
  }
  const version = HEADER.exec(lines[start]?.trim() ?? '')?.[1];
  if (version !== VERSION) {
    throw new SnapshotParseError(`snapshot format version ${JSON.stringify(version ?? '')} is not supported: expected "@@reflex-snapshot 1"`);
  }
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  let stray = 0;
  for (const line of lines.slice(start + 1)) {
    const trimmed = line.trim();
    if (trimmed === '@@end') break;
    if (trimmed.startsWith('@@')) {
      const name = trimmed.slice(2).trim().replace(/\s+/g, ' ');
      current = sections.get(name) ?? [];
      sections.set(name, current);
    } else if (current) {
      if (trimmed !== '') current.push(trimmed);
    } else if (trimmed !== '') {
      stray += 1;
    }
  }
  return { get: (name) => sections.get(name), stray };
}

function readKeyValues(lines: string[] | undefined): { values: Map<string, string>; skipped: number } {
  const values = new Map<string, string>();
  let skipped = 0;
  for (const line of lines ?? []) {
    const match = /^([a-z0-9_]+)=(.*)$/.exec(line);
    if (match) values.set(match[1] ?? '', (match[2] ?? '').trim());
    else skipped += 1;
  }
  return { values, skipped };
}

function readPids(lines: string[] | undefined): { pids: number[]; skipped: number } {
  const pids: number[] = [];
  let skipped = 0;
  for (const line of lines ?? []) {
    const tokens = line.split(/\s+/);
    if (tokens.every((token) => /^\d{1,10}$/.test(token))) pids.push(...tokens.map(Number));
    else skipped += 1;
  }
  return { pids: [...new Set(pids)], skipped };
}

/** App names, space-separated; undefined when the section is absent (no saved list at all). */
function readNames(lines: string[] | undefined): { names?: string[]; skipped: number } {
  if (lines === undefined) return { skipped: 0 };
  const tokens = lines.flatMap((line) => line.split(/\s+/));
  const names = tokens.filter((token) => PATTERNS.app.test(token));
  return { names, skipped: tokens.length - names.length };
}

function readProbe(target: 'nginx' | 'upstream', lines: string[] | undefined, at: string): { probe?: ProbeResult; skipped: number } {
  let probe: ProbeResult | undefined;
  let skipped = 0;
  for (const line of lines ?? []) {
    const parsed = probe === undefined ? parseProbe(target, line, at) : undefined;
    if (parsed) probe = parsed;
    else skipped += 1;
  }
  return { ...(probe && { probe }), skipped };
}

function readMemory(lines: string[] | undefined): { info?: MemoryInfo; skipped: number } {
  let info: MemoryInfo | undefined;
  let skipped = 0;
  for (const line of lines ?? []) {
    const match = /^total_kb=(\d+) available_kb=(\d+)$/.exec(line);
    if (match && info === undefined) info = { totalKb: Number(match[1]), availableKb: Number(match[2]) };
    else skipped += 1;
  }
  return { ...(info && { info }), skipped };
}
