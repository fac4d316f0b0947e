/**
 * Watches the database so that the standard health service tells the truth,
 * fast: a process whose database does not answer, or whose writes keep
 * failing, answers NOT_SERVING, and a load balancer or orchestrator sends
 * its calls elsewhere until it recovers.
 *
 * Two signals, combined:
 *
 * - **the check**: every `intervalMs`, the probe's trivial query on a
 *   connection of its own, bounded by `checkTimeoutMs`. A check that fails
 *   or times out makes the process unhealthy at once; the next one that
 *   passes makes it healthy again. While the check fails with a fault that
 *   means the database is not answering (see `databaseAnswering`), calls
 *   are answered UNAVAILABLE without waiting for it (src/grpc/unary.ts) and
 *   the worker stops claiming.
 * - **the writes**: the store reports every write transaction's outcome
 *   (`writeOutcome`, wired as the store's WriteObserver). `failedWrites`
 *   storage faults in a row, or one full disk, make the process unhealthy
 *   even though the check passes (reads still work on a full disk). Any
 *   write that commits clears it; so does, at each check, the probe's
 *   `checkWrites` (a write could start now), since a process turned away
 *   by its load balancer gets no writes to prove it recovered.
 *
 * With the defaults (a check every 0.5 s, 1 s timeout) a database that
 * stops answering turns health NOT_SERVING within about 1.5 s, and one that
 * comes back turns it SERVING within about 0.5 s (plus a running check's
 * remaining time).
 */
import { RepeatLimiter, type Logger } from './logger.js';
import type { DatabaseProbe } from './storage/database-probe.js';
import { storageFault, type StorageFaultKind } from './storage/errors.js';

const CHECK_FAILED = 'database check failed: health is NOT_SERVING until it answers again';

/** Check failures after which the database counts as not answering at all: calls then fail fast. */
const NOT_ANSWERING: ReadonlySet<StorageFaultKind> = new Set(['unreachable', 'connection-lost', 'starting-up', 'timeout']);

export interface HealthOptions {
  /** Time between checks, ms (HERALD_HEALTH_CHECK_MS). */
  readonly intervalMs: number;
  /** Longest a check may take, ms (HERALD_HEALTH_CHECK_TIMEOUT_MS). */
  readonly checkTimeoutMs: number;
  /** Storage faults in a row on writes that make the process unhealthy (HERALD_HEALTH_FAILED_WRITES). */
  readonly failedWrites: number;
}

export class HealthMonitor {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private checkPassed = true;
  private answering = true;
  private failedChecks = 0;
  private faultsInARow = 0;
  /** Why writes count as failing (the last fault's kind), or null while they do not. */
  private writesFailing: StorageFaultKind | null = null;
  private reported = true;
  private readonly repeats: RepeatLimiter;

  /**
   * @param probe the database's own check (src/storage/database-probe.ts).
   * @param onChange called with the new state whenever `healthy` changes.
   */
  constructor(
    private readonly probe: Pick<DatabaseProbe, 'check' | 'checkWrites'>,
    private readonly onChange: (healthy: boolean) => void,
    private readonly log: Logger,
    private readonly options: HealthOptions,
  ) {
    // An outage fails every check: one line when it starts, then one a minute.
    this.repeats = new RepeatLimiter(log);
  }

  /** What the health service answers: the last check passed and writes are not failing. */
  get healthy(): boolean {
    return this.checkPassed && this.writesFailing === null;
  }

  /** Whether the last check of the database passed (the metrics' `herald_database_up`). */
  get databaseUp(): boolean {
    return this.checkPassed;
  }

  /**
   * False while the last check found the database not answering at all
   * (unreachable, connection lost, starting up, timed out): a call sent to
   * it now would only wait for its own timeout.
   */
  get databaseAnswering(): boolean {
    return this.answering;
  }

  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => {
      this.running ??= this.probeOnce().finally(() => (this.running = null));
    }, this.options.intervalMs);
    // The process may exit without waiting for the next check.
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** The outcome of one write transaction: null when it committed, else its error (the store's WriteObserver). */
  writeOutcome(error: unknown): void {
    if (error === null) {
      this.faultsInARow = 0;
      if (this.writesFailing !== null) this.writesRecovered('a write committed');
      return;
    }
    const fault = storageFault(error);
    // A domain error or a bug says nothing about the database.
    if (fault === null) return;
    this.faultsInARow += 1;
    if (this.writesFailing === null && (fault.kind === 'disk-full' || this.faultsInARow >= this.options.failedWrites)) {
      this.writesFailing = fault.kind;
      this.log.error({ fault: fault.kind, failedWrites: this.faultsInARow }, 'writes are failing: health is NOT_SERVING until one can be made again');
      this.report();
    }
  }

  private writesRecovered(how: string): void {
    this.log.info({ fault: this.writesFailing, how }, 'writes work again');
    this.writesFailing = null;
    this.faultsInARow = 0;
    this.report();
  }

  private async probeOnce(): Promise<void> {
    const timeoutMs = this.options.checkTimeoutMs;
    try {
      await this.probe.check(timeoutMs);
      if (!this.checkPassed) {
        this.log.info({ failedChecks: this.failedChecks }, 'the database answers again');
        this.failedChecks = 0;
        this.repeats.forget(CHECK_FAILED);
      }
      this.checkPassed = true;
      this.answering = true;
    } catch (err) {
      this.checkPassed = false;
      this.failedChecks += 1;
      const kind = storageFault(err)?.kind;
      this.answering = kind === undefined || !NOT_ANSWERING.has(kind);
      this.repeats.error({ err, fault: kind ?? null, failedChecks: this.failedChecks }, CHECK_FAILED);
    }
    if (this.checkPassed && this.writesFailing !== null) {
      try {
        await this.probe.checkWrites(timeoutMs);
        this.writesRecovered('the write check passed');
      } catch {
        // Still failing: the next check looks again.
      }
    }
    this.report();
  }

  private report(): void {
    const healthy = this.healthy;
    if (healthy === this.reported) return;
    this.reported = healthy;
    this.log.info({ healthy }, healthy ? 'health is SERVING' : 'health is NOT_SERVING');
    this.onChange(healthy);
  }
}
