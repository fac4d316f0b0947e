/**
 * The `agent_preferences` table: one row per agent of a tenant. The sealed
 * columns (the secrets and header values) are opened and sealed by
 * PreferencesRepository, which holds the key; this map only names them.
 */
import type { AgentPreferences as Row } from '../../generated/prisma/sqlite/client.js';
import { MASKED_HEADER_VALUE, priorityFromRank, PRIORITY_RANK } from '../../domain/types.js';
import type { AgentPreferences, EditablePreferences, QuietHoursPolicy, RateLimitPolicy } from '../../domain/types.js';
import { bool, int, intOrNull, Table, text, textOrNull, timestamp, timestampOrNull } from './table.js';

export type PreferencesRow = Row;

export const AGENT_PREFERENCES = new Table<Row>('agent_preferences', {
  tenantId: text('tenant_id'),
  agentId: text('agent_id'),
  enableWebhook: bool('enable_webhook'),
  webhookUrl: textOrNull('webhook_url'),
  webhookSecret: textOrNull('webhook_secret'),
  previousWebhookSecret: textOrNull('previous_webhook_secret'),
  previousSecretExpiresAt: timestampOrNull('previous_secret_expires_at'),
  timeZone: text('time_zone'),
  quietStart: textOrNull('quiet_start'),
  quietEnd: textOrNull('quiet_end'),
  quietPolicy: text('quiet_policy'),
  urgentBypass: bool('urgent_bypass'),
  maxPerHour: int('max_per_hour'),
  rateLimitPolicy: text('rate_limit_policy'),
  notificationTypes: text('notification_types'),
  minPriority: int('min_priority'),
  webhookHeaders: text('webhook_headers'),
  webhookTimeoutMs: intOrNull('webhook_timeout_ms'),
  webhookDisabledReason: textOrNull('webhook_disabled_reason'),
  createdAt: timestamp('created_at'),
  updatedAt: timestamp('updated_at'),
  consecutiveFailures: int('consecutive_failures'),
});

/** The stored header values (sealed) by name, as the `webhook_headers` column holds them. */
export type StoredHeaders = Record<string, string>;

/** The preferences as Herald shows them: header values masked (receiver credentials are write-only), no secret. */
export function toPreferences(row: Row): AgentPreferences {
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
    rateLimitPolicy: row.rateLimitPolicy as RateLimitPolicy,
    notificationTypes: JSON.parse(row.notificationTypes) as string[],
    minPriority: priorityFromRank(row.minPriority) ?? null,
    webhookHeaders: Object.fromEntries(Object.keys(JSON.parse(row.webhookHeaders) as StoredHeaders).map((name) => [name, MASKED_HEADER_VALUE])),
    webhookTimeoutMs: row.webhookTimeoutMs,
    webhookSecretSet: row.webhookSecret !== null,
    webhookDisabledReason: row.webhookDisabledReason,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** The editable columns of `p`, with the header values already sealed by the caller. */
export function editableColumns(p: EditablePreferences, sealedHeaders: StoredHeaders) {
  return {
    enableWebhook: p.enableWebhook,
    webhookUrl: p.webhookUrl,
    timeZone: p.timeZone,
    quietStart: p.quietHours?.start ?? null,
    quietEnd: p.quietHours?.end ?? null,
    quietPolicy: p.quietHours?.policy ?? 'SKIP',
    urgentBypass: p.quietHours?.urgentBypass ?? false,
    maxPerHour: p.maxPerHour,
    rateLimitPolicy: p.rateLimitPolicy,
    notificationTypes: JSON.stringify(p.notificationTypes),
    minPriority: p.minPriority === null ? 0 : PRIORITY_RANK[p.minPriority],
    webhookHeaders: JSON.stringify(sealedHeaders),
    webhookTimeoutMs: p.webhookTimeoutMs,
  } satisfies Partial<Row>;
}
