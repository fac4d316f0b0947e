import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { RepeatLimiter } from '../../src/logger.js';

function capture(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

// pino writes to a Writable asynchronously; one turn of the event loop lets the lines arrive.
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('a repeated line is written once, then at most once per interval with the number left out', async () => {
  const { log, lines } = capture();
  let now = 0;
  const limiter = new RepeatLimiter(log, 60_000, () => now);
  for (let second = 0; second < 150; second++) {
    now = second * 1000;
    limiter.error({ attempt: second }, 'claiming deliveries failed');
  }
  await flush();
  assert.deepEqual(
    lines.map((l) => [l['level'], l['msg'], l['attempt'], l['repeated']]),
    [
      [50, 'claiming deliveries failed', 0, undefined],
      [50, 'claiming deliveries failed', 60, 59],
      [50, 'claiming deliveries failed', 120, 59],
    ],
  );
});

test('different messages are limited separately, and forget() lets the next occurrence through at once', async () => {
  const { log, lines } = capture();
  let now = 0;
  const limiter = new RepeatLimiter(log, 60_000, () => now);
  limiter.warn({}, 'a');
  limiter.warn({}, 'b');
  now = 1000;
  limiter.warn({}, 'a');
  limiter.forget('b');
  limiter.warn({}, 'b');
  await flush();
  assert.deepEqual(lines.map((l) => [l['level'], l['msg']]), [[40, 'a'], [40, 'b'], [40, 'b']]);
});
