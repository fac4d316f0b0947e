/**
 * Rewrites every stored secret and webhook_headers value under the current
 * key (HERALD_SECRET_KEY): values of the previous key, and plain text written
 * before a key was set. Safe while Herald runs: batches are short
 * transactions, and each row is rewritten only if it still holds what was
 * read (see PreferencesRepository.resealBatch); a row changed in between was
 * written by Herald (under the current key, if Herald was restarted with it
 * first) and is looked at again by the next pass.
 */
import type { Store } from './database.js';
import type { ResealBatch } from './preferences-repository.js';

export interface ReencryptResult {
  /** Agents looked at in the last pass. */
  readonly scanned: number;
  /** Agents whose values were rewritten, over all passes. */
  readonly rewritten: number;
  /** Agents that kept changing under the rewrite in every pass (0 unless something rewrites them with another key). */
  readonly unsettled: number;
}

const BATCH = 100;
const MAX_PASSES = 5;

export async function reencryptSecrets(store: Store, batchSize: number = BATCH): Promise<ReencryptResult> {
  let rewritten = 0;
  for (let pass = 1; ; pass++) {
    let scanned = 0;
    let changedMeanwhile = 0;
    let after: string | null = null;
    for (;;) {
      const cursor: string | null = after;
      const batch: ResealBatch = await store.write((r) => r.preferences.resealBatch(cursor, batchSize));
      scanned += batch.scanned;
      rewritten += batch.rewritten;
      changedMeanwhile += batch.changedMeanwhile;
      if (batch.lastAgentId === null || batch.scanned < batchSize) break;
      after = batch.lastAgentId;
    }
    if (changedMeanwhile === 0 || pass === MAX_PASSES) return { scanned, rewritten, unsettled: changedMeanwhile };
  }
}
