import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyResult, SEND_ERROR_CLASSES, type DeliveryVerdict, type SendErrorClass, type SendResult } from '../../src/domain/delivery-outcome.js';

function response(statusCode: number, headers: Record<string, string | string[] | undefined> = {}): SendResult {
  return { kind: 'response', statusCode, headers, bodyExcerpt: '', durationMs: 12 };
}

function failure(errorClass: SendErrorClass): SendResult {
  return { kind: 'error', errorClass, message: 'boom', durationMs: 12 };
}

describe('classifyResult: responses', () => {
  const cases: { status: number; headers?: Record<string, string | string[] | undefined>; expected: DeliveryVerdict }[] = [
    { status: 200, expected: { verdict: 'success' } },
    { status: 201, expected: { verdict: 'success' } },
    { status: 202, expected: { verdict: 'success' } },
    { status: 204, expected: { verdict: 'success' } },
    { status: 299, expected: { verdict: 'success' } },
    { status: 500, expected: { verdict: 'retry' } },
    { status: 502, expected: { verdict: 'retry' } },
    { status: 504, expected: { verdict: 'retry' } },
    { status: 599, expected: { verdict: 'retry' } },
    { status: 500, headers: { 'retry-after': '30' }, expected: { verdict: 'retry' } },
    { status: 503, expected: { verdict: 'retry' } },
    { status: 503, headers: { 'retry-after': '120' }, expected: { verdict: 'retry', retryAfter: '120' } },
    { status: 408, expected: { verdict: 'retry' } },
    { status: 429, expected: { verdict: 'retry' } },
    { status: 429, headers: { 'retry-after': '7' }, expected: { verdict: 'retry', retryAfter: '7' } },
    {
      status: 429,
      headers: { 'retry-after': 'Wed, 04 Feb 2026 10:30:30 GMT' },
      expected: { verdict: 'retry', retryAfter: 'Wed, 04 Feb 2026 10:30:30 GMT' },
    },
    { status: 429, headers: { 'retry-after': ['5', '9'] }, expected: { verdict: 'retry', retryAfter: '5' } },
    { status: 410, expected: { verdict: 'gone', reason: 'HTTP 410 Gone (the receiver removed this endpoint)' } },
    { status: 400, expected: { verdict: 'fail', reason: 'HTTP 400 (not retried)' } },
    { status: 401, expected: { verdict: 'fail', reason: 'HTTP 401 (not retried)' } },
    { status: 403, expected: { verdict: 'fail', reason: 'HTTP 403 (not retried)' } },
    { status: 404, expected: { verdict: 'fail', reason: 'HTTP 404 (not retried)' } },
    { status: 413, expected: { verdict: 'fail', reason: 'HTTP 413 (not retried)' } },
    { status: 422, expected: { verdict: 'fail', reason: 'HTTP 422 (not retried)' } },
    { status: 301, expected: { verdict: 'fail', reason: 'HTTP 301 redirect (redirects are not followed)' } },
    { status: 302, expected: { verdict: 'fail', reason: 'HTTP 302 redirect (redirects are not followed)' } },
    { status: 307, expected: { verdict: 'fail', reason: 'HTTP 307 redirect (redirects are not followed)' } },
    { status: 308, expected: { verdict: 'fail', reason: 'HTTP 308 redirect (redirects are not followed)' } },
    { status: 304, expected: { verdict: 'fail', reason: 'HTTP 304 (not retried)' } },
    { status: 101, expected: { verdict: 'fail', reason: 'HTTP 101 (not retried)' } },
    { status: 600, expected: { verdict: 'fail', reason: 'HTTP 600 (unexpected status code, not retried)' } },
  ];
  for (const c of cases) {
    const label = c.headers === undefined ? `${c.status}` : `${c.status} with ${JSON.stringify(c.headers)}`;
    it(`${label} → ${c.expected.verdict}`, () => {
      assert.deepEqual(classifyResult(response(c.status, c.headers)), c.expected);
    });
  }
});

describe('classifyResult: transport errors', () => {
  const failing: ReadonlySet<SendErrorClass> = new Set(['invalid_request', 'target_refused']);
  for (const errorClass of SEND_ERROR_CLASSES.filter((c) => !failing.has(c))) {
    it(`${errorClass} → retry`, () => {
      assert.deepEqual(classifyResult(failure(errorClass)), { verdict: 'retry' });
    });
  }
  it('invalid_request (Node refused to build the request) → fail, naming what to fix', () => {
    const verdict = classifyResult(failure('invalid_request'));
    assert.equal(verdict.verdict, 'fail');
    assert.match(verdict.verdict === 'fail' ? verdict.reason : '', /webhook_headers/);
  });
  it('target_refused (the outbound guard refused the host) → fail at once with its message', () => {
    assert.deepEqual(classifyResult(failure('target_refused')), { verdict: 'fail', reason: 'not sent: boom' });
  });
});
