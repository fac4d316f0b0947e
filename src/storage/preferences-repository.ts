import { agentKey, type AgentRef } from '../domain/agent-key.js';
import { MASKED_HEADER_VALUE } from '../domain/types.js';
import type { AgentPreferences, EditablePreferences, SigningSecrets } from '../domain/types.js';
import { editableColumns, toPreferences, type PreferencesRow as Row, type StoredHeaders } from './rows/agent-preferences.js';
import { SealedValueError, type SealedPlace, type SecretBox } from './secret-box.js';
import type { PrismaTx } from './sql.js';
import type { TxFacts } from './tx-facts.js';

/** Where an agent's webhooks go, as the dispatcher needs it: preferences with opened headers, signing secrets, failures in a row. */
export interface DeliveryTargetRow {
  readonly prefs: AgentPreferences;
  readonly secrets: SigningSecrets;
  readonly consecutiveFailures: number;
}

// Where each secret sits, for its encryption's additional data. A place names
// one row, (tenant, agent), so a value copied to another agent or tenant does
// not open. Both secret columns share one field name so that a rotation can
// move the current secret to the previous column without opening it.
function secretPlace(tenantId: string, agentId: string): SealedPlace {
  return { tenantId, agentId, field: 'webhook_secret' };
}
function headerPlace(tenantId: string, agentId: string, name: string): SealedPlace {
  return { tenantId, agentId, field: `webhook_headers.${name.toLowerCase()}` };
}

function openedHeaders(row: Pick<Row, 'tenantId' | 'agentId' | 'webhookHeaders'>, box: SecretBox): Record<string, string> {
  const stored = JSON.parse(row.webhookHeaders) as StoredHeaders;
  return Object.fromEntries(Object.entries(stored).map(([name, value]) => [name, box.open(value, headerPlace(row.tenantId, row.agentId, name))]));
}

function secretsOf(row: Pick<Row, 'tenantId' | 'agentId' | 'webhookSecret' | 'previousWebhookSecret' | 'previousSecretExpiresAt'>, now: Date, box: SecretBox): SigningSecrets {
  const previousValid = row.previousWebhookSecret !== null && row.previousSecretExpiresAt !== null && row.previousSecretExpiresAt > now;
  const open = (stored: string | null): string | null => (stored === null ? null : box.open(stored, secretPlace(row.tenantId, row.agentId)));
  return {
    current: open(row.webhookSecret),
    previous: previousValid ? open(row.previousWebhookSecret) : null,
    previousExpiresAt: previousValid ? row.previousSecretExpiresAt : null,
  };
}

/**
 * Sealed header values. A masked value keeps the stored one (`stored`, by
 * lower-case name); the service has checked that there is one.
 */
function sealedHeaders(tenantId: string, agentId: string, headers: Readonly<Record<string, string>>, stored: StoredHeaders, box: SecretBox): StoredHeaders {
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => {
      const place = headerPlace(tenantId, agentId, name);
      if (value !== MASKED_HEADER_VALUE) return [name, box.seal(value, place)];
      const kept = stored[name.toLowerCase()];
      if (kept === undefined) throw new Error(`webhook_headers["${name}"] is masked but has no stored value to keep`);
      return [name, box.keep(kept, place)];
    }),
  );
}

/** An agent's secret columns as stored, for re-encryption. */
export interface StoredSecrets {
  readonly tenantId: string;
  readonly agentId: string;
  readonly webhookSecret: string | null;
  readonly previousWebhookSecret: string | null;
  readonly webhookHeaders: string;
}

export class PreferencesRepository {
  /** `get`'s answers read ahead by `prefetch`, by agent key. */
  private prefetched: Map<string, AgentPreferences | null> | null = null;

  constructor(
    private readonly tx: PrismaTx,
    private readonly box: SecretBox,
    private readonly facts: TxFacts,
  ) {}

  /** Records that the agent's webhook target changed: this process's cache and, at commit, other replicas' drop it. */
  private announce(tenantId: string, agentId: string): void {
    this.facts.targetChanged(tenantId, agentId);
  }

  /**
   * Reads several agents' preferences in one statement; `get` answers them
   * from memory from then on. Only for a group commit, which has taken the
   * agents' locks before this read, so every acknowledged write is visible
   * to it; a member that writes its agent's preferences drops that agent's
   * entry (no other member of the group reads that agent).
   */
  async prefetch(agents: readonly AgentRef[]): Promise<void> {
    const rows = await this.tx.agentPreferences.findMany({ where: { OR: agents.map(({ tenantId, agentId }) => ({ tenantId, agentId })) } });
    const found = new Map<string, AgentPreferences | null>(agents.map((a) => [agentKey(a.tenantId, a.agentId), null]));
    for (const row of rows) found.set(agentKey(row.tenantId, row.agentId), toPreferences(row));
    this.prefetched = found;
  }

  async get(tenantId: string, agentId: string): Promise<AgentPreferences | null> {
    const known = this.prefetched?.get(agentKey(tenantId, agentId));
    if (known !== undefined) return known;
    const row = await this.tx.agentPreferences.findUnique({ where: { tenantId_agentId: { tenantId, agentId } } });
    return row === null ? null : toPreferences(row);
  }

  /**
   * Writes an agent's preferences: creates the row unless `exists`.
   * `newSecret` is given only when the row has no secret yet.
   * `disabledReason` undefined leaves the recorded reason as it is.
   */
  async save(
    tenantId: string,
    agentId: string,
    prefs: EditablePreferences,
    opts: { now: Date; exists: boolean; newSecret: string | null; disabledReason?: string | null },
  ): Promise<AgentPreferences> {
    this.announce(tenantId, agentId);
    this.prefetched?.delete(agentKey(tenantId, agentId));
    const keeps = opts.exists && Object.values(prefs.webhookHeaders).includes(MASKED_HEADER_VALUE);
    const columns = editableColumns(prefs, sealedHeaders(tenantId, agentId, prefs.webhookHeaders, keeps ? await this.storedHeaders(tenantId, agentId) : {}, this.box));
    // Turning the webhook back on (reason null) also starts the failure count afresh.
    const reason = opts.disabledReason === undefined ? {} : { webhookDisabledReason: opts.disabledReason, ...(opts.disabledReason === null ? { consecutiveFailures: 0 } : {}) };
    if (!opts.exists) {
      const row = await this.tx.agentPreferences.create({
        data: { tenantId, agentId, ...columns, ...reason, webhookSecret: this.sealSecret(tenantId, agentId, opts.newSecret), createdAt: opts.now, updatedAt: opts.now },
      });
      return toPreferences(row);
    }
    const secret = opts.newSecret !== null ? { webhookSecret: this.sealSecret(tenantId, agentId, opts.newSecret) } : {};
    const row = await this.tx.agentPreferences.update({
      where: { tenantId_agentId: { tenantId, agentId } },
      data: { ...columns, ...reason, ...secret, updatedAt: opts.now },
    });
    return toPreferences(row);
  }

  private sealSecret(tenantId: string, agentId: string, secret: string | null): string | null {
    return secret === null ? null : this.box.seal(secret, secretPlace(tenantId, agentId));
  }

  /** The stored (sealed) header values by lower-case name, for an update that keeps some. */
  private async storedHeaders(tenantId: string, agentId: string): Promise<StoredHeaders> {
    const row = await this.tx.agentPreferences.findUnique({ where: { tenantId_agentId: { tenantId, agentId } }, select: { webhookHeaders: true } });
    const stored = JSON.parse(row?.webhookHeaders ?? '{}') as StoredHeaders;
    return Object.fromEntries(Object.entries(stored).map(([name, value]) => [name.toLowerCase(), value]));
  }

  async hasSecret(tenantId: string, agentId: string): Promise<boolean> {
    const row = await this.tx.agentPreferences.findUnique({ where: { tenantId_agentId: { tenantId, agentId } }, select: { webhookSecret: true } });
    return row?.webhookSecret != null;
  }

  /** Deletes the row; false when there was none. */
  async delete(tenantId: string, agentId: string): Promise<boolean> {
    const { count } = await this.tx.agentPreferences.deleteMany({ where: { tenantId, agentId } });
    if (count > 0) {
      this.announce(tenantId, agentId);
      this.prefetched?.delete(agentKey(tenantId, agentId));
    }
    return count > 0;
  }

  /** A page of the tenant's agents ordered by agent_id, starting after `afterAgentId`. */
  async list(tenantId: string, limit: number, afterAgentId: string | null): Promise<AgentPreferences[]> {
    const rows = await this.tx.agentPreferences.findMany({
      where: afterAgentId === null ? { tenantId } : { tenantId, agentId: { gt: afterAgentId } },
      orderBy: { agentId: 'asc' },
      take: limit,
    });
    return rows.map(toPreferences);
  }

  /** The secrets that sign right now; an expired previous secret is reported as none. */
  async signingSecrets(tenantId: string, agentId: string, now: Date): Promise<SigningSecrets | null> {
    const row = await this.tx.agentPreferences.findUnique({
      where: { tenantId_agentId: { tenantId, agentId } },
      select: { tenantId: true, agentId: true, webhookSecret: true, previousWebhookSecret: true, previousSecretExpiresAt: true },
    });
    return row === null ? null : secretsOf(row, now, this.box);
  }

  /**
   * Everything a send needs about the agent, in one read: preferences, the
   * secrets that sign now, and how many of its deliveries ended FAILED in a row.
   * The one read that opens the header values (to send them) and the secrets
   * (to sign); throws SealedValueError when one cannot be opened.
   */
  async deliveryTarget(tenantId: string, agentId: string, now: Date): Promise<DeliveryTargetRow | null> {
    const row = await this.tx.agentPreferences.findUnique({ where: { tenantId_agentId: { tenantId, agentId } } });
    return row === null ? null : this.targetOf(row, now);
  }

  /**
   * {@link deliveryTarget} for many agents in one statement (the worker reads
   * a claimed batch's agents at once). Keyed by `agentKey`;
   * an agent without preferences maps to null; an agent whose stored secret
   * or headers cannot be opened is left out, so that its own read reports why.
   */
  async deliveryTargets(agents: readonly AgentRef[], now: Date): Promise<Map<string, DeliveryTargetRow | null>> {
    const found = new Map<string, DeliveryTargetRow | null>();
    if (agents.length === 0) return found;
    for (const { tenantId, agentId } of agents) found.set(agentKey(tenantId, agentId), null);
    const rows = await this.tx.agentPreferences.findMany({ where: { OR: agents.map(({ tenantId, agentId }) => ({ tenantId, agentId })) } });
    for (const row of rows) {
      const key = agentKey(row.tenantId, row.agentId);
      try {
        found.set(key, this.targetOf(row, now));
      } catch (err) {
        if (!(err instanceof SealedValueError)) throw err;
        found.delete(key);
      }
    }
    return found;
  }

  private targetOf(row: Row, now: Date): DeliveryTargetRow {
    return { prefs: { ...toPreferences(row), webhookHeaders: openedHeaders(row, this.box) }, secrets: secretsOf(row, now, this.box), consecutiveFailures: row.consecutiveFailures };
  }

  /** Counts one more delivery of the agent ended FAILED; returns the count in a row, or null without a row. */
  async recordFailure(tenantId: string, agentId: string): Promise<number | null> {
    const [row] = await this.tx.agentPreferences.updateManyAndReturn({
      where: { tenantId, agentId },
      data: { consecutiveFailures: { increment: 1 } },
      select: { consecutiveFailures: true },
    });
    return row?.consecutiveFailures ?? null;
  }

  /** How many of the agent's deliveries have ended FAILED in a row; null without a row. */
  async failuresInARow(tenantId: string, agentId: string): Promise<number | null> {
    const row = await this.tx.agentPreferences.findUnique({ where: { tenantId_agentId: { tenantId, agentId } }, select: { consecutiveFailures: true } });
    return row?.consecutiveFailures ?? null;
  }

  /** A delivery of the agent succeeded: the failures in a row start again from 0. */
  async resetFailures(tenantId: string, agentId: string): Promise<void> {
    await this.tx.agentPreferences.updateMany({ where: { tenantId, agentId, consecutiveFailures: { gt: 0 } }, data: { consecutiveFailures: 0 } });
  }

  /** {@link resetFailures} for many agents of one tenant or several, in one statement (a no-op for agents at 0). */
  async resetFailuresOf(agents: readonly AgentRef[]): Promise<void> {
    if (agents.length === 0) return;
    await this.tx.agentPreferences.updateMany({
      where: { consecutiveFailures: { gt: 0 }, OR: agents.map(({ tenantId, agentId }) => ({ tenantId, agentId })) },
      data: { consecutiveFailures: 0 },
    });
  }

  /** Replaces the secret; the old one signs until `previousExpiresAt` (null: revoked now). */
  async rotateSecret(tenantId: string, agentId: string, secret: string, previousExpiresAt: Date | null, now: Date): Promise<boolean> {
    const key = { tenantId_agentId: { tenantId, agentId } };
    const row = await this.tx.agentPreferences.findUnique({ where: key, select: { webhookSecret: true } });
    if (row === null) return false;
    this.announce(tenantId, agentId);
    const keepPrevious = previousExpiresAt !== null && row.webhookSecret !== null;
    await this.tx.agentPreferences.update({
      where: key,
      data: {
        webhookSecret: this.box.seal(secret, secretPlace(tenantId, agentId)),
        // Moved as stored: both columns share one place (see secretPlace).
        previousWebhookSecret: keepPrevious ? row.webhookSecret : null,
        previousSecretExpiresAt: keepPrevious ? previousExpiresAt : null,
        updatedAt: now,
      },
    });
    return true;
  }

  /**
   * Turns the webhook off on Herald's own initiative (410 Gone, too many failures), recording
   * why, if it still points at `url`: a late answer from an old URL must not
   * switch off the new one. `onlyIfOn`: leave a webhook that is off already
   * (and its recorded reason) alone. Returns whether it did.
   */
  async disableWebhook(tenantId: string, agentId: string, url: string, reason: string, now: Date, onlyIfOn = false): Promise<boolean> {
    const { count } = await this.tx.agentPreferences.updateMany({
      where: { tenantId, agentId, webhookUrl: url, ...(onlyIfOn ? { enableWebhook: true } : {}) },
      data: { enableWebhook: false, webhookDisabledReason: reason, updatedAt: now },
    });
    if (count > 0) this.announce(tenantId, agentId);
    return count > 0;
  }

  /** Up to `limit` agents of every tenant after `after` (ordered by tenant, then agent id) with their secret columns as stored. */
  async storedSecrets(after: { readonly tenantId: string; readonly agentId: string } | null, limit: number): Promise<StoredSecrets[]> {
    return this.tx.agentPreferences.findMany({
      where: after === null ? {} : { OR: [{ tenantId: { gt: after.tenantId } }, { tenantId: after.tenantId, agentId: { gt: after.agentId } }] },
      orderBy: [{ tenantId: 'asc' }, { agentId: 'asc' }],
      take: limit,
      select: { tenantId: true, agentId: true, webhookSecret: true, previousWebhookSecret: true, webhookHeaders: true },
    });
  }

  /**
   * The row's values under the current key (plain text and the previous
   * key's values re-sealed), or null when every value already is. Throws
   * SealedValueError for a value no key of this process opens.
   */
  resealed(row: StoredSecrets): StoredSecrets | null {
    const place = secretPlace(row.tenantId, row.agentId);
    const reseal = (stored: string | null): string | null => (stored === null || this.box.isCurrent(stored) ? stored : this.box.seal(this.box.open(stored, place), place));
    const staleHeaders = Object.values(JSON.parse(row.webhookHeaders) as StoredHeaders).some((v) => !this.box.isCurrent(v));
    const next = {
      tenantId: row.tenantId,
      agentId: row.agentId,
      webhookSecret: reseal(row.webhookSecret),
      previousWebhookSecret: reseal(row.previousWebhookSecret),
      webhookHeaders: staleHeaders ? JSON.stringify(sealedHeaders(row.tenantId, row.agentId, openedHeaders(row, this.box), {}, this.box)) : row.webhookHeaders,
    };
    const same = next.webhookSecret === row.webhookSecret && next.previousWebhookSecret === row.previousWebhookSecret && !staleHeaders;
    return same ? null : next;
  }

  /**
   * Writes `next` over the agent's secret columns if they still hold `row`
   * (compare-and-swap: a concurrent update wins). Whether it did.
   */
  async replaceSecrets(row: StoredSecrets, next: StoredSecrets): Promise<boolean> {
    const { count } = await this.tx.agentPreferences.updateMany({
      where: { ...row },
      data: { webhookSecret: next.webhookSecret, previousWebhookSecret: next.previousWebhookSecret, webhookHeaders: next.webhookHeaders },
    });
    return count === 1;
  }
}
