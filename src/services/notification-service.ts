/**
 * Use cases of notifications: store every notification, decide its webhook,
 * and enqueue the delivery in the same transaction (the outbox), so an
 * acknowledged DELIVER or DEFER can never lose its webhook.
 */
import type { RateWindow } from '../domain/decision.js';
import type { Endpoint } from '../domain/endpoint.js';
import { decideFanOut, rateScopesFor, type EndpointDecision, type FanOut } from '../domain/fan-out.js';
import { digestKey, orderedKey } from '../domain/ordering.js';
import { appendToDigest, DEFAULT_DIGEST_MAX_ITEMS, digestPayload, notificationPayload, type DigestHead } from '../domain/payload.js';
import type { AgentPreferences, Decision, Delivery, DeliveryOrdering, EndpointResult, DigestWindow, JsonObject, Notification, NotificationInput, Priority } from '../domain/types.js';
import {
  checkAgentId,
  checkMetadata,
  checkNotificationType,
  checkOrderingKey,
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
import type { RpcSpan } from '../telemetry/tracing.js';

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
  /** "" or absent: none. The order a PER_KEY endpoint sends this notification's webhook in (src/domain/ordering.ts). */
  readonly orderingKey?: string;
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
type DecisionReads = Pick<ReadRepositories | AgentRepositories, 'preferences' | 'rate' | 'endpointRate' | 'digests'>;

/** Everything `decideFanOut` needs besides the notification and the instant. */
interface DecisionInputs {
  readonly preferences: AgentPreferences | null;
  /** The recipient's defaults with the owner's master switch alone (see DecisionTargets). */
  readonly recipient: AgentPreferences | null;
  readonly endpoints: readonly Endpoint[];
  readonly agentRate: RateWindow | null;
  readonly endpointRates: ReadonlyMap<string, RateWindow>;
  readonly openRateDigestEnds: ReadonlyMap<string, Date | null>;
}

/**
 * Everything `decideFanOut` needs besides the notification and the instant,
 * read the same way for a create and for EvaluateNotification: the agent's
 * preferences and endpoints, and only the counters `rateScopesFor` names
 * (the agent's window, each endpoint's own, each endpoint's open rate
 * digest). `pastAt`: judge the hourly limits by the webhooks counted by then
 * (an evaluation of a past instant); otherwise by the window a create would
 * see now. A create MUST read these under the agent's lock, in the
 * transaction that stores its result, or concurrent creates could both take
 * the last slot.
 */
async function readDecisionInputs(r: DecisionReads, tenant: string, n: NotificationInput, orderingKey: string | null, digestMaxItems: number, pastAt: Date | null): Promise<DecisionInputs> {
  const { preferences, recipient, endpoints } = await r.preferences.decisionTargets(tenant, n.agentId);
  const scopes = rateScopesFor(recipient, endpoints, n);
  const agentRate =
    !scopes.agentWindow || preferences === null ? null
    : pastAt !== null ? await r.rate.windowAt(tenant, n.agentId, preferences.maxPerHour, pastAt)
    : await r.rate.window(tenant, n.agentId, preferences.maxPerHour);
  const endpointRates = new Map<string, RateWindow>();
  for (const id of scopes.endpointWindows) {
    const limit = endpoints.find((e) => e.id === id)?.overrides.maxPerHour ?? 0;
    endpointRates.set(id, pastAt !== null ? await r.endpointRate.windowAt(tenant, id, limit, pastAt) : await r.endpointRate.window(tenant, id, limit));
  }
  const openRateDigestEnds = new Map<string, Date | null>();
  for (const id of scopes.openRateDigests) {
    // On a PER_KEY endpoint a keyed notification joins only its key's digest (src/domain/ordering.ts).
    const key = digestKey(endpoints.find((e) => e.id === id)?.ordering ?? 'NONE', orderingKey);
    openRateDigestEnds.set(id, await r.digests.openRateEnd(tenant, n.agentId, id, digestMaxItems, key));
  }
  return { preferences, recipient, endpoints, agentRate, endpointRates, openRateDigestEnds };
}

/** The decision an endpoint's result records, as the Decision type has it. */
function asDecision(d: EndpointDecision): Decision {
  const { endpointId: _id, scope: _scope, ...decision } = d;
  return decision;
}

/** The endpoint whose decision the summary took (see FanOut.summary): its delivery is the notification's. */
function giverOf(fan: FanOut): EndpointDecision | undefined {
  const s = fan.summary;
  if (s.outcome === 'SUPPRESS') return undefined;
  return fan.endpoints.find((d) => d.outcome === s.outcome && d.reason === s.reason && d.deliverAt?.getTime() === s.deliverAt?.getTime());
}

/** The per-endpoint results a notification records; `deliveryIds` is empty for an evaluation. */
function resultsOf(fan: FanOut, deliveryIds: ReadonlyMap<string, string>): EndpointResult[] {
  return fan.endpoints.map((d) => ({
    endpointId: d.endpointId,
    outcome: d.outcome,
    reason: d.reason,
    explanation: d.explanation,
    deliverAt: d.deliverAt,
    deliveryId: deliveryIds.get(d.endpointId) ?? null,
  }));
}

/** Which digest a notification goes to on one endpoint, and how an opened one takes its place in the key's order. */
interface DigestPlace {
  readonly endpointId: string;
  readonly kind: DigestKind;
  readonly window: DigestWindow;
  /** The key the digest is gathered under (src/domain/ordering.ts), or null. */
  readonly key: string | null;
  readonly place: () => Promise<{ ordering?: DeliveryOrdering }>;
}

/** What EvaluateNotification answers: the summary, as 0.2 read it, and each endpoint's decision. */
export interface Evaluation {
  readonly decision: Decision;
  readonly endpointResults: readonly EndpointResult[];
}

/** Unfinished deliveries of a key EvaluateNotification counts at most (it says "waits behind 1000"). */
const UNFINISHED_SHOWN = 1000;

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

  /**
   * `span`, the call's server span when tracing is on, gets the transaction's
   * span and the decision's attributes; its context is stored with every
   * delivery enqueued, so that their attempts continue the caller's trace.
   */
  async create(tenant: string, req: CreateRequest, span: RpcSpan | null = null): Promise<CreateResult> {
    const input = validateCreate(req);
    const orderingKey = checkOrderingKey('ordering_key', req.orderingKey ?? '');
    let result: CreateResult;
    try {
      result =
        span === null
          ? await this.createOnce(tenant, input, orderingKey, null)
          : await span.transaction(this.store.dialect, () => this.createOnce(tenant, input, orderingKey, span.traceParent));
    } catch (err) {
      // The idempotency key's unique index is the last line of defence: if a
      // concurrent create with the same key won, answer with its result.
      if (input.idempotencyKey !== null && isUniqueViolation(err)) {
        const first = await this.store.read((r) => r.notifications.findByIdempotencyKey(tenant, input.agentId, input.idempotencyKey!));
        if (first !== null) result = { notification: first, replayed: true };
        else throw err;
      } else {
        throw err;
      }
    }
    if (span !== null) {
      const n = result.notification;
      span.decided({ outcome: n.decision.outcome, reason: n.decision.reason, endpoints: n.endpointResults.length, deliveries: n.endpointResults.filter((e) => e.deliveryId !== null).length, replayed: result.replayed });
    }
    return result;
  }

  private createOnce(tenant: string, input: NotificationInput, orderingKey: string | null, traceParent: string | null): Promise<CreateResult> {
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
      const inputs = await readDecisionInputs(r, tenant, input, orderingKey, this.options.digestMaxItems, null);
      const openDigests = new Map(inputs.openRateDigestEnds);
      const decideNow = (): FanOut =>
        decideFanOut({
          recipient: inputs.recipient, endpoints: inputs.endpoints, notification: input, now, agentRate: inputs.agentRate, endpointRates: inputs.endpointRates,
          openRateDigestEnds: openDigests, firstEndpointId: inputs.preferences?.webhookEndpointId ?? null, orderingKey,
        });
      let fan = decideNow();
      const id = newNotificationId(now.getTime());
      const base: Notification = { ...input, id, tenantId: tenant, read: false, readAt: null, createdAt: now, decision: fan.summary, deliveryId: null, endpointResults: [] };
      const deliveryIds = new Map<string, string>();
      for (const [i, endpoint] of inputs.endpoints.entries()) {
        const d = fan.endpoints[i]!;
        if (d.outcome === 'SUPPRESS') continue;
        // A webhook that counts toward this endpoint's own limit takes a number in its sequence.
        const ownCount = async (e: EndpointDecision) =>
          e.scope === 'endpoint' && e.countsAt !== undefined ? { seq: await r.endpointRate.next(tenant, endpoint.id), at: e.countsAt } : undefined;
        // A PER_KEY endpoint's delivery of a keyed notification takes the key's next number, under the agent's lock (src/domain/ordering.ts).
        const key = orderedKey(endpoint.ordering, orderingKey);
        const place = async (): Promise<{ ordering?: DeliveryOrdering }> => (key === null ? {} : { ordering: await r.ordering.next(tenant, endpoint.id, key) });
        if (d.digest !== undefined) {
          const kind = d.reason === 'RATE_LIMITED' ? 'RATE_LIMITED' : 'QUIET_HOURS';
          const digestAt = { endpointId: endpoint.id, kind, window: d.digest, key, place } as const;
          let attached = await this.attachToDigest(r, { ...base, decision: asDecision(d) }, digestAt, now, d.countsAt !== undefined ? () => ownCount(d) : null);
          if (attached === null) {
            // It was to join an open digest without counting, but that digest
            // is full or a worker claimed it first: it opens one of its own,
            // which must take a number and its own slot, decided again under
            // the same lock. The other endpoints' decisions do not depend on
            // this endpoint's digest, so what they did stands.
            openDigests.set(endpoint.id, null);
            fan = decideNow();
            const again = fan.endpoints[i]!;
            attached = (await this.attachToDigest(r, { ...base, decision: asDecision(again) }, { ...digestAt, window: again.digest! }, now, () => ownCount(again)))!;
          }
          deliveryIds.set(endpoint.id, attached);
          continue;
        }
        const deliveryId = newDeliveryId(now.getTime());
        const counted = await ownCount(d);
        await r.deliveries.enqueue({
          id: deliveryId,
          tenantId: tenant,
          agentId: input.agentId,
          notificationId: id,
          endpointId: endpoint.id,
          ...(counted === undefined ? {} : { counted }),
          ...(await place()),
          eventType: 'notification',
          body: notificationPayload(base, now),
          // DELIVER and DEFER always carry deliverAt; SUPPRESS has no delivery.
          nextAttemptAt: d.deliverAt ?? now,
          now,
          traceParent,
        });
        deliveryIds.set(endpoint.id, deliveryId);
      }
      // The notification counts toward the agent's limit once, however many endpoints share it; every webhook
      // that counts takes a number, limit or not, so a limit set later is exact at once.
      const counted = fan.agentCountsAt === null ? null : { seq: await r.rate.next(tenant, input.agentId), at: fan.agentCountsAt };
      const giver = giverOf(fan);
      const notification: Notification = {
        ...base,
        decision: fan.summary,
        deliveryId: giver === undefined ? null : (deliveryIds.get(giver.endpointId) ?? null),
        endpointResults: resultsOf(fan, deliveryIds),
      };
      await r.notifications.insert(notification, counted);
      return { notification, replayed: false };
      // Several creates of one agent may share a group: what this one reads of an earlier one's rows it finds held (src/storage/pending-inserts.ts).
    }, { readsHeldRows: true });
  }

  /**
   * Appends `n` to the agent's open digest for `window`, or opens one (a
   * delivery due at the window's end and its digest row) when there is none,
   * it is full, or its delivery was claimed meanwhile. Returns the id of the
   * delivery the notification points at; digests are per endpoint. With
   * `count` null (a rate-limit decision that joins without counting)
   * it opens nothing and returns null instead: an opened digest is a webhook
   * of its own, which must count; `count` gives its place in the endpoint's
   * own sequence, if it counts there. On a PER_KEY endpoint digests are per
   * ordering key, and an opened one takes the key's next number (`at.place`).
   */
  private async attachToDigest(
    r: AgentRepositories,
    n: Notification,
    at: DigestPlace,
    now: Date,
    count: (() => Promise<{ seq: number; at: Date } | undefined>) | null,
  ): Promise<string | null> {
    const { endpointId, kind, window } = at;
    const max = this.options.digestMaxItems;
    const open = await r.digests.findOpen(n.tenantId, n.agentId, endpointId, kind, window.end, at.key);
    if (open !== null) {
      const head: DigestHead = { id: open.id, agentId: n.agentId, window: open.window };
      if (open.itemCount >= max) await r.digests.close(open.id);
      else if (await r.digests.join(open.id, appendToDigest(open.body, head, n, now), open.itemCount + 1, max, now)) return open.id;
    }
    if (count === null) return null;
    const deliveryId = newDeliveryId(now.getTime());
    const counted = await count();
    await r.deliveries.enqueue({
      id: deliveryId,
      tenantId: n.tenantId,
      agentId: n.agentId,
      notificationId: null,
      endpointId,
      ...(counted === undefined ? {} : { counted }),
      ...(await at.place()),
      eventType: 'digest',
      body: digestPayload({ id: deliveryId, agentId: n.agentId, window }, n, now),
      nextAttemptAt: window.end,
      now,
    });
    await r.digests.create({ id: deliveryId, tenantId: n.tenantId, agentId: n.agentId, window, kind, open: max > 1, now });
    return deliveryId;
  }

  /** The decision a create would get at `at`, overall and per endpoint; stores nothing and counts toward nothing. */
  async evaluate(tenant: string, req: CreateRequest, at: Date | null): Promise<Evaluation> {
    const input = validateCreate(req, 'notification.');
    const orderingKey = checkOrderingKey('notification.ordering_key', req.orderingKey ?? '');
    const now = at ?? this.clock();
    // A past `at` is judged by the webhooks counted by then; otherwise by the window a create would see now.
    const past = at !== null && at.getTime() < this.clock().getTime();
    const { inputs, unfinished } = await this.store.read(async (r) => {
      const inputs = await readDecisionInputs(r, tenant, input, orderingKey, this.options.digestMaxItems, past ? now : null);
      // What a PER_KEY endpoint's webhook would wait behind now (a count bounded for the explanation).
      const unfinished = new Map<string, number>();
      for (const e of inputs.endpoints) {
        const key = orderedKey(e.ordering, orderingKey);
        if (key !== null) unfinished.set(e.id, await r.ordering.unfinished(tenant, e.id, key, UNFINISHED_SHOWN));
      }
      return { inputs, unfinished };
    });
    const fan = decideFanOut({
      recipient: inputs.recipient, endpoints: inputs.endpoints, notification: input, now, agentRate: inputs.agentRate, endpointRates: inputs.endpointRates,
      openRateDigestEnds: inputs.openRateDigestEnds, firstEndpointId: inputs.preferences?.webhookEndpointId ?? null, orderingKey, orderingUnfinished: unfinished,
    });
    return { decision: fan.summary, endpointResults: resultsOf(fan, new Map()) };
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
