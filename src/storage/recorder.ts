/**
 * Recording settlements: the attempt, the delivery's next state and the
 * agent's webhook health of many finished attempts, in one transaction of
 * a few statements whatever their number (the dispatcher computes each
 * settlement with domain/settlement.ts; this only writes it down).
 *
 * - Every attempt is inserted, fenced or not (it happened); only the state
 *   change is fenced on the lease owner, so a slow worker whose lease was
 *   taken over cannot overwrite the new owner's result.
 * - Recording is idempotent, so the store may run it again after a failure:
 *   an attempt id already in the table means an earlier run committed (only
 *   its answer was lost), and that delivery is read instead of settled again.
 * - A settlement that may turn the webhook off (a failure that counts, a 410)
 *   has its agent's lock taken first, with every other such agent of the
 *   batch in one sorted statement, as every transaction that takes agent
 *   locks does, so a switch-off cannot deadlock with a preferences update.
 */
import { agentKey, distinctAgents } from '../domain/agent-key.js';
import { countsFailure, maySwitchOff, switchOffReason, type Settlement } from '../domain/settlement.js';
import type { Delivery } from '../domain/types.js';
import type { AgentDisabled } from '../events/change-feed.js';
import type { Repositories } from './repositories.js';
import { attemptRow, DELIVERY_ATTEMPTS } from './rows/delivery-attempts.js';
import { Prisma } from './sql.js';

/** One settlement to record. */
export interface Recording {
  /** The delivery as claimed (a success is settled from it, not read again). */
  readonly delivery: Delivery;
  /** The lease owner whose claim it settles. */
  readonly owner: string;
  /** The attempt's row id, the same on every try (null when no attempt was made). */
  readonly attemptId: string | null;
  readonly settlement: Settlement;
  readonly now: Date;
}

export interface Recorded {
  /** The delivery after the recording, or null when the lease was lost and only the attempt was recorded. */
  readonly delivery: Delivery | null;
  /** Set when this recording turned the agent's webhook off. */
  readonly disabled: AgentDisabled | null;
}

/** The common case: a scheduled or manual success, settled with its neighbours in one statement. */
function simpleSuccess(rec: Recording): boolean {
  return rec.attemptId !== null && rec.settlement.next.status === 'SUCCEEDED' && rec.settlement.health.kind === 'succeeded';
}

/** Records `recordings` in the transaction of `r`; one result each, in order. */
export async function recordAll(r: Repositories, recordings: readonly Recording[]): Promise<Recorded[]> {
  const locks = recordings.filter((rec) => rec.settlement.attempt !== null && maySwitchOff(rec.settlement.health)).map((rec) => agentKey(rec.delivery.tenantId, rec.delivery.agentId));
  await r.lockAgents(locks);

  // Every attempt, in one statement; those already present were recorded by an earlier try that committed.
  const withAttempt = recordings.filter((rec) => rec.attemptId !== null && rec.settlement.attempt !== null);
  const inserted = new Set<string>();
  if (withAttempt.length > 0) {
    const rows = withAttempt.map((rec) => attemptRow(rec.attemptId!, rec.delivery.id, rec.settlement.attempt!));
    const returned = await r.tx.$queryRaw<Array<{ id: string }>>(DELIVERY_ATTEMPTS.insert(rows, Prisma.sql`ON CONFLICT ("id") DO NOTHING RETURNING "id"`));
    for (const { id } of returned) inserted.add(id);
  }
  const recordedBefore = (rec: Recording): boolean => rec.attemptId !== null && rec.settlement.attempt !== null && !inserted.has(rec.attemptId);

  const results = new Map<Recording, Recorded>();
  const batch = recordings.filter((rec) => simpleSuccess(rec) && !recordedBefore(rec));
  if (batch.length > 0) {
    const now = batch[0]!.now;
    const settled = await r.queue.settleSucceeded(batch.map((rec) => ({ delivery: rec.delivery, owner: rec.owner, statusCode: rec.settlement.next.lastStatusCode })), now);
    const delivered = [...settled.values()];
    await r.preferences.resetFailuresOf(distinctAgents(delivered.filter((d) => d.endpointId === null)));
    await r.preferences.resetEndpointFailures(distinctEndpoints(delivered));
    for (const rec of batch) {
      const delivery = settled.get(rec.delivery.id) ?? null;
      if (delivery !== null) r.facts.deliveryChanged(delivery, rec.settlement.attempt, rec.now);
      results.set(rec, { delivery, disabled: null });
    }
  }
  for (const rec of recordings) {
    if (results.has(rec)) continue;
    results.set(rec, recordedBefore(rec) ? { delivery: await r.deliveries.get(rec.delivery.tenantId, rec.delivery.id), disabled: null } : await recordOne(r, rec));
  }
  return recordings.map((rec) => results.get(rec)!);
}

/** One settlement with its health effects: the failures in a row counted under the agent's lock, and the switch-off. */
async function recordOne(r: Repositories, rec: Recording): Promise<Recorded> {
  const { tenantId, agentId, id } = rec.delivery;
  const { attempt, next, health } = rec.settlement;
  const now = rec.now;
  const delivery = await r.queue.settle(id, rec.owner, next, now, attempt !== null);
  if (delivery === null) return { delivery: null, disabled: null };
  r.facts.deliveryChanged(delivery, attempt, now);
  if (attempt === null) return { delivery, disabled: null };
  // A delivery of an agent without endpoints (none since endpoints came) keeps the agent's own count and switch.
  if (delivery.endpointId === null) return recordAgentHealth(r, rec, delivery);
  const endpointId = delivery.endpointId;
  // Unconditional (a no-op at 0): the count read before the send may be stale.
  if (delivery.status === 'SUCCEEDED') await r.preferences.resetEndpointFailures([{ tenantId, endpointId }]);
  // Counted under the agent's lock, per endpoint: one broken endpoint never counts against the agent's others.
  const failures = countsFailure(health) ? await r.preferences.recordEndpointFailure(tenantId, endpointId) : health.kind === 'gone' ? await r.preferences.endpointFailuresInARow(tenantId, endpointId) : null;
  const reason = switchOffReason(health, failures ?? 0, delivery.lastError);
  if (reason === null) return { delivery, disabled: null };
  // Only the endpoint goes off (the agent's master switch stays as its owner set it);
  // sends still in flight when the count was reached must not turn it off twice.
  const { off, othersOn, first } = await r.preferences.disableEndpoint(tenantId, agentId, endpointId, attempt!.url, reason, now, health.kind !== 'gone');
  if (!off) return { delivery, disabled: null };
  await r.deliveries.cancelPending(tenantId, agentId, `cancelled: ${reason}`, now, endpointId);
  // With no other endpoint on, every pending webhook of the agent is cancelled, as 0.2 did, and the
  // slots they held are given back; otherwise the others' still count (conservative: never over the limit).
  if (!othersOn) await r.rate.releaseAfter(tenantId, agentId, now);
  const disabled: AgentDisabled = { tenantId, agentId, endpoint: { id: endpointId, first }, deliveryId: id, reason, consecutiveFailures: failures ?? 0, cause: health.kind === 'gone' ? 'gone' : 'failures', at: now };
  r.facts.agentDisabled(disabled);
  return { delivery, disabled };
}

/** The 0.2 health of an agent without endpoints: its own failures in a row and its own switch. */
async function recordAgentHealth(r: Repositories, rec: Recording, delivery: Delivery): Promise<Recorded> {
  const { tenantId, agentId, id } = rec.delivery;
  const { attempt, health } = rec.settlement;
  const now = rec.now;
  if (delivery.status === 'SUCCEEDED') await r.preferences.resetFailures(tenantId, agentId);
  const failures = countsFailure(health) ? await r.preferences.recordFailure(tenantId, agentId) : health.kind === 'gone' ? await r.preferences.failuresInARow(tenantId, agentId) : null;
  const reason = switchOffReason(health, failures ?? 0, delivery.lastError);
  if (reason === null) return { delivery, disabled: null };
  const off = await r.preferences.disableWebhook(tenantId, agentId, attempt!.url, reason, now, health.kind !== 'gone');
  if (!off) return { delivery, disabled: null };
  await r.deliveries.cancelPending(tenantId, agentId, `cancelled: ${reason}`, now);
  await r.rate.releaseAfter(tenantId, agentId, now);
  const disabled: AgentDisabled = { tenantId, agentId, endpoint: null, deliveryId: id, reason, consecutiveFailures: failures ?? 0, cause: health.kind === 'gone' ? 'gone' : 'failures', at: now };
  r.facts.agentDisabled(disabled);
  return { delivery, disabled };
}

/** The distinct endpoints of some deliveries (those that have one). */
function distinctEndpoints(deliveries: readonly Delivery[]): Array<{ tenantId: string; endpointId: string }> {
  const seen = new Map<string, { tenantId: string; endpointId: string }>();
  for (const d of deliveries) if (d.endpointId !== null) seen.set(`${d.tenantId}:${d.endpointId}`, { tenantId: d.tenantId, endpointId: d.endpointId });
  return [...seen.values()];
}
