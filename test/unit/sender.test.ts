import assert from 'node:assert/strict';
import { getEventListeners, once } from 'node:events';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { createSecureContext } from 'node:tls';
import { pino } from 'pino';
import { classifyError, WebhookSender } from '../../src/delivery/sender.js';
import { TargetGuard, type TargetGuardOptions } from '../../src/delivery/target-guard.js';
import type { SendResult } from '../../src/domain/delivery-outcome.js';
import { selfSignedFor } from '../helpers/certificates.js';
import { refusedUrl, startReceiver, type Receiver, type ReceiverStep } from '../helpers/receiver.js';

/** The receivers listen on 127.0.0.1: a guard that allows loopback, as a development setup would. */
const USER_AGENT = 'Herald-Webhook/test';
const LOOPBACK_ALLOWED = new TargetGuard({ allowHttp: true, allowPrivate: true });

function guard(options: Partial<TargetGuardOptions> = {}): TargetGuard {
  return new TargetGuard({ allowHttp: true, allowPrivate: false, ...options });
}

const BODY = Buffer.from('{"title":"Café ☃ 🚀"}', 'utf8');
const HEADERS = { 'Content-Type': 'application/json', 'X-Herald-Delivery': 'dlv_test' };

async function setUp(t: TestContext, script: ReceiverStep[] = []): Promise<{ receiver: Receiver; sender: WebhookSender }> {
  const receiver = await startReceiver(script);
  const sender = new WebhookSender({ userAgent: USER_AGENT, guard: LOOPBACK_ALLOWED });
  t.after(async () => {
    sender.close();
    await receiver.close();
  });
  return { receiver, sender };
}

type ResponseResult = Extract<SendResult, { kind: 'response' }>;
type ErrorResult = Extract<SendResult, { kind: 'error' }>;

function asResponse(result: SendResult): ResponseResult {
  if (result.kind !== 'response') {
    assert.fail(`expected a response, got ${JSON.stringify(result)}`);
  }
  return result;
}

function asError(result: SendResult): ErrorResult {
  if (result.kind !== 'error') {
    assert.fail(`expected an error, got HTTP ${result.statusCode}`);
  }
  return result;
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    assert.ok(Date.now() < deadline, `condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('WebhookSender', () => {
  it('returns a 200 response with its body excerpt and sends the body byte for byte', async (t) => {
    const { receiver, sender } = await setUp(t, [{ status: 200, headers: { 'x-answer': 'yes' }, body: 'accepted ✓' }]);
    const result = asResponse(await sender.send({ url: `${receiver.url}hooks?a=1`, body: BODY, headers: HEADERS, timeoutMs: 5000 }));
    assert.equal(result.statusCode, 200);
    assert.equal(result.bodyExcerpt, 'accepted ✓');
    assert.equal(result.headers['x-answer'], 'yes');
    assert.ok(result.durationMs > 0 && result.durationMs < 5000);

    assert.equal(receiver.requests.length, 1);
    const [request] = receiver.requests;
    assert.ok(request);
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/hooks?a=1');
    assert.ok(request.body.equals(BODY), 'body bytes differ');
    assert.equal(request.headers['content-length'], String(BODY.length));
    assert.equal(request.headers['content-type'], 'application/json');
    assert.equal(request.headers['x-herald-delivery'], 'dlv_test');
    assert.equal(request.headers['user-agent'], 'Herald-Webhook/test');
    // No compression is asked for, so excerpts stay readable.
    assert.equal(request.headers['accept-encoding'], undefined);
  });

  it('lets a request header override the default User-Agent', async (t) => {
    const { receiver, sender } = await setUp(t);
    await sender.send({ url: receiver.url, body: BODY, headers: { ...HEADERS, 'User-Agent': 'Herald-Webhook/9.9' }, timeoutMs: 5000 });
    assert.equal(receiver.requests[0]?.headers['user-agent'], 'Herald-Webhook/9.9');
  });

  it('returns a 500 response without throwing', async (t) => {
    const { receiver, sender } = await setUp(t, [{ status: 500, body: 'database down' }]);
    const result = asResponse(await sender.send({ url: receiver.url, body: BODY, headers: HEADERS, timeoutMs: 5000 }));
    assert.equal(result.statusCode, 500);
    assert.equal(result.bodyExcerpt, 'database down');
    assert.equal(receiver.requests.length, 1, 'got must not retry');
  });

  it('exposes Retry-After on a 429', async (t) => {
    const { receiver, sender } = await setUp(t, [{ status: 429, headers: { 'Retry-After': '17' }, body: 'slow down' }]);
    const result = asResponse(await sender.send({ url: receiver.url, body: BODY, headers: HEADERS, timeoutMs: 5000 }));
    assert.equal(result.statusCode, 429);
    assert.equal(result.headers['retry-after'], '17');
    assert.equal(receiver.requests.length, 1, 'got must not retry, even with Retry-After');
  });

  it('does not follow a redirect', async (t) => {
    const { receiver, sender } = await setUp(t, [{ status: 301, headers: { Location: '/elsewhere' }, body: 'moved' }]);
    const result = asResponse(await sender.send({ url: receiver.url, body: BODY, headers: HEADERS, timeoutMs: 5000 }));
    assert.equal(result.statusCode, 301);
    assert.equal(result.headers.location, '/elsewhere');
    // Give a followed redirect time to arrive before concluding it did not.
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(receiver.requests.length, 1);
  });

  it('gives up on a hanging receiver after about timeoutMs (unreachable: the address is loopback)', async (t) => {
    const { receiver, sender } = await setUp(t, [{ hang: true }]);
    const result = asError(await sender.send({ url: receiver.url, body: BODY, headers: HEADERS, timeoutMs: 300 }));
    assert.equal(result.errorClass, 'unreachable');
    assert.ok(result.durationMs >= 280 && result.durationMs < 1500, `took ${result.durationMs} ms`);
    assert.equal(receiver.requests.length, 1);
  });

  it('times out a receiver that sends headers and then stalls, keeping the status', async (t) => {
    const { receiver, sender } = await setUp(t);
    // A response whose declared length is never delivered.
    receiver.setScript([{ status: 200, headers: { 'content-length': '100' }, body: 'partial' }]);
    const result = asResponse(await sender.send({ url: receiver.url, body: BODY, headers: HEADERS, timeoutMs: 300 }));
    assert.equal(result.statusCode, 200);
    assert.equal(result.bodyExcerpt, 'partial');
  });

  it('reports a refused connection to an allowed loopback address as unreachable, without address or port', async (t) => {
    const sender = new WebhookSender({ userAgent: USER_AGENT, guard: LOOPBACK_ALLOWED });
    t.after(() => sender.close());
    const url = await refusedUrl();
    const result = asError(await sender.send({ url, body: BODY, headers: HEADERS, timeoutMs: 2000 }));
    assert.equal(result.errorClass, 'unreachable');
    assert.equal(result.message, 'could not reach host "127.0.0.1": the name did not resolve or the connection failed');
    assert.doesNotMatch(result.message, new RegExp(`ECONNREFUSED|:${new URL(url).port}`));
  });

  it('reports a reset connection to an allowed loopback address as unreachable', async (t) => {
    const { receiver, sender } = await setUp(t, [{ destroy: true }]);
    const result = asError(await sender.send({ url: receiver.url, body: BODY, headers: HEADERS, timeoutMs: 5000 }));
    assert.equal(result.errorClass, 'unreachable');
    assert.equal(receiver.requests.length, 1);
  });

  it('reads at most 4096 bytes of a 5 MB body', async (t) => {
    const big = Buffer.alloc(5 * 1024 * 1024, 'a');
    const { receiver, sender } = await setUp(t, [{ status: 200, body: big }]);
    const result = asResponse(await sender.send({ url: receiver.url, body: BODY, headers: HEADERS, timeoutMs: 5000 }));
    assert.equal(result.statusCode, 200);
    assert.equal(result.bodyExcerpt, 'a'.repeat(4096));
    // Reading stopped and the connection was dropped; a fully read response would have left
    // it open in the keep-alive pool.
    await waitUntil(() => receiver.openConnections() === 0, 2000);
  });

  it('never splits a multi-byte character at the limit', async (t) => {
    const receiver = await startReceiver([{ status: 200, body: 'ab☃☃☃' }]);
    const sender = new WebhookSender({ userAgent: USER_AGENT, maxResponseBytes: 4, guard: LOOPBACK_ALLOWED });
    t.after(async () => {
      sender.close();
      await receiver.close();
    });
    const result = asResponse(await sender.send({ url: receiver.url, body: BODY, headers: HEADERS, timeoutMs: 5000 }));
    // 'ab' + the first 2 of the snowman's 3 bytes: the partial character is dropped.
    assert.equal(result.bodyExcerpt, 'ab');
  });

  it('reports an abort through the AbortSignal', async (t) => {
    const { receiver, sender } = await setUp(t, [{ hang: true }]);
    const controller = new AbortController();
    const sending = sender.send({ url: receiver.url, body: BODY, headers: HEADERS, timeoutMs: 5000, signal: controller.signal });
    await receiver.waitForRequests(1, 2000);
    controller.abort();
    const result = asError(await sending);
    assert.equal(result.errorClass, 'aborted');
    assert.ok(result.durationMs < 2000);
  });

  it('does not send at all when the signal is already aborted', async (t) => {
    const { receiver, sender } = await setUp(t);
    const result = asError(
      await sender.send({ url: receiver.url, body: BODY, headers: HEADERS, timeoutMs: 5000, signal: AbortSignal.abort() }),
    );
    assert.equal(result.errorClass, 'aborted');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(receiver.requests.length, 0);
  });

  it('reuses a kept-alive connection and leaves no listener on a shared signal', async (t) => {
    const { receiver, sender } = await setUp(t);
    const controller = new AbortController();
    for (let i = 0; i < 20; i++) {
      const result = asResponse(
        await sender.send({ url: receiver.url, body: BODY, headers: HEADERS, timeoutMs: 5000, signal: controller.signal }),
      );
      assert.equal(result.statusCode, 200);
    }
    assert.equal(receiver.requests.length, 20);
    const ports = new Set(receiver.requests.map((r) => r.remotePort));
    assert.equal(ports.size, 1, 'sequential sends should share one kept-alive connection');
    assert.equal(receiver.openConnections(), 1);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  });

  it('reports an unparsable URL as an invalid request (not retried) instead of throwing', async (t) => {
    const sender = new WebhookSender({ userAgent: USER_AGENT, guard: LOOPBACK_ALLOWED });
    t.after(() => sender.close());
    const result = asError(await sender.send({ url: 'not a url', body: BODY, headers: HEADERS, timeoutMs: 1000 }));
    assert.equal(result.errorClass, 'invalid_request');
  });

  it('reports a header value Node refuses to send (beyond Latin-1) as an invalid request', async (t) => {
    const receiver = await startReceiver();
    t.after(() => receiver.close());
    const sender = new WebhookSender({ userAgent: USER_AGENT, guard: LOOPBACK_ALLOWED });
    t.after(() => sender.close());
    const result = asError(await sender.send({ url: receiver.url, body: BODY, headers: { ...HEADERS, 'x-team': 'Zürich €' }, timeoutMs: 1000 }));
    assert.equal(result.errorClass, 'invalid_request');
    assert.equal(receiver.requests.length, 0);
  });
});

/** A resolver for made-up names, as tests inject it; unknown names do not resolve. */
function names(table: Record<string, string[] | (() => string[])>): (hostname: string) => Promise<{ address: string; family: number }[]> {
  return async (hostname) => {
    const entry = table[hostname];
    const addresses = typeof entry === 'function' ? entry() : entry;
    if (addresses === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
}

function senderWith(t: TestContext, options: Partial<TargetGuardOptions>, log?: pino.Logger): WebhookSender {
  const sender = new WebhookSender({ userAgent: USER_AGENT, guard: guard(options), ...(log ? { log } : {}) });
  t.after(() => sender.close());
  return sender;
}

function at(receiver: Receiver, host: string): string {
  const url = new URL(receiver.url);
  url.hostname = host;
  return url.href;
}

describe('WebhookSender with the outbound guard', () => {
  it('never connects to a name that resolves to loopback: target_refused naming the host, not the address', async (t) => {
    const receiver = await startReceiver();
    t.after(() => receiver.close());
    const sender = senderWith(t, { lookup: names({ 'internal-svc.test': ['127.0.0.1'] }) });
    const result = asError(await sender.send({ url: `${at(receiver, 'internal-svc.test')}admin`, body: BODY, headers: HEADERS, timeoutMs: 2000 }));
    assert.equal(result.errorClass, 'target_refused');
    assert.match(result.message, /"internal-svc\.test"/);
    assert.doesNotMatch(result.message, new RegExp(`127\\.0\\.0\\.1|${new URL(receiver.url).port}`));
    assert.equal(receiver.requests.length, 0);
    assert.equal(receiver.openConnections(), 0);
  });

  it('refuses a literal loopback address and an IPv4-mapped one', async (t) => {
    const receiver = await startReceiver();
    t.after(() => receiver.close());
    const sender = senderWith(t, {});
    for (const host of ['127.0.0.1', '[::ffff:127.0.0.1]', '[::1]']) {
      const result = asError(await sender.send({ url: at(receiver, host), body: BODY, headers: HEADERS, timeoutMs: 2000 }));
      assert.equal(result.errorClass, 'target_refused', host);
    }
    assert.equal(receiver.requests.length, 0);
  });

  it('refuses a name when any of its addresses is refused, even if a public one comes first', async (t) => {
    const receiver = await startReceiver();
    t.after(() => receiver.close());
    const sender = senderWith(t, { lookup: names({ 'mixed.test': ['93.184.215.14', '127.0.0.1'] }) });
    const result = asError(await sender.send({ url: at(receiver, 'mixed.test'), body: BODY, headers: HEADERS, timeoutMs: 2000 }));
    assert.equal(result.errorClass, 'target_refused');
    assert.equal(receiver.requests.length, 0);
  });

  it('lets HERALD_ALLOWED_TARGET_CIDRS through without allowing all private ranges', async (t) => {
    const receiver = await startReceiver();
    t.after(() => receiver.close());
    const sender = senderWith(t, { allowedCidrs: ['127.0.0.0/8'], lookup: names({ 'internal-svc.test': ['127.0.0.1'], 'office.test': ['10.1.2.3'] }) });
    assert.equal(asResponse(await sender.send({ url: at(receiver, 'internal-svc.test'), body: BODY, headers: HEADERS, timeoutMs: 2000 })).statusCode, 200);
    assert.equal(asError(await sender.send({ url: at(receiver, 'office.test'), body: BODY, headers: HEADERS, timeoutMs: 2000 })).errorClass, 'target_refused');
    assert.equal(receiver.requests.length, 1);
  });

  it('resolves once per attempt and connects to that answer, not to a later one (rebinding)', async (t) => {
    const receiver = await startReceiver();
    t.after(() => receiver.close());
    // First answer: the receiver's address. Any later answer: another loopback address where
    // nothing listens, so a second resolution at connect time would fail the request.
    let calls = 0;
    const sender = senderWith(t, {
      allowedCidrs: ['127.0.0.0/8'],
      lookup: names({ 'rebind.test': () => (++calls === 1 ? ['127.0.0.1'] : ['127.0.0.2']) }),
    });
    const result = asResponse(await sender.send({ url: at(receiver, 'rebind.test'), body: BODY, headers: HEADERS, timeoutMs: 2000 }));
    assert.equal(result.statusCode, 200);
    assert.equal(calls, 1);
    assert.equal(receiver.requests.length, 1);
  });

  it('checks every attempt again: a name that now resolves to a refused address is refused on the kept-alive connection too', async (t) => {
    const receiver = await startReceiver();
    t.after(() => receiver.close());
    let target = '127.0.0.1';
    const sender = senderWith(t, { allowedCidrs: ['127.0.0.1/32'], lookup: names({ 'flip.test': () => [target] }) });
    assert.equal(asResponse(await sender.send({ url: at(receiver, 'flip.test'), body: BODY, headers: HEADERS, timeoutMs: 2000 })).statusCode, 200);
    target = '127.0.0.2';
    assert.equal(asError(await sender.send({ url: at(receiver, 'flip.test'), body: BODY, headers: HEADERS, timeoutMs: 2000 })).errorClass, 'target_refused');
    assert.equal(receiver.requests.length, 1);
  });

  it('gives an unresolvable name and a refused connection to an allowed private address the same class and message', async (t) => {
    const url = await refusedUrl();
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const sender = senderWith(t, { allowPrivate: true, lookup: names({ 'closed.test': ['127.0.0.1'] }) }, log);
    const closed = asError(await sender.send({ url: url.replace('127.0.0.1', 'closed.test'), body: BODY, headers: HEADERS, timeoutMs: 2000 }));
    const missing = asError(await sender.send({ url: url.replace('127.0.0.1', 'missing.test'), body: BODY, headers: HEADERS, timeoutMs: 2000 }));
    assert.equal(closed.errorClass, 'unreachable');
    assert.equal(missing.errorClass, 'unreachable');
    assert.equal(closed.message.replace('closed.test', 'X'), missing.message.replace('missing.test', 'X'));
    // The operator's log keeps what the attempt record does not show.
    const detail = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((l) => l.host === 'closed.test');
    assert.equal(detail?.code, 'ECONNREFUSED');
    assert.deepEqual(detail?.addresses, ['127.0.0.1']);
    assert.equal(detail?.deliveryId, undefined, 'HEADERS carry no webhook-id');
  });

  it('keeps the host name for TLS (SNI) while connecting to the pinned address', async (t) => {
    const { certPem, keyPem } = selfSignedFor('receiver.test');
    const context = createSecureContext({ key: keyPem, cert: certPem });
    const serverNames: string[] = [];
    const server = https.createServer({ SNICallback: (name, done) => { serverNames.push(name); done(null, context); } }, (_req, res) => res.end('ok'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const sender = senderWith(t, { allowPrivate: true, lookup: names({ 'receiver.test': ['127.0.0.1'] }) }, log);
    const { port } = server.address() as AddressInfo;
    const result = asError(await sender.send({ url: `https://receiver.test:${port}/`, body: BODY, headers: HEADERS, timeoutMs: 5000 }));
    assert.deepEqual(serverNames, ['receiver.test']);
    // The self-signed certificate is not trusted; to the caller that is one more private-address failure.
    assert.equal(result.errorClass, 'unreachable');
    const detail = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((l) => l.host === 'receiver.test');
    assert.equal(detail?.errorClass, 'tls');
  });

  it('refuses http:// when the guard does not allow it (a URL stored while it was allowed)', async (t) => {
    const receiver = await startReceiver();
    t.after(() => receiver.close());
    const sender = senderWith(t, { allowHttp: false, allowPrivate: true });
    const result = asError(await sender.send({ url: receiver.url, body: BODY, headers: HEADERS, timeoutMs: 2000 }));
    assert.equal(result.errorClass, 'target_refused');
    assert.match(result.message, /HERALD_ALLOW_HTTP_TARGETS/);
    assert.equal(receiver.requests.length, 0);
  });
});

describe('classifyError (transport errors from public addresses)', () => {
  const cases: Array<[name: string, code: string | undefined, message: string, expected: string]> = [
    ['TimeoutError', 'ETIMEDOUT', 'Timeout awaiting request for 300ms', 'timeout'],
    ['RequestError', 'ESOCKETTIMEDOUT', '', 'timeout'],
    ['RequestError', 'ECONNREFUSED', 'connect ECONNREFUSED 203.0.113.9:443', 'connection_refused'],
    ['RequestError', 'ECONNRESET', 'read ECONNRESET', 'connection_reset'],
    ['RequestError', 'EPIPE', 'write EPIPE', 'connection_reset'],
    ['RequestError', undefined, 'socket hang up', 'connection_reset'],
    ['RequestError', 'ENOTFOUND', 'getaddrinfo ENOTFOUND x', 'unreachable'],
    ['RequestError', 'EAI_AGAIN', 'getaddrinfo EAI_AGAIN x', 'unreachable'],
    ['RequestError', 'CERT_HAS_EXPIRED', 'certificate has expired', 'tls'],
    ['RequestError', 'ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames", 'tls'],
    ['RequestError', 'ERR_INVALID_CHAR', 'Invalid character in header content', 'invalid_request'],
    ['AbortError', 'ERR_ABORTED', 'This operation was aborted', 'aborted'],
    ['RequestError', 'EHOSTUNREACH', 'connect EHOSTUNREACH 203.0.113.9:443', 'network'],
  ];
  for (const [name, code, message, expected] of cases) {
    it(`${name}/${code ?? 'no code'} → ${expected}`, () => {
      assert.equal(classifyError(name, code, message), expected);
    });
  }
});
