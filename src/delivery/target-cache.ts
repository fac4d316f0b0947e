/**
 * The dispatcher's cache of where each agent's webhooks go (URL, opened
 * secrets and headers, on/off), per (tenant, agent): the worker reads the
 * targets of a claimed batch in one statement instead of one row per send.
 *
 * Freshness is a rule, not a time-to-live: an attempt uses an entry only if
 * it was read at or after the attempt's delivery was claimed (`notBeforeMs`),
 * so a preferences write acknowledged before the claim, by this or any other
 * replica, is always seen, exactly as when every send read its row. On top,
 * every write drops the agent (the change feed's `targetChanged`, published
 * after the writing transaction commits, here and, through NOTIFY, in other
 * replicas), and a read that raced a write is not stored (the generation
 * check), which narrows the gap between the claim and the send as well. Entries are forgotten after {@link TARGET_CACHE_TTL_MS},
 * or when the previous secret stops signing, only to bound memory and time.
 */
import { agentKey } from '../domain/agent-key.js';
import type { AgentPreferences, SigningSecrets } from '../domain/types.js';
import type { EndpointTargetRow } from '../storage/preferences-repository.js';

/** What the dispatcher needs about an agent to send to it (null: the agent has no preferences). */
export type DeliveryTarget = {
  readonly prefs: AgentPreferences;
  /** The owner's master switch alone (see DeliveryTargetRow). */
  readonly masterSwitch: boolean;
  readonly secrets: SigningSecrets;
  readonly consecutiveFailures: number;
  /** Every endpoint of the agent that has a URL, by id. */
  readonly endpoints: ReadonlyMap<string, EndpointTargetRow>;
} | null;

/** Longest an entry is kept, ms (freshness comes from `notBeforeMs`, see above). */
export const TARGET_CACHE_TTL_MS = 5_000;

/** Agents kept at most; the oldest entry goes first. */
const MAX_ENTRIES = 10_000;

export class DeliveryTargetCache {
  private readonly entries = new Map<string, { target: DeliveryTarget; readAtMs: number; untilMs: number }>();
  private generation = 0;

  /** The target read at or after `notBeforeMs` (and still kept at `nowMs`), or undefined when it must be read. */
  get(tenantId: string, agentId: string, nowMs: number, notBeforeMs: number): DeliveryTarget | undefined {
    const key = agentKey(tenantId, agentId);
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.untilMs <= nowMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.readAtMs >= notBeforeMs ? entry.target : undefined;
  }

  /** Call before reading: the token that {@link set} checks. */
  token(): number {
    return this.generation;
  }

  /** Stores what was read from `readAtMs` on (taken before the read), unless an invalidation happened since `token` was taken. */
  set(tenantId: string, agentId: string, target: DeliveryTarget, token: number, readAtMs: number): void {
    if (token !== this.generation) return;
    // Kept until the first of the agent's previous secrets stops signing.
    const expiries = [...(target?.endpoints.values() ?? [])].map((e) => e.secrets.previousExpiresAt?.getTime() ?? Number.POSITIVE_INFINITY);
    const untilMs = Math.min(readAtMs + TARGET_CACHE_TTL_MS, target?.secrets.previousExpiresAt?.getTime() ?? Number.POSITIVE_INFINITY, ...expiries);
    const key = agentKey(tenantId, agentId);
    this.entries.delete(key);
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { target, readAtMs, untilMs });
  }

  /** The agent's target changed. */
  invalidate(tenantId: string, agentId: string): void {
    this.generation += 1;
    this.entries.delete(agentKey(tenantId, agentId));
  }

  /** Changes may have been missed: forget everything. */
  clear(): void {
    this.generation += 1;
    this.entries.clear();
  }
}
