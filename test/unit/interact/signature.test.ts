/**
 * Slack's request signature, computed here independently (node:crypto, as Slack documents it) and checked by the
 * endpoint's verifier: the five-minute window both ways, a forged or tampered request, missing and malformed headers.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_SKEW_SECONDS, verifySlackSignature } from '../../../functions/interact/signature.ts';

const SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const NOW = new Date('2026-11-24T10:02:11.000Z');
const BODY = Buffer.from('payload=%7B%22type%22%3A%22block_actions%22%7D', 'utf8');

/** What Slack sends: `v0=` + hex HMAC-SHA256(secret, `v0:{timestamp}:{body}`). */
function sign(secret: string, timestamp: string, body: Buffer): string {
  return `v0=${createHmac('sha256', secret).update(Buffer.concat([Buffer.from(`v0:${timestamp}:`), body])).digest('hex')}`;
}

const seconds = (date: Date): string => String(Math.floor(date.getTime() / 1000));

describe('verifySlackSignature', () => {
  it('accepts a request Slack signed now', () => {
    // Prepare
    const timestamp = seconds(NOW);
    // Act
    const check = verifySlackSignature({ signingSecret: SECRET, timestamp, signature: sign(SECRET, timestamp, BODY), body: BODY, now: NOW });
    // Assess
    expect(check).toEqual({ ok: true });
  });

  it.each([
    ['just inside the window, behind', -MAX_SKEW_SECONDS, true],
    ['just inside the window, ahead', MAX_SKEW_SECONDS, true],
    ['stale by a second', -MAX_SKEW_SECONDS - 1, false],
    ['an hour old', -3600, false],
    ['from the future', MAX_SKEW_SECONDS + 1, false],
  ])('a request signed %s', (_case, offset, ok) => {
    // Prepare: correctly signed, at another time
    const timestamp = String(Number(seconds(NOW)) + offset);
    // Act
    const check = verifySlackSignature({ signingSecret: SECRET, timestamp, signature: sign(SECRET, timestamp, BODY), body: BODY, now: NOW });
    // Assess
    expect(check).toEqual(ok ? { ok: true } : { ok: false, reason: 'stale timestamp' });
  });

  it.each([
    ['signed with another secret', (timestamp: string) => sign('another-secret-entirely-000000000', timestamp, BODY), BODY],
    ['a body changed after signing', (timestamp: string) => sign(SECRET, timestamp, BODY), Buffer.from('payload=%7B%22type%22%3A%22block_actions%22%2C%22x%22%3A1%7D')],
    ['a signature for another timestamp', (timestamp: string) => sign(SECRET, String(Number(timestamp) - 1), BODY), BODY],
  ])('refuses %s', (_case, signature, body) => {
    // Prepare
    const timestamp = seconds(NOW);
    // Act
    const check = verifySlackSignature({ signingSecret: SECRET, timestamp, signature: signature(timestamp), body, now: NOW });
    // Assess
    expect(check).toEqual({ ok: false, reason: 'bad signature' });
  });

  it.each([
    ['no signature', seconds(NOW), undefined, 'missing signature headers'],
    ['no timestamp', undefined, 'v0=' + '0'.repeat(64), 'missing signature headers'],
    ['an empty signature', seconds(NOW), '', 'missing signature headers'],
    ['a timestamp that is not a number', '1764e9', 'v0=' + '0'.repeat(64), 'malformed timestamp'],
    ['a v1 signature', seconds(NOW), 'v1=' + '0'.repeat(64), 'malformed signature'],
    ['a short signature', seconds(NOW), 'v0=abc', 'malformed signature'],
    ['an upper-case signature', seconds(NOW), sign(SECRET, seconds(NOW), BODY).toUpperCase(), 'malformed signature'],
  ])('refuses %s', (_case, timestamp, signature, reason) => {
    // Act
    const check = verifySlackSignature({ signingSecret: SECRET, timestamp, signature, body: BODY, now: NOW });
    // Assess
    expect(check).toEqual({ ok: false, reason });
  });
});
