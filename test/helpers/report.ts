/**
 * The report tests render and send: a crashed app that Reflex restarted and saw recover. Each test takes a fresh
 * copy and overrides only what its assertions are about.
 */
import type { ActionResult, Diagnosis, Report } from '../../functions/core/types.ts';

const REPORT: Report = {
  instanceId: 'i-0123456789abcdef0',
  app: 'web',
  incidentId: 'evt-6a7e8f',
  startedAt: '2026-11-24T10:00:00.000Z',
  finishedAt: '2026-11-24T10:01:10.000Z',
  diagnosis: {
    cause: 'process_crashed',
    summary: 'The app web exited with code 1 and nginx could not connect to 127.0.0.1:3000.',
    advice: ['Read the app error log around 10:00 for the exception.', 'Check the last deploy.', 'Restart it: `pm2 restart web`.'],
    evidence: [{ source: 'pm2', at: '2026-11-24T09:59:57.000Z', text: 'App [web:0] exited with code [1] via signal [SIGINT]' }],
  },
  action: { kind: 'restart', executed: true, reason: 'the process crashed; a restart brings it back' },
  outcome: 'recovered',
  timeline: [
    { at: '2026-11-24T09:59:57.000Z', source: 'pm2', message: 'App [web:0] exited with code [1]' },
    { at: '2026-11-24T10:00:05.000Z', source: 'responder', message: 'restart issued' },
    { at: '2026-11-24T10:00:42.000Z', source: 'probe', message: 'nginx answered 200' },
  ],
  gatewayErrors: [
    { minute: '2026-11-24T09:57:00.000Z', count: 2, byStatus: { '502': 2 } },
    { minute: '2026-11-24T09:59:00.000Z', count: 40, byStatus: { '502': 40 } },
  ],
  timings: { diagnosedMs: 3000, actedMs: 5000, recoveredMs: 42_000 },
  skippedLines: 0,
};

/** Fields to replace; `diagnosis` and `action` are merged field by field, everything else is replaced whole. */
export type ReportOverrides = Partial<Omit<Report, 'diagnosis' | 'action'>> & {
  readonly diagnosis?: Partial<Diagnosis>;
  readonly action?: Partial<ActionResult>;
};

/**
 * A fresh deep copy of the standard report (app `web` on i-0123456789abcdef0 crashed at 09:59:57, restarted at
 * 10:00:05, recovered 42 s in), with `overrides` applied: tests never share a mutable fixture.
 */
export function reportFixture(overrides: ReportOverrides = {}): Report {
  const base = structuredClone(REPORT);
  const own = structuredClone(overrides);
  return { ...base, ...own, diagnosis: { ...base.diagnosis, ...own.diagnosis }, action: { ...base.action, ...own.action } };
}
