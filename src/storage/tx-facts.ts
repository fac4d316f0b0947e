/**
 * The facts one transaction records as it writes (see src/events/change-feed.ts):
 * repositories call these as they change rows; the store runs
 * {@link TxFacts.notify} as the transaction's last statements and publishes
 * {@link TxFacts.all} to the change feed after COMMIT. On PostgreSQL the
 * NOTIFY travels with the transaction (delivered at COMMIT, never for a
 * rollback), so other replicas hear of exactly what this one publishes.
 */
import type { AgentDisabled, Fact } from '../events/change-feed.js';
import { agentKey } from '../domain/agent-key.js';
import type { Delivery, DeliveryAttempt, Notification } from '../domain/types.js';
import type { Dialect, PrismaTx } from './sql.js';

/** LISTEN/NOTIFY channel: a delivery was enqueued (workers of every replica wake). */
export const ENQUEUED_CHANNEL = 'herald_delivery_enqueued';

/**
 * LISTEN/NOTIFY channel: an agent's webhook target changed; the payload is
 * `JSON.stringify([tenantId, agentId])`. Replicas drop what they cached
 * about the agent (src/delivery/target-cache.ts).
 */
export const TARGET_CHANNEL = 'herald_preferences_changed';

export class TxFacts {
  private readonly facts: Fact[] = [];

  /** Everything recorded, in order. */
  get all(): readonly Fact[] {
    return this.facts;
  }

  /**
   * What may be published when the transaction failed and it is unknown
   * whether it committed (a lost COMMIT answer): only that targets changed,
   * which at worst makes a cache read a row again.
   */
  get unsure(): readonly Fact[] {
    return this.facts.filter((f) => f.kind === 'targetChanged');
  }

  enqueued(delivery: Delivery): void {
    this.facts.push({ kind: 'enqueued', dueAt: delivery.nextAttemptAt });
    this.deliveryChanged(delivery, null, delivery.updatedAt);
  }

  /** Deliveries made due again (a replay): no row of them is at hand. */
  rescheduled(now: Date): void {
    this.facts.push({ kind: 'enqueued', dueAt: now });
  }

  deliveryChanged(delivery: Delivery, attempt: DeliveryAttempt | null, at: Date): void {
    this.facts.push({ kind: 'deliveryChanged', change: { delivery, attempt, at } });
  }

  targetChanged(tenantId: string, agentId: string): void {
    this.facts.push({ kind: 'targetChanged', tenantId, agentId });
  }

  /** The worker's claim took `count` deliveries (metrics tell "no worker claims" from "nothing is due" by it). */
  claimed(count: number): void {
    if (count > 0) this.facts.push({ kind: 'claimed', count });
  }

  agentDisabled(disabled: AgentDisabled): void {
    this.facts.push({ kind: 'agentDisabled', disabled });
  }

  decided(notification: Notification): void {
    this.facts.push({ kind: 'decided', notification });
  }

  /**
   * The NOTIFYs of every fact in `all` (one for the enqueued deliveries, one
   * per agent whose target changed), run as the transaction's last
   * statements. Nothing on SQLite: one process, and the feed tells it.
   */
  static async notify(tx: PrismaTx, dialect: Dialect, all: Iterable<TxFacts>): Promise<void> {
    if (dialect !== 'postgresql') return;
    let enqueued = false;
    const targets = new Map<string, string>();
    for (const facts of all) {
      for (const f of facts.facts) {
        if (f.kind === 'enqueued') enqueued = true;
        else if (f.kind === 'targetChanged') targets.set(agentKey(f.tenantId, f.agentId), JSON.stringify([f.tenantId, f.agentId]));
      }
    }
    if (enqueued) await tx.$executeRaw`SELECT pg_notify(${ENQUEUED_CHANNEL}, '')`;
    for (const payload of targets.values()) await tx.$executeRaw`SELECT pg_notify(${TARGET_CHANNEL}, ${payload})`;
  }
}
