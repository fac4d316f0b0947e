/**
 * The `endpoints` table: one row per destination of an agent's webhooks. The
 * agent's first endpoint (lowest `position`) carries the 0.2 webhook fields
 * (URL, headers, timeout, secret and its rotation), which
 * PreferencesRepository reads and writes through it. The sealed columns (the
 * secrets and header values) are opened and sealed by the repositories that
 * hold the key; this map only names them.
 */
import type { Endpoint as Row } from '../../generated/prisma/sqlite/client.js';
import type { Endpoint, EndpointOverrides } from '../../domain/endpoint.js';
import type { FilterCondition } from '../../domain/filter.js';
import type { Ordering } from '../../domain/ordering.js';
import { MASKED_HEADER_VALUE } from '../../domain/types.js';
import { bool, int, intOrNull, realOrNull, Table, text, textOrNull, timestamp, timestampOrNull } from './table.js';

export type EndpointRow = Row;

export const ENDPOINTS = new Table<Row>('endpoints', {
  tenantId: text('tenant_id'),
  id: text('id'),
  agentId: text('agent_id'),
  position: int('position'),
  description: text('description'),
  url: textOrNull('url'),
  enabled: bool('enabled'),
  disabledReason: textOrNull('disabled_reason'),
  eventTypes: text('event_types'),
  filter: text('filter'),
  headers: text('headers'),
  timeoutMs: intOrNull('timeout_ms'),
  maxAttempts: intOrNull('max_attempts'),
  initialDelayMs: intOrNull('initial_delay_ms'),
  multiplier: realOrNull('multiplier'),
  maxDelayMs: intOrNull('max_delay_ms'),
  secret: textOrNull('secret'),
  previousSecret: textOrNull('previous_secret'),
  previousSecretExpiresAt: timestampOrNull('previous_secret_expires_at'),
  overrides: text('overrides'),
  consecutiveFailures: int('consecutive_failures'),
  rateLastSeq: int('rate_last_seq'),
  ordering: text('ordering'),
  createdAt: timestamp('created_at'),
  updatedAt: timestamp('updated_at'),
});

/** The position of an agent's first endpoint, the one that carries its 0.2 webhook fields. */
export const FIRST_POSITION = 0;

/** The stored header values (sealed) by name, as the `headers` column holds them. */
export type StoredHeaders = Record<string, string>;

/** A new first endpoint's row for an agent that has none: the defaults of every field the 0.2 API does not set. */
export function newFirstEndpointRow(e: { readonly tenantId: string; readonly id: string; readonly agentId: string; readonly now: Date }): Row {
  return {
    tenantId: e.tenantId,
    id: e.id,
    agentId: e.agentId,
    position: FIRST_POSITION,
    description: '',
    url: null,
    enabled: true,
    disabledReason: null,
    eventTypes: '[]',
    filter: '[]',
    headers: '{}',
    timeoutMs: null,
    maxAttempts: null,
    initialDelayMs: null,
    multiplier: null,
    maxDelayMs: null,
    secret: null,
    previousSecret: null,
    previousSecretExpiresAt: null,
    overrides: '{}',
    consecutiveFailures: 0,
    rateLastSeq: 0,
    ordering: 'NONE' satisfies Ordering,
    createdAt: e.now,
    updatedAt: e.now,
  };
}

/**
 * The endpoint as the domain sees it, or null for a first endpoint whose
 * agent has set no webhook_url yet (it sends nothing and is decided as 0.2
 * decided an agent without a URL). Header values are masked unless
 * `headers` gives them opened.
 */
export function toEndpoint(row: Row, headers?: Readonly<Record<string, string>>): Endpoint | null {
  if (row.url === null) return null;
  return {
    id: row.id,
    agentId: row.agentId,
    description: row.description,
    url: row.url,
    enabled: row.enabled,
    disabledReason: row.disabledReason,
    eventTypes: JSON.parse(row.eventTypes) as string[],
    filter: JSON.parse(row.filter) as FilterCondition[],
    headers: headers ?? Object.fromEntries(Object.keys(JSON.parse(row.headers) as StoredHeaders).map((name) => [name, MASKED_HEADER_VALUE])),
    timeoutMs: row.timeoutMs,
    retryPolicy: { maxAttempts: row.maxAttempts, initialDelayMs: row.initialDelayMs, multiplier: row.multiplier, maxDelayMs: row.maxDelayMs },
    overrides: JSON.parse(row.overrides) as EndpointOverrides,
    ordering: row.ordering as Ordering,
  };
}

/** An endpoint as EndpointService shows it: its settings (header values masked) and what Herald keeps about it. */
export interface EndpointRecord extends Endpoint {
  /** Creation order within the agent; the lowest is the agent's first endpoint (its 0.2 webhook). */
  readonly position: number;
  readonly secretSet: boolean;
  readonly consecutiveFailures: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** The API's view of a row; a first endpoint without a URL yet (an agent with no webhook_url) reads with url "". */
export function toEndpointRecord(row: Row): EndpointRecord {
  const endpoint = toEndpoint({ ...row, url: row.url ?? '' })!;
  return {
    ...endpoint,
    position: row.position,
    secretSet: row.secret !== null,
    consecutiveFailures: row.consecutiveFailures,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
