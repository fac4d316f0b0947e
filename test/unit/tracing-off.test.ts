import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startAttemptSpan, startRpcSpan, startTracing, stopTracing, type TracedCall } from '../../src/telemetry/tracing.js';
import { createLogger } from '../../src/logger.js';

// With tracing off, the calls the gRPC adapter and the dispatcher make on every
// call and send must return at once: no span, and not even a look at the call
// (reading metadata allocates). A call that throws on any property access
// stands for "must not be touched".
const untouchable = new Proxy({} as TracedCall, {
  get(_target, key) {
    throw new Error(`the call's ${String(key)} was read while tracing is off`);
  },
});

test('with tracing off, startRpcSpan and startAttemptSpan return null without reading the call', async () => {
  await startTracing(null, createLogger('silent'), '0.0.0');
  assert.equal(startRpcSpan(untouchable), null);
  assert.equal(startAttemptSpan('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'https://example.com/hook', 'dlv_1', 1), null);
  await stopTracing();
});
