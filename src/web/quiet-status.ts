/**
 * "Quiet now, until …" or "next quiet at …" for an agent's quiet hours, from
 * the domain's own membership test, so the console says what a decision at
 * that instant would do.
 */
import { DateTime } from 'luxon';
import { isQuietAt, nextAllowedAt, parseClockTime } from '../domain/quiet-hours.js';
import type { QuietHours } from '../domain/types.js';

export interface QuietStatus {
  readonly quiet: boolean;
  /** When `quiet` flips next: the window's end when quiet, its next start otherwise. */
  readonly nextChange: Date;
}

/** null when the agent has no quiet hours (none set, or start equal to end). */
export function quietStatus(window: QuietHours | null, timeZone: string, at: Date): QuietStatus | null {
  if (window === null || window.start === window.end) return null;
  if (isQuietAt(window, timeZone, at)) return { quiet: true, nextChange: nextAllowedAt(window, timeZone, at) };
  const minutes = parseClockTime(window.start) ?? 0;
  const local = DateTime.fromJSDate(at, { zone: timeZone });
  let start = local.set({ hour: Math.floor(minutes / 60), minute: minutes % 60, second: 0, millisecond: 0 });
  if (start.toMillis() <= at.getTime()) start = start.plus({ days: 1 });
  // A start inside a DST gap does not exist that day; luxon moves it forward, where the window has begun.
  return { quiet: false, nextChange: start.toJSDate() };
}

/** An instant as wall-clock time in `timeZone`, with the zone's abbreviation or offset. */
export function localTime(at: Date, timeZone: string): string {
  return DateTime.fromJSDate(at, { zone: timeZone }).toFormat('yyyy-MM-dd HH:mm ZZZZ');
}
