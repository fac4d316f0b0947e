/**
 * Runs the work of concurrent callers in batches, so that many writes pay
 * for one transaction, one COMMIT and one fsync between them. The store
 * uses it twice, with one set of rules: group commit of the writes that
 * hold an agent's lock (creates, preferences), and the recording of
 * delivery attempts.
 *
 * - **Adaptive.** A batch starts as soon as fewer than `maxConcurrent` run
 *   (no added wait when idle) and takes whatever arrived meanwhile, up to
 *   `maxItems`: batches grow with the load by themselves.
 * - **One serialiser per key.** Entries with the same key (an agent) run in
 *   submission order: a batch takes them in that order, several of one key
 *   if they are waiting (a flood for one agent shares transactions as a
 *   flood over many agents does), and no key of a running batch, so two
 *   batches never hold one key. This is the only per-agent queue in the
 *   process.
 * - **Fair across tenants.** A batch takes the tenants' oldest entries in
 *   turn, so one tenant's flood does not push another's write behind it.
 * - **A failure is its own.** When a batch fails, every entry runs again
 *   alone (`runOne`), so one bad entry fails only itself; unless the runner
 *   says the batch may have committed (a lost COMMIT answer), in which case
 *   every entry gets the error, as a single write would.
 */

export interface BatchEntry<W> {
  /**
   * Entries with the same key run in submission order, in one batch or in
   * batches one after another, never in two at once; null: no order. A key
   * belongs to one tenant (an agent key names its tenant).
   */
  readonly key: string | null;
  /** Batches take the tenants' entries in turn. */
  readonly tenant: string;
  readonly work: W;
}

/** What running a batch came to. */
export type BatchOutcome<R> =
  | { readonly ok: true; readonly results: readonly R[] }
  /** `split`: the batch surely did not commit, so each entry may run again alone. */
  | { readonly ok: false; readonly error: unknown; readonly split: boolean };

export interface BatcherOptions {
  /** Entries per batch at most: bounds how long one transaction holds its locks. */
  readonly maxItems: number;
  /** Batches running at once (their transactions on separate connections). */
  readonly maxConcurrent: number;
  /** Entries of one key per batch at most (default `maxItems`): bounds how long one batch holds a key that others wait for. */
  readonly maxPerKey?: number;
}

interface Waiting<W, R> extends BatchEntry<W> {
  /** Submission order. */
  readonly seq: number;
  readonly resolve: (value: R) => void;
  readonly reject: (reason: unknown) => void;
}

export class Batcher<W, R> {
  private waiting: Array<Waiting<W, R>> = [];
  private readonly busyKeys = new Set<string>();
  private running = 0;
  private scheduled = false;
  private submitted = 0;

  /**
   * @param runBatch - runs entries in one transaction, in the order given (which is submission order); their results in order.
   * @param runOne - runs one entry alone: after a failed batch, each of its entries.
   */
  constructor(
    private readonly runBatch: (entries: ReadonlyArray<BatchEntry<W>>) => Promise<BatchOutcome<R>>,
    private readonly runOne: (entry: BatchEntry<W>) => Promise<R>,
    private readonly options: BatcherOptions,
  ) {}

  submit(entry: BatchEntry<W>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ ...entry, seq: this.submitted++, resolve, reject });
      this.schedule();
    });
  }

  /** Entries waiting for a batch. */
  get backlog(): number {
    return this.waiting.length;
  }

  /**
   * Starts batches on the next turn of the event loop rather than at once:
   * the callers a finished batch answered come back within the same turn,
   * and would otherwise trickle into batches of one or two.
   */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.start();
    });
  }

  private start(): void {
    while (this.running < this.options.maxConcurrent && this.waiting.length > 0) {
      const batch = this.take();
      if (batch.length === 0) return; // every waiting key is busy: a running batch schedules again when it ends
      this.running++;
      for (const e of batch) if (e.key !== null) this.busyKeys.add(e.key);
      void this.run(batch).finally(() => {
        for (const e of batch) if (e.key !== null) this.busyKeys.delete(e.key);
        this.running--;
        this.schedule();
      });
    }
  }

  private async run(batch: ReadonlyArray<Waiting<W, R>>): Promise<void> {
    let outcome: BatchOutcome<R>;
    try {
      outcome = await this.runBatch(batch);
    } catch (error) {
      // The runner reports its failures as outcomes; a throw is a bug in it: nothing is known to have committed.
      outcome = { ok: false, error, split: false };
    }
    if (outcome.ok) {
      batch.forEach((e, i) => e.resolve(outcome.results[i] as R));
      return;
    }
    if (batch.length === 1 || !outcome.split) {
      for (const e of batch) e.reject(outcome.error);
      return;
    }
    // In order, one at a time: an agent's entries keep their order, and the keys stay busy until done.
    for (const e of batch) await this.runOne(e).then(e.resolve, e.reject);
  }

  /**
   * The next batch: tenants in turn (in the order of their oldest waiting
   * entry), each giving its oldest entry whose key no running batch holds,
   * until `maxItems`, and `maxPerKey` of one key; the rest keep their order.
   * A key's later entries may join its earlier ones and run after them: a
   * tenant's entries are taken in order (keys never span tenants), so none
   * is taken past an earlier one of its key left waiting.
   */
  private take(): Array<Waiting<W, R>> {
    const byTenant = new Map<string, Array<Waiting<W, R>>>();
    for (const e of this.waiting) {
      const list = byTenant.get(e.tenant);
      if (list === undefined) byTenant.set(e.tenant, [e]);
      else list.push(e);
    }
    const busy = new Set(this.busyKeys);
    const perKey = new Map<string, number>();
    const maxPerKey = this.options.maxPerKey ?? this.options.maxItems;
    const taken = new Set<Waiting<W, R>>();
    const cursors = [...byTenant.values()].map((list) => ({ list, next: 0 }));
    let progress = true;
    while (progress && taken.size < this.options.maxItems) {
      progress = false;
      for (const c of cursors) {
        if (taken.size >= this.options.maxItems) break;
        while (c.next < c.list.length) {
          const e = c.list[c.next++]!;
          if (e.key !== null && busy.has(e.key)) continue;
          if (e.key !== null) {
            const n = (perKey.get(e.key) ?? 0) + 1;
            perKey.set(e.key, n);
            // A key with its fill taken takes no later entry: they wait together, in order, for the next batch.
            if (n >= maxPerKey) busy.add(e.key);
          }
          taken.add(e);
          progress = true;
          break;
        }
      }
    }
    this.waiting = this.waiting.filter((e) => !taken.has(e));
    // Submission order inside the batch: members of a group run in it.
    return [...taken].sort((a, b) => a.seq - b.seq);
  }
}
