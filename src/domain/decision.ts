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
 */
import { DateTime } from 'luxon';
import { isQuietAt, nextAllowedAt, quietSince } from './quiet-hours.js';
import { PRIORITY_RANK } from './types.js';
import type { Decision, EditablePreferences, Priority } from './types.js';

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

export function decide(input: DecisionInput): Decision {
  const { preferences: p, now } = input;
  const suppress = (reason: Decision['reason'], explanation: string): Decision => ({
    outcome: 'SUPPRESS',
    reason,
    deliverAt: null,
    explanation,
    decidedAt: now,
  });

  if (p === null) return suppress('WEBHOOK_DISABLED', 'the agent has no preferences, so webhooks are off');
  if (!p.enableWebhook) return suppress('WEBHOOK_DISABLED', 'the agent has webhooks turned off (enable_webhook is false)');
  if (p.webhookUrl === null) return suppress('NO_WEBHOOK_URL', 'the agent has webhooks on but no webhook_url');
  if (!typeAllowed(p.notificationTypes, input.notificationType)) {
    return suppress('TYPE_FILTERED', `type "${input.notificationType}" is not in the agent's notification_types [${p.notificationTypes.join(', ')}]`);
  }
  if (p.minPriority !== null && PRIORITY_RANK[input.priority] < PRIORITY_RANK[p.minPriority]) {
    return suppress('PRIORITY_FILTERED', `priority ${input.priority} is below the agent's min_priority ${p.minPriority}`);
  }

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
      const limit = `the agent's limit of ${p.maxPerHour} webhooks per rolling 60 minutes is used up`;
      if (p.rateLimitPolicy === 'SUPPRESS') {
        return suppress('RATE_LIMITED', `${limit} until ${slot.toISOString()} (rate_limit_policy SUPPRESS)`);
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
