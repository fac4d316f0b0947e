/** The `delivery_attempts` table: one row per HTTP request made for a delivery. */
import type { DeliveryAttempt as Row } from '../../generated/prisma/sqlite/client.js';
import type { AttemptTrigger, DeliveryAttempt } from '../../domain/types.js';
import { int, intOrNull, Table, text, textOrNull, timestamp } from './table.js';

export type AttemptRow = Row;

export const DELIVERY_ATTEMPTS = new Table<Row>('delivery_attempts', {
  id: text('id'),
  deliveryId: text('delivery_id'),
  number: int('number'),
  startedAt: timestamp('started_at'),
  durationMs: int('duration_ms'),
  statusCode: intOrNull('status_code'),
  errorClass: textOrNull('error_class'),
  errorMessage: textOrNull('error_message'),
  responseExcerpt: textOrNull('response_excerpt'),
  trigger: text('trigger'),
  url: text('url'),
});

export function toAttempt(row: Row): DeliveryAttempt {
  return {
    number: row.number,
    startedAt: row.startedAt,
    durationMs: row.durationMs,
    statusCode: row.statusCode,
    errorClass: row.errorClass,
    errorMessage: row.errorMessage,
    responseExcerpt: row.responseExcerpt,
    trigger: row.trigger as AttemptTrigger,
    url: row.url,
  };
}

export function attemptRow(id: string, deliveryId: string, a: DeliveryAttempt): Row {
  return { ...a, id, deliveryId };
}
