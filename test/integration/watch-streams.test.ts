/**
 * WatchDeliveries is bounded (issue #8): a child-process Herald with the
 * default cap of 100 streams, 1,000 streams attempted against it (the
 * server's memory is read from /proc, so the figure is the server's alone),
 * and a client that stops reading is cut off by the byte bound.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { createHeraldClient } from '../../src/client.js';
import type { DeliveryEvent__Output } from '../../src/generated/proto/herald/v1/DeliveryEvent.js';
import { eventually, spawnHerald, tempDir } from '../helpers/child-herald.js';
import { startHerald } from '../helpers/herald.js';
import { startReceiver } from '../helpers/receiver.js';

const ATTEMPTED = 1_000;
const CAP = 100;
const CLIENTS = 4;

/** Resident memory of a process, MB, from /proc/<pid>/status. */
function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  const kb = Number(/(\d+)/.exec(line ?? '')?.[1]);
  assert.ok(Number.isFinite(kb), `no VmRSS in /proc/${pid}/status`);
  return kb / 1024;
}

type Check = (req: { service: string }, options: { deadline: Date }, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void) => void;

function healthCheck(address: string, deadlineMs: number): Promise<string> {
  const definition = protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String });
  const Health = (grpc.loadPackageDefinition(definition) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } }).grpc.health.v1.Health;
  const client = new Health(address, grpc.credentials.createInsecure());
  const check = (client as unknown as { Check: Check }).Check.bind(client);
  return new Promise<string>((resolve, reject) => {
    check({ service: '' }, { deadline: new Date(Date.now() + deadlineMs) }, (err, res) => (err ? reject(err) : resolve(res?.status ?? '')));
  }).finally(() => client.close());
}

test(`${ATTEMPTED} WatchDeliveries streams: ${CAP} are served, the rest get RESOURCE_EXHAUSTED, and the server stays healthy and small`, async (t) => {
  const dir = tempDir(t);
  // One tenant opens them all: its own cap (HERALD_WATCH_MAX_STREAMS_PER_TENANT, test/faults/tenants.test.ts) is raised to the process's.
  const herald = await spawnHerald(t, { dir, env: { HERALD_WATCH_MAX_STREAMS_PER_TENANT: String(CAP) } });
  const pid = herald.proc.pid!;
  const receiver = await startReceiver();
  t.after(() => receiver.close());
  const agent = `watch-cap-${process.pid}`;
  await herald.client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true, webhook_url: receiver.url } });
  const before = rssMb(pid);

  // Several connections, as many clients would open.
  const clients = Array.from({ length: CLIENTS }, () => createHeraldClient(herald.address));
  t.after(() => clients.forEach((c) => c.close()));
  const served = new Set<number>();
  const refused: string[] = [];
  const other: string[] = [];
  const streams = Array.from({ length: ATTEMPTED }, (_, i) => {
    const stream = clients[i % CLIENTS]!.deliveries.WatchDeliveries({ agent_id: '' });
    stream.on('data', (_e: DeliveryEvent__Output) => served.add(i));
    stream.on('error', (err: grpc.ServiceError) => {
      if (err.code === grpc.status.RESOURCE_EXHAUSTED) refused.push(err.details);
      else if (err.code !== grpc.status.CANCELLED) other.push(`${err.code} ${err.details}`);
    });
    return stream;
  });
  t.after(() => streams.forEach((s) => s.cancel()));

  await eventually(`${ATTEMPTED - CAP} refusals`, () => (refused.length >= ATTEMPTED - CAP ? true : undefined), 60_000);
  // Events reach every stream that was let in, and only those.
  await eventually(`events on ${CAP} streams`, async () => {
    await herald.client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.completed', title: 'Tick' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    return served.size >= CAP ? true : undefined;
  }, 60_000);

  assert.equal(served.size, CAP);
  assert.equal(refused.length, ATTEMPTED - CAP);
  assert.deepEqual(other, []);
  assert.match(refused[0] ?? '', /already has 100 WatchDeliveries streams open \(HERALD_WATCH_MAX_STREAMS\)/);
  // The bound: health answers within a second, the process stays under 300 MB.
  assert.equal(await healthCheck(herald.address, 1_000), 'SERVING');
  const after = rssMb(pid);
  t.diagnostic(`server RSS ${before.toFixed(0)} MB before the streams, ${after.toFixed(0)} MB with ${CAP} open and ${ATTEMPTED - CAP} refused`);
  assert.ok(after < 300, `server RSS ${after.toFixed(0)} MB (was ${before.toFixed(0)} MB before the streams)`);
});

test('a WatchDeliveries client that stops reading is cut off with RESOURCE_EXHAUSTED once 512 KiB behind, before 1,000 events', async (t) => {
  const { client } = await startHerald(t);
  // 4 KB response excerpts make each SUCCEEDED event about 4 KB: the byte bound comes first.
  const receiver = await startReceiver([], { fallback: { status: 200, body: 'x'.repeat(4096) } });
  t.after(() => receiver.close());
  const agent = `watch-slow-${process.pid}`;
  await client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true, webhook_url: receiver.url } });
  const stream = client.deliveries.WatchDeliveries({ agent_id: agent });
  let received = 0;
  stream.on('data', () => {
    received += 1;
  });
  const ended = new Promise<grpc.ServiceError | null>((resolve) => {
    stream.on('error', (err: grpc.ServiceError) => resolve(err));
    stream.on('end', () => resolve(null));
  });
  t.after(() => stream.cancel());
  await eventually('the stream to be live', async () => {
    await client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.completed', title: 'Probe' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    return received > 0 ? true : undefined;
  });
  stream.pause();
  const notifications = 300;
  for (let i = 0; i < notifications; i++) await client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.completed', title: `N${i}` });
  await receiver.waitForRequests(notifications, 60_000);
  stream.resume();
  let timer: NodeJS.Timeout | undefined;
  const never = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the stream was not cut off (${received} events read)`)), 30_000);
  });
  const err = await Promise.race([ended, never]).finally(() => clearTimeout(timer));
  assert.equal(err?.code, grpc.status.RESOURCE_EXHAUSTED, `the stream ended with ${err?.code} ${err?.details}`);
  assert.match(err?.details ?? '', /fell too far behind .*KiB unread; limits 1000 events, 512 KiB/);
  assert.ok(received < 2 * notifications, `the stream was cut short (${received} of about ${2 * notifications} events)`);
});
