/**
 * The inserts of a group commit, held until the group's work is done and
 * then written with one multi-row INSERT per table (the row maps'
 * `insert`). Prisma's cost is per statement and, for `createMany`, per row
 * (it was about half of a grouped create's CPU): a raw INSERT with bound
 * values pays neither.
 *
 * A group may hold several members of one agent, run in their order, and a
 * later member must see what an earlier one wrote. The statements that
 * cannot see a held row are kept from it in two ways:
 * - a create (the hot case: a flood for one agent) reads only three things
 *   another create of its agent writes, and answers them here, from memory:
 *   an idempotency key ({@link notificationByIdempotencyKey}) and the
 *   instants of the agent's and an endpoint's hourly-limit numbers
 *   ({@link notificationCountedAt}, {@link deliveryCountedAt});
 * - any other member of an agent with held rows (a preferences change, a
 *   cancel, a replay) has them written first (Store.runGroup asks
 *   {@link holdsAgent}), so its reads and writes meet the rows in the table.
 * A digest's row names its delivery, so opening a digest writes the held
 * rows first too (digest-repository.ts).
 */
import { agentKey } from '../domain/agent-key.js';
import { DELIVERIES, type DeliveryRow } from './rows/deliveries.js';
import { NOTIFICATIONS, type NotificationRow } from './rows/notifications.js';
import { upsertCounters, type RateCounterRow } from './rows/rate-counters.js';
import type { PrismaTx } from './sql.js';

export class PendingInserts {
  private notifications: NotificationRow[] = [];
  private deliveries: DeliveryRow[] = [];
  /** The group's counters by agent key: one agent's last value wins, as one row per agent must. */
  private readonly rateCounters = new Map<string, RateCounterRow>();
  /** Agent keys of every held row. */
  private readonly agents = new Set<string>();
  /** Held notifications by agent key and idempotency key. */
  private readonly byIdempotencyKey = new Map<string, NotificationRow>();
  /** `counted_at` of held notifications by agent key and hourly-limit number. */
  private readonly notificationsCounted = new Map<string, Date | null>();
  /** `counted_at` of held deliveries by tenant, endpoint and the endpoint's hourly-limit number. */
  private readonly deliveriesCounted = new Map<string, Date | null>();

  addNotification(row: NotificationRow): void {
    const agent = agentKey(row.tenantId, row.agentId);
    this.notifications.push(row);
    this.agents.add(agent);
    if (row.idempotencyKey !== null) this.byIdempotencyKey.set(`${agent}\n${row.idempotencyKey}`, row);
    if (row.rateSeq !== null) this.notificationsCounted.set(`${agent}\n${row.rateSeq}`, row.countedAt);
  }

  addDelivery(row: DeliveryRow): void {
    this.deliveries.push(row);
    this.agents.add(agentKey(row.tenantId, row.agentId));
    if (row.endpointId !== null && row.rateSeq !== null) this.deliveriesCounted.set(`${row.tenantId}\n${row.endpointId}\n${row.rateSeq}`, row.countedAt);
  }

  setRateCounter(row: RateCounterRow): void {
    const agent = agentKey(row.tenantId, row.agentId);
    this.rateCounters.set(agent, row);
    this.agents.add(agent);
  }

  /** Whether a row of the agent is held: a member that reads the tables must have them written first. */
  holdsAgent(tenantId: string, agentId: string): boolean {
    return this.agents.has(agentKey(tenantId, agentId));
  }

  /** The held notification of the agent with this idempotency key, if any. */
  notificationByIdempotencyKey(tenantId: string, agentId: string, idempotencyKey: string): NotificationRow | undefined {
    return this.byIdempotencyKey.get(`${agentKey(tenantId, agentId)}\n${idempotencyKey}`);
  }

  /** `counted_at` of the agent's held notification numbered `rateSeq`; undefined when no held one has it. */
  notificationCountedAt(tenantId: string, agentId: string, rateSeq: number): Date | null | undefined {
    return this.notificationsCounted.get(`${agentKey(tenantId, agentId)}\n${rateSeq}`);
  }

  /** `counted_at` of the endpoint's held delivery numbered `rateSeq`; undefined when no held one has it. */
  deliveryCountedAt(tenantId: string, endpointId: string, rateSeq: number): Date | null | undefined {
    return this.deliveriesCounted.get(`${tenantId}\n${endpointId}\n${rateSeq}`);
  }

  /**
   * Writes the held rows and forgets them; deliveries after notifications,
   * as a create writes them. Also called in the middle of a group before a
   * statement that must see a held row (a digest names its delivery; a
   * member other than a create of an agent with held rows).
   */
  async flush(tx: PrismaTx): Promise<void> {
    const notifications = this.notifications;
    const deliveries = this.deliveries;
    const counters = [...this.rateCounters.values()];
    // Forgotten before the statements run: a failed flush fails the whole transaction anyway.
    this.notifications = [];
    this.deliveries = [];
    this.rateCounters.clear();
    this.agents.clear();
    this.byIdempotencyKey.clear();
    this.notificationsCounted.clear();
    this.deliveriesCounted.clear();
    if (notifications.length > 0) await tx.$executeRaw(NOTIFICATIONS.insert(notifications));
    if (deliveries.length > 0) await tx.$executeRaw(DELIVERIES.insert(deliveries));
    if (counters.length > 0) await tx.$executeRaw(upsertCounters(counters));
  }
}
