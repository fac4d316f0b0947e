/**
 * What a client and a load balancer see during a fault: a steady stream of
 * creates (each with a client deadline, as real clients set), every answer
 * recorded with its time and status, and the health service polled; then
 * the checks every fault test makes: the statuses seen, when health
 * turned, nothing acknowledged lost, every DELIVER delivered.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import type { HeraldClient } from '../../../src/client.js';
import type { Receiver } from '../../helpers/receiver.js';

/** One create as the client saw it. Times are Date.now() ms. */
export interface CallRecord {
  readonly startedAt: number;
  readonly endedAt: number;
  /** gRPC status code; 0 is OK. */
  readonly code: number;
  readonly details: string;
  readonly notificationId: string;
  readonly deliveryId: string;
  /** The server's `grpc-retry-pushback-ms`, when it sent one. */
  readonly pushbackMs: string | null;
}

export interface Traffic {
  readonly records: CallRecord[];
  stop(): Promise<void>;
}

/**
 * Creates from `concurrency` loops at about `perSecond` in all (as fast as
 * answered when unset), over `agents` agents, until stopped. Deadlines are
 * the client's (createHeraldClient's `deadlineMs`).
 */
export function startCreates(client: HeraldClient, options: { agents: readonly string[]; concurrency?: number; perSecond?: number; content?: string }): Traffic {
  const concurrency = options.concurrency ?? 8;
  const gapMs = options.perSecond === undefined ? 0 : (concurrency * 1_000) / options.perSecond;
  const records: CallRecord[] = [];
  let stopped = false;
  let seq = 0;
  const loops = Array.from({ length: concurrency }, async () => {
    while (!stopped) {
      const n = seq++;
      const agent = options.agents[n % options.agents.length]!;
      const startedAt = Date.now();
      try {
        const res = await client.notifications.CreateNotification({ agent_id: agent, notification_type: 'fault.test', title: `n${n}`, content: options.content ?? '' });
        records.push({ startedAt, endedAt: Date.now(), code: 0, details: '', notificationId: res.notification?.id ?? '', deliveryId: res.decision?.delivery_id ?? '', pushbackMs: null });
      } catch (err) {
        const e = err as { code?: number; details?: string; metadata?: grpc.Metadata };
        const pushback = e.metadata?.get('grpc-retry-pushback-ms')[0];
        records.push({ startedAt, endedAt: Date.now(), code: e.code ?? -1, details: e.details ?? String(err), notificationId: '', deliveryId: '', pushbackMs: pushback === undefined ? null : String(pushback) });
      }
      const wait = gapMs - (Date.now() - startedAt);
      if (wait > 0) await sleep(wait);
    }
  });
  return {
    records,
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/** Counts of each status code name, for messages: `{ OK: 812, UNAVAILABLE: 40 }`. */
export function codeCounts(records: readonly CallRecord[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of records) {
    const name = grpc.status[r.code] ?? String(r.code);
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

/** Asserts every answer's code is one of `allowed` (INTERNAL never is). */
export function assertOnlyCodes(records: readonly CallRecord[], allowed: readonly grpc.status[]): void {
  const bad = records.filter((r) => !allowed.includes(r.code));
  assert.deepEqual(
    bad.slice(0, 5).map((r) => `${grpc.status[r.code] ?? r.code}: ${r.details}`),
    [],
    `${bad.length} answers outside ${allowed.map((c) => grpc.status[c]).join(', ')}; all: ${JSON.stringify(codeCounts(records))}`,
  );
}

type Check = (req: { service: string }, options: { deadline: Date }, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void) => void;

/** One health observation: SERVING, NOT_SERVING, or UNREACHABLE when the check itself failed. */
export interface HealthSample {
  readonly at: number;
  readonly status: string;
}

export interface HealthWatch {
  readonly samples: HealthSample[];
  /** The first sample at or after `since` with `status`, or null. */
  firstAfter(since: number, status: string): HealthSample | null;
  stop(): void;
}

/** Polls grpc.health.v1.Health/Check('') every `everyMs` (300 ms deadline each), as a load balancer would. */
export function watchHealth(address: string, everyMs = 100): HealthWatch {
  const definition = protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String });
  const Health = (grpc.loadPackageDefinition(definition) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } }).grpc.health.v1.Health;
  const client = new Health(address, grpc.credentials.createInsecure());
  const check = (client as unknown as { Check: Check }).Check.bind(client);
  const samples: HealthSample[] = [];
  const timer = setInterval(() => {
    const at = Date.now();
    check({ service: '' }, { deadline: new Date(at + 300) }, (err, res) => samples.push({ at, status: err ? 'UNREACHABLE' : (res?.status ?? '') }));
  }, everyMs);
  return {
    samples,
    firstAfter(since, status) {
      return [...samples].sort((a, b) => a.at - b.at).find((s) => s.at >= since && s.status === status) ?? null;
    },
    stop() {
      clearInterval(timer);
      client.close();
    },
  };
}

/** The delivery id a webhook request carries. */
function deliveryIdOf(headers: Record<string, string | string[] | undefined>): string {
  const value = headers['x-herald-delivery'];
  return (Array.isArray(value) ? value[0] : value) ?? '';
}

/**
 * Nothing acknowledged is lost and every DELIVER is delivered: every
 * acknowledged create reads back, and the receiver gets every delivery id
 * of an acknowledged create within `timeoutMs`.
 */
export async function assertAcknowledgedKept(client: HeraldClient, receiver: Receiver, records: readonly CallRecord[], timeoutMs = 60_000): Promise<{ acknowledged: number; delivered: number }> {
  const acknowledged = records.filter((r) => r.code === 0);
  for (const r of acknowledged) {
    const n = await client.notifications.GetNotification({ id: r.notificationId });
    assert.equal(n.id, r.notificationId);
  }
  const expected = new Set(acknowledged.map((r) => r.deliveryId).filter((id) => id !== ''));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const received = new Set(receiver.requests.map((req) => deliveryIdOf(req.headers)));
    const missing = [...expected].filter((id) => !received.has(id));
    if (missing.length === 0) break;
    if (Date.now() > deadline) assert.fail(`${missing.length} of ${expected.size} acknowledged deliveries never reached the receiver, e.g. ${missing.slice(0, 3).join(', ')}`);
    await sleep(200);
  }
  return { acknowledged: acknowledged.length, delivered: expected.size };
}
