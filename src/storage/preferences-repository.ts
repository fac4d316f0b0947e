import type { AgentPreferences as Row } from '../generated/prisma/sqlite/client.js';
import { priorityFromRank, PRIORITY_RANK } from '../domain/types.js';
import type { AgentPreferences, EditablePreferences, QuietHoursPolicy, SigningSecrets } from '../domain/types.js';
import type { PrismaTx } from './repositories.js';

function toDomain(row: Row): AgentPreferences {
  return {
    agentId: row.agentId,
    enableWebhook: row.enableWebhook,
    webhookUrl: row.webhookUrl,
    timeZone: row.timeZone,
    quietHours:
      row.quietStart !== null && row.quietEnd !== null
        ? { start: row.quietStart, end: row.quietEnd, policy: row.quietPolicy as QuietHoursPolicy, urgentBypass: row.urgentBypass }
        : null,
    maxPerHour: row.maxPerHour,
    notificationTypes: JSON.parse(row.notificationTypes) as string[],
    minPriority: priorityFromRank(row.minPriority) ?? null,
    webhookHeaders: JSON.parse(row.webhookHeaders) as Record<string, string>,
    webhookTimeoutMs: row.webhookTimeoutMs,
    webhookSecretSet: row.webhookSecret !== null,
    webhookDisabledReason: row.webhookDisabledReason,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

function secretsOf(row: Pick<Row, 'webhookSecret' | 'previousWebhookSecret' | 'previousSecretExpiresAt'>, now: Date): SigningSecrets {
  const previousValid = row.previousWebhookSecret !== null && row.previousSecretExpiresAt !== null && row.previousSecretExpiresAt > now;
  return {
    current: row.webhookSecret,
    previous: previousValid ? row.previousWebhookSecret : null,
    previousExpiresAt: previousValid ? row.previousSecretExpiresAt : null,
  };
}

function toColumns(p: EditablePreferences) {
  return {
    enableWebhook: p.enableWebhook,
    webhookUrl: p.webhookUrl,
    timeZone: p.timeZone,
    quietStart: p.quietHours?.start ?? null,
    quietEnd: p.quietHours?.end ?? null,
    quietPolicy: p.quietHours?.policy ?? 'SKIP',
    urgentBypass: p.quietHours?.urgentBypass ?? false,
    maxPerHour: p.maxPerHour,
    notificationTypes: JSON.stringify(p.notificationTypes),
    minPriority: p.minPriority === null ? 0 : PRIORITY_RANK[p.minPriority],
    webhookHeaders: JSON.stringify(p.webhookHeaders),
    webhookTimeoutMs: p.webhookTimeoutMs,
  };
}

export class PreferencesRepository {
  constructor(private readonly tx: PrismaTx) {}

  async get(tenantId: string, agentId: string): Promise<AgentPreferences | null> {
    const row = await this.tx.agentPreferences.findUnique({ where: { tenantId_agentId: { tenantId, agentId } } });
    return row === null ? null : toDomain(row);
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
    const columns = toColumns(prefs);
    // Turning the webhook back on (reason null) also starts the failure count afresh.
    const reason = opts.disabledReason === undefined ? {} : { webhookDisabledReason: opts.disabledReason, ...(opts.disabledReason === null ? { consecutiveFailures: 0 } : {}) };
    if (!opts.exists) {
      const row = await this.tx.agentPreferences.create({
        data: { tenantId, agentId, ...columns, ...reason, webhookSecret: opts.newSecret, createdAt: opts.now, updatedAt: opts.now },
      });
      return toDomain(row);
    }
    const secret = opts.newSecret !== null ? { webhookSecret: opts.newSecret } : {};
    const row = await this.tx.agentPreferences.update({
      where: { tenantId_agentId: { tenantId, agentId } },
      data: { ...columns, ...reason, ...secret, updatedAt: opts.now },
    });
    return toDomain(row);
  }

  async hasSecret(tenantId: string, agentId: string): Promise<boolean> {
    const row = await this.tx.agentPreferences.findUnique({ where: { tenantId_agentId: { tenantId, agentId } }, select: { webhookSecret: true } });
    return row?.webhookSecret != null;
  }

  /** Deletes the row; false when there was none. */
  async delete(tenantId: string, agentId: string): Promise<boolean> {
    const { count } = await this.tx.agentPreferences.deleteMany({ where: { tenantId, agentId } });
    return count > 0;
  }

  /** A page of the tenant's agents ordered by agent_id, starting after `afterAgentId`. */
  async list(tenantId: string, limit: number, afterAgentId: string | null): Promise<AgentPreferences[]> {
    const rows = await this.tx.agentPreferences.findMany({
      where: afterAgentId === null ? { tenantId } : { tenantId, agentId: { gt: afterAgentId } },
      orderBy: { agentId: 'asc' },
      take: limit,
    });
    return rows.map(toDomain);
  }

  /** The secrets that sign right now; an expired previous secret is reported as none. */
  async signingSecrets(tenantId: string, agentId: string, now: Date): Promise<SigningSecrets | null> {
    const row = await this.tx.agentPreferences.findUnique({
      where: { tenantId_agentId: { tenantId, agentId } },
      select: { webhookSecret: true, previousWebhookSecret: true, previousSecretExpiresAt: true },
    });
    return row === null ? null : secretsOf(row, now);
  }

  /**
   * Everything a send needs about the agent, in one read: preferences, the
   * secrets that sign now, and how many of its deliveries ended FAILED in a row.
   */
  async deliveryTarget(tenantId: string, agentId: string, now: Date): Promise<{ prefs: AgentPreferences; secrets: SigningSecrets; consecutiveFailures: number } | null> {
    const row = await this.tx.agentPreferences.findUnique({ where: { tenantId_agentId: { tenantId, agentId } } });
    return row === null ? null : { prefs: toDomain(row), secrets: secretsOf(row, now), consecutiveFailures: row.consecutiveFailures };
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

  /** A delivery of the agent succeeded: the failures in a row start again from 0. */
  async resetFailures(tenantId: string, agentId: string): Promise<void> {
    await this.tx.agentPreferences.updateMany({ where: { tenantId, agentId, consecutiveFailures: { gt: 0 } }, data: { consecutiveFailures: 0 } });
  }

  /** Replaces the secret; the old one signs until `previousExpiresAt` (null: revoked now). */
  async rotateSecret(tenantId: string, agentId: string, secret: string, previousExpiresAt: Date | null, now: Date): Promise<boolean> {
    const key = { tenantId_agentId: { tenantId, agentId } };
    const row = await this.tx.agentPreferences.findUnique({ where: key, select: { webhookSecret: true } });
    if (row === null) return false;
    const keepPrevious = previousExpiresAt !== null && row.webhookSecret !== null;
    await this.tx.agentPreferences.update({
      where: key,
      data: {
        webhookSecret: secret,
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
    return count > 0;
  }
}
