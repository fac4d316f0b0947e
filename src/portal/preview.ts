/**
 * The preferences page's plain-language preview: what the agent's quiet hours
 * and hourly limit do, in one sentence each, from the same membership test
 * the decision uses (web/quiet-status.ts), so the words match what
 * happens.
 */
import { DateTime } from 'luxon';
import type { AgentPreferences } from '../domain/types.js';
import { quietStatus } from '../web/quiet-status.js';

const hhmm = (at: Date, zone: string): string => DateTime.fromJSDate(at, { zone }).toFormat('HH:mm');

/** "tonight", "today" or "tomorrow" for an instant seen from `now`, in `zone`. */
function dayWord(at: Date, now: Date, zone: string): string {
  const day = DateTime.fromJSDate(at, { zone }).startOf('day');
  const today = DateTime.fromJSDate(now, { zone }).startOf('day');
  const days = Math.round(day.diff(today, 'days').days);
  const evening = DateTime.fromJSDate(at, { zone }).hour >= 18;
  if (days === 0) return evening ? 'tonight' : 'today';
  if (days === 1) return evening ? 'tomorrow night' : 'tomorrow';
  return DateTime.fromJSDate(at, { zone }).toFormat('cccc');
}

/** e.g. "Tonight 22:00–07:00 Europe/Paris, notifications are collected into one digest sent at 07:00; urgent ones are sent at once." */
export function quietPreview(p: Pick<AgentPreferences, 'quietHours' | 'timeZone'>, now: Date): string {
  const q = p.quietHours;
  const status = quietStatus(q, p.timeZone, now);
  if (q === null || status === null) return 'No quiet hours: notifications are sent as they come, day and night.';
  const when = status.quiet ? `Quiet now, until ${hhmm(status.nextChange, p.timeZone)}` : `${dayWord(status.nextChange, now, p.timeZone)} ${q.start}–${q.end}`;
  const what =
    q.policy === 'SKIP' ? 'notifications are dropped (no webhook is sent for them)'
    : q.policy === 'DEFER' ? `each notification is held and sent at ${q.end}`
    : `notifications are collected into one digest sent at ${q.end}`;
  const urgent = q.urgentBypass ? '; urgent ones are sent at once' : '; urgent ones wait too';
  const sentence = `${when} ${p.timeZone}, ${what}${urgent}.`;
  return sentence.charAt(0).toUpperCase() + sentence.slice(1);
}

/** e.g. "At most 10 webhooks in any hour; beyond that they are collected into one digest sent when the hour has room." */
export function limitPreview(p: Pick<AgentPreferences, 'maxPerHour' | 'rateLimitPolicy'>): string {
  if (p.maxPerHour === 0) return 'No hourly limit.';
  const beyond =
    p.rateLimitPolicy === 'SUPPRESS' ? 'dropped'
    : p.rateLimitPolicy === 'DEFER' ? 'held and sent one by one as the hour has room'
    : 'collected into one digest sent when the hour has room';
  return `At most ${p.maxPerHour} webhook${p.maxPerHour === 1 ? '' : 's'} in any hour; beyond that they are ${beyond}.`;
}
