/**
 * The delivery worker: a claim → send → record loop over the database.
 *
 * Claims take a lease and count the attempt; every write after the send is
 * fenced on the lease owner; a lease that runs out (its worker died) is taken
 * over by the next claim. So a crash at any point loses nothing: at worst a
 * delivery is sent twice, with the same delivery id.
 */
import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { repeatLimited, type Logger } from '../logger.js';
import type { ChangeFeed } from '../events/change-feed.js';
import type { Store } from '../storage/database.js';
import type { ClaimedDelivery } from '../storage/delivery-queue.js';
import type { Dispatcher } from './dispatcher.js';

export interface WorkerOptions {
  /**
   * Sends in flight at once. As many attempts again may be waiting for their
   * results to be recorded (each still holding its lease), so that the next
   * claim's sends overlap the recording of the last ones.
   */
  readonly concurrency: number;
  /** Sends of one agent in flight at once, across every process (enforced by the claim). */
  readonly agentMaxInFlight: number;
  /** Lease length of a claim, ms. */
  readonly leaseMs: number;
  /** Longest idle wait between looks at the queue, ms. */
  readonly pollMs: number;
  readonly clock: () => Date;
  /**
   * False while the database is unhealthy (src/health-monitor.ts): the
   * worker then claims nothing, leaving the database to the calls, and
   * looks again every UNHEALTHY_WAIT_MS. Default: always healthy.
   */
  readonly healthy?: () => boolean;
}

type State = 'idle' | 'running' | 'stopping' | 'stopped';

/** Backoff after a database error, so a broken database is not hammered. */
const ERROR_PAUSE_MS = 1_000;

/**
 * How long a nudge (a create, a freed slot) waits before the worker looks at
 * the queue: long enough for the create's response to leave first and for a
 * burst to be claimed in one transaction instead of one each.
 */
const NUDGE_DELAY_MS = 5;

/**
 * Shortest wait when deliveries are due but this claim left them (another
 * replica held their agents' claim locks, or they lay beyond the claim's
 * look-ahead): going round at once would spin.
 */
const BUSY_WAIT_MS = 20;

/** How often a worker that stopped claiming for an unhealthy database looks at its health again. */
const UNHEALTHY_WAIT_MS = 250;

export class DeliveryWorker {
  /** This worker's lease owner id: host, pid and a random part, so a restarted process never matches its old leases. */
  readonly owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private state: State = 'idle';
  /** Every attempt under way, from its claim until its result is recorded: at most twice `concurrency`. */
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Attempts of `inFlight` whose request is not over yet: at most `concurrency`. */
  private sending = 0;
  private readonly abort = new AbortController();
  private wakeUp: (() => void) | null = null;
  private woken = false;
  private loop: Promise<void> | null = null;
  private unsubscribe: (() => void) | null = null;
  private nudgeTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: Store,
    private readonly dispatcher: Dispatcher,
    private readonly feed: ChangeFeed,
    private readonly log: Logger,
    private readonly options: WorkerOptions,
  ) {
    // Every in-flight send listens on this one signal; more than Node's
    // default of 10 is expected, not a leak.
    setMaxListeners(0, this.abort.signal);
  }

  start(): void {
    if (this.state !== 'idle') throw new Error(`worker cannot start from state ${this.state}`);
    this.state = 'running';
    // A create wakes the worker at once when its delivery is due now (another replica's: its due time is not known here).
    this.unsubscribe = this.feed.on('enqueued', ({ dueAt }) => {
      if (dueAt === null || dueAt.getTime() <= this.options.clock().getTime() + this.options.pollMs) this.nudge();
    });
    this.loop = this.run();
    this.log.info({ owner: this.owner, concurrency: this.options.concurrency }, 'delivery worker started');
  }

  /** Ends the current wait so the loop looks at the queue now. */
  wake(): void {
    if (this.nudgeTimer !== null) {
      clearTimeout(this.nudgeTimer);
      this.nudgeTimer = null;
    }
    this.woken = true;
    this.wakeUp?.();
  }

  /** Wakes the loop shortly (see NUDGE_DELAY_MS); nudges in the meantime are folded into one. */
  nudge(): void {
    if (this.nudgeTimer !== null || this.state !== 'running') return;
    this.nudgeTimer = setTimeout(() => {
      this.nudgeTimer = null;
      this.wake();
    }, NUDGE_DELAY_MS);
  }

  /**
   * Stops claiming, lets in-flight sends finish for up to `graceMs`, then
   * aborts the rest; aborted sends release their deliveries (see Dispatcher).
   */
  async stop(graceMs: number): Promise<void> {
    if (this.state === 'idle') {
      this.state = 'stopped';
      return;
    }
    if (this.state !== 'running') return;
    this.state = 'stopping';
    this.unsubscribe?.();
    this.wake();
    await this.loop;
    const pending = [...this.inFlight.values()];
    if (pending.length > 0) {
      this.log.info({ inFlight: pending.length, graceMs }, 'waiting for in-flight webhooks');
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), graceMs)));
      const outcome = await Promise.race([Promise.allSettled(pending).then(() => 'done' as const), graceOver]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        this.log.warn({ inFlight: this.inFlight.size }, 'grace period over; aborting in-flight webhooks');
        this.abort.abort();
        await Promise.allSettled([...this.inFlight.values()]);
      }
    }
    this.state = 'stopped';
    this.log.info({ owner: this.owner }, 'delivery worker stopped');
  }

  private async run(): Promise<void> {
    while (this.state === 'running') {
      this.woken = false;
      const free = this.free();
      let claimed: ClaimedDelivery[] = [];
      let claimedAtMs = 0;
      let waitMs = this.options.pollMs;
      if (this.options.healthy?.() === false) {
        waitMs = Math.min(waitMs, UNHEALTHY_WAIT_MS);
      } else if (free > 0) {
        try {
          const { leaseMs, agentMaxInFlight } = this.options;
          const now = this.options.clock();
          claimedAtMs = now.getTime();
          claimed = await this.store.queue.claim(this.owner, { now, leaseMs, limit: free, agentMaxInFlight });
          if (claimed.length < free) {
            const dueInMs = await this.store.queue.nextDueInMs(this.options.clock(), agentMaxInFlight);
            if (dueInMs !== null) waitMs = Math.max(claimed.length > 0 ? 0 : BUSY_WAIT_MS, Math.min(waitMs, dueInMs));
          }
        } catch (err) {
          repeatLimited(this.log).error({ err }, 'claiming deliveries failed');
          waitMs = ERROR_PAUSE_MS;
        }
      }
      if (claimed.length > 1) {
        // One read for the batch's agents instead of one per attempt; on failure each attempt reads its own.
        await this.dispatcher.prefetchTargets(claimed).catch((err: unknown) => repeatLimited(this.log).warn({ err }, 'reading the webhook targets of a claimed batch failed'));
      }
      for (const delivery of claimed) this.launch(delivery, claimedAtMs);
      // A full batch means more may be due: go round again without waiting.
      if (claimed.length > 0 && claimed.length === free) continue;
      if (this.woken || this.state !== 'running') continue;
      await this.sleep(waitMs);
    }
  }

  private launch(delivery: ClaimedDelivery, claimedAtMs: number): void {
    this.sending += 1;
    let sendOver = false;
    // Called when the request is over, or when the attempt ends without one; once either way.
    const sendDone = (): void => {
      if (sendOver) return;
      sendOver = true;
      this.sending -= 1;
      this.nudgeIfRoom();
    };
    const task = this.dispatcher
      .attempt(delivery, this.owner, 'SCHEDULED', 'schedule', this.abort.signal, claimedAtMs, sendDone)
      .then(
        () => undefined,
        (err: unknown) => {
          // The lease will run out and another claim will retry the row.
          this.log.error({ err, deliveryId: delivery.id }, 'delivery attempt failed to record; it will be retried after its lease');
        },
      )
      .finally(() => {
        this.inFlight.delete(delivery.id);
        sendDone();
        this.nudgeIfRoom();
      });
    this.inFlight.set(delivery.id, task);
  }

  /** Attempts a claim may start now: send slots free, and no more than `concurrency` results waiting to be recorded. */
  private free(): number {
    const { concurrency } = this.options;
    return Math.min(concurrency - this.sending, 2 * concurrency - this.inFlight.size);
  }

  /**
   * Looks at the queue again once half the slots are free (a request over,
   * or a result recorded): claiming a batch rather than one row per finished
   * attempt, and while the last batch's results are still being recorded.
   */
  private nudgeIfRoom(): void {
    if (this.free() >= this.options.concurrency / 2) this.nudge();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = null;
        done();
      };
    });
  }
}
