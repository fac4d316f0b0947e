/**
 * JSON logs on stdout (pino). Fields that could carry a secret are redacted
 * wherever they appear, as a second line of defence: code never logs them.
 */
import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

export function createLogger(level: LogLevel): Logger {
  return pino({
    level,
    base: { service: 'herald' },
    redact: {
      paths: ['*.webhook_secret', '*.webhookSecret', '*.secret', '*.authorization', '*.password', 'webhook_secret', 'secret', 'authorization'],
      censor: '[redacted]',
    },
  });
}

/** How often a repeated line may be written again (with the count of those left out). */
export const REPEAT_INTERVAL_MS = 60_000;

/** The levels a repeated failure is logged at. */
export type RepeatLevel = 'error' | 'warn';

/**
 * Logs a repeated line (the same message, e.g. "claiming deliveries failed"
 * every second while the database is down) at most once per interval: the
 * first occurrence at once, then the next one after the interval has passed,
 * carrying `repeated`, the number of occurrences left out since the last
 * line written. Occurrences left out at the very end are reported by the
 * next one, if any.
 */
export class RepeatLimiter {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly log: Logger,
    private readonly intervalMs: number = REPEAT_INTERVAL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  error(obj: object, msg: string): void {
    this.write('error', obj, msg);
  }

  warn(obj: object, msg: string): void {
    this.write('warn', obj, msg);
  }

  /** The condition behind `msg` is over: its next occurrence is written at once. */
  forget(msg: string): void {
    this.last.delete(msg);
  }

  private write(level: RepeatLevel, obj: object, msg: string): void {
    const now = this.now();
    const seen = this.last.get(msg);
    if (seen !== undefined && now - seen.at < this.intervalMs) {
      seen.suppressed += 1;
      return;
    }
    this.log[level](seen === undefined || seen.suppressed === 0 ? obj : { ...obj, repeated: seen.suppressed, repeatedWithinMs: now - seen.at }, msg);
    this.last.set(msg, { at: now, suppressed: 0 });
  }
}

const limiters = new WeakMap<Logger, RepeatLimiter>();

/**
 * The {@link RepeatLimiter} of a logger, created on first use, so that a
 * call site changes `log.error(obj, msg)` into `repeatLimited(log).error(obj, msg)`.
 */
export function repeatLimited(log: Logger): RepeatLimiter {
  let limiter = limiters.get(log);
  if (limiter === undefined) {
    limiter = new RepeatLimiter(log);
    limiters.set(log, limiter);
  }
  return limiter;
}
