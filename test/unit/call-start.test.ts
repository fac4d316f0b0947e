import assert from 'node:assert/strict';
import { test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { TokenRegistry } from '../../src/auth/tokens.js';
import { toStatus } from '../../src/grpc/status.js';
import { TenantAdmission } from '../../src/grpc/tenant-admission.js';
import { throwIfNotStartable, type CallContext } from '../../src/grpc/unary.js';
import { createLogger } from '../../src/logger.js';

const log = createLogger('silent');

function context(overrides: Partial<{ accepting: boolean; answering: boolean }> = {}): CallContext {
  return {
    log,
    tokens: new TokenRegistry([], false),
    accepting: () => overrides.accepting ?? true,
    databaseAnswering: () => overrides.answering ?? true,
    admission: new TenantAdmission(10),
  };
}

function codeOf(fn: () => void): number | null {
  try {
    fn();
    return null;
  } catch (err) {
    return toStatus(err, log, 'CreateNotification').code;
  }
}

test('a call whose deadline has passed is not started: DEADLINE_EXCEEDED', () => {
  assert.equal(codeOf(() => throwIfNotStartable(context(), 'CreateNotification', new Date(Date.now() - 1))), status.DEADLINE_EXCEEDED);
  assert.equal(codeOf(() => throwIfNotStartable(context(), 'CreateNotification', Date.now() - 1)), status.DEADLINE_EXCEEDED);
});

test('a call with time left, or no deadline, starts', () => {
  assert.equal(codeOf(() => throwIfNotStartable(context(), 'CreateNotification', new Date(Date.now() + 5_000))), null);
  assert.equal(codeOf(() => throwIfNotStartable(context(), 'CreateNotification', Infinity)), null);
});

test('while the database does not answer, or the server stops, calls are refused at once with UNAVAILABLE', () => {
  assert.equal(codeOf(() => throwIfNotStartable(context({ answering: false }), 'CreateNotification', Infinity)), status.UNAVAILABLE);
  assert.equal(codeOf(() => throwIfNotStartable(context({ accepting: false }), 'CreateNotification', Infinity)), status.UNAVAILABLE);
});
