/**
 * The load generator process (bench/child.ts, role `load`): one kind of call
 * against one server, driven by the parent over IPC, so that generating the
 * load never competes with the server for its event loop.
 */
import { createHeraldClient, type HeraldClient } from '../src/client.js';
import { echoCaller, postCaller, type Caller } from './ceilings.js';
import { agentId, notificationRequest } from './herald.js';
import { closedLoop, epochMs, forCount, openLoopSchedule } from './load.js';
import type { ChildReply, ChildRequest } from './processes.js';

/**
 * What one generator calls. Agents are `${prefix}-${i}`, i < agents, taken in
 * turn. Herald calls act on `tenant` (sent as x-herald-tenant; default: the
 * default tenant). A create load with `refused: 'wait-hint'` takes
 * RESOURCE_EXHAUSTED from the per-tenant admission as part of the load (a
 * flooding tenant's excess): it waits the server's grpc-retry-pushback-ms,
 * as a grpc client with a retry policy does, and counts the refusal as a
 * call; any other failure still fails the measurement.
 */
export type LoadSpec = { readonly concurrency: number } & (
  | { readonly kind: 'echo'; readonly address: string }
  | { readonly kind: 'post'; readonly url: string; readonly body: string }
  | { readonly kind: 'get'; readonly address: string; readonly prefix: string; readonly agents: number; readonly tenant?: string }
  | {
      readonly kind: 'create';
      readonly address: string;
      readonly prefix: string;
      readonly agents: number;
      readonly outcome: string;
      readonly seqStart: number;
      readonly tenant?: string;
      readonly refused?: 'wait-hint';
    }
);

/** gRPC RESOURCE_EXHAUSTED. */
const RESOURCE_EXHAUSTED = 8;

function heraldCaller(client: HeraldClient, spec: LoadSpec): Caller & { create?: () => Promise<string> } {
  let turn = 0;
  const nextAgent = (prefix: string, agents: number): string => agentId(prefix, turn++ % agents);
  if (spec.kind === 'get') {
    return {
      async call() {
        const id = nextAgent(spec.prefix, spec.agents);
        const prefs = await client.preferences.GetPreferences({ agent_id: id });
        if (prefs.agent_id !== id) throw new Error('GetPreferences answered for another agent');
      },
      close: async () => client.close(),
    };
  }
  if (spec.kind !== 'create') throw new Error(`not a Herald load: ${spec.kind}`);
  let seq = spec.seqStart;
  const create = async (): Promise<string> => {
    const r = await client.notifications.CreateNotification(notificationRequest(nextAgent(spec.prefix, spec.agents), seq++));
    if (r.decision?.outcome !== spec.outcome) throw new Error(`expected decision ${spec.outcome}, got ${r.decision?.outcome ?? 'none'}`);
    return r.decision.delivery_id ?? '';
  };
  const call = async (): Promise<void> => {
    try {
      await create();
    } catch (err) {
      const e = err as { code?: number; metadata?: { get(key: string): unknown[] } };
      if (spec.refused !== 'wait-hint' || e.code !== RESOURCE_EXHAUSTED) throw err;
      const hintMs = Number(e.metadata?.get('grpc-retry-pushback-ms')[0] ?? 0);
      if (hintMs > 0) await new Promise((resolve) => setTimeout(resolve, hintMs));
    }
  };
  return { call, create, close: async () => client.close() };
}

/**
 * Fires `call` at the offsets of `schedule` (ms from now) without waiting
 * for earlier calls: an open loop, so a slow server meets the same offered
 * load instead of a politely slower one. Each call's start is its *intended*
 * time, so time lost to a late start counts as latency.
 */
async function openLoop(create: () => Promise<string>, schedule: readonly number[]): Promise<{ started: Array<[string, number]>; late: number }> {
  const t0 = performance.now();
  const origin = epochMs();
  const started: Array<[string, number]> = [];
  const calls: Array<Promise<void>> = [];
  let late = 0;
  for (const offset of schedule) {
    const wait = t0 + offset - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    else if (wait < -5) late += 1;
    calls.push(create().then((id) => void started.push([id, origin + offset])));
  }
  await Promise.all(calls);
  return { started, late };
}

export async function startLoadGenerator(spec: LoadSpec): Promise<{ handle(r: ChildRequest): Promise<ChildReply>; close(): Promise<void> }> {
  const caller: Caller & { create?: () => Promise<string> } =
    spec.kind === 'echo' ? echoCaller(spec.address)
    : spec.kind === 'post' ? postCaller(spec.url, Buffer.from(spec.body, 'utf8'))
    : heraldCaller(createHeraldClient(spec.address, spec.tenant === undefined ? {} : { tenant: spec.tenant }), spec);
  return {
    async handle(r) {
      switch (r.type) {
        case 'closed': {
          const sample = await closedLoop(() => caller.call(), spec.concurrency, r.durationMs);
          return { type: 'closed', calls: sample.calls, seconds: sample.seconds };
        }
        case 'count': {
          const started = performance.now();
          const cpu = process.cpuUsage();
          await forCount(() => caller.call(), spec.concurrency, r.total);
          const used = process.cpuUsage(cpu);
          return { type: 'count', seconds: (performance.now() - started) / 1000, cpuMs: (used.user + used.system) / 1000 };
        }
        case 'latencies': {
          // One call at a time for durationMs: each call's own latency, never queued behind this generator's others.
          const ms: number[] = [];
          const end = performance.now() + r.durationMs;
          while (performance.now() < end) {
            const started = performance.now();
            await caller.call();
            ms.push(performance.now() - started);
          }
          return { type: 'latencies', ms };
        }
        case 'open': {
          if (caller.create === undefined) throw new Error('an open loop needs a create load');
          return { type: 'open', ...(await openLoop(caller.create, openLoopSchedule(r.ratePerSecond, r.durationMs))) };
        }
        default:
          throw new Error(`unexpected request ${r.type}`);
      }
    },
    close: () => caller.close(),
  };
}
