/**
 * The decision engine: given an agent's preferences, a notification and the
 * instant, whether its webhook is delivered now, deferred or suppressed, and
 * why. Pure: the clock and the hourly count are passed in.
 *
 * Checks run in a fixed order and the first that applies decides:
 *   1. no preferences, or webhook off        → SUPPRESS / WEBHOOK_DISABLED
 *   2. no URL                                → SUPPRESS / NO_WEBHOOK_URL
 *   3. type not in a non-empty allow-list    → SUPPRESS / TYPE_FILTERED
 *   4. priority below the minimum            → SUPPRESS / PRIORITY_FILTERED
 *   5. inside quiet hours (not bypassed)     → SUPPRESS (SKIP) or DEFER to the window's end
 *                                               (DIGEST: DEFER too, into the window's digest)
 *   6. hourly limit reached                  → SUPPRESS / RATE_LIMITED
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
   * Notifications of this agent decided DELIVER or DEFER with created_at in
   * (now - 60 min, now]. Needed only when the agent has a limit; the caller
   * MUST count it inside the same per-agent serialised transaction that
   * stores the result, or concurrent creates could both take the last slot.
   */
  readonly acceptedInWindow: number;
}

/** True when `type` is allowed by the allow-list: empty allows all; entries are exact, "prefix*" or "*". */
export function typeAllowed(allowList: readonly string[], type: string): boolean {
  if (allowList.length === 0) return true;
  return allowList.some((entry) => (entry.endsWith('*') ? type.startsWith(entry.slice(0, -1)) : entry === type));
}

/** Whether the decision for these preferences depends on the hourly count at all. */
export function needsHourlyCount(preferences: EditablePreferences | null): boolean {
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

  if (p.maxPerHour > 0 && input.acceptedInWindow >= p.maxPerHour) {
    return suppress(
      'RATE_LIMITED',
      `the agent's limit of ${p.maxPerHour} webhooks per rolling 60 minutes is used up (${input.acceptedInWindow} since ${new Date(now.getTime() - RATE_WINDOW_MS).toISOString()})`,
    );
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
    };
  }
  if (deferred !== null) {
    return {
      outcome: 'DEFER',
      reason: 'QUIET_HOURS',
      deliverAt: deferred.to,
      explanation: `inside ${deferred.window} (policy DEFER): deferred to ${deferred.to.toISOString()}`,
      decidedAt: now,
    };
  }
  return {
    outcome: 'DELIVER',
    reason: bypassed ? 'URGENT_BYPASS' : 'ACCEPTED',
    deliverAt: now,
    explanation: bypassed ? 'inside quiet hours, but URGENT with urgent_bypass on: sent now' : 'every check passed: sent now',
    decidedAt: now,
  };
}
