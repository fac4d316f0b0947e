/**
 * The dispatcher's cache of where each agent's webhooks go (URL, opened
 * secrets and headers, on/off), per (tenant, agent): without it every send
 * reads and decrypts the agent's row again.
 *
 * Kept right by invalidation, not by expiry: every preferences write drops the
 * agent, in this process through DeliveryEvents and across replicas through
 * PostgreSQL NOTIFY (Store.listenForPreferenceChanges). A read that raced with
 * a write is not stored (the generation check), so a dropped entry cannot
 * come back stale. Entries still expire after {@link TARGET_CACHE_TTL_MS},
 * and at once when the previous secret stops signing, so that a missed
 * notification (a LISTEN connection down, a write by another process on
 * SQLite) is bounded.
 */
import type { AgentPreferences, SigningSecrets } from '../domain/types.js';

/** What the dispatcher needs about an agent to send to it (null: the agent has no preferences). */
export type DeliveryTarget = { readonly prefs: AgentPreferences; readonly secrets: SigningSecrets; readonly consecutiveFailures: number } | null;

/** Longest an entry is trusted, ms: the bound on staleness when a notification is missed. */
export const TARGET_CACHE_TTL_MS = 5_000;

/** Agents kept at most; the oldest entry goes first. */
const MAX_ENTRIES = 10_000;

/** The cache's key of an agent, the same as PreferencesRepository.deliveryTargets' keys. */
export function keyOf(tenantId: string, agentId: string): string {
  return `${tenantId}\u0000${agentId}`;
}

export class DeliveryTargetCache {
  private readonly entries = new Map<string, { target: DeliveryTarget; untilMs: number }>();
  private generation = 0;

  /** The cached target, or undefined when it must be read. */
  get(tenantId: string, agentId: string, nowMs: number): DeliveryTarget | undefined {
    const key = keyOf(tenantId, agentId);
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.untilMs <= nowMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.target;
  }

  /** Call before reading: the token that {@link set} checks. */
  token(): number {
    return this.generation;
  }

  /** Whether the agent's target is cached and fresh at `nowMs`. */
  has(tenantId: string, agentId: string, nowMs: number): boolean {
    return this.get(tenantId, agentId, nowMs) !== undefined;
  }

  /** Stores what was read, unless an invalidation happened since `token` was taken. */
  set(tenantId: string, agentId: string, target: DeliveryTarget, token: number, nowMs: number): void {
    if (token !== this.generation) return;
    const expiry = target?.secrets.previousExpiresAt?.getTime();
    const untilMs = Math.min(nowMs + TARGET_CACHE_TTL_MS, expiry ?? Number.POSITIVE_INFINITY);
    const key = keyOf(tenantId, agentId);
    this.entries.delete(key);
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { target, untilMs });
  }

  /** The agent's target changed. */
  invalidate(tenantId: string, agentId: string): void {
    this.generation += 1;
    this.entries.delete(keyOf(tenantId, agentId));
  }

  /** Changes may have been missed: forget everything. */
  clear(): void {
    this.generation += 1;
    this.entries.clear();
  }
}
