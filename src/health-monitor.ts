/**
 * Watches the database so that the standard health service tells the truth:
 * a process whose database is unreachable answers NOT_SERVING, and a load
 * balancer or orchestrator sends its calls elsewhere until it recovers.
 */
import { RepeatLimiter, type Logger } from './logger.js';

const FAILED = 'database check failed: health is NOT_SERVING until it answers again';

export class HealthMonitor {
  private timer: NodeJS.Timeout | null = null;
  private healthy = true;
  private running: Promise<void> | null = null;
  private failedChecks = 0;
  private readonly repeats: RepeatLimiter;

  /**
   * @param check resolves when the dependency answers, rejects when it does not.
   * @param onChange called with the new state whenever it changes.
   * @param intervalMs time between checks.
   */
  constructor(
    private readonly check: () => Promise<void>,
    private readonly onChange: (healthy: boolean) => void,
    private readonly log: Logger,
    private readonly intervalMs: number,
  ) {
    // An outage fails every check: one line when it starts, then one a minute.
    this.repeats = new RepeatLimiter(log);
  }

  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => {
      this.running ??= this.probe().finally(() => (this.running = null));
    }, this.intervalMs);
    // The process may exit without waiting for the next check.
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  private async probe(): Promise<void> {
    let healthy: boolean;
    try {
      await this.check();
      healthy = true;
    } catch (err) {
      healthy = false;
      this.failedChecks += 1;
      this.repeats.error({ err, failedChecks: this.failedChecks }, FAILED);
    }
    if (healthy !== this.healthy) {
      this.healthy = healthy;
      if (healthy) {
        this.log.info({ failedChecks: this.failedChecks }, 'database answers again: health is SERVING');
        this.failedChecks = 0;
        this.repeats.forget(FAILED);
      }
      this.onChange(healthy);
    }
  }
}
