/**
 * Use cases of notifications: store every notification, decide its webhook,
 * and enqueue the delivery in the same transaction (the outbox), so an
 * acknowledged DELIVER or DEFER can never lose its webhook.
 */
import { decide, EMPTY_RATE_WINDOW, needsHourlyCount, type DecisionInput } from '../domain/decision.js';
import { appendToDigest, DEFAULT_DIGEST_MAX_ITEMS, digestPayload, notificationPayload, type DigestHead } from '../domain/payload.js';
import type { AgentPreferences, Decision, Delivery, DigestWindow, JsonObject, Notification, NotificationInput, Priority } from '../domain/types.js';
import {
  checkAgentId,
  checkMetadata,
  checkNotificationType,
  checkText,
  LIMITS,
  pageSize,
  quote,
} from '../domain/validation.js';
import { NotFoundError } from '../errors.js';
import { newDeliveryId, newNotificationId } from '../ids.js';
import type { Store } from '../storage/database.js';
import type { DigestKind } from '../storage/digest-repository.js';
import type { AgentRepositories, ReadRepositories } from '../storage/repositories.js';
import { isUniqueViolation } from '../storage/errors.js';
import type { NotificationFilters } from '../storage/notification-repository.js';
import { pageNewestFirst } from '../storage/page-token.js';

/** A create request as the API layer hands it over: optional strings are "" when absent. */
export interface CreateRequest {
  readonly agentId: string;
  readonly notificationType: string;
  readonly title: string;
  readonly content: string;
  /** null means NORMAL. */
  readonly priority: Priority | null;
  readonly relatedEntityType: string;
  readonly relatedEntityId: string;
  readonly metadata: JsonObject;
  readonly idempotencyKey: string;
}

export interface CreateResult {
  readonly notification: Notification;
  /** True when the idempotency key matched an earlier create. */
  readonly replayed: boolean;
}

export interface ListRequest {
  readonly agentId: string;
  readonly unreadOnly: boolean;
  readonly notificationType: string;
  readonly createdAfter: Date | null;
  readonly createdBefore: Date | null;
  readonly pageSize: number;
  readonly pageToken: string;
}

/** Validates a create request into domain input; `prefix` is the field path of the request message. */
export function validateCreate(req: CreateRequest, prefix = ''): NotificationInput {
  checkAgentId(`${prefix}agent_id`, req.agentId);
  checkNotificationType(`${prefix}notification_type`, req.notificationType);
  checkText(`${prefix}title`, req.title, 1, LIMITS.titleLength);
  checkText(`${prefix}content`, req.content, 0, LIMITS.contentLength);
  checkText(`${prefix}related_entity_type`, req.relatedEntityType, 0, LIMITS.relatedLength);
  checkText(`${prefix}related_entity_id`, req.relatedEntityId, 0, LIMITS.relatedLength);
  checkText(`${prefix}idempotency_key`, req.idempotencyKey, 0, LIMITS.idempotencyKeyLength);
  checkMetadata(`${prefix}metadata`, req.metadata);
  return {
    agentId: req.agentId,
    notificationType: req.notificationType,
    title: req.title,
    content: req.content,
    priority: req.priority ?? 'NORMAL',
    relatedEntityType: req.relatedEntityType === '' ? null : req.relatedEntityType,
    relatedEntityId: req.relatedEntityId === '' ? null : req.relatedEntityId,
    metadata: req.metadata,
    idempotencyKey: req.idempotencyKey === '' ? null : req.idempotencyKey,
  };
}

/** The reads a decision needs, which a create (under the agent's lock) and an evaluation (a plain read) both have. */
type DecisionReads = Pick<ReadRepositories | AgentRepositories, 'preferences' | 'rate' | 'digests'>;

/**
 * Everything `decide` needs besides the notification and the instant, read
 * the same way for a create and for EvaluateNotification. `pastAt`: judge
 * the hourly limit by the webhooks counted by then (an evaluation of a past
 * instant); otherwise by the window a create would see now. A create MUST
 * read these under the agent's lock, in the transaction that stores its
 * result, or concurrent creates could both take the last slot.
 */
async function readDecisionInputs(r: DecisionReads, tenant: string, agentId: string, digestMaxItems: number, pastAt: Date | null): Promise<Pick<DecisionInput, 'rate' | 'openRateDigestEnd'> & { readonly preferences: AgentPreferences | null }> {
  const preferences = await r.preferences.get(tenant, agentId);
  if (!needsHourlyCount(preferences)) return { preferences, rate: EMPTY_RATE_WINDOW, openRateDigestEnd: null };
  const rate = pastAt !== null ? await r.rate.windowAt(tenant, agentId, preferences.maxPerHour, pastAt) : await r.rate.window(tenant, agentId, preferences.maxPerHour);
  const openRateDigestEnd = preferences.rateLimitPolicy === 'DIGEST' ? await r.digests.openRateEnd(tenant, agentId, digestMaxItems) : null;
  return { preferences, rate, openRateDigestEnd };
}

export interface NotificationServiceOptions {
  /** HERALD_DIGEST_MAX_ITEMS: notifications per digest; a full one is closed and the next opens a new one. */
  readonly digestMaxItems: number;
}

export class NotificationService {
  constructor(
    private readonly store: Store,
    private readonly clock: () => Date,
    private readonly options: NotificationServiceOptions = { digestMaxItems: DEFAULT_DIGEST_MAX_ITEMS },
  ) {}

  async create(tenant: string, req: CreateRequest): Promise<CreateResult> {
    const input = validateCreate(req);
    try {
      return await this.createOnce(tenant, input);
    } catch (err) {
      // The idempotency key's unique index is the last line of defence: if a
      // concurrent create with the same key won, answer with its result.
      if (input.idempotencyKey !== null && isUniqueViolation(err)) {
        const first = await this.store.read((r) => r.notifications.findByIdempotencyKey(tenant, input.agentId, input.idempotencyKey!));
        if (first !== null) return { notification: first, replayed: true };
      }
      throw err;
    }
  }

  private createOnce(tenant: string, input: NotificationInput): Promise<CreateResult> {
    // Under the agent's lock, grouped with concurrent creates of other agents
    // into one transaction; it resolves only once committed.
    return this.store.writeForAgent({ tenantId: tenant, agentId: input.agentId }, async (r): Promise<CreateResult> => {
      // Everything below (idempotency look-up, hourly count, insert) happens
      // under the agent's lock, so concurrent creates are decided one by one.
      if (input.idempotencyKey !== null) {
        const first = await r.notifications.findByIdempotencyKey(tenant, input.agentId, input.idempotencyKey);
        if (first !== null) return { notification: first, replayed: true };
      }
      // The clock is read under the lock so that decisions are in time order.
      const now = this.clock();
      const inputs = await readDecisionInputs(r, tenant, input.agentId, this.options.digestMaxItems, null);
      const decideAt = (open: Date | null): Decision => decide({ ...inputs, notificationType: input.notificationType, priority: input.priority, now, openRateDigestEnd: open });
      let decision = decideAt(inputs.openRateDigestEnd);
      const id = newNotificationId(now.getTime());
      // Every webhook that counts takes a number, limit or not, so a limit set later is exact at once.
      const take = async (d: Decision) => (d.countsAt === undefined ? null : { seq: await r.rate.next(tenant, input.agentId), at: d.countsAt });
      if (decision.digest !== undefined) {
        // The digest is written before the notification because the notification names it.
        const kind = decision.reason === 'RATE_LIMITED' ? 'RATE_LIMITED' : 'QUIET_HOURS';
        const draft = (d: Decision): Notification => ({ ...input, id, tenantId: tenant, read: false, readAt: null, createdAt: now, decision: d, deliveryId: null });
        const endpointId = inputs.preferences?.webhookEndpointId ?? null;
        let attached = await this.attachToDigest(r, draft(decision), endpointId, kind, decision.digest, now, decision.countsAt !== undefined);
        if (attached === null) {
          // It was to join an open digest without counting, but that digest
          // is full or a worker claimed it first: it opens one of its own,
          // which must take a number and its own slot, decided again under the same lock.
          decision = decideAt(null);
          attached = (await this.attachToDigest(r, draft(decision), endpointId, kind, decision.digest!, now, true))!;
        }
        const counted = await take(decision);
        const notification = { ...draft(decision), deliveryId: attached };
        await r.notifications.insert(notification, counted);
        return { notification, replayed: false };
      }
      const counted = await take(decision);
      const deliveryId = decision.outcome === 'SUPPRESS' ? null : newDeliveryId(now.getTime());
      const notification: Notification = { ...input, id, tenantId: tenant, read: false, readAt: null, createdAt: now, decision, deliveryId };
      await r.notifications.insert(notification, counted);
      if (deliveryId !== null) {
        await r.deliveries.enqueue({
          id: deliveryId,
          tenantId: tenant,
          agentId: input.agentId,
          notificationId: id,
          endpointId: inputs.preferences?.webhookEndpointId ?? null,
          eventType: 'notification',
          body: notificationPayload(notification, now),
          // DELIVER and DEFER always carry deliverAt; SUPPRESS has no delivery.
          nextAttemptAt: decision.deliverAt ?? now,
          now,
        });
      }
      return { notification, replayed: false };
    });
  }

  /**
   * Appends `n` to the agent's open digest for `window`, or opens one (a
   * delivery due at the window's end and its digest row) when there is none,
   * it is full, or its delivery was claimed meanwhile. Returns the id of the
   * delivery the notification points at; an opened digest goes to `endpointId`. With
   * `mayOpen` false (a rate-limit decision that joins without counting)
   * it opens nothing and returns null instead: an opened digest is a webhook
   * of its own, which must count.
   */
  private async attachToDigest(r: AgentRepositories, n: Notification, endpointId: string | null, kind: DigestKind, window: DigestWindow, now: Date, mayOpen: boolean): Promise<string | null> {
    const max = this.options.digestMaxItems;
    const open = await r.digests.findOpen(n.tenantId, n.agentId, kind, window.end);
    if (open !== null) {
      const head: DigestHead = { id: open.id, agentId: n.agentId, window: open.window };
      if (open.itemCount >= max) await r.digests.close(open.id);
      else if (await r.digests.join(open.id, appendToDigest(open.body, head, n, now), open.itemCount + 1, max, now)) return open.id;
    }
    if (!mayOpen) return null;
    const deliveryId = newDeliveryId(now.getTime());
    await r.deliveries.enqueue({
      id: deliveryId,
      tenantId: n.tenantId,
      agentId: n.agentId,
      notificationId: null,
      endpointId,
      eventType: 'digest',
      body: digestPayload({ id: deliveryId, agentId: n.agentId, window }, n, now),
      nextAttemptAt: window.end,
      now,
    });
    await r.digests.create({ id: deliveryId, tenantId: n.tenantId, agentId: n.agentId, window, kind, open: max > 1, now });
    return deliveryId;
  }

  /** The decision a create would get at `at`; stores nothing and counts toward nothing. */
  async evaluate(tenant: string, req: CreateRequest, at: Date | null): Promise<Decision> {
    const input = validateCreate(req, 'notification.');
    const now = at ?? this.clock();
    // A past `at` is judged by the webhooks counted by then; otherwise by the window a create would see now.
    const past = at !== null && at.getTime() < this.clock().getTime();
    const inputs = await this.store.read((r) => readDecisionInputs(r, tenant, input.agentId, this.options.digestMaxItems, past ? now : null));
    return decide({ ...inputs, notificationType: input.notificationType, priority: input.priority, now });
  }

  async get(tenant: string, id: string): Promise<Notification> {
    checkText('id', id, 1, LIMITS.idLength);
    const n = await this.store.read((r) => r.notifications.get(tenant, id));
    if (n === null) throw new NotFoundError(`notification ${quote(id)}`);
    return n;
  }

  async list(tenant: string, req: ListRequest): Promise<{ items: Notification[]; nextPageToken: string }> {
    checkAgentId('agent_id', req.agentId);
    if (req.notificationType !== '') checkNotificationType('notification_type', req.notificationType);
    const size = pageSize('page_size', req.pageSize);
    const filters: NotificationFilters = {
      tenantId: tenant,
      agentId: req.agentId,
      unreadOnly: req.unreadOnly,
      notificationType: req.notificationType === '' ? null : req.notificationType,
      createdAfter: req.createdAfter,
      createdBefore: req.createdBefore,
    };
    return pageNewestFirst(req.pageToken, filters, size, (limit, after) => this.store.read((r) => r.notifications.list(filters, limit, after)));
  }

  async markRead(tenant: string, id: string): Promise<Notification> {
    checkText('id', id, 1, LIMITS.idLength);
    const now = this.clock();
    const n = await this.store.write((r) => r.notifications.markRead(tenant, id, now));
    if (n === null) throw new NotFoundError(`notification ${quote(id)}`);
    return n;
  }
}
