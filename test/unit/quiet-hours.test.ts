import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { isQuietAt, nextAllowedAt, parseClockTime, quietSince, type QuietWindow } from "../../src/domain/quiet-hours.js";
import { loadQuietHoursVectors } from "../helpers/quiet-hours-vectors.js";

const utc = (iso: string): Date => new Date(iso);
const w = (start: string, end: string): QuietWindow => ({ start, end });

describe("parseClockTime", () => {
  const valid: Array<[string, number]> = [
    ["00:00", 0],
    ["00:01", 1],
    ["09:05", 9 * 60 + 5],
    ["12:00", 720],
    ["23:59", 1439],
  ];
  for (const [input, minutes] of valid) {
    test(`${JSON.stringify(input)} → ${minutes}`, () => {
      assert.equal(parseClockTime(input), minutes);
    });
  }

  const invalid: Array<[string, string]> = [
    ["24:00", "midnight is 00:00, there is no end-of-day 24:00"],
    ["9:00", "the hour needs two digits"],
    ["09:5", "the minute needs two digits"],
    ["12:60", "minute out of range"],
    ["ab:cd", "not digits"],
    ["", "empty"],
    ["123:00", "three-digit hour"],
    ["12:00:00", "seconds are not accepted"],
    [" 12:00", "leading whitespace"],
    ["12:00 ", "trailing whitespace"],
    ["12:00\n", "trailing newline"],
    ["12-00", "wrong separator"],
    ["+1:00", "sign"],
    ["٠٩:٠٠", "non-ASCII digits"],
  ];
  for (const [input, why] of invalid) {
    test(`${JSON.stringify(input)} is rejected (${why})`, () => {
      assert.equal(parseClockTime(input), undefined);
    });
  }
});

interface QuietCase {
  name: string;
  window: QuietWindow;
  zone: string;
  at: string;
  quiet: boolean;
}

describe("isQuietAt", () => {
  const cases: QuietCase[] = [
    // Crossing midnight: quiet from start through midnight to just before end.
    { name: "crossing midnight, evening", window: w("22:00", "06:00"), zone: "UTC", at: "2026-01-10T23:00:00Z", quiet: true },
    { name: "crossing midnight, after midnight", window: w("22:00", "06:00"), zone: "UTC", at: "2026-01-11T03:00:00Z", quiet: true },
    { name: "crossing midnight, midday", window: w("22:00", "06:00"), zone: "UTC", at: "2026-01-11T12:00:00Z", quiet: false },
    // Half-open [start, end): start is quiet, end is not.
    { name: "at start is quiet", window: w("22:00", "06:00"), zone: "UTC", at: "2026-01-10T22:00:00Z", quiet: true },
    { name: "minute before start", window: w("22:00", "06:00"), zone: "UTC", at: "2026-01-10T21:59:00Z", quiet: false },
    { name: "last quiet minute", window: w("22:00", "06:00"), zone: "UTC", at: "2026-01-11T05:59:00Z", quiet: true },
    { name: "at end is not quiet", window: w("22:00", "06:00"), zone: "UTC", at: "2026-01-11T06:00:00Z", quiet: false },
    { name: "daytime window, at start", window: w("09:00", "17:00"), zone: "UTC", at: "2026-01-11T09:00:00Z", quiet: true },
    { name: "daytime window, at end", window: w("09:00", "17:00"), zone: "UTC", at: "2026-01-11T17:00:00Z", quiet: false },
    // start == end means no quiet hours, not "all day".
    { name: "start == end at that time", window: w("08:00", "08:00"), zone: "UTC", at: "2026-01-11T08:00:00Z", quiet: false },
    { name: "start == end elsewhere", window: w("08:00", "08:00"), zone: "UTC", at: "2026-01-11T20:00:00Z", quiet: false },
    { name: "00:00–23:59 leaves one minute", window: w("00:00", "23:59"), zone: "UTC", at: "2026-01-11T23:59:00Z", quiet: false },
    // The test uses local time, so the same UTC instant differs by zone and season.
    { name: "New York 22:30 EST", window: w("22:00", "06:00"), zone: "America/New_York", at: "2026-01-15T03:30:00Z", quiet: true },
    { name: "New York 21:30 EST", window: w("22:00", "06:00"), zone: "America/New_York", at: "2026-01-15T02:30:00Z", quiet: false },
    { name: "New York 22:30 EDT", window: w("22:00", "06:00"), zone: "America/New_York", at: "2026-07-15T02:30:00Z", quiet: true },
    // +05:45: 03:15Z is 09:00 local, 03:14Z is 08:59.
    { name: "Kathmandu at start", window: w("09:00", "17:00"), zone: "Asia/Kathmandu", at: "2026-05-01T03:15:00Z", quiet: true },
    { name: "Kathmandu minute before", window: w("09:00", "17:00"), zone: "Asia/Kathmandu", at: "2026-05-01T03:14:00Z", quiet: false },
    // 2026-03-08 New York jumps 02:00 EST → 03:00 EDT at 07:00Z: a 02:00–02:30
    // window is never on the clock that night, on either side of the jump.
    { name: "window inside a DST gap, before the jump", window: w("02:00", "02:30"), zone: "America/New_York", at: "2026-03-08T06:59:00Z", quiet: false },
    { name: "window inside a DST gap, after the jump", window: w("02:00", "02:30"), zone: "America/New_York", at: "2026-03-08T07:00:00Z", quiet: false },
    // 2026-11-01 New York repeats 01:00–01:59; both passes are quiet.
    { name: "fall-back, first 01:15 (EDT)", window: w("01:00", "01:30"), zone: "America/New_York", at: "2026-11-01T05:15:00Z", quiet: true },
    { name: "fall-back, second 01:15 (EST)", window: w("01:00", "01:30"), zone: "America/New_York", at: "2026-11-01T06:15:00Z", quiet: true },
    // Seconds are truncated: 05:59:59.999 reads 05:59.
    { name: "truncated to the minute", window: w("22:00", "06:00"), zone: "UTC", at: "2026-01-11T05:59:59.999Z", quiet: true },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.equal(isQuietAt(c.window, c.zone, utc(c.at)), c.quiet);
    });
  }
});

interface NextCase {
  name: string;
  window: QuietWindow;
  zone: string;
  at: string;
  next: string;
}

describe("nextAllowedAt", () => {
  const cases: NextCase[] = [
    { name: "not quiet: at itself", window: w("22:00", "06:00"), zone: "UTC", at: "2026-01-10T12:34:00Z", next: "2026-01-10T12:34:00Z" },
    { name: "start == end: at itself", window: w("08:00", "08:00"), zone: "UTC", at: "2026-01-10T08:00:00Z", next: "2026-01-10T08:00:00Z" },
    { name: "at end: at itself", window: w("22:00", "06:00"), zone: "UTC", at: "2026-01-11T06:00:00Z", next: "2026-01-11T06:00:00Z" },
    { name: "crossing midnight, before midnight: end is tomorrow", window: w("22:00", "06:00"), zone: "UTC", at: "2026-01-10T23:00:00Z", next: "2026-01-11T06:00:00Z" },
    { name: "crossing midnight, after midnight: end is today", window: w("22:00", "06:00"), zone: "UTC", at: "2026-01-11T05:59:00Z", next: "2026-01-11T06:00:00Z" },
    { name: "at start: the whole window", window: w("22:00", "06:00"), zone: "UTC", at: "2026-01-10T22:00:00Z", next: "2026-01-11T06:00:00Z" },
    { name: "daytime window", window: w("09:00", "17:00"), zone: "UTC", at: "2026-01-10T09:00:00Z", next: "2026-01-10T17:00:00Z" },
    { name: "00:00–23:59: the one free minute", window: w("00:00", "23:59"), zone: "UTC", at: "2026-01-10T00:00:00Z", next: "2026-01-10T23:59:00Z" },
    // +12:45 standard time in May: 06:00 local is 17:15Z the day before.
    { name: "Chatham +12:45", window: w("22:00", "06:00"), zone: "Pacific/Chatham", at: "2026-05-10T10:00:00Z", next: "2026-05-10T17:15:00Z" },
    // Spring forward, New York 2026-03-08 07:00Z (02:00 EST → 03:00 EDT): end
    // 02:30 never shows; the first allowed minute is the jump, reading 03:00.
    { name: "end in a DST gap: the jump", window: w("01:30", "02:30"), zone: "America/New_York", at: "2026-03-08T06:45:00Z", next: "2026-03-08T07:00:00Z" },
    // The night is an hour shorter in UTC: 06:00 EDT is 10:00Z, not 11:00Z.
    { name: "night across spring forward", window: w("22:00", "06:00"), zone: "America/New_York", at: "2026-03-08T03:30:00Z", next: "2026-03-08T10:00:00Z" },
    // 02:15–02:00 leaves only 02:00–02:14 free, and the gap swallows it on
    // 2026-03-08: the next free minute is 02:00 EDT on 03-09.
    { name: "gap swallows the free stretch: next day", window: w("02:15", "02:00"), zone: "America/New_York", at: "2026-03-08T03:00:00Z", next: "2026-03-09T06:00:00Z" },
    // Fall back, New York 2026-11-01 06:00Z (02:00 EDT → 01:00 EST): the clock
    // jumps back out of 01:30–03:00 before ever reading 03:00.
    { name: "fall-back jumps out of the window", window: w("01:30", "03:00"), zone: "America/New_York", at: "2026-11-01T05:45:00Z", next: "2026-11-01T06:00:00Z" },
    // 00:00–01:30 with 01:30 occurring twice: from the first 01:10 (EDT) the
    // first 01:30 (EDT) ends it; from the second 01:10 (EST) the first 01:30
    // is already past, so the second (EST) one does.
    { name: "end in an overlap, first pass", window: w("00:00", "01:30"), zone: "America/New_York", at: "2026-11-01T05:10:00Z", next: "2026-11-01T05:30:00Z" },
    { name: "end in an overlap, second pass", window: w("00:00", "01:30"), zone: "America/New_York", at: "2026-11-01T06:10:00Z", next: "2026-11-01T06:30:00Z" },
    // Lord Howe falls back only 30 minutes (2026-04-04 15:00Z, 02:00 +11 → 01:30
    // +10:30): the clock lands back on 01:30, still inside 01:00–02:00, and
    // reads 02:00 only at 15:30Z.
    { name: "half-hour fall-back lands inside the window", window: w("01:00", "02:00"), zone: "Australia/Lord_Howe", at: "2026-04-04T14:45:00Z", next: "2026-04-04T15:30:00Z" },
    // Santiago springs forward at midnight (2026-09-06 04:00Z, 00:00 -04 →
    // 01:00 -03): 00:15 never shows, the jump reading 01:00 is the answer.
    { name: "midnight gap crossing midnight", window: w("23:45", "00:15"), zone: "America/Santiago", at: "2026-09-06T03:50:00Z", next: "2026-09-06T04:00:00Z" },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.equal(nextAllowedAt(c.window, c.zone, utc(c.at)).toISOString(), utc(c.next).toISOString());
    });
  }

  test("a non-whole-minute instant: quiet gives a whole minute, not quiet gives at unchanged", () => {
    const night = w("22:00", "06:00");

    // 05:59:30.250 reads 05:59, so it is quiet; the answer is the next whole
    // minute that is not, 06:00:00.000, never 06:00:30.250.
    assert.equal(nextAllowedAt(night, "UTC", utc("2026-01-11T05:59:30.250Z")).toISOString(), "2026-01-11T06:00:00.000Z");
    assert.equal(nextAllowedAt(night, "UTC", utc("2026-01-10T23:00:45.500Z")).toISOString(), "2026-01-11T06:00:00.000Z");

    // Not quiet: the same instant, seconds and all, in a fresh Date.
    const free = utc("2026-01-11T06:00:00.001Z");
    const same = nextAllowedAt(night, "UTC", free);
    assert.equal(same.getTime(), free.getTime());
    assert.notEqual(same, free);
    assert.equal(nextAllowedAt(night, "UTC", utc("2026-01-10T21:59:59.999Z")).toISOString(), "2026-01-10T21:59:59.999Z");
  });
});

describe("invalid input fails loudly", () => {
  const at = utc("2026-01-10T12:00:00Z");
  const invalidZones = ["Mars/Olympus_Mons", "", "America/NewYork"];
  for (const zone of invalidZones) {
    test(`zone ${JSON.stringify(zone)}`, () => {
      assert.throws(() => isQuietAt(w("22:00", "06:00"), zone, at), /time zone/);
      assert.throws(() => nextAllowedAt(w("22:00", "06:00"), zone, at), /time zone/);
      // Even a window that can never be quiet does not hide a bad zone.
      assert.throws(() => nextAllowedAt(w("08:00", "08:00"), zone, at), /time zone/);
    });
  }
  test("window", () => {
    assert.throws(() => isQuietAt(w("24:00", "06:00"), "UTC", at), /quiet hours/);
    assert.throws(() => nextAllowedAt(w("22:00", "6:00"), "UTC", at), /quiet hours/);
  });
  test("date", () => {
    assert.throws(() => isQuietAt(w("22:00", "06:00"), "UTC", new Date(Number.NaN)), /invalid Date/);
    assert.throws(() => nextAllowedAt(w("22:00", "06:00"), "UTC", new Date(Number.NaN)), /invalid Date/);
  });
});

test("every vector in test/fixtures/quiet-hours.json (independent zoneinfo oracle)", (t) => {
  const cases = loadQuietHoursVectors();
  assert.ok(cases.length > 0, "fixture is empty");

  const mismatches: string[] = [];
  for (const [i, c] of cases.entries()) {
    const window = w(c.start, c.end);
    const now = new Date(c.now);
    const label = `#${i} ${c.time_zone} ${c.start}–${c.end} now=${c.now}`;
    const quiet = isQuietAt(window, c.time_zone, now);
    if (quiet !== c.quiet) {
      mismatches.push(`${label}: quiet ${quiet}, oracle ${c.quiet}`);
    }
    const next = nextAllowedAt(window, c.time_zone, now);
    if (next.getTime() !== Date.parse(c.next_allowed)) {
      mismatches.push(`${label}: next_allowed ${next.toISOString()}, oracle ${c.next_allowed}`);
    }
  }
  t.diagnostic(`${cases.length} vector cases; ${mismatches.length} disagreements on quiet or next_allowed`);
  assert.equal(mismatches.length, 0, `${mismatches.length} disagreements:\n${mismatches.join("\n")}`);
});

/**
 * A second, exhaustive check around real offset transitions: the local clock
 * read minute by minute through Intl (not luxon, not the module's arithmetic),
 * the answer found by scanning forward. Covers shapes the vectors lack: gaps
 * at midnight, windows the gap swallows, half-hour and 45-minute shifts.
 */
describe("agrees with a minute-by-minute scan around every 2026 transition", () => {
  const zones = ["America/New_York", "Europe/London", "Australia/Lord_Howe", "Pacific/Chatham", "America/Santiago"];
  const windows = [
    w("22:00", "06:00"),
    w("01:30", "02:30"),
    w("02:00", "02:30"),
    w("02:00", "03:00"),
    w("02:15", "02:00"),
    w("01:00", "02:00"),
    w("23:45", "00:15"),
    w("00:00", "23:59"),
    w("03:00", "02:00"),
    w("08:00", "08:00"),
  ];
  const minute = 60_000;
  const span = 36 * 60;

  for (const zone of zones) {
    test(zone, (t) => {
      const clock = new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", hour: "2-digit", minute: "2-digit" });
      const minuteOfDay = (ms: number): number => {
        let h = 0;
        let m = 0;
        for (const part of clock.formatToParts(ms)) {
          if (part.type === "hour") h = Number(part.value);
          if (part.type === "minute") m = Number(part.value);
        }
        return h * 60 + m;
      };
      const transitions = findTransitions(zone, Date.UTC(2026, 0, 1), Date.UTC(2027, 0, 1));
      assert.ok(transitions.length >= 2, `${zone}: expected DST transitions in 2026`);

      let checked = 0;
      for (const transition of transitions) {
        const from = transition - span * minute;
        const clockReadings = Array.from({ length: 2 * span }, (_, i) => minuteOfDay(from + i * minute));
        for (const window of windows) {
          const start = parseClockTime(window.start) ?? Number.NaN;
          const end = parseClockTime(window.end) ?? Number.NaN;
          const quietFlags = clockReadings.map((m) =>
            start < end ? m >= start && m < end : start > end ? m >= start || m < end : false,
          );
          // expected[i]: the first free minute at or after minute i, if within the span.
          const expected: Array<number | undefined> = new Array<number | undefined>(quietFlags.length);
          let nextFree: number | undefined;
          for (let i = quietFlags.length - 1; i >= 0; i--) {
            if (quietFlags[i] === false) nextFree = from + i * minute;
            expected[i] = nextFree;
          }
          // runStart[i]: the first minute of the quiet run holding minute i, unless it began before the span.
          const runStart: Array<number | undefined> = new Array<number | undefined>(quietFlags.length);
          for (let i = 0; i < quietFlags.length; i++) {
            if (quietFlags[i] === true) runStart[i] = i === 0 ? undefined : quietFlags[i - 1] === true ? runStart[i - 1] : from + i * minute;
          }
          for (let i = 0; i < quietFlags.length - 1; i++) {
            // Every minute near the transition, a sample of the rest: the
            // module costs ~15 µs per luxon offset look-up, too slow for every minute.
            if (Math.abs(i - span) > 60 && i % 31 !== 0) continue;
            const at = from + i * minute;
            const label = `${zone} ${window.start}–${window.end} now=${new Date(at).toISOString()}`;
            assert.equal(isQuietAt(window, zone, new Date(at)), quietFlags[i], `${label}: quiet`);
            const want = expected[i];
            if (want !== undefined) {
              assert.equal(nextAllowedAt(window, zone, new Date(at)).toISOString(), new Date(want).toISOString(), `${label}: next allowed`);
              checked++;
            }
            const began = runStart[i];
            if (began !== undefined) {
              assert.equal(quietSince(window, zone, new Date(at + 30_500)).toISOString(), new Date(began).toISOString(), `${label}: quiet since`);
              checked++;
            }
            // 30.5 s later the clock still reads minute i: a free instant is
            // returned as is, a quiet one moves to the first free whole minute after i.
            const mid = at + 30_500;
            const wantMid = quietFlags[i] === false ? mid : expected[i + 1];
            if (wantMid !== undefined) {
              assert.equal(nextAllowedAt(window, zone, new Date(mid)).toISOString(), new Date(wantMid).toISOString(), `${label} +30.5s: next allowed`);
              checked++;
            }
          }
        }
      }
      t.diagnostic(`${checked} instants checked across ${transitions.length} transitions`);
    });
  }
});

describe("quietSince", () => {
  test("is the minute the clock entered the window: the start time on an ordinary night, across midnight", () => {
    assert.equal(quietSince(w("22:00", "07:00"), "Europe/Paris", new Date("2026-11-23T02:10:30Z")).toISOString(), "2026-11-22T21:00:00.000Z");
    assert.equal(quietSince(w("22:00", "07:00"), "Europe/Paris", new Date("2026-11-22T21:00:00Z")).toISOString(), "2026-11-22T21:00:00.000Z");
  });
  test("on the night clocks go back, the window began before the change (one hour longer)", () => {
    // 2026-10-25 Paris: 03:00 CEST becomes 02:00 CET; 05:00 local is 04:00Z, 22:00 the day before was 20:00Z.
    assert.equal(quietSince(w("22:00", "07:00"), "Europe/Paris", new Date("2026-10-25T04:00:00Z")).toISOString(), "2026-10-24T20:00:00.000Z");
  });
  test("refuses an instant that is not quiet", () => {
    assert.throws(() => quietSince(w("22:00", "07:00"), "UTC", new Date("2026-11-23T12:00:00Z")), /not quiet/);
  });
});

/** Whole-minute instants in [from, to) where the zone's UTC offset changes. */
function findTransitions(zone: string, from: number, to: number): number[] {
  const offsetName = new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "longOffset" });
  const offsetAt = (ms: number): string =>
    offsetName.formatToParts(ms).find((p) => p.type === "timeZoneName")?.value ?? "";
  const day = 24 * 60 * 60_000;
  const found: number[] = [];
  for (let d = from; d < to; d += day) {
    if (offsetAt(d) === offsetAt(d + day)) continue;
    let lo = d;
    let hi = d + day;
    while (hi - lo > 60_000) {
      const mid = lo + Math.floor((hi - lo) / 120_000) * 60_000;
      if (offsetAt(mid) === offsetAt(lo)) lo = mid;
      else hi = mid;
    }
    found.push(hi);
  }
  return found;
}
