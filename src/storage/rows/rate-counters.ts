/** The `rate_counters` table: the last hourly-limit sequence number given to an agent (see rate-repository.ts). */
import type { RateCounter as Row } from '../../generated/prisma/sqlite/client.js';
import { Prisma } from '../sql.js';
import { int, Table, text } from './table.js';

export type RateCounterRow = Row;

export const RATE_COUNTERS = new Table<Row>('rate_counters', {
  tenantId: text('tenant_id'),
  agentId: text('agent_id'),
  lastSeq: int('last_seq'),
});

/** Upserts counters (both dialects take ON CONFLICT … excluded); the caller holds each agent's lock, so no other writer moved a value it read. */
export function upsertCounters(rows: readonly Row[]): Prisma.Sql {
  return RATE_COUNTERS.insert(rows, Prisma.sql`ON CONFLICT ("tenant_id", "agent_id") DO UPDATE SET "last_seq" = excluded."last_seq"`);
}
