import { IANAZone } from "luxon";

/**
 * An agent's quiet hours as local wall-clock times, `"HH:MM"` (24-hour, two
 * digits each, `00:00`–`23:59`).
 *
 * The window is the half-open range `[start, end)` of local clock readings:
 * `start` is quiet, `end` is not. `start > end` crosses midnight (`22:00`–`06:00`
 * is quiet from 22:00 until 05:59 inclusive); `start == end` means no quiet hours
 * at all, never "all day".
 */
export interface QuietWindow {
  start: string;
  end: string;
}

const MINUTES_PER_DAY = 24 * 60;
const MS_PER_MINUTE = 60_000;

/**
 * How many offset transitions `nextAllowedAt` may cross before giving up.
 * Each loop step either answers or moves to the next transition. In tzdata
 * 2025b (every zone, every transition listed) consecutive offset changes are
 * at least 95 hours apart, so a real answer needs at most two steps, and a
 * stretch of at most 24 hours holds at most one change. The bound only turns
 * a broken time-zone database into an error instead of an endless loop.
 */
const MAX_TRANSITIONS_CROSSED = 8;

// `\d` in JavaScript is ASCII-only, so "٠٩:٠٠" is rejected.
const CLOCK_TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;

/**
 * Parses a strict `"HH:MM"` clock time (`00:00`–`23:59`, exactly two digits
 * each, nothing around them).
 *
 * @returns minutes since local midnight (0–1439), or `undefined` for anything
 *   else, including `"24:00"`, `"9:00"` and surrounding whitespace.
 */
export function parseClockTime(s: string): number | undefined {
  const match = CLOCK_TIME.exec(s);
  if (match === null) {
    return undefined;
  }
  return Number(match[1]) * 60 + Number(match[2]);
}

/**
 * Whether `at` falls inside the agent's quiet hours.
 *
 * Membership is a test on the wall-clock reading the agent would see: the
 * local time in `timeZone` at instant `at`, truncated to the minute, lies in
 * `[start, end)`. Because the test is on the clock reading and not on elapsed
 * time, daylight-saving changes need no special case: local minutes skipped by
 * a spring-forward gap are never observed, so they are never quiet; minutes
 * repeated by a fall-back overlap are observed twice and are quiet (or not)
 * both times. A quiet window may therefore last an hour more or less than its
 * nominal length on a transition night, exactly as a wall clock would show.
 *
 * Sub-minute precision is ignored: 05:59:59.999 local is 05:59.
 *
 * @param window - validated `HH:MM` times; an unparsable one throws.
 * @param timeZone - an IANA zone name, validated on write with
 *   `IANAZone.isValidZone`; an unknown zone throws rather than silently
 *   computing in UTC.
 * @param at - the instant to test; an invalid Date throws.
 */
export function isQuietAt(window: QuietWindow, timeZone: string, at: Date): boolean {
  const bounds = compileWindow(window);
  const zone = resolveZone(timeZone);
  const atMs = instantMs(at);
  return isQuietMinuteOfDay(bounds, minuteOfDay(localMinute(zone, atMs)));
}

/**
 * The earliest instant at or after `at` that is outside quiet hours: when a
 * `DEFER`red notification may be sent.
 *
 * Precisely: if `at` is not quiet, an instant equal to `at` (same milliseconds,
 * a fresh Date so neither caller nor callee can mutate the other's copy).
 * Otherwise the first whole-minute instant `u >= at` (UTC epoch milliseconds a
 * multiple of 60 000) for which {@link isQuietAt} is false. That is usually
 * the local `end` time on the right day, but around daylight-saving changes:
 *
 * - when `end` falls in a spring-forward gap (end 02:30, clocks jump
 *   02:00→03:00) the answer is the instant of the jump, reading 03:00;
 * - when `end` occurs twice in a fall-back overlap, the answer is its first
 *   occurrence after `at`, which is the second one if `at` is already in the
 *   repeated hour;
 * - when a fall-back jumps the clock back out of the window before `end` is
 *   reached (window 01:30–03:00, clocks go 02:00→01:00) the answer is the
 *   instant of the jump, reading 01:00;
 * - when a gap swallows every non-quiet minute of a day (window 02:15–02:00,
 *   clocks jump 02:00→03:00) the answer is the next day's `end`.
 *
 * It never walks minute by minute: between offset transitions local time is
 * UTC plus a constant, so the end of the quiet stretch is one subtraction.
 * A quiet instant costs two offset look-ups (at `at` and at that candidate),
 * a free one costs one; only when the offset differs at the candidate does it
 * binary-search the transition minute (about 11 more) and re-test from there.
 *
 * @param window - validated `HH:MM` times; an unparsable one throws.
 * @param timeZone - an IANA zone name; an unknown zone throws.
 * @param at - the instant the notification is created; an invalid Date throws.
 * @returns `at` unchanged when not quiet, otherwise a whole-minute instant.
 */
export function nextAllowedAt(window: QuietWindow, timeZone: string, at: Date): Date {
  const bounds = compileWindow(window);
  const zone = resolveZone(timeZone);
  const atMs = instantMs(at);

  // The first pass tests `at` itself (answering `at` when it is not quiet);
  // later passes start at a transition, always a whole minute.
  let t = atMs;
  for (let crossed = 0; crossed <= MAX_TRANSITIONS_CROSSED; crossed++) {
    const offsetMs = zone.offset(t) * MS_PER_MINUTE;
    const local = Math.floor((t + offsetMs) / MS_PER_MINUTE);
    const localMinuteOfDay = minuteOfDay(local);
    if (!isQuietMinuteOfDay(bounds, localMinuteOfDay)) {
      return new Date(t);
    }

    // Every local minute from here up to (not including) `end` is quiet, so
    // while the offset holds, the stretch ends exactly when the clock reads `end`.
    const quietMinutesLeft = mod(bounds.end - localMinuteOfDay, MINUTES_PER_DAY);
    const candidate = ceilToMinute((local + quietMinutesLeft) * MS_PER_MINUTE - offsetMs);
    // Offsets never change twice within a day (see MAX_TRANSITIONS_CROSSED), so
    // an equal offset at the candidate means none changed in between.
    if (zone.offset(candidate) * MS_PER_MINUTE === offsetMs) {
      return new Date(candidate);
    }
    // The clock jumped before reading `end`. Everything before the jump was
    // quiet; the jump may land inside or outside the window, so re-test there.
    t = firstMinuteWithOtherOffset(zone, t, candidate, offsetMs);
  }
  throw new Error(
    `quiet hours ${window.start}–${window.end} in ${timeZone}: no allowed minute found after ${at.toISOString()}`,
  );
}

/**
 * The first instant of the quiet stretch that contains `at`: the whole minute
 * at which the clock entered the window (`start` on most days; on a DST night
 * the instant of a jump into the window, or the minute after a jump out of it).
 * A digest names it as its `window_start`.
 *
 * While the offset holds, the stretch began when the clock read `start`: one
 * subtraction. Only when the offset differs there (a transition inside the
 * stretch, a few nights a year) does it walk back minute by minute: at most
 * three days of minutes, since a gap that swallows a day's free minutes (see
 * {@link nextAllowedAt}) joins two nights into one stretch.
 *
 * @throws when `at` is not quiet (there is no stretch to begin), or on an
 *   invalid window, zone or Date.
 */
export function quietSince(window: QuietWindow, timeZone: string, at: Date): Date {
  const bounds = compileWindow(window);
  const zone = resolveZone(timeZone);
  const atMinute = Math.floor(instantMs(at) / MS_PER_MINUTE) * MS_PER_MINUTE;
  const quiet = (ms: number): boolean => isQuietMinuteOfDay(bounds, minuteOfDay(localMinute(zone, ms)));
  if (!quiet(atMinute)) {
    throw new Error(`quiet hours ${window.start}–${window.end} in ${timeZone}: ${at.toISOString()} is not quiet`);
  }
  const offset = zone.offset(atMinute);
  const elapsed = mod(minuteOfDay(localMinute(zone, atMinute)) - bounds.start, MINUTES_PER_DAY);
  const candidate = atMinute - elapsed * MS_PER_MINUTE;
  if (zone.offset(candidate) === offset && zone.offset(candidate - MS_PER_MINUTE) === offset) {
    return new Date(candidate);
  }
  let t = atMinute;
  for (let steps = 0; steps < 3 * MINUTES_PER_DAY && quiet(t - MS_PER_MINUTE); steps++) t -= MS_PER_MINUTE;
  return new Date(t);
}

interface WindowBounds {
  start: number;
  end: number;
}

function compileWindow(window: QuietWindow): WindowBounds {
  const start = parseClockTime(window.start);
  const end = parseClockTime(window.end);
  if (start === undefined || end === undefined) {
    throw new Error(`invalid quiet hours ${JSON.stringify(window)}: expected "HH:MM" 00:00–23:59`);
  }
  return { start, end };
}

function isQuietMinuteOfDay(bounds: WindowBounds, minute: number): boolean {
  if (bounds.start < bounds.end) {
    return minute >= bounds.start && minute < bounds.end;
  }
  if (bounds.start > bounds.end) {
    return minute >= bounds.start || minute < bounds.end;
  }
  return false;
}

function resolveZone(timeZone: string): IANAZone {
  // luxon answers NaN offsets for an unknown zone, and DateTime would fall back
  // to an invalid date; either would quietly turn every test into "not quiet".
  const zone = IANAZone.create(timeZone);
  if (!zone.isValid) {
    throw new Error(`invalid IANA time zone ${JSON.stringify(timeZone)}`);
  }
  return zone;
}

function instantMs(at: Date): number {
  const ms = at.getTime();
  if (!Number.isFinite(ms)) {
    throw new Error("invalid Date");
  }
  return ms;
}

/**
 * Minutes since the local epoch (local midnight 1970-01-01) shown by the clock
 * at `ms`. Offsets come in minutes but may be fractional for historical local
 * mean time, hence flooring after adding rather than flooring `ms` first.
 */
function localMinute(zone: IANAZone, ms: number): number {
  return Math.floor((ms + zone.offset(ms) * MS_PER_MINUTE) / MS_PER_MINUTE);
}

function minuteOfDay(localEpochMinute: number): number {
  return mod(localEpochMinute, MINUTES_PER_DAY);
}

/**
 * The first whole minute in `(lo, hi]` whose offset is not `offsetMs`, given
 * that `lo` (any instant) has it and `hi` (a whole minute) has not. Only whole
 * minutes are searched because only whole minutes are candidates for
 * {@link nextAllowedAt}; ~11 look-ups for a day-long stretch.
 */
function firstMinuteWithOtherOffset(zone: IANAZone, lo: number, hi: number, offsetMs: number): number {
  let low = lo;
  let high = hi;
  for (;;) {
    const firstWholeAfterLow = Math.floor(low / MS_PER_MINUTE) * MS_PER_MINUTE + MS_PER_MINUTE;
    if (firstWholeAfterLow >= high) {
      return high;
    }
    const mid = firstWholeAfterLow + Math.floor((high - firstWholeAfterLow) / (2 * MS_PER_MINUTE)) * MS_PER_MINUTE;
    if (zone.offset(mid) * MS_PER_MINUTE === offsetMs) {
      low = mid;
    } else {
      high = mid;
    }
  }
}

function ceilToMinute(ms: number): number {
  return Math.ceil(ms / MS_PER_MINUTE) * MS_PER_MINUTE;
}

function mod(n: number, m: number): number {
  return ((n % m) + m) % m;
}
