/**
 * WatchDeliveries is bounded (issue #8): a child-process Herald with the
 * default cap of 100 streams, 1,000 streams attempted against it. The
 * server's memory is read from /proc, so the figure is the server's alone.
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
  const herald = await spawnHerald(t, { dir });
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
