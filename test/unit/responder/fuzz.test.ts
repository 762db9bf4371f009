/**
 * 1,000 malformed or hostile events through handleEvent, from a seeded generator (the same events on every run):
 * none may send a command, read a log, notify or throw, and each gets a short, clear answer.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { HostParams, HostRunner, HostScript, LogSource, Notifier } from '../../../functions/core/ports.ts';
import { parseConfig } from '../../../functions/responder/config.ts';
import { handleEvent, type ResponderDeps, type ResponderResult } from '../../../functions/responder/run.ts';
import { ALARM_NAME, responderEnv } from '../../helpers/responder-env.ts';

const SEED = 0x5eed_2026;
const EVENTS = 1_000;
const CONFIG = parseConfig(responderEnv());

function event(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`../../../events/${name}.json`, import.meta.url), 'utf8')) as Record<string, unknown>;
}

/** mulberry32: a tiny seeded PRNG, enough to make the fuzz reproducible. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * Hostile strings. None is a valid instance id, ISO time, alarm state or source, and none is the configured alarm
 * name; the few that look like an event id are made invalid where they break the `id` (see breakingValue).
 */
const HOSTILE_STRINGS = [
  'i-0abc12345def67890; reboot',
  'i-0abc12345def67890 && rm -rf /',
  '$(reboot)',
  '`reboot`',
  'i-0abc12345def67890\nreboot',
  "'; DROP TABLE incidents; --",
  '../../../../etc/passwd',
  '%0d%0aSet-Cookie: x=y',
  '<script>alert(1)</script>',
  '<!channel> restart everything',
  '${process.env.AWS_SECRET_ACCESS_KEY}',
  '{{constructor.constructor("return process")()}}',
  'I-0ABC12345DEF67890',
  'i-0abc123',
  'i-0abc12345def678901234',
  '',
  ' ',
  '\u0000',
  '\u202eALARM',
  'ＡＬＡＲＭ',
  '🔥🔥🔥',
  'alarm\r\nOK',
  '2026-11-24T10:00:00Z; reboot',
  '2026-13-45T99:99:99Z',
  'yesterday',
  '__proto__',
  'constructor',
  'prototype',
  'x'.repeat(100_000),
  'é'.repeat(10_000),
];

/** Any JSON-ish value that is wrong for every field (objects and arrays are wrong where a string or list of ids is). */
function hostileValue(random: () => number, depth = 0): unknown {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  switch (Math.floor(random() * 12)) {
    case 0:
      return null;
    case 1:
      return pick([0, -1, 1e308, Number.NaN, 3.14, 2 ** 53]);
    case 2:
      return pick([true, false]);
    case 3:
    case 4:
    case 5:
      return pick(HOSTILE_STRINGS);
    case 6:
      return depth > 3 ? [] : Array.from({ length: Math.floor(random() * 4) }, () => hostileValue(random, depth + 1));
    case 7:
      return depth > 3 ? {} : { [pick(HOSTILE_STRINGS).slice(0, 40)]: hostileValue(random, depth + 1), nested: { deeper: hostileValue(random, depth + 1) } };
    case 8:
      return JSON.parse('{"__proto__": {"polluted": "yes", "isAdmin": true}}') as unknown;
    case 9:
      return JSON.parse('{"constructor": {"prototype": {"polluted": "yes"}}}') as unknown;
    case 10:
      return Array.from({ length: 60 }, () => 'i-0abc12345def67890');
    default:
      return { length: 1, 0: 'i-0abc12345def67890' };
  }
}

type Path = readonly string[];

/** The fields that decide what an event does; one of them is always broken (a wrong value or removed). */
const ALARM_CRITICAL: Path[] = [['source'], ['detail-type'], ['id'], ['time'], ['detail'], ['detail', 'alarmName'], ['detail', 'state'], ['detail', 'state', 'value']];
const MANUAL_CRITICAL: Path[] = [['source'], ['detail-type'], ['detail'], ['detail', 'instanceIds'], ['detail', 'instanceIds', '0'], ['detail', 'dryRun']];
/** Fields that may be broken on top, or removed: the rest of the event. */
const ALARM_EXTRA: Path[] = [...ALARM_CRITICAL, ['version'], ['account'], ['region'], ['resources'], ['detail', 'previousState'], ['detail', 'configuration'], ['detail', 'state', 'reason']];
const MANUAL_EXTRA: Path[] = [...MANUAL_CRITICAL, ['id'], ['time'], ['detail', 'instanceIds', '1']];

/** Alarm events that are well formed but must be ignored. */
const NOT_OURS: [Path, string][] = [
  [['detail', 'alarmName'], 'someone-elses-alarm'],
  [['detail', 'alarmName'], `${ALARM_NAME} `],
  [['detail', 'state', 'value'], 'OK'],
  [['detail', 'state', 'value'], 'INSUFFICIENT_DATA'],
  [['time'], '2026-11-23T10:00:00Z'],
];

const EVENT_ID = /^[A-Za-z0-9-]{1,128}$/;

/**
 * A hostile value that is sure to be wrong for the broken field: `constructor` is a well-formed event id, so there
 * it gets a `;`; a boolean is a valid dryRun, so there it becomes the string `"true"`/`"false"`.
 */
function breakingValue(path: Path, value: unknown): unknown {
  if (path.length === 1 && path[0] === 'id' && typeof value === 'string' && EVENT_ID.test(value)) return `${value};`;
  if (path.at(-1) === 'dryRun' && typeof value === 'boolean') return String(value);
  return value;
}

/** Sets (or, with `remove`, deletes) `path`; a missing parent becomes an object, a non-object parent is replaced. */
function setPath(target: Record<string, unknown>, path: Path, value: unknown, remove: boolean): void {
  let node: Record<string, unknown> = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) {
      if (remove) return;
      node[key] = {};
    }
    node = node[key] as Record<string, unknown>;
  }
  const last = path.at(-1) as string;
  if (remove) delete node[last];
  else Object.defineProperty(node, last, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * One hostile event: a whole-event junk value, or a real event with noise in any field and then one critical field
 * broken (last, so that the noise cannot repair it). Events reach the handler as JSON, so each one goes through
 * JSON: `__proto__` stays an own key, NaN becomes null.
 */
function hostileEvent(random: () => number, alarm: Record<string, unknown>, manual: Record<string, unknown>): unknown {
  const roll = random();
  if (roll < 0.1) return JSON.parse(JSON.stringify(hostileValue(random)) ?? 'null') as unknown;
  const isAlarm = roll < 0.55;
  const base = structuredClone(isAlarm ? alarm : manual);
  const critical = isAlarm ? ALARM_CRITICAL : MANUAL_CRITICAL;
  const extra = isAlarm ? ALARM_EXTRA : MANUAL_EXTRA;
  for (let noise = Math.floor(random() * 4); noise > 0; noise--) {
    setPath(base, extra[Math.floor(random() * extra.length)] as Path, hostileValue(random), random() < 0.3);
  }
  if (isAlarm && random() < 0.3) {
    // Well-formed but not for this responder (or not an incident): another alarm, another state, a stale event.
    const [path, value] = NOT_OURS[Math.floor(random() * NOT_OURS.length)] as [Path, string];
    setPath(base, path, value, false);
    return JSON.parse(JSON.stringify(base)) as unknown;
  }
  const broken = critical[Math.floor(random() * critical.length)] as Path;
  // Without dryRun a manual event is valid: that field is only ever given a wrong value.
  const remove = broken.at(-1) !== 'dryRun' && random() < 0.25;
  setPath(base, broken, breakingValue(broken, hostileValue(random)), remove);
  return JSON.parse(JSON.stringify(base)) as unknown;
}

/** Every port records what reached it; none of it may be used. */
function recordingDeps(now: Date) {
  const touched: string[] = [];
  const host: HostRunner = {
    run: async (instanceId: string, script: HostScript, _params: HostParams) => {
      touched.push(`host ${script} ${instanceId}`);
      return { ok: true, stdout: '', stderr: '', status: 'Success' };
    },
  };
  const logs: LogSource = {
    fetch: async (instanceId) => {
      touched.push(`logs ${instanceId}`);
      return { accessLines: [], errorLines: [], pm2Lines: [], kernelLines: [] };
    },
  };
  const notifier: Notifier = {
    publish: async (report) => {
      touched.push(`notify ${report.instanceId}`);
      return [{ channel: 'memory', ok: true }];
    },
  };
  const deps: ResponderDeps = {
    config: CONFIG,
    host,
    logs,
    findInstances: async () => {
      touched.push('findInstances');
      return ['i-0abc12345def67890'];
    },
    notifiers: [notifier],
    clock: { now: () => new Date(now), sleep: async () => undefined },
    logger: { debug: () => undefined, info: () => undefined, warn: () => undefined },
  };
  return { deps, touched };
}

describe('handleEvent: fuzzed hostile events', () => {
  const alarm = event('alarm');
  const manual = { ...event('manual-restart'), id: '0f5e3c2a-9d41-4b7e-8c16-3a2b1c0d9e8f' };
  const now = new Date(Date.parse(alarm['time'] as string) + 30_000);

  it('the unfuzzed events do reach the ports (the harness can see a command)', async () => {
    // Prepare
    const { deps, touched } = recordingDeps(now);

    // Act
    await handleEvent(structuredClone(alarm), deps);
    await handleEvent(structuredClone(manual), deps);

    // Assess
    expect(touched).toContain('findInstances');
    expect(touched).toContain('host snapshot i-0abc12345def67890');
  });

  it(`${EVENTS} malformed or hostile events: no command, no throw, a clear answer each`, async () => {
    // Prepare
    const random = prng(SEED);
    const events = Array.from({ length: EVENTS }, () => hostileEvent(random, alarm, manual));
    const { deps, touched } = recordingDeps(now);
    const statuses = new Map<string, number>();

    for (const [index, input] of events.entries()) {
      // Act
      let result: ResponderResult | undefined;
      let thrown: unknown;
      try {
        result = await handleEvent(input, deps);
      } catch (error) {
        thrown = error;
      }

      // Assess
      const where = `event #${index} (seed ${SEED})`;
      expect(thrown, where).toBeUndefined();
      expect(['invalid', 'ignored'], where).toContain(result?.status);
      const answer = result?.status === 'invalid' ? result.error : result?.status === 'ignored' ? result.reason : '';
      // One line that names the field, short even for a 100,000-character value, with no control character.
      expect(answer, where).toMatch(/^[^\u0000-\u001f]{10,400}$/);
      if (result?.status === 'invalid') expect(answer, where).toMatch(/^(event|source|id|time|detail(\.[A-Za-z]+|\[\d+\])*): /);
      statuses.set(result?.status ?? '', (statuses.get(result?.status ?? '') ?? 0) + 1);
    }

    expect(touched).toEqual([]);
    // The generator reaches both answers, and nothing leaked into Object.prototype.
    expect(statuses.get('invalid')).toBeGreaterThan(100);
    expect(statuses.get('ignored')).toBeGreaterThan(50);
    expect((Object.prototype as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(({} as Record<string, unknown>)['isAdmin']).toBeUndefined();
  });
});
