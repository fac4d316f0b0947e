import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it, type TestContext } from 'node:test';
import { WebhookSender } from '../../src/delivery/sender.js';
import type { SendResult } from '../../src/domain/delivery-outcome.js';
import { refusedUrl, startReceiver, type Receiver, type ReceiverStep } from '../helpers/receiver.js';

const BODY = Buffer.from('{"title":"Café ☃ 🚀"}', 'utf8');
const HEADERS = { 'Content-Type': 'application/json', 'X-Herald-Delivery': 'dlv_test' };

async function setUp(t: TestContext, script: ReceiverStep[] = []): Promise<{ receiver: Receiver; sender: WebhookSender }> {
  const receiver = await startReceiver(script);
  const sender = new WebhookSender({ userAgent: 'Herald-Webhook/test' });
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

  it('times out a hanging receiver after about timeoutMs', async (t) => {
    const { receiver, sender } = await setUp(t, [{ hang: true }]);
    const result = asError(await sender.send({ url: receiver.url, body: BODY, headers: HEADERS, timeoutMs: 300 }));
    assert.equal(result.errorClass, 'timeout');
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

  it('reports a refused connection', async (t) => {
    const sender = new WebhookSender();
    t.after(() => sender.close());
    const result = asError(await sender.send({ url: await refusedUrl(), body: BODY, headers: HEADERS, timeoutMs: 2000 }));
    assert.equal(result.errorClass, 'connection_refused');
    assert.match(result.message, /ECONNREFUSED/);
  });

  it('reports a reset connection', async (t) => {
    const { receiver, sender } = await setUp(t, [{ destroy: true }]);
    const result = asError(await sender.send({ url: receiver.url, body: BODY, headers: HEADERS, timeoutMs: 5000 }));
    assert.equal(result.errorClass, 'connection_reset');
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
    const sender = new WebhookSender({ maxResponseBytes: 4 });
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
    const sender = new WebhookSender();
    t.after(() => sender.close());
    const result = asError(await sender.send({ url: 'not a url', body: BODY, headers: HEADERS, timeoutMs: 1000 }));
    assert.equal(result.errorClass, 'invalid_request');
  });

  it('reports a header value Node refuses to send (beyond Latin-1) as an invalid request', async (t) => {
    const receiver = await startReceiver();
    t.after(() => receiver.close());
    const sender = new WebhookSender();
    t.after(() => sender.close());
    const result = asError(await sender.send({ url: receiver.url, body: BODY, headers: { ...HEADERS, 'x-team': 'Zürich €' }, timeoutMs: 1000 }));
    assert.equal(result.errorClass, 'invalid_request');
    assert.equal(receiver.requests.length, 0);
  });
});
