import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { detectorEvent, parseTrigger } from '../../../functions/core/trigger.ts';
import { InputError } from '../../../functions/core/validate.ts';

const load = (name: string): Record<string, unknown> => JSON.parse(readFileSync(new URL(`../../../events/${name}`, import.meta.url), 'utf8'));
const context = { alarmName: 'reflex-web-gateway-errors', maxAgeSeconds: 300, now: new Date('2026-11-24T10:01:00Z') };

describe('parseTrigger', () => {
  it('starts an incident for an ALARM event of our alarm', () => {
    const trigger = parseTrigger(load('alarm.json'), context);

    expect(trigger).toEqual({
      kind: 'alarm',
      eventId: 'c4c1c1c9-6542-e61b-6ef0-8c4d36933a92',
      alarmName: 'reflex-web-gateway-errors',
      time: '2026-11-24T10:00:00.000Z',
    });
  });

  it('ignores an OK event, another alarm, and a stale event, saying why', () => {
    const other = load('alarm.json');
    (other.detail as Record<string, unknown>).alarmName = 'cpu-high';

    expect(parseTrigger(load('ok.json'), { ...context, now: new Date('2026-11-24T10:12:30Z') })).toEqual({ kind: 'ignored', reason: 'alarm state is OK, not ALARM' });
    expect(parseTrigger(other, context)).toMatchObject({ kind: 'ignored', reason: expect.stringContaining('"cpu-high" is not this responder') });
    expect(parseTrigger(load('alarm.json'), { ...context, now: new Date('2026-11-24T10:30:00Z') })).toMatchObject({
      kind: 'ignored',
      reason: expect.stringContaining('stale event: 1800 s old'),
    });
  });

  it('reads a manual event with its instances and dry-run flag', () => {
    expect(parseTrigger(load('manual-diagnose.json'), context)).toEqual({
      kind: 'manual',
      instanceIds: ['i-0abc12345def67890'],
      dryRun: true,
      time: '2026-11-24T10:01:00.000Z',
    });
  });

  it.each([
    [null, 'event: must be a JSON object'],
    [[], 'event: must be a JSON object'],
    [{ source: 'aws.ec2', 'detail-type': 'x' }, 'event: expected source'],
    [{ source: 'reflex.manual', 'detail-type': 'Reflex Manual Invoke', detail: { instanceIds: ['i-0abc12345def67890; reboot'] } }, 'detail.instanceIds[0]: must be an EC2 instance id'],
    [{ source: 'reflex.manual', 'detail-type': 'Reflex Manual Invoke', detail: { instanceIds: [] } }, 'detail.instanceIds: must be a list'],
    [{ source: 'reflex.manual', 'detail-type': 'Reflex Manual Invoke', detail: { instanceIds: ['i-0abc12345def67890'], dryRun: 'yes' } }, 'detail.dryRun'],
    [{ source: 'aws.cloudwatch', 'detail-type': 'CloudWatch Alarm State Change', id: 'x', time: 'yesterday', detail: {} }, 'time: must be an ISO-8601 time'],
  ])('rejects a malformed event with one clear error naming the field (%#)', (event, message) => {
    expect(() => parseTrigger(event, context)).toThrow(InputError);
    expect(() => parseTrigger(event, context)).toThrow(message);
  });

  describe('detector events', () => {
    const start = {
      incidentId: 'detect-i-0abc12345def67890-1795514350000',
      instanceId: 'i-0abc12345def67890',
      firstErrorAt: '2026-11-24T10:00:41.250Z',
      time: '2026-11-24T10:00:55.000Z',
      claimExpiresAt: '2026-11-24T10:15:55.000Z',
    };

    it('reads the event the detector sends: one instance, its incident id and its first gateway error', () => {
      expect(parseTrigger(detectorEvent(start), context)).toEqual({
        kind: 'detector',
        eventId: 'detect-i-0abc12345def67890-1795514350000',
        instanceIds: ['i-0abc12345def67890'],
        firstErrorAt: '2026-11-24T10:00:41.250Z',
        time: '2026-11-24T10:00:55.000Z',
        claimExpiresAt: '2026-11-24T10:15:55.000Z',
      });
    });

    it('takes a start that waited in the asynchronous queue while its claim holds, and ignores it once the claim ran out', () => {
      expect(parseTrigger(detectorEvent(start), { ...context, now: new Date('2026-11-24T10:15:54Z') })).toMatchObject({ kind: 'detector' });
      expect(parseTrigger(detectorEvent(start), { ...context, now: new Date('2026-11-24T10:15:55Z') })).toEqual({
        kind: 'ignored',
        reason: 'stale detector event: its claim on i-0abc12345def67890 ran out at 2026-11-24T10:15:55.000Z',
      });
    });

    it.each([
      [{ ...detectorEvent(start), id: undefined }, 'id: must be a detector incident id'],
      [{ ...detectorEvent(start), detail: { instanceIds: ['i-0abc12345def67890', 'i-0def67890abc12345'], firstErrorAt: start.firstErrorAt } }, 'exactly one EC2 instance id'],
      [{ ...detectorEvent(start), detail: { instanceIds: ['web-1'], firstErrorAt: start.firstErrorAt } }, 'detail.instanceIds[0]: must be an EC2 instance id'],
      [{ ...detectorEvent(start), detail: { instanceIds: [start.instanceId] } }, 'detail.firstErrorAt: must be an ISO-8601 time'],
      [{ ...detectorEvent(start), detail: { instanceIds: [start.instanceId], firstErrorAt: start.firstErrorAt } }, 'detail.claimExpiresAt: must be an ISO-8601 time'],
      [{ ...detectorEvent(start), detail: { instanceIds: [start.instanceId], firstErrorAt: '2026-11-24T10:01:00Z' } }, 'must not be after the event'],
    ])('rejects a malformed detector event naming the field (%#)', (event, message) => {
      expect(() => parseTrigger(event, context)).toThrow(InputError);
      expect(() => parseTrigger(event, context)).toThrow(message);
    });
  });
});
