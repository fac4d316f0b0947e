/** Recognises Prisma's errors for the layers above, which never import Prisma. */

function prismaCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' && err.constructor.name.startsWith('PrismaClient')) {
    return err.code;
  }
  return undefined;
}

/**
 * The driver adapter's normalised kind of a raw statement's failure (Prisma
 * P2010 "raw query failed" carries it in `meta.driverAdapterError.cause.kind`).
 */
function adapterErrorKind(err: unknown): string | undefined {
  if (prismaCode(err) !== 'P2010') return undefined;
  const meta = (err as { meta?: { driverAdapterError?: { cause?: { kind?: unknown } } } }).meta;
  const kind = meta?.driverAdapterError?.cause?.kind;
  return typeof kind === 'string' ? kind : undefined;
}

/**
 * A unique constraint was violated: a concurrent writer got there first.
 * Prisma's typed calls report P2002; raw statements (the row maps' INSERTs)
 * report P2010 with the adapter's kind `UniqueConstraintViolation`.
 */
export function isUniqueViolation(err: unknown): boolean {
  return prismaCode(err) === 'P2002' || adapterErrorKind(err) === 'UniqueConstraintViolation';
}

/**
 * The database cannot be reached or is overloaded right now (Prisma's
 * connection errors P1001/P1002/P1017, pool timeout P2024, transaction
 * start timeout P2028, or a driver adapter's connection failure): the
 * caller may retry, here or on another replica.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const code = prismaCode(err);
  if (code !== undefined && ['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2028'].includes(code)) return true;
  if (typeof err === 'object' && err !== null && 'name' in err && err.name === 'PrismaClientInitializationError') return true;
  const text = err instanceof Error ? err.message : '';
  return /ECONNREFUSED|ECONNRESET|Connection terminated|too many clients|database system is (starting up|shutting down)/i.test(text);
}

/**
 * SQLite answered SQLITE_BUSY (the driver adapter reports it as Prisma's
 * P1008 timeout): another process holds the write lock, or committed after
 * this transaction's first read, so the transaction could not start writing.
 */
export function isSqliteBusy(err: unknown): boolean {
  return prismaCode(err) === 'P1008';
}

/** The row an update or delete needed does not exist (Prisma P2025). */
export function isRecordNotFound(err: unknown): boolean {
  return prismaCode(err) === 'P2025';
}
