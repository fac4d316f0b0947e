/**
 * The inserts of a group commit, held until the group's work is done and
 * then written with one multi-row INSERT per table (the row maps'
 * `insert`). Prisma's cost is per statement and, for `createMany`, per row
 * (it was about half of a grouped create's CPU): a raw INSERT with bound
 * values pays neither.
 *
 * Reads in the group do not see these rows. That is safe because a group
 * holds at most one member per agent (see batcher.ts) and a member reads
 * and writes only its own agent's rows, before its inserts.
 */
import { agentKey } from '../domain/agent-key.js';
import { DELIVERIES, type DeliveryRow } from './rows/deliveries.js';
import { NOTIFICATIONS, type NotificationRow } from './rows/notifications.js';
import { upsertCounters, type RateCounterRow } from './rows/rate-counters.js';
import type { PrismaTx } from './sql.js';

export class PendingInserts {
  private readonly notifications: NotificationRow[] = [];
  private readonly deliveries: DeliveryRow[] = [];
  /** The group's counters by agent key: one agent's last value wins, as one row per agent must. */
  private readonly rateCounters = new Map<string, RateCounterRow>();

  addNotification(row: NotificationRow): void {
    this.notifications.push(row);
  }

  addDelivery(row: DeliveryRow): void {
    this.deliveries.push(row);
  }

  setRateCounter(row: RateCounterRow): void {
    this.rateCounters.set(agentKey(row.tenantId, row.agentId), row);
  }

  /**
   * Writes the held rows and forgets them; deliveries after notifications,
   * as a create writes them. Also called in the middle of a group by a
   * statement that must see a held row (a digest names its delivery).
   */
  async flush(tx: PrismaTx): Promise<void> {
    if (this.notifications.length > 0) await tx.$executeRaw(NOTIFICATIONS.insert(this.notifications.splice(0)));
    if (this.deliveries.length > 0) await tx.$executeRaw(DELIVERIES.insert(this.deliveries.splice(0)));
    if (this.rateCounters.size > 0) {
      const rows = [...this.rateCounters.values()];
      this.rateCounters.clear();
      await tx.$executeRaw(upsertCounters(rows));
    }
  }
}
