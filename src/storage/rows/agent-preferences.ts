/**
 * The `agent_preferences` table: one row per agent of a tenant, the
 * recipient's defaults. Its 0.2 webhook fields (URL, headers, timeout,
 * secret) live on its first endpoint (rows/endpoints.ts); the agent as the
 * API shows it is read from both rows.
 */
import type { AgentPreferences as Row } from '../../generated/prisma/sqlite/client.js';
import { MASKED_HEADER_VALUE, priorityFromRank, PRIORITY_RANK } from '../../domain/types.js';
import type { AgentPreferences, EditablePreferences, QuietHoursPolicy, RateLimitPolicy } from '../../domain/types.js';
import type { EndpointRow, StoredHeaders } from './endpoints.js';
import { bool, int, Table, text, textOrNull, timestamp } from './table.js';

export type PreferencesRow = Row;

export const AGENT_PREFERENCES = new Table<Row>('agent_preferences', {
  tenantId: text('tenant_id'),
  agentId: text('agent_id'),
  enableWebhook: bool('enable_webhook'),
  timeZone: text('time_zone'),
  quietStart: textOrNull('quiet_start'),
  quietEnd: textOrNull('quiet_end'),
  quietPolicy: text('quiet_policy'),
  urgentBypass: bool('urgent_bypass'),
  maxPerHour: int('max_per_hour'),
  rateLimitPolicy: text('rate_limit_policy'),
  notificationTypes: text('notification_types'),
  minPriority: int('min_priority'),
  webhookDisabledReason: textOrNull('webhook_disabled_reason'),
  createdAt: timestamp('created_at'),
  updatedAt: timestamp('updated_at'),
  consecutiveFailures: int('consecutive_failures'),
});

export type { StoredHeaders } from './endpoints.js';

/**
 * The preferences as Herald shows them, from the agent's row and its first
 * endpoint (null: none, as for an agent whose row predates it being made):
 * header values masked (receiver credentials are write-only), no secret.
 */
export function toPreferences(row: Row, first: EndpointRow | null): AgentPreferences {
  return {
    agentId: row.agentId,
    // 0.2's switch: off when the agent's master switch is, or when Herald turned its first endpoint off (410, failures).
    enableWebhook: row.enableWebhook && (first?.enabled ?? true),
    webhookUrl: first?.url ?? null,
    timeZone: row.timeZone,
    quietHours:
      row.quietStart !== null && row.quietEnd !== null
        ? { start: row.quietStart, end: row.quietEnd, policy: row.quietPolicy as QuietHoursPolicy, urgentBypass: row.urgentBypass }
        : null,
    maxPerHour: row.maxPerHour,
    rateLimitPolicy: row.rateLimitPolicy as RateLimitPolicy,
    notificationTypes: JSON.parse(row.notificationTypes) as string[],
    minPriority: priorityFromRank(row.minPriority) ?? null,
    webhookHeaders: Object.fromEntries(Object.keys(JSON.parse(first?.headers ?? '{}') as StoredHeaders).map((name) => [name, MASKED_HEADER_VALUE])),
    webhookTimeoutMs: first?.timeoutMs ?? null,
    webhookSecretSet: (first?.secret ?? null) !== null,
    webhookEndpointId: first?.id ?? null,
    webhookDisabledReason: first?.disabledReason ?? row.webhookDisabledReason,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** The editable columns of `p` on the agent's row (the recipient's defaults and the master switch). */
export function editableColumns(p: EditablePreferences) {
  return {
    enableWebhook: p.enableWebhook,
    timeZone: p.timeZone,
    quietStart: p.quietHours?.start ?? null,
    quietEnd: p.quietHours?.end ?? null,
    quietPolicy: p.quietHours?.policy ?? 'SKIP',
    urgentBypass: p.quietHours?.urgentBypass ?? false,
    maxPerHour: p.maxPerHour,
    rateLimitPolicy: p.rateLimitPolicy,
    notificationTypes: JSON.stringify(p.notificationTypes),
    minPriority: p.minPriority === null ? 0 : PRIORITY_RANK[p.minPriority],
  } satisfies Partial<Row>;
}

/** The editable columns of `p` on the agent's first endpoint, with the header values already sealed by the caller. */
export function firstEndpointColumns(p: EditablePreferences, sealedHeaders: StoredHeaders) {
  return {
    url: p.webhookUrl,
    headers: JSON.stringify(sealedHeaders),
    timeoutMs: p.webhookTimeoutMs,
  } satisfies Partial<EndpointRow>;
}
