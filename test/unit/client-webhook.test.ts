// verifyWebhook from packages/client: the independent vectors of test/fixtures/signatures.json,
// what the server's signer actually sends, and one test per way a request must be refused.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

import { checkWebhook, parseWebhook, verifyWebhook, webhookOrdering, type WebhookHeaders } from '../../packages/client/src/webhook.js';
import { digestPayload } from '../../src/domain/payload.js';
import type { Notification } from '../../src/domain/types.js';
import { signedHeaders } from '../../src/delivery/signer.js';

interface Vector {
  name: string;
  scheme: 'standard-webhooks-v1' | 'hex-hmac-sha256';
  secret?: string;
  secrets?: string[];
  webhook_id?: string;
  webhook_timestamp?: number;
  body_utf8: string;
  expected: string;
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/signatures.json', import.meta.url), 'utf8')) as { cases: Vector[] };
const standardVectors = fixture.cases.filter((c) => c.scheme === 'standard-webhooks-v1');
const hexVectors = fixture.cases.filter((c) => c.scheme === 'hex-hmac-sha256');

const secretsOf = (c: Vector): string[] => c.secrets ?? (c.secret === undefined ? [] : [c.secret]);
const atSeconds = (seconds: number): Date => new Date(seconds * 1000);

function standardHeaders(c: Vector): Record<string, string> {
  return { 'webhook-id': c.webhook_id ?? '', 'webhook-timestamp': String(c.webhook_timestamp), 'webhook-signature': c.expected };
}

// A secret no vector uses, with valid whsec_ base64.
const UNRELATED = `whsec_${Buffer.alloc(24, 7).toString('base64')}`;

describe('verifyWebhook accepts every vector of test/fixtures/signatures.json', () => {
  it('the fixture holds both schemes and a rotation case', () => {
    assert.ok(standardVectors.length >= 4 && hexVectors.length >= 4);
    assert.ok(standardVectors.some((c) => (c.secrets?.length ?? 0) > 1));
  });

  for (const c of standardVectors) {
    it(`${c.name}: Standard Webhooks, with each of its secrets alone and with all of them`, () => {
      const now = atSeconds(c.webhook_timestamp ?? 0);
      for (const secret of [...secretsOf(c).map((s) => [s]), secretsOf(c)]) {
        assert.deepEqual(checkWebhook(c.body_utf8, standardHeaders(c), secret, { now }), { ok: true, scheme: 'standard-webhooks' });
        assert.equal(verifyWebhook(Buffer.from(c.body_utf8, 'utf8'), standardHeaders(c), secret, { now }), true, 'as a Buffer too');
      }
    });
  }

  for (const c of hexVectors) {
    it(`${c.name}: hex X-Herald-Signature, under the default name and a renamed header`, () => {
      assert.deepEqual(checkWebhook(c.body_utf8, { 'x-herald-signature': c.expected }, secretsOf(c)), { ok: true, scheme: 'hex' });
      const renamed = { 'x-platform-signature': c.expected };
      assert.equal(verifyWebhook(Buffer.from(c.body_utf8, 'utf8'), renamed, secretsOf(c), { signatureHeader: 'X-Platform-Signature' }), true);
      assert.deepEqual(checkWebhook(c.body_utf8, renamed, secretsOf(c)), { ok: false, reason: 'missing_signature' }, 'the default name does not see it');
    });
  }
});

describe('verifyWebhook accepts what the server signs', () => {
  const body = Buffer.from('{"event":"notification","notification":{"id":"ntf_1","title":"Café ☃"}}', 'utf8');
  const timestampSeconds = 1_800_000_000;
  const secrets = ['whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'];
  // Node lower-cases header names; the signer writes them in their usual spelling.
  const asNode = (headers: Record<string, string>): Record<string, string> =>
    Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
  const sent = asNode(signedHeaders({ deliveryId: 'dlv_x', eventType: 'notification', body, secrets, timestampSeconds, signatureHeader: 'X-Herald-Signature', userAgent: 'Herald-Webhook/test' }));

  it('Standard Webhooks with the current and with the previous secret during a rotation', () => {
    const now = atSeconds(timestampSeconds);
    assert.equal(verifyWebhook(body, sent, secrets[0]!, { now }), true);
    assert.equal(verifyWebhook(body, sent, secrets[1]!, { now }), true);
  });

  it('the hex scheme, keyed by the current secret only, when only the hex header is checked', () => {
    assert.deepEqual(checkWebhook(body, sent, secrets[0]!, { scheme: 'hex' }), { ok: true, scheme: 'hex' });
    assert.deepEqual(checkWebhook(body, sent, secrets[1]!, { scheme: 'hex' }), { ok: false, reason: 'signature_mismatch' });
  });

  it('a secret without the whsec_ prefix (an operator WEBHOOK_SECRET), in both schemes', () => {
    const plain = 'your-secret-key';
    const headers = asNode(signedHeaders({ deliveryId: 'dlv_y', eventType: 'test', body, secrets: [plain], timestampSeconds, signatureHeader: 'X-Herald-Signature', userAgent: 'u' }));
    assert.equal(verifyWebhook(body, headers, plain, { now: atSeconds(timestampSeconds) }), true);
    assert.equal(verifyWebhook(body, headers, plain, { scheme: 'hex' }), true);
  });
});

describe('verifyWebhook refuses', () => {
  const c = standardVectors.find((v) => v.secrets === undefined && v.body_utf8 !== '')!;
  const h = hexVectors[0]!;
  const now = atSeconds(c.webhook_timestamp ?? 0);

  it('a tampered body, in both schemes', () => {
    assert.deepEqual(checkWebhook(`${c.body_utf8} `, standardHeaders(c), secretsOf(c), { now }), { ok: false, reason: 'signature_mismatch' });
    assert.deepEqual(checkWebhook(h.body_utf8.replace('2', '3'), { 'x-herald-signature': h.expected }, secretsOf(h)), { ok: false, reason: 'signature_mismatch' });
  });

  it('a tampered webhook-id or webhook-timestamp (both are signed)', () => {
    assert.deepEqual(checkWebhook(c.body_utf8, { ...standardHeaders(c), 'webhook-id': 'dlv_other' }, secretsOf(c), { now }), { ok: false, reason: 'signature_mismatch' });
    const later = String((c.webhook_timestamp ?? 0) + 1);
    assert.deepEqual(checkWebhook(c.body_utf8, { ...standardHeaders(c), 'webhook-timestamp': later }, secretsOf(c), { now }), { ok: false, reason: 'signature_mismatch' });
  });

  it('the wrong secret, in both schemes', () => {
    assert.deepEqual(checkWebhook(c.body_utf8, standardHeaders(c), UNRELATED, { now }), { ok: false, reason: 'signature_mismatch' });
    assert.deepEqual(checkWebhook(h.body_utf8, { 'x-herald-signature': h.expected }, 'another-secret'), { ok: false, reason: 'signature_mismatch' });
  });

  it('a timestamp older or newer than toleranceSeconds (default 300), even when correctly signed', () => {
    const ts = c.webhook_timestamp ?? 0;
    assert.equal(verifyWebhook(c.body_utf8, standardHeaders(c), secretsOf(c), { now: atSeconds(ts + 300) }), true, '300 s is inside');
    assert.deepEqual(checkWebhook(c.body_utf8, standardHeaders(c), secretsOf(c), { now: atSeconds(ts + 301) }), { ok: false, reason: 'timestamp_out_of_tolerance' });
    assert.deepEqual(checkWebhook(c.body_utf8, standardHeaders(c), secretsOf(c), { now: atSeconds(ts - 301) }), { ok: false, reason: 'timestamp_out_of_tolerance' });
    assert.equal(verifyWebhook(c.body_utf8, standardHeaders(c), secretsOf(c), { now: atSeconds(ts + 3600), toleranceSeconds: 3600 }), true);
    assert.equal(verifyWebhook(c.body_utf8, standardHeaders(c), secretsOf(c)), false, 'the vector is years old by the real clock');
  });

  it('an old Standard Webhooks request is not rescued by its hex header', () => {
    const ts = c.webhook_timestamp ?? 0;
    const both = { ...standardHeaders(c), 'x-herald-signature': 'sha256=ignored' };
    assert.deepEqual(checkWebhook(c.body_utf8, both, secretsOf(c), { now: atSeconds(ts + 301) }), { ok: false, reason: 'timestamp_out_of_tolerance' });
  });

  it('a timestamp that is not whole Unix seconds', () => {
    for (const bad of ['', ' ', '1.5', '-1', '1e9', 'now']) {
      const result = checkWebhook(c.body_utf8, { ...standardHeaders(c), 'webhook-timestamp': bad }, secretsOf(c), { now });
      assert.equal(result.ok, false, JSON.stringify(bad));
    }
    assert.deepEqual(checkWebhook(c.body_utf8, { ...standardHeaders(c), 'webhook-timestamp': '1.5' }, secretsOf(c), { now }), { ok: false, reason: 'bad_timestamp' });
  });

  it('missing headers: no signature at all, or webhook-signature without webhook-id or webhook-timestamp', () => {
    assert.deepEqual(checkWebhook(c.body_utf8, {}, secretsOf(c), { now }), { ok: false, reason: 'missing_signature' });
    assert.deepEqual(checkWebhook(c.body_utf8, { 'content-type': 'application/json' }, secretsOf(c), { now }), { ok: false, reason: 'missing_signature' });
    const { 'webhook-id': _id, ...withoutId } = standardHeaders(c);
    const { 'webhook-timestamp': _ts, ...withoutTimestamp } = standardHeaders(c);
    assert.deepEqual(checkWebhook(c.body_utf8, withoutId, secretsOf(c), { now }), { ok: false, reason: 'missing_headers' });
    assert.deepEqual(checkWebhook(c.body_utf8, withoutTimestamp, secretsOf(c), { now }), { ok: false, reason: 'missing_headers' });
    assert.deepEqual(checkWebhook(h.body_utf8, { 'x-herald-signature': h.expected }, secretsOf(h), { scheme: 'standard-webhooks' }), { ok: false, reason: 'missing_signature' }, 'hex-only is refused when Standard Webhooks is required');
  });

  it('during a rotation: a request carrying both signatures passes with either secret, and fails with neither', () => {
    const rotation = standardVectors.find((v) => (v.secrets?.length ?? 0) > 1)!;
    const at = atSeconds(rotation.webhook_timestamp ?? 0);
    const [newest, previous] = secretsOf(rotation);
    assert.equal(rotation.expected.split(' ').length, 2, 'two space-separated signatures');
    assert.equal(verifyWebhook(rotation.body_utf8, standardHeaders(rotation), newest!, { now: at }), true);
    assert.equal(verifyWebhook(rotation.body_utf8, standardHeaders(rotation), previous!, { now: at }), true);
    assert.equal(verifyWebhook(rotation.body_utf8, standardHeaders(rotation), UNRELATED, { now: at }), false);
    // Only the second signature is valid for `previous`: dropping it must fail that receiver.
    const onlyFirst = { ...standardHeaders(rotation), 'webhook-signature': rotation.expected.split(' ')[0]! };
    assert.equal(verifyWebhook(rotation.body_utf8, onlyFirst, previous!, { now: at }), false);
    // Duplicated headers, as an array, count like space-separated values.
    const asArray: WebhookHeaders = { ...standardHeaders(rotation), 'webhook-signature': rotation.expected.split(' ') };
    assert.equal(verifyWebhook(rotation.body_utf8, asArray, previous!, { now: at }), true);
  });

  it('signatures of another version or malformed ones', () => {
    const sig = c.expected.slice(3);
    for (const value of [`v2,${sig}`, sig, 'v1,', 'v1,!!!!', `v1a,${sig}`]) {
      assert.equal(verifyWebhook(c.body_utf8, { ...standardHeaders(c), 'webhook-signature': value }, secretsOf(c), { now }), false, value);
    }
    assert.equal(verifyWebhook(h.body_utf8, { 'x-herald-signature': h.expected.replace('sha256=', 'sha1=') }, secretsOf(h)), false);
    assert.equal(verifyWebhook(h.body_utf8, { 'x-herald-signature': h.expected.toUpperCase() }, secretsOf(h)), false);
  });

  it('programming errors with a TypeError: parsed JSON for the body, an empty or malformed secret, a bad tolerance', () => {
    const parsed: unknown = JSON.parse(c.body_utf8);
    assert.throws(() => verifyWebhook(parsed as string, standardHeaders(c), secretsOf(c), { now }), /rawBody must be the request body exactly as received/);
    assert.throws(() => verifyWebhook(c.body_utf8, standardHeaders(c), '', { now }), TypeError);
    assert.throws(() => verifyWebhook(c.body_utf8, standardHeaders(c), [], { now }), TypeError);
    assert.throws(() => verifyWebhook(c.body_utf8, standardHeaders(c), 'whsec_not*base64', { now }), (e: unknown) => e instanceof TypeError && !e.message.includes('not*base64'));
    assert.throws(() => verifyWebhook(c.body_utf8, standardHeaders(c), secretsOf(c), { now, toleranceSeconds: -1 }), TypeError);
  });
});

describe('verifyWebhook reads headers', () => {
  const c = standardVectors[0]!;
  const now = atSeconds(c.webhook_timestamp ?? 0);

  it('case-insensitively, and from a Fetch Headers object', () => {
    const mixed = { 'Webhook-Id': c.webhook_id ?? '', 'WEBHOOK-TIMESTAMP': String(c.webhook_timestamp), 'Webhook-Signature': c.expected };
    assert.equal(verifyWebhook(c.body_utf8, mixed, secretsOf(c), { now }), true);
    assert.equal(verifyWebhook(c.body_utf8, new Headers(standardHeaders(c)), secretsOf(c), { now }), true);
  });

  it('refusing a repeated webhook-id or webhook-timestamp as ambiguous', () => {
    const repeated = { ...standardHeaders(c), 'webhook-id': [c.webhook_id ?? '', 'msg_other'] };
    assert.deepEqual(checkWebhook(c.body_utf8, repeated, secretsOf(c), { now }), { ok: false, reason: 'missing_headers' });
  });
});

describe('parseWebhook', () => {
  const n: Notification = {
    id: 'ntf_1', tenantId: 'default', agentId: 'a1', notificationType: 'job.done', title: 'Done', content: '', priority: 'HIGH',
    relatedEntityType: null, relatedEntityId: null, metadata: {}, idempotencyKey: null, read: false, readAt: null,
    createdAt: new Date('2027-01-14T22:00:00Z'), deliveryId: 'dlv_1', endpointResults: [],
    decision: { outcome: 'DEFER', reason: 'QUIET_HOURS', deliverAt: null, explanation: '', decidedAt: new Date('2027-01-14T22:00:00Z') },
  };
  const window = { start: new Date('2027-01-14T21:00:00Z'), end: new Date('2027-01-15T06:00:00Z') };
  const asNode = (headers: Record<string, string>): Record<string, string> =>
    Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));

  it('types a digest the server writes, whose signed bytes verifyWebhook accepts like any other', () => {
    const body = digestPayload({ id: 'dlv_1', agentId: 'a1', window }, n, n.createdAt);
    const parsed = parseWebhook(Buffer.from(body, 'utf8'));
    assert.equal(parsed.event, 'digest');
    if (parsed.event !== 'digest') return;
    assert.deepEqual([parsed.digest.id, parsed.digest.count, parsed.digest.window_end, parsed.digest.notifications[0]?.priority], ['dlv_1', 1, '2027-01-15T06:00:00.000Z', 'high']);
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const now = new Date('2027-01-15T06:00:01Z');
    const headers = asNode(signedHeaders({ body: Buffer.from(body, 'utf8'), deliveryId: 'dlv_1', eventType: 'digest', secrets: [secret], timestampSeconds: now.getTime() / 1000 - 1, userAgent: 'Herald-Webhook/test', signatureHeader: 'X-Herald-Signature' }));
    assert.equal(headers['x-herald-event'], 'digest');
    assert.equal(verifyWebhook(body, headers, secret, { now }), true);
  });

  it('refuses a body that is not JSON or an unknown event', () => {
    assert.throws(() => parseWebhook('not json'), /not JSON/);
    assert.throws(() => parseWebhook('{"event":"party"}'), /unknown webhook event "party"/);
  });
});

describe('webhookOrdering reads what the server sends', () => {
  const sent = (ordering?: { key: string; seq: number }): WebhookHeaders =>
    signedHeaders({ deliveryId: 'dlv_01ORDER', eventType: 'notification', body: Buffer.from('{}'), secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'], timestampSeconds: 1, signatureHeader: 'X-Herald-Signature', userAgent: 'test', ...(ordering === undefined ? {} : { ordering }) });

  it('the key and the number of an ordered webhook, in any header spelling', () => {
    assert.deepEqual(webhookOrdering(sent({ key: 'job:17', seq: 3 })), { key: 'job:17', sequence: 3 });
    assert.deepEqual(webhookOrdering(new Headers({ 'x-herald-ordering-key': 'job:17', 'x-herald-sequence': '12' })), { key: 'job:17', sequence: 12 });
  });

  it('null for an unordered webhook or malformed headers', () => {
    assert.equal(webhookOrdering(sent()), null);
    assert.equal(webhookOrdering({ 'x-herald-ordering-key': 'job:17', 'x-herald-sequence': '0' }), null);
    assert.equal(webhookOrdering({ 'x-herald-ordering-key': 'job:17', 'x-herald-sequence': '3x' }), null);
    assert.equal(webhookOrdering({ 'x-herald-sequence': '3' }), null);
  });
});
