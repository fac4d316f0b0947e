/**
 * Deletes what is older than the retention period: finished deliveries with
 * their attempts, then the notifications nothing points at any more. Runs in
 * processes with a worker, in small batches with a pause between them, so a
 * sweep never holds the database for long (on SQLite every batch takes the
 * store's one writer slot; creates and claims get theirs between batches).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { repeatLimited, type Logger } from '../logger.js';
import type { Store } from '../storage/database.js';
import type { NotificationCursor } from '../storage/retention-repository.js';

const DAY_MS = 86_400_000;

export interface RetentionOptions {
  /** Rows older than this many days are deleted; 0 keeps everything (the sweeper then never starts). */
  readonly retentionDays: number;
  /** Time between the end of one sweep and the start of the next. */
  readonly sweepMs: number;
  /** Rows per transaction (default 500). */
  readonly batchSize?: number;
  /** Pause between two batches, in ms (default 100). */
  readonly pauseMs?: number;
  readonly clock: () => Date;
}

export interface SweepResult {
  readonly deliveries: number;
  readonly notifications: number;
  /** Portal sessions that ended before the cutoff (a session lasts at most a day, so there are few). */
  readonly portalSessions: number;
  /** Everything created before this instant was eligible. */
  readonly cutoff: Date;
}

export class RetentionSweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private readonly abort = new AbortController();

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly options: RetentionOptions,
  ) {}

  /** Sweeps now, then every `sweepMs`. Does nothing when retention is 0 (keep everything). */
  start(): void {
    if (this.options.retentionDays === 0 || this.timer !== null || this.abort.signal.aborted) return;
    this.schedule(0);
  }

  /** Stops between two batches and waits for the batch under way. */
  async stop(): Promise<void> {
    this.abort.abort();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /**
   * One full sweep, batch after batch until nothing older than the cutoff
   * is left to delete (or the sweeper is stopped).
   */
  async sweep(): Promise<SweepResult> {
    const startedAt = performance.now();
    const cutoff = new Date(this.options.clock().getTime() - this.options.retentionDays * DAY_MS);
    const batch = this.options.batchSize ?? 500;
    let deliveries = 0;
    let notifications = 0;
    // Deliveries first: a notification goes only once its delivery has.
    for (;;) {
      const n = await this.store.write((r) => r.retention.deleteFinishedDeliveries(cutoff, batch));
      deliveries += n;
      if (n < batch || !(await this.pause())) break;
    }
    let cursor: NotificationCursor | null = null;
    while (!this.abort.signal.aborted) {
      const after: NotificationCursor | null = cursor;
      const step: { deleted: number; next: NotificationCursor | null } = await this.store.write((r) => r.retention.deleteNotificationsBefore(cutoff, batch, after));
      notifications += step.deleted;
      cursor = step.next;
      if (cursor === null || !(await this.pause())) break;
    }
    const portalSessions = this.abort.signal.aborted ? 0 : await this.store.write((r) => r.portalSessions.deleteEndedBefore(cutoff));
    if (deliveries + notifications + portalSessions > 0) {
      this.log.info({ deliveries, notifications, portalSessions, cutoff, retentionDays: this.options.retentionDays, ms: Math.round(performance.now() - startedAt) }, 'retention sweep deleted old rows');
    }
    return { deliveries, notifications, portalSessions, cutoff };
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.running = this.sweep()
        .catch((err: unknown) => repeatLimited(this.log).error({ err }, 'retention sweep failed; it is tried again at the next interval'))
        .finally(() => {
          this.running = null;
          if (!this.abort.signal.aborted) this.schedule(this.options.sweepMs);
        });
    }, delayMs);
    // A sweep never keeps the process alive on its own.
    this.timer.unref();
  }

  /** Waits between batches; false when the sweeper was stopped meanwhile. */
  private async pause(): Promise<boolean> {
    if (this.abort.signal.aborted) return false;
    try {
      await sleep(this.options.pauseMs ?? 100, undefined, { signal: this.abort.signal });
      return true;
    } catch {
      return false;
    }
  }
}
