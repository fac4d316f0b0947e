/**
 * Coalesces settlements that finish at about the same time into one
 * transaction: on SQLite every transaction is a commit (an fsync with
 * `synchronous=FULL`) on the event loop, on PostgreSQL a round trip per
 * statement, and a worker with 64 sends in flight finishes many in the same
 * tick. One batch runs at a time; what arrives meanwhile forms the next one.
 *
 * A batch that fails loses nothing: each of its items is then settled alone
 * (`one`), so one bad item cannot fail the others, and a failure of its own
 * reaches only its caller.
 */
export class SettleBatcher<I, R> {
  private queue: Array<{ item: I; resolve: (r: R) => void; reject: (err: unknown) => void }> = [];
  private draining = false;

  /**
   * @param batch - settles every item in one transaction; returns one result per item, in order.
   * @param one - settles one item on its own (the fallback when `batch` fails).
   * @param maxBatch - items per transaction at most.
   * @param onBatchFailed - told of a failed batch before its items are retried one by one.
   */
  constructor(
    private readonly batch: (items: readonly I[]) => Promise<R[]>,
    private readonly one: (item: I) => Promise<R>,
    private readonly maxBatch: number,
    private readonly onBatchFailed: (err: unknown, size: number) => void,
  ) {}

  /** Settles `item` with whatever else is waiting; resolves with its own result. */
  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.draining) return;
      this.draining = true;
      // One turn of the event loop lets the sends finishing now join in.
      setImmediate(() => void this.drain());
    });
  }

  private async drain(): Promise<void> {
    // Nothing here may end the loop early: a result left in the queue with
    // `draining` still set would never be recorded, and its lease would run
    // out into a second send.
    try {
      while (this.queue.length > 0) {
        const taken = this.queue.splice(0, this.maxBatch);
        try {
          const results = await this.batch(taken.map((t) => t.item));
          taken.forEach((t, i) => t.resolve(results[i]!));
        } catch (err) {
          try {
            this.onBatchFailed(err, taken.length);
          } catch {
            // Only a report of the failure; the items are recorded one by one below either way.
          }
          await Promise.all(taken.map((t) => this.one(t.item).then(t.resolve, t.reject)));
        }
      }
    } finally {
      this.draining = false;
    }
  }
}
