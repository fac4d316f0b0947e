/**
 * One notification, several endpoints: the decision for each endpoint, and
 * the summary the notification keeps as its own decision (what 0.2 clients
 * read). Pure: counters and the clock are passed in, as to `decide`.
 *
 * Each endpoint is decided by the checks of src/domain/decision.ts, in this
 * order, the first that applies deciding:
 *   1. the agent has no preferences, or its master switch is off → SUPPRESS / WEBHOOK_DISABLED
 *   2. the endpoint is disabled (by its owner or by Herald)       → SUPPRESS / WEBHOOK_DISABLED
 *   3. the type is not in the agent's notification_types          → SUPPRESS / TYPE_FILTERED
 *   4. the type is not in the endpoint's event_types              → SUPPRESS / TYPE_FILTERED
 *   5. a condition of the endpoint's filter does not hold         → SUPPRESS / FILTERED
 *   6. the priority is below the effective min_priority           → SUPPRESS / PRIORITY_FILTERED
 *   7. quiet hours, the hourly limit, otherwise DELIVER, as `decide` does,
 *      with the effective quiet hours, limit and policy.
 * "Effective" is the endpoint's override where it has one, else the agent's
 * setting; the time zone is always the agent's. Explanations say "the
 * endpoint's" for an overridden setting where the agent's would say "the
 * agent's". An endpoint with no overrides, no event types and no filter is
 * thus decided exactly as `decide` decides the agent with that URL.
 *
 * Two hourly limits. An endpoint that inherits the limit shares the agent's:
 * the notification counts toward it once however many endpoints share it, at
 * the earliest `countsAt` among them ({@link FanOut.agentCountsAt}; every one
 * of them is at or after the agent's next slot, so `counted_at` still never
 * decreases along the agent's sequence). An endpoint with a limit of its own
 * counts its own webhooks on its own counter, and nothing toward the agent's.
 * Digests, for quiet hours and for the limit alike, are per endpoint.
 */
import { belowMinimum, decideTiming, EMPTY_RATE_WINDOW, notInTypes, refused, typeAllowed, webhooksOff } from './decision.js';
import type { RateWindow, SettingOwner, TimingRules } from './decision.js';
import type { Endpoint } from './endpoint.js';
import { evaluateFilter, type FilterableNotification } from './filter.js';
import { orderedKey, orderingNote } from './ordering.js';
import type { Decision, EditablePreferences, EndpointDecisionReason } from './types.js';
import { charLength } from './validation.js';

/** A decision whose reason may be FILTERED (see {@link EndpointDecisionReason}). */
export type FanOutDecision = Omit<Decision, 'reason'> & { readonly reason: EndpointDecisionReason };

/** The decision for one endpoint: its own outcome, reason, explanation (unlabelled), deliverAt, digest and countsAt. */
export type EndpointDecision = FanOutDecision & {
  readonly endpointId: string;
  /**
   * Whose hourly limit applies, and so on which counter `countsAt` counts:
   * 'agent' (the agent's shared limit: it feeds {@link FanOut.agentCountsAt})
   * or 'endpoint' (the endpoint's own limit and counter).
   */
  readonly scope: SettingOwner;
};

export interface FanOutInput {
  /** The agent's preferences, or null when it has none. */
  readonly recipient: EditablePreferences | null;
  /** The agent's endpoints in creation order (the summary prefers the first among equals). */
  readonly endpoints: readonly Endpoint[];
  readonly notification: FilterableNotification;
  /** The decision instant. */
  readonly now: Date;
  /**
   * The agent's counted notifications, or null when not read. Needed when
   * {@link rateScopesFor} says `agentWindow`; read, like every counter here,
   * inside the per-agent serialised transaction that stores the result.
   */
  readonly agentRate: RateWindow | null;
  /** Each endpoint's own counted webhooks, by endpoint id: those {@link rateScopesFor} names in `endpointWindows`. */
  readonly endpointRates: ReadonlyMap<string, RateWindow>;
  /**
   * When each endpoint's open rate-limit digest is sent, null when it has
   * none that can take one more, by endpoint id: those {@link rateScopesFor}
   * names in `openRateDigests`. To decide again after a join failed (the
   * digest filled up or was claimed), set that endpoint's entry to null.
   */
  readonly openRateDigestEnds: ReadonlyMap<string, Date | null>;
  /**
   * The endpoint that carries the agent's 0.2 webhook (its first), if any:
   * turned off by Herald (410, failures), it is explained in 0.2's words
   * ("the agent has webhooks turned off …"), which 0.2 clients read.
   */
  readonly firstEndpointId?: string | null;
  /** The notification's ordering_key, or null: a PER_KEY endpoint that sends its webhook says it is sent in that key's order. */
  readonly orderingKey?: string | null;
  /** How many of the key's deliveries each PER_KEY endpoint has unfinished now, by endpoint id, when read (EvaluateNotification). */
  readonly orderingUnfinished?: ReadonlyMap<string, number>;
}

export interface FanOut {
  /** One per endpoint, in the order given. */
  readonly endpoints: readonly EndpointDecision[];
  /**
   * The notification's decision, as 0.2 clients read it. No endpoints: what
   * `decide` says of an agent without a URL (WEBHOOK_DISABLED when the
   * master switch is off, else NO_WEBHOOK_URL). One endpoint: that
   * endpoint's decision. Several: DELIVER if any endpoint delivers, else
   * DEFER if any defers, else SUPPRESS, with the reason, deliverAt and digest
   * of the endpoint that gave it (the first delivering one, the earliest
   * deferred one, the first suppressed one; the first in order among equals),
   * and an explanation that lists every endpoint's ("chat: …; pager: …"),
   * at most {@link MAX_SUMMARY_EXPLANATION} characters. Its `countsAt` is
   * {@link agentCountsAt}: one endpoint with a limit of its own counts nothing
   * toward the agent's.
   */
  readonly summary: FanOutDecision;
  /**
   * When the notification counts toward the agent's hourly limit (once): the
   * earliest `countsAt` among the endpoints of scope 'agent'; null when none
   * counts. The notification takes a number in the agent's sequence at this
   * instant; each endpoint of scope 'endpoint' with a `countsAt` takes one in its own.
   */
  readonly agentCountsAt: Date | null;
}

/** What the caller must read before {@link decideFanOut}, so that it reads nothing more. */
export interface RateScopes {
  /** The agent's window: an endpoint that may reach the limit check shares the agent's limit, which is above 0. */
  readonly agentWindow: boolean;
  /** Endpoints (ids) that may reach the limit check with a limit of their own above 0: each one's window. */
  readonly endpointWindows: readonly string[];
  /** Endpoints that may reach it with an effective limit above 0 and rate_limit_policy DIGEST: each one's open rate digest. */
  readonly openRateDigests: readonly string[];
}

/** The bound of the summary's explanation over several endpoints, characters. */
export const MAX_SUMMARY_EXPLANATION = 2000;

/** Characters of a description shown as an endpoint's label. */
const LABEL_LENGTH = 60;

type Screened =
  | { readonly refusal: { readonly reason: EndpointDecisionReason; readonly explanation: string } }
  | { readonly rules: TimingRules; readonly scope: SettingOwner };

/** Checks 1 to 6, and the effective timing rules of an endpoint that passes them. */
function screen(recipient: EditablePreferences | null, e: Endpoint, n: FilterableNotification, firstEndpointId: string | null = null): Screened {
  if (recipient === null || !recipient.enableWebhook) return { refusal: webhooksOff(recipient) };
  if (!e.enabled) return { refusal: e.id === firstEndpointId ? webhooksOff({ ...recipient, enableWebhook: false }) : { reason: 'WEBHOOK_DISABLED', explanation: endpointOff(e) } };
  const o = e.overrides;
  const refusal =
    notInTypes(recipient.notificationTypes, n.notificationType) ??
    notInEventTypes(e.eventTypes, n.notificationType) ??
    filterRefusal(e, n) ??
    (o.minPriority === undefined ? belowMinimum(recipient.minPriority, n.priority, 'agent') : belowMinimum(o.minPriority, n.priority, 'endpoint'));
  if (refusal !== null) return { refusal };
  const scope = scopeOf(e);
  return {
    scope,
    rules: {
      timeZone: recipient.timeZone,
      quietHours: o.quietHours === undefined ? recipient.quietHours : o.quietHours,
      maxPerHour: o.maxPerHour ?? recipient.maxPerHour,
      rateLimitPolicy: o.rateLimitPolicy ?? recipient.rateLimitPolicy,
      limitOwner: scope,
      policyOwner: o.rateLimitPolicy === undefined ? 'agent' : 'endpoint',
    },
  };
}

/** Whose hourly limit applies to the endpoint: the agent's unless it has its own. */
function scopeOf(e: Endpoint): SettingOwner {
  return e.overrides.maxPerHour === undefined ? 'agent' : 'endpoint';
}

function endpointOff(e: Endpoint): string {
  if (e.disabledReason === null) return 'the endpoint is disabled (enabled is false)';
  return `the endpoint was disabled by Herald: ${cut(e.disabledReason, 200)}`;
}

function notInEventTypes(eventTypes: readonly string[], type: string): { reason: 'TYPE_FILTERED'; explanation: string } | null {
  if (typeAllowed(eventTypes, type)) return null;
  return { reason: 'TYPE_FILTERED', explanation: `type "${type}" is not in the endpoint's event_types [${eventTypes.join(', ')}]` };
}

function filterRefusal(e: Endpoint, n: FilterableNotification): { reason: 'FILTERED'; explanation: string } | null {
  const miss = evaluateFilter(e.filter, n);
  return miss === null ? null : { reason: 'FILTERED', explanation: `the endpoint's ${miss.explanation}` };
}

/** The limit check reads a window when the effective limit is above 0 (as `needsHourlyCount`). */
const needsWindow = (rules: TimingRules): boolean => rules.maxPerHour > 0;
const needsOpenDigest = (rules: TimingRules): boolean => needsWindow(rules) && rules.rateLimitPolicy === 'DIGEST';

/**
 * Which counters {@link decideFanOut} will read for this notification:
 * only endpoints that pass checks 1 to 6 can reach the limit.
 */
export function rateScopesFor(recipient: EditablePreferences | null, endpoints: readonly Endpoint[], notification: FilterableNotification): RateScopes {
  let agentWindow = false;
  const endpointWindows: string[] = [];
  const openRateDigests: string[] = [];
  for (const e of endpoints) {
    const s = screen(recipient, e, notification);
    if ('refusal' in s || !needsWindow(s.rules)) continue;
    if (s.scope === 'agent') agentWindow = true;
    else endpointWindows.push(e.id);
    if (needsOpenDigest(s.rules)) openRateDigests.push(e.id);
  }
  return { agentWindow, endpointWindows, openRateDigests };
}

/**
 * Decides a notification for each of the agent's endpoints and summarises
 * the result (see the module comment and {@link FanOut}).
 *
 * @throws Error when a counter {@link rateScopesFor} names was not passed in:
 *   deciding without it would break the limit, so it is a caller's bug.
 */
export function decideFanOut(input: FanOutInput): FanOut {
  const decisions = input.endpoints.map((e) => decideEndpoint(input, e));
  let agentCountsAt: Date | null = null;
  for (const d of decisions) {
    if (d.scope === 'agent' && d.countsAt !== undefined && (agentCountsAt === null || d.countsAt.getTime() < agentCountsAt.getTime())) agentCountsAt = d.countsAt;
  }
  return { endpoints: decisions, summary: summarise(input, decisions, agentCountsAt), agentCountsAt };
}

function decideEndpoint(input: FanOutInput, e: Endpoint): EndpointDecision {
  const { now, notification: n } = input;
  const s = screen(input.recipient, e, n, input.firstEndpointId ?? null);
  if ('refusal' in s) return { ...refused(s.refusal, now), endpointId: e.id, scope: scopeOf(e) };
  const rate = needsWindow(s.rules) ? windowOf(input, e, s.scope) : EMPTY_RATE_WINDOW;
  const openRateDigestEnd = needsOpenDigest(s.rules) ? openDigestOf(input, e) : null;
  const timed = decideTiming(s.rules, { priority: n.priority, now, rate, openRateDigestEnd });
  const key = orderedKey(e.ordering, input.orderingKey ?? null);
  const explanation = key === null || timed.outcome === 'SUPPRESS' ? timed.explanation : `${timed.explanation}; ${orderingNote(key, input.orderingUnfinished?.get(e.id) ?? null)}`;
  return { ...timed, explanation, endpointId: e.id, scope: s.scope };
}

function windowOf(input: FanOutInput, e: Endpoint, scope: SettingOwner): RateWindow {
  const rate = scope === 'agent' ? input.agentRate : input.endpointRates.get(e.id);
  if (rate === null || rate === undefined) {
    throw new Error(`decideFanOut: the ${scope === 'agent' ? "agent's" : `endpoint ${e.id}'s`} rate window was not read (read what rateScopesFor names)`);
  }
  return rate;
}

function openDigestOf(input: FanOutInput, e: Endpoint): Date | null {
  const end = input.openRateDigestEnds.get(e.id);
  if (end === undefined) throw new Error(`decideFanOut: endpoint ${e.id}'s open rate digest was not read (read what rateScopesFor names)`);
  return end;
}

/** A DEFER's send instant (DEFER always has one). */
const at = (d: EndpointDecision): number => d.deliverAt?.getTime() ?? Infinity;

function summarise(input: FanOutInput, decisions: readonly EndpointDecision[], agentCountsAt: Date | null): FanOutDecision {
  const { recipient, now } = input;
  const first = decisions[0];
  if (first === undefined) {
    const off = recipient === null || !recipient.enableWebhook;
    return refused(off ? webhooksOff(recipient) : { reason: 'NO_WEBHOOK_URL', explanation: 'the agent has webhooks on but no webhook_url' }, now);
  }
  const giver =
    decisions.find((d) => d.outcome === 'DELIVER') ??
    decisions.filter((d) => d.outcome === 'DEFER').reduce<EndpointDecision | undefined>((a, d) => (a === undefined || at(d) < at(a) ? d : a), undefined) ??
    first;
  return {
    outcome: giver.outcome,
    reason: giver.reason,
    deliverAt: giver.deliverAt,
    explanation: decisions.length === 1 ? giver.explanation : listExplanations(input.endpoints, decisions),
    decidedAt: now,
    ...(giver.digest === undefined ? {} : { digest: giver.digest }),
    ...(agentCountsAt === null ? {} : { countsAt: agentCountsAt }),
  };
}

/**
 * "chat: …; pager: …" in endpoint order, each labelled by its description
 * (its first 60 characters; the id when empty; the id added when another
 * endpoint has the same label). When every endpoint says the same (the master switch is off,
 * the agent's types refuse the type), that is said once, unlabelled. Past
 * {@link MAX_SUMMARY_EXPLANATION} characters the rest is counted, not listed.
 */
function listExplanations(endpoints: readonly Endpoint[], decisions: readonly EndpointDecision[]): string {
  const texts = decisions.map((d) => d.explanation);
  if (texts.every((t) => t === texts[0])) return texts[0] ?? '';
  const labels = endpoints.map((e) => (e.description === '' ? e.id : cut(e.description, LABEL_LENGTH)));
  const shared = new Set(labels.filter((l, i) => labels.indexOf(l) !== i));
  const more = (count: number): string => (count === 0 ? '' : `; and ${count} more endpoint${count === 1 ? '' : 's'} (see each endpoint's explanation)`);
  let out = '';
  for (const [i, text] of texts.entries()) {
    const label = labels[i] ?? '';
    const part = `${i === 0 ? '' : '; '}${shared.has(label) ? `${label} (${endpoints[i]?.id ?? ''})` : label}: ${text}`;
    // Each part leaves room for the tail that would follow it, so the tail always fits.
    if (i > 0 && out.length + part.length + more(texts.length - i - 1).length > MAX_SUMMARY_EXPLANATION) return `${out}${more(texts.length - i)}`;
    out += part;
  }
  return out;
}

function cut(s: string, max: number): string {
  return charLength(s) > max ? `${[...s].slice(0, max).join('')}…` : s;
}
