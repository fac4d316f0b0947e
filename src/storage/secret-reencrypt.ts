/**
 * Rewrites every stored secret and webhook_headers value under the current
 * key (HERALD_SECRET_KEY): values of the previous key, and plain text written
 * before a key was set. Safe while Herald runs: each row is rewritten only if
 * it still holds what was read (compare-and-swap), so a concurrent update is
 * never undone; a row changed in between is looked at again by the next pass.
 *
 * A batch is read first and written in a transaction of its own whose first
 * statement is a write. On SQLite a transaction that reads and then writes
 * fails at once (SQLITE_BUSY, no waiting) when another process — Herald —
 * committed in between; a transaction that starts by writing waits its turn.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Store } from './database.js';
import type { StoredSecrets } from './preferences-repository.js';

export interface ReencryptResult {
  /** Endpoints in the database (counted by the last pass): each holds a secret and headers. */
  readonly scanned: number;
  /** Endpoints whose values were rewritten, over all passes. */
  readonly rewritten: number;
  /** Endpoints that changed under the rewrite in every pass (0 unless something keeps writing them with another key). */
  readonly unsettled: number;
}

const BATCH = 100;
const MAX_PASSES = 5;
/**
 * SQLite has no row locks: while this holds the write lock, Herald's
 * transactions wait (Store.write runs them again while SQLITE_BUSY). So on
 * SQLite the rewrites go a few rows per transaction with a pause between,
 * to keep those waits short.
 */
const SQLITE_WRITE_ROWS = 20;
const SQLITE_PAUSE_MS = 20;

export async function reencryptSecrets(store: Store, options: { batchSize?: number } = {}): Promise<ReencryptResult> {
  const batchSize = options.batchSize ?? BATCH;
  const sqlite = store.dialect === 'sqlite';
  const writeRows = sqlite ? SQLITE_WRITE_ROWS : batchSize;
  let rewritten = 0;
  for (let pass = 1; ; pass++) {
    let scanned = 0;
    let changedMeanwhile = 0;
    let after: { tenantId: string; endpointId: string } | null = null;
    for (;;) {
      const cursor: { tenantId: string; endpointId: string } | null = after;
      const rows: StoredSecrets[] = await store.read((r) => r.preferences.storedSecrets(cursor, batchSize));
      scanned += rows.length;
      const changes = await store.read(async (r) => rows.map((row) => ({ row, next: r.preferences.resealed(row) })));
      const due = changes.filter((c): c is { row: StoredSecrets; next: StoredSecrets } => c.next !== null);
      for (let i = 0; i < due.length; i += writeRows) {
        const slice = due.slice(i, i + writeRows);
        const written = await store.write(async (r) => {
          let n = 0;
          for (const { row, next } of slice) if (await r.preferences.replaceSecrets(row, next)) n++;
          return n;
        });
        rewritten += written;
        changedMeanwhile += slice.length - written;
        if (sqlite) await sleep(SQLITE_PAUSE_MS);
      }
      const last = rows.at(-1);
      if (last === undefined || rows.length < batchSize) break;
      after = { tenantId: last.tenantId, endpointId: last.endpointId };
    }
    if (changedMeanwhile === 0 || pass === MAX_PASSES) return { scanned, rewritten, unsettled: changedMeanwhile };
  }
}
