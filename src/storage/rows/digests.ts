/** The `digests` table: the bookkeeping of a digest delivery (its window, item count, open or full). */
import type { Digest as Row } from '../../generated/prisma/sqlite/client.js';
import { bool, int, Table, text, timestamp } from './table.js';

export type DigestRow = Row;

export const DIGESTS = new Table<Row>('digests', {
  id: text('id'),
  tenantId: text('tenant_id'),
  agentId: text('agent_id'),
  windowStart: timestamp('window_start'),
  windowEnd: timestamp('window_end'),
  itemCount: int('item_count'),
  open: bool('open'),
  kind: text('kind'),
  createdAt: timestamp('created_at'),
});
