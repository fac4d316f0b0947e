/**
 * The decision engine: given an agent's preferences, a notification and the
 * instant, whether its webhook is delivered now, deferred or suppressed, and
 * why. Pure: the clock and the two instants the hourly limit needs are passed in.
 *
 * The limit is kept exact with O(1) look-ups: every webhook that counts gets
 * the agent's next sequence number and a `counted_at` (its decision instant,
 * or its slot when deferred for the limit, even when quiet hours send it
 * later; a rate-limit digest's send instant), assigned in order under the
 * agent's lock so that `counted_at` never decreases along the sequence. Then
 * the last `limit` counted webhooks are the ones that can still be in the
 * window, and the oldest of them (`edge`) decides: there is room at `now`
 * when it has left the window, and the next slot is when it leaves.
 *
 * Checks run in a fixed order and the first that applies decides:
 *   1. no preferences, or webhook off        → SUPPRESS / WEBHOOK_DISABLED
 *   2. no URL                                → SUPPRESS / NO_WEBHOOK_URL
 *   3. type not in a non-empty allow-list    → SUPPRESS / TYPE_FILTERED
 *   4. priority below the minimum            → SUPPRESS / PRIORITY_FILTERED
 *   5. inside quiet hours (not bypassed)     → SUPPRESS (SKIP) or DEFER to the window's end
 *                                               (DIGEST: DEFER too, into the window's digest)
 *   6. hourly limit reached                  → SUPPRESS / RATE_LIMITED (policy SUPPRESS), or
 *                                               DEFER / RATE_LIMITED until the window has room (policy DEFER;
 *                                               DIGEST: into one digest sent then, which counts once)
 *   7. otherwise                             → DELIVER (ACCEPTED, or URGENT_BYPASS inside quiet hours)
 *
 * An agent with endpoints is decided per endpoint by the same checks
 * (src/domain/fan-out.ts): the endpoint's switch runs after 1, its event
 * types and filter between 3 and 4, and its overrides replace the agent's
 * settings in 4 to 6. The checks are exported one by one for it, so both
 * say the same thing in the same words.
 */
import { DateTime } from 'luxon';
import { isQuietAt, nextAllowedAt, quietSince } from './quiet-hours.js';
import { PRIORITY_RANK } from './types.js';
import type { Decision, DecisionReason, EditablePreferences, Priority, QuietHours, RateLimitPolicy } from './types.js';

/** The rolling window of the hourly limit: the 60 minutes before the decision instant. */
export const RATE_WINDOW_MS = 60 * 60 * 1000;

export interface DecisionInput {
  /** The agent's preferences, or null when it has none. */
  readonly preferences: EditablePreferences | null;
  readonly notificationType: string;
  readonly priority: Priority;
  /** The decision instant. */
  readonly now: Date;
  /**
   * The agent's counted webhooks, as the hourly limit needs them. Needed
   * only when the agent has a limit; the caller MUST read it inside the same
   * per-agent serialised transaction that stores the result, or concurrent
   * creates could both take the last slot.
   */
  readonly rate: RateWindow;
  /**
   * Under rate_limit_policy DIGEST: when the agent's open digest of held-back
   * notifications is sent, or null when there is none that can take one more.
   */
  readonly openRateDigestEnd: Date | null;
}

/** Two instants of the agent's counted webhooks (see the module comment). */
export interface RateWindow {
  /** `counted_at` of the webhook `maxPerHour` places from the last (the last one when the limit is 1); null when fewer have counted. */
  readonly edge: Date | null;
  /** `counted_at` of the last counted webhook; null when none has. */
  readonly last: Date | null;
}

/** No webhook counted yet: what an agent without a limit is decided with. */
export const EMPTY_RATE_WINDOW: RateWindow = Object.freeze({ edge: null, last: null });

/**
 * When the next webhook may count: `now` when the window has room and no
 * deferred webhook is still waiting for its slot, otherwise the later of the
 * instant the edge leaves the window and the last slot given (creation order).
 */
export function nextRateSlot(rate: RateWindow, now: Date): Date {
  const edgeLeaves = rate.edge === null ? -Infinity : rate.edge.getTime() + RATE_WINDOW_MS;
  const slot = Math.max(now.getTime(), edgeLeaves, rate.last?.getTime() ?? -Infinity);
  return slot === now.getTime() ? now : new Date(slot);
}

function utcClock(d: Date): string {
  return d.toISOString().slice(11, 16);
}

/** True when `type` is allowed by the allow-list: empty allows all; entries are exact, "prefix*" or "*". */
export function typeAllowed(allowList: readonly string[], type: string): boolean {
  if (allowList.length === 0) return true;
  return allowList.some((entry) => (entry.endsWith('*') ? type.startsWith(entry.slice(0, -1)) : entry === type));
}

/** Whether the decision for these preferences depends on the hourly count at all. */
export function needsHourlyCount(preferences: EditablePreferences | null): preferences is EditablePreferences {
  return preferences !== null && preferences.maxPerHour > 0;
}

/** Whose setting a check applied; explanations name it ("the agent's limit", "the endpoint's min_priority"). */
export type SettingOwner = 'agent' | 'endpoint';

function possessive(owner: SettingOwner): string {
  return owner === 'agent' ? "the agent's" : "the endpoint's";
}

/** A check that refuses the webhook: the decision is SUPPRESS with this reason and explanation. */
export interface Refusal {
  readonly reason: DecisionReason;
  readonly explanation: string;
}

/** Check 1: the agent has no preferences, or its master switch (`enable_webhook`) is off. */
export function webhooksOff(p: EditablePreferences | null): Refusal {
  return {
    reason: 'WEBHOOK_DISABLED',
    explanation: p === null ? 'the agent has no preferences, so webhooks are off' : 'the agent has webhooks turned off (enable_webhook is false)',
  };
}

/** Check 3: the type is not in the agent's non-empty `notification_types`; null when it is allowed. */
export function notInTypes(allowList: readonly string[], type: string): Refusal | null {
  if (typeAllowed(allowList, type)) return null;
  return { reason: 'TYPE_FILTERED', explanation: `type "${type}" is not in the agent's notification_types [${allowList.join(', ')}]` };
}

/** Check 4: the priority is below `min` (the agent's, or an endpoint's override); null when it is not. */
export function belowMinimum(min: Priority | null, priority: Priority, owner: SettingOwner): Refusal | null {
  if (min === null || PRIORITY_RANK[priority] >= PRIORITY_RANK[min]) return null;
  return { reason: 'PRIORITY_FILTERED', explanation: `priority ${priority} is below ${possessive(owner)} min_priority ${min}` };
}

/** The SUPPRESS decision for `refusal`, made at `now`. */
export function refused<R extends string>(refusal: { readonly reason: R; readonly explanation: string }, now: Date): Omit<Decision, 'reason'> & { readonly reason: R } {
  return { outcome: 'SUPPRESS', reason: refusal.reason, deliverAt: null, explanation: refusal.explanation, decidedAt: now };
}

/**
 * The settings that decide when a webhook that passed every filter may go
 * (checks 5 to 7): the agent's, or an endpoint's with its overrides applied.
 */
export interface TimingRules {
  /** Quiet hours are read in it; always the agent's. */
  readonly timeZone: string;
  readonly quietHours: QuietHours | null;
  /** 0 means unlimited. */
  readonly maxPerHour: number;
  readonly rateLimitPolicy: RateLimitPolicy;
  /** Whose limit `maxPerHour` is, for the explanation. */
  readonly limitOwner: SettingOwner;
  /** Whose `rateLimitPolicy` it is, for the explanation. */
  readonly policyOwner: SettingOwner;
}

/** The agent's own timing rules: what {@link decide} applies. */
export function agentTiming(p: EditablePreferences): TimingRules {
  return { timeZone: p.timeZone, quietHours: p.quietHours, maxPerHour: p.maxPerHour, rateLimitPolicy: p.rateLimitPolicy, limitOwner: 'agent', policyOwner: 'agent' };
}

/** What checks 5 to 7 read besides the rules: the fields of {@link DecisionInput} they use. */
export type TimingInput = Pick<DecisionInput, 'priority' | 'now' | 'rate' | 'openRateDigestEnd'>;

export function decide(input: DecisionInput): Decision {
  const { preferences: p, now } = input;
  if (p === null || !p.enableWebhook) return refused(webhooksOff(p), now);
  if (p.webhookUrl === null) return refused({ reason: 'NO_WEBHOOK_URL', explanation: 'the agent has webhooks on but no webhook_url' }, now);
  const refusal = notInTypes(p.notificationTypes, input.notificationType) ?? belowMinimum(p.minPriority, input.priority, 'agent');
  if (refusal !== null) return refused(refusal, now);
  return decideTiming(agentTiming(p), input);
}

/**
 * Checks 5 to 7 (quiet hours, the hourly limit, otherwise DELIVER) for a
 * webhook that passed every filter. `input.rate` is read only when
 * `p.maxPerHour` is above 0, `input.openRateDigestEnd` only when the
 * policy is DIGEST as well.
 */
export function decideTiming(p: TimingRules, input: TimingInput): Decision {
  const { now } = input;
  const suppress = (reason: Decision['reason'], explanation: string): Decision => refused({ reason, explanation }, now);

  let bypassed = false;
  let deferred: { to: Date; window: string; digestFrom: Date | null } | null = null;
  const q = p.quietHours;
  if (q !== null && isQuietAt(q, p.timeZone, now)) {
    const window = `quiet hours ${q.start}-${q.end} ${p.timeZone}`;
    if (q.urgentBypass && input.priority === 'URGENT') {
      bypassed = true;
    } else if (q.policy === 'SKIP') {
      return suppress('QUIET_HOURS', `inside ${window} (policy SKIP)`);
    } else {
      const to = nextAllowedAt(q, p.timeZone, now);
      deferred = { to, window, digestFrom: q.policy === 'DIGEST' ? quietSince(q, p.timeZone, now) : null };
    }
  }

  if (p.maxPerHour > 0) {
    const slot = nextRateSlot(input.rate, now);
    if (slot.getTime() > now.getTime()) {
      const limit = `${possessive(p.limitOwner)} limit of ${p.maxPerHour} webhooks per rolling 60 minutes is used up`;
      if (p.rateLimitPolicy === 'SUPPRESS') {
        return suppress('RATE_LIMITED', `${limit} until ${slot.toISOString()} (${p.policyOwner === 'agent' ? '' : "the endpoint's "}rate_limit_policy SUPPRESS)`);
      }
      // Held for quiet hours as well: sent at whichever comes later. A digest
      // counts when it is sent (others join it until then); see below for DEFER.
      const at = deferred !== null && deferred.to.getTime() > slot.getTime() ? deferred.to : slot;
      if (p.rateLimitPolicy === 'DIGEST') {
        const open = input.openRateDigestEnd;
        // Joining an open digest adds nothing to the count: the digest counted once, when it opened.
        const joins = open !== null && open.getTime() >= (deferred?.to.getTime() ?? now.getTime());
        const end = joins ? open : at;
        return {
          outcome: 'DEFER',
          reason: 'RATE_LIMITED',
          deliverAt: end,
          explanation: `${limit}: deferred into the digest sent at ${utcClock(end)} UTC when the hourly window has room (${end.toISOString()})`,
          decidedAt: now,
          digest: { start: now, end },
          ...(joins ? {} : { countsAt: end }),
        };
      }
      // It counts at its slot even when quiet hours hold it longer, as one
      // with room counts at its decision instant: quiet hours move the send,
      // the limit decides when it counts. Counting it at the window's end
      // instead would hold every later webhook, an URGENT bypass too, behind
      // a slot after the window although the hour before is free.
      return {
        outcome: 'DEFER',
        reason: 'RATE_LIMITED',
        deliverAt: at,
        explanation:
          at === slot
            ? `${limit}: deferred until ${utcClock(slot)} UTC when the hourly window has room (${slot.toISOString()})`
            : `${limit} until ${utcClock(slot)} UTC and inside ${deferred!.window}: deferred until the window ends at ${at.toISOString()}; it counts toward the limit at ${slot.toISOString()}, when the hourly window has room`,
        decidedAt: now,
        countsAt: slot,
      };
    }
  }

  if (deferred !== null && deferred.digestFrom !== null) {
    const local = DateTime.fromJSDate(deferred.to, { zone: p.timeZone }).toFormat('HH:mm');
    return {
      outcome: 'DEFER',
      reason: 'QUIET_HOURS',
      deliverAt: deferred.to,
      explanation: `inside ${deferred.window} (policy DIGEST): deferred into the digest sent at ${local} ${p.timeZone} (${deferred.to.toISOString()})`,
      decidedAt: now,
      digest: { start: deferred.digestFrom, end: deferred.to },
      countsAt: now,
    };
  }
  if (deferred !== null) {
    return {
      outcome: 'DEFER',
      reason: 'QUIET_HOURS',
      deliverAt: deferred.to,
      explanation: `inside ${deferred.window} (policy DEFER): deferred to ${deferred.to.toISOString()}`,
      decidedAt: now,
      countsAt: now,
    };
  }
  return {
    outcome: 'DELIVER',
    reason: bypassed ? 'URGENT_BYPASS' : 'ACCEPTED',
    deliverAt: now,
    explanation: bypassed ? 'inside quiet hours, but URGENT with urgent_bypass on: sent now' : 'every check passed: sent now',
    decidedAt: now,
    countsAt: now,
  };
}
