import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import {
  generateWebhookSecret,
  hexSignature,
  signedHeaders,
  standardWebhookSignature,
} from '../../src/delivery/signer.js';
import { checkHeaders, HERALD_HEADERS, isReservedHeader } from '../../src/domain/validation.js';
import { InvalidArgumentError } from '../../src/errors.js';

interface StandardCase {
  name: string;
  scheme: 'standard-webhooks-v1';
  secrets: string[];
  webhookId: string;
  webhookTimestamp: number;
  body: Buffer;
  expected: string;
}

interface HexCase {
  name: string;
  scheme: 'hex-hmac-sha256';
  secret: string;
  body: Buffer;
  expected: string;
}

function field<T>(record: Record<string, unknown>, key: string, check: (value: unknown) => value is T): T {
  const value = record[key];
  assert.ok(check(value), `fixture field ${key} has an unexpected shape`);
  return value;
}
const isString = (value: unknown): value is string => typeof value === 'string';
const isNumber = (value: unknown): value is number => typeof value === 'number';
const isStringArray = (value: unknown): value is string[] => Array.isArray(value) && value.every(isString);
const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

/** Reads the independent vectors without trusting their shape. */
function loadFixtures(): (StandardCase | HexCase)[] {
  const parsed: unknown = JSON.parse(readFileSync(new URL('../fixtures/signatures.json', import.meta.url), 'utf8'));
  assert.ok(isRecord(parsed) && Array.isArray(parsed.cases));
  return parsed.cases.map((raw: unknown): StandardCase | HexCase => {
    assert.ok(isRecord(raw));
    const name = field(raw, 'name', isString);
    const scheme = field(raw, 'scheme', isString);
    const body = Buffer.from(field(raw, 'body_utf8', isString), 'utf8');
    const expected = field(raw, 'expected', isString);
    if (scheme === 'standard-webhooks-v1') {
      const secrets = raw.secrets === undefined ? [field(raw, 'secret', isString)] : field(raw, 'secrets', isStringArray);
      return {
        name,
        scheme,
        secrets,
        webhookId: field(raw, 'webhook_id', isString),
        webhookTimestamp: field(raw, 'webhook_timestamp', isNumber),
        body,
        expected,
      };
    }
    assert.equal(scheme, 'hex-hmac-sha256', `unknown scheme in ${name}`);
    return { name, scheme: 'hex-hmac-sha256', secret: field(raw, 'secret', isString), body, expected };
  });
}

const fixtures = loadFixtures();
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const OLD_SECRET = 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD';
const BODY = Buffer.from('{"event":"notification","notification":{"title":"Café ☃ 🚀"},"platform":"herald"}', 'utf8');

describe('fixtures/signatures.json', () => {
  it('holds both schemes and a rotation case', () => {
    assert.ok(fixtures.some((c) => c.scheme === 'hex-hmac-sha256'));
    assert.ok(fixtures.some((c) => c.scheme === 'standard-webhooks-v1' && c.secrets.length > 1));
  });

  for (const c of fixtures) {
    it(c.name, () => {
      if (c.scheme === 'standard-webhooks-v1') {
        assert.equal(standardWebhookSignature(c.secrets, c.webhookId, c.webhookTimestamp, c.body), c.expected);
      } else {
        assert.equal(hexSignature(c.secret, c.body), c.expected);
      }
    });
  }
});

describe('signedHeaders', () => {
  const base = {
    deliveryId: 'dlv_01HZX',
    eventType: 'notification',
    body: BODY,
    secrets: [SECRET],
    timestampSeconds: Math.floor(Date.now() / 1000),
    signatureHeader: 'X-Herald-Signature',
    userAgent: 'Herald-Webhook/0.1.0',
  };

  it('sets every Herald and Standard Webhooks header', () => {
    const headers = signedHeaders(base);
    assert.deepEqual(Object.keys(headers).sort(), [
      'Content-Type',
      'User-Agent',
      'X-Herald-Delivery',
      'X-Herald-Event',
      'X-Herald-Signature',
      'webhook-id',
      'webhook-signature',
      'webhook-timestamp',
    ]);
    assert.equal(headers['Content-Type'], 'application/json');
    assert.equal(headers['User-Agent'], 'Herald-Webhook/0.1.0');
    assert.equal(headers['X-Herald-Event'], 'notification');
    assert.equal(headers['X-Herald-Delivery'], 'dlv_01HZX');
    assert.equal(headers['webhook-id'], 'dlv_01HZX');
    assert.equal(headers['webhook-timestamp'], String(base.timestampSeconds));
  });

  it('passes the standardwebhooks library verifier', () => {
    const headers = signedHeaders(base);
    const verifier = new Webhook(SECRET);
    assert.doesNotThrow(() =>
      verifier.verify(BODY, {
        'webhook-id': headers['webhook-id'] ?? '',
        'webhook-timestamp': headers['webhook-timestamp'] ?? '',
        'webhook-signature': headers['webhook-signature'] ?? '',
      }),
    );
  });

  it('is rejected by the verifier for a tampered body or another secret', () => {
    const headers = signedHeaders(base);
    const wire = {
      'webhook-id': headers['webhook-id'] ?? '',
      'webhook-timestamp': headers['webhook-timestamp'] ?? '',
      'webhook-signature': headers['webhook-signature'] ?? '',
    };
    assert.throws(() => new Webhook(SECRET).verify(Buffer.concat([BODY, Buffer.from(' ')]), wire));
    assert.throws(() => new Webhook(generateWebhookSecret()).verify(BODY, wire));
  });

  it('signs with every secret during a rotation, so old and new receivers both verify', () => {
    const headers = signedHeaders({ ...base, secrets: [SECRET, OLD_SECRET] });
    const wire = {
      'webhook-id': headers['webhook-id'] ?? '',
      'webhook-timestamp': headers['webhook-timestamp'] ?? '',
      'webhook-signature': headers['webhook-signature'] ?? '',
    };
    assert.equal(wire['webhook-signature'].split(' ').length, 2);
    assert.doesNotThrow(() => new Webhook(SECRET).verify(BODY, wire));
    assert.doesNotThrow(() => new Webhook(OLD_SECRET).verify(BODY, wire));
    // The hex header carries only the current secret's signature.
    assert.equal(headers['X-Herald-Signature'], hexSignature(SECRET, BODY));
  });

  it('carries a hex signature an independent HMAC reproduces', () => {
    const headers = signedHeaders({ ...base, secrets: ['your-secret-key'] });
    const expected = Buffer.from(
      `sha256=${createHmac('sha256', 'your-secret-key').update(BODY).digest('hex')}`,
      'utf8',
    );
    const actual = Buffer.from(headers['X-Herald-Signature'] ?? '', 'utf8');
    assert.ok(actual.length === expected.length && timingSafeEqual(actual, expected));
  });

  it('keys a secret without whsec_ by its UTF-8 bytes in the Standard Webhooks scheme', () => {
    const raw = 'your-secret-key';
    const headers = signedHeaders({ ...base, secrets: [raw] });
    const expected = createHmac('sha256', Buffer.from(raw, 'utf8'))
      .update(`${base.deliveryId}.${base.timestampSeconds}.`)
      .update(BODY)
      .digest('base64');
    assert.equal(headers['webhook-signature'], `v1,${expected}`);
    // A library verifier accepts it when given the same key bytes.
    assert.doesNotThrow(() =>
      new Webhook(Buffer.from(raw, 'utf8'), { format: 'raw' }).verify(BODY, {
        'webhook-id': headers['webhook-id'] ?? '',
        'webhook-timestamp': headers['webhook-timestamp'] ?? '',
        'webhook-signature': headers['webhook-signature'] ?? '',
      }),
    );
  });

  it('uses the configured signature header name', () => {
    const headers = signedHeaders({ ...base, signatureHeader: 'X-Platform-Signature' });
    assert.equal(headers['X-Platform-Signature'], hexSignature(SECRET, BODY));
    assert.equal(headers['X-Herald-Signature'], undefined);
  });

  it('keeps custom headers but never lets them replace Herald headers, in any spelling', () => {
    const headers = signedHeaders({
      ...base,
      customHeaders: {
        Authorization: 'Bearer abc',
        'X-Team': 'blue',
        'content-type': 'text/plain',
        'USER-AGENT': 'evil',
        'x-herald-signature': 'sha256=forged',
        'Webhook-Signature': 'v1,forged',
        'webhook-id': 'other',
        'X-HERALD-DELIVERY': 'other',
        'Content-Length': '1',
        Host: 'elsewhere.example',
      },
    });
    assert.equal(headers.Authorization, 'Bearer abc');
    assert.equal(headers['X-Team'], 'blue');
    const lower = new Map<string, string[]>();
    for (const [name, value] of Object.entries(headers)) {
      lower.set(name.toLowerCase(), [...(lower.get(name.toLowerCase()) ?? []), value]);
    }
    for (const [name, values] of lower) {
      assert.equal(values.length, 1, `${name} appears ${values.length} times`);
    }
    assert.deepEqual(lower.get('content-type'), ['application/json']);
    assert.deepEqual(lower.get('user-agent'), ['Herald-Webhook/0.1.0']);
    assert.deepEqual(lower.get('x-herald-signature'), [hexSignature(SECRET, BODY)]);
    assert.deepEqual(lower.get('x-herald-delivery'), ['dlv_01HZX']);
    assert.deepEqual(lower.get('webhook-id'), ['dlv_01HZX']);
    assert.ok(!lower.has('content-length'));
    assert.ok(!lower.has('host'));
    assert.notEqual(headers['webhook-signature'], 'v1,forged');
  });

  it('refuses to sign without a secret', () => {
    assert.throws(() => signedHeaders({ ...base, secrets: [] }), TypeError);
  });

  for (const signatureHeader of ['X-Herald-Signature', 'X-Platform-Signature']) {
    it(`sets only headers that write-time validation refuses as custom headers (signature header ${signatureHeader})`, () => {
      const names = Object.keys(signedHeaders({ ...base, signatureHeader, endpointId: 'ep_01HZX', ordering: { key: 'job:17', seq: 3 } }));
      assert.equal(names.length, HERALD_HEADERS.length + 1, 'HERALD_HEADERS lists every header the signer sets, besides the signature header');
      for (const name of names) {
        for (const spelling of [name, name.toLowerCase(), name.toUpperCase()]) {
          assert.throws(() => checkHeaders('webhook_headers', { [spelling]: 'v' }, signatureHeader), InvalidArgumentError, `${spelling} was accepted`);
        }
      }
    });
  }

  it('drops every custom header that write-time validation refuses, stored before the rule or not', () => {
    const refusedOnWrite = ['Keep-Alive', 'Upgrade', 'Content-Encoding', 'Expect', 'TE', 'Trailer', 'Proxy-Authorization', 'X-Herald-Future', 'webhook-version', 'Connection', 'Transfer-Encoding'];
    for (const name of refusedOnWrite) {
      assert.throws(() => checkHeaders('webhook_headers', { [name]: 'v' }, base.signatureHeader), InvalidArgumentError, `${name} was accepted on write`);
    }
    const headers = signedHeaders({ ...base, customHeaders: Object.fromEntries(refusedOnWrite.map((name) => [name, 'custom'])) });
    assert.deepEqual(Object.values(headers).filter((v) => v === 'custom'), []);
    for (const name of Object.keys(headers)) assert.ok(isReservedHeader(name, base.signatureHeader), `${name} is sent but not reserved`);
  });
});

describe('standardWebhookSignature input checks', () => {
  it('refuses a whsec_ secret that is not base64, without echoing it', () => {
    const bad = 'whsec_not*base64!';
    assert.throws(
      () => standardWebhookSignature([bad], 'id', 1, BODY),
      (error: unknown) => error instanceof TypeError && !error.message.includes(bad),
    );
    assert.throws(() => standardWebhookSignature(['whsec_'], 'id', 1, BODY), TypeError);
  });

  it('refuses an empty secret and a fractional timestamp', () => {
    assert.throws(() => standardWebhookSignature([''], 'id', 1, BODY), TypeError);
    assert.throws(() => hexSignature('', BODY), TypeError);
    assert.throws(() => standardWebhookSignature([SECRET], 'id', 1.5, BODY), RangeError);
  });
});

describe('generateWebhookSecret', () => {
  it('is whsec_ + base64 of 32 random bytes', () => {
    const secret = generateWebhookSecret();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.equal(Buffer.from(secret.slice('whsec_'.length), 'base64').length, 32);
  });

  it('differs every time', () => {
    const secrets = new Set(Array.from({ length: 50 }, () => generateWebhookSecret()));
    assert.equal(secrets.size, 50);
  });

  it('is accepted by the standardwebhooks library', () => {
    const secret = generateWebhookSecret();
    const timestampSeconds = Math.floor(Date.now() / 1000);
    const signature = standardWebhookSignature([secret], 'dlv_x', timestampSeconds, BODY);
    assert.doesNotThrow(() =>
      new Webhook(secret).verify(BODY, {
        'webhook-id': 'dlv_x',
        'webhook-timestamp': String(timestampSeconds),
        'webhook-signature': signature,
      }),
    );
  });
});
