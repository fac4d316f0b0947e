/**
 * Recognises the database's errors for the layers above, which never import
 * Prisma: constraint outcomes (unique violation, missing row) and the
 * storage faults of {@link storageFault}, the one taxonomy of what a
 * database that stalls, fills up or restarts throws.
 *
 * Errors reach this module in four shapes, all seen in the fault tests
 * (test/faults/, test/integration/storage-errors.test.ts):
 *
 * 1. `PrismaClientKnownRequestError` whose `meta.driverAdapterError.cause`
 *    is the driver adapter's error (`kind`, and `originalCode` for a
 *    PostgreSQL SQLSTATE or a SQLite result code): what most statements
 *    throw, e.g. P2010 with `originalCode` `57014`, `SQLITE_FULL`, `SQLITE_BUSY`.
 * 2. A bare `DriverAdapterError` whose `cause` is that same object: a
 *    failed COMMIT (SQLite on a full disk throws it so).
 * 3. `PrismaClientKnownRequestError` with a Prisma code only: P2028 when a
 *    transaction could not start within `maxWait` or outlived `timeout`.
 * 4. A plain `Error` of the pg driver that the adapter passes through:
 *    `Query read timeout` (the client-side statement bound),
 *    `timeout exceeded when trying to connect` (pool acquire),
 *    `Connection terminated due to connection timeout` or `timeout expired` (connect),
 *    `Connection terminated unexpectedly` (a killed server).
 */

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

/** The row an update or delete needed does not exist (Prisma P2025). */
export function isRecordNotFound(err: unknown): boolean {
  return prismaCode(err) === 'P2025';
}

/**
 * What went wrong with the database, for the caller's answer and for health:
 *
 * - `unreachable`: no connection could be made (refused, unknown host, the
 *   server accepted TCP but did not answer within the connect timeout);
 * - `connection-lost`: an open connection broke (the server was killed,
 *   `57P01` admin shutdown, `57P02` crash shutdown, a reset);
 * - `starting-up`: the server is starting or recovering (`57P03`);
 * - `timeout`: a statement (`57014`), a lock wait (`55P03`), the wait for a
 *   pooled connection, a transaction's start or length (P2028), or the
 *   client-side bound of a statement ran out;
 * - `too-many-connections`: the server refused a connection (`53300`, `53400`);
 * - `conflict`: serialization failure (`40001`) or deadlock (`40P01`): the
 *   transaction was rolled back and may simply be run again;
 * - `read-only`: the server accepts no writes (`25006`: a standby, or a
 *   failover in progress);
 * - `busy`: a SQLite file whose write lock another process held past the
 *   bounded busy wait (`SQLITE_BUSY`);
 * - `disk-full`: the database could not grow (`SQLITE_FULL`, `53100`).
 *
 * Every kind but `disk-full` passes by itself: the caller should retry
 * shortly, here or on another replica. A full disk needs an operator.
 */
export type StorageFaultKind =
  | 'unreachable'
  | 'connection-lost'
  | 'starting-up'
  | 'timeout'
  | 'too-many-connections'
  | 'conflict'
  | 'read-only'
  | 'busy'
  | 'disk-full';

/** Every kind, in the order of {@link StorageFaultKind}'s documentation (one source for tests and docs). */
export const STORAGE_FAULT_KINDS: readonly StorageFaultKind[] = [
  'unreachable',
  'connection-lost',
  'starting-up',
  'timeout',
  'too-many-connections',
  'conflict',
  'read-only',
  'busy',
  'disk-full',
];

/** A classified storage error: its kind and the code the layers above answer with. */
export interface StorageFault {
  readonly kind: StorageFaultKind;
  /** RESOURCE_EXHAUSTED for a full disk (retrying soon will not help), UNAVAILABLE for the rest. */
  readonly code: 'UNAVAILABLE' | 'RESOURCE_EXHAUSTED';
  /** For the caller: what happened and what to do, without internal detail. */
  readonly message: string;
}

const MESSAGES: Readonly<Record<StorageFaultKind, string>> = {
  'unreachable': 'the database cannot be reached right now; retry shortly or on another replica',
  'connection-lost': 'the connection to the database was lost; retry shortly',
  'starting-up': 'the database is starting up; retry shortly',
  'timeout': 'the database did not answer in time; retry shortly',
  'too-many-connections': 'the database has no free connections right now; retry shortly',
  'conflict': 'the request conflicted with a concurrent one and was rolled back; retry it',
  'read-only': 'the database accepts no writes right now (failover or standby); retry shortly',
  'busy': 'the database file is locked by another process; retry shortly',
  'disk-full': 'the database disk is full; retry once an operator has freed space',
};

/** PostgreSQL SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html). */
const SQLSTATE: Readonly<Record<string, StorageFaultKind>> = {
  '57P01': 'connection-lost', // admin_shutdown: pg_ctl stop -m fast, pg_terminate_backend
  '57P02': 'connection-lost', // crash_shutdown: another backend crashed
  '57P03': 'starting-up', // cannot_connect_now: starting up, shutting down, recovering
  '57014': 'timeout', // query_canceled: statement_timeout
  '55P03': 'timeout', // lock_not_available: lock_timeout
  '53300': 'too-many-connections', // too_many_connections (server or role limit)
  '53400': 'too-many-connections', // configuration_limit_exceeded
  '40001': 'conflict', // serialization_failure
  '40P01': 'conflict', // deadlock_detected
  '25006': 'read-only', // read_only_sql_transaction
  '53100': 'disk-full', // disk_full
};

/** Prisma's own codes for the same faults (model queries, and the transaction API). */
const PRISMA_CODES: Readonly<Record<string, StorageFaultKind>> = {
  P1001: 'unreachable', // can't reach database server
  P1002: 'timeout', // reached but timed out
  P1008: 'timeout', // operation timed out (SQLite's busy from model queries carries SQLITE_BUSY in its meta, matched first)
  P1017: 'connection-lost', // server closed the connection
  P2024: 'timeout', // timed out fetching a connection from the pool
  P2028: 'timeout', // transaction API: could not start in maxWait, or expired
  P2034: 'conflict', // write conflict or deadlock
};

/** The driver adapters' `kind`s that say enough by themselves. */
const ADAPTER_KINDS: Readonly<Record<string, StorageFaultKind>> = {
  DatabaseNotReachable: 'unreachable',
  ConnectionClosed: 'connection-lost',
  TooManyConnections: 'too-many-connections',
  TransactionWriteConflict: 'conflict',
};

/** Node's socket errors (pg passes them through before a connection is made or when it breaks). */
const SOCKET_CODES: Readonly<Record<string, StorageFaultKind>> = {
  ECONNREFUSED: 'unreachable',
  ENOTFOUND: 'unreachable',
  EAI_AGAIN: 'unreachable',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  ETIMEDOUT: 'unreachable',
  ECONNRESET: 'connection-lost',
  EPIPE: 'connection-lost',
};

/** The pg driver's own errors, which carry no code: matched on their fixed texts. */
const PG_MESSAGES: ReadonlyArray<readonly [RegExp, StorageFaultKind]> = [
  [/^Query read timeout$/, 'timeout'],
  [/^timeout exceeded when trying to connect$/, 'timeout'],
  [/^Connection terminated due to connection timeout$/, 'unreachable'],
  [/^timeout expired$/, 'unreachable'],
  [/^Connection terminated( unexpectedly)?$/, 'connection-lost'],
  [/is not queryable$/, 'connection-lost'],
];

/** SQLite result codes (better-sqlite3's `code`, the adapter's `originalCode`), extended codes included. */
function sqliteKind(code: string): StorageFaultKind | undefined {
  if (code.startsWith('SQLITE_FULL')) return 'disk-full';
  if (code.startsWith('SQLITE_BUSY')) return 'busy';
  return undefined;
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null && key in value ? (value as Record<string, unknown>)[key] : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** The kind named by a driver adapter's error object (`{ kind, originalCode?, code? }`). */
function adapterKind(cause: unknown): StorageFaultKind | undefined {
  const code = text(field(cause, 'originalCode')) ?? text(field(cause, 'code'));
  if (code !== undefined) {
    const kind = SQLSTATE[code] ?? sqliteKind(code);
    if (kind !== undefined) return kind;
  }
  const kind = text(field(cause, 'kind'));
  if (kind === undefined) return undefined;
  // SocketTimeout is PostgreSQL's ETIMEDOUT or, on SQLite, SQLITE_BUSY (whose originalCode matched above).
  if (kind === 'SocketTimeout') return 'timeout';
  return ADAPTER_KINDS[kind];
}

/**
 * A wait for the database that Herald itself bounded (a health check, a
 * start-up attempt) and that ran out: a `timeout`, like the drivers' own.
 */
export class StorageTimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what}: no answer within ${ms} ms`);
    this.name = 'StorageTimeoutError';
  }
}

function kindOf(err: unknown, depth: number): StorageFaultKind | undefined {
  if (typeof err !== 'object' || err === null || depth > 4) return undefined;
  if (err instanceof StorageTimeoutError) return 'timeout';
  // 1. Prisma's error with the adapter's error in its meta.
  const wrapped = field(field(err, 'meta'), 'driverAdapterError');
  if (wrapped !== undefined) {
    const kind = adapterKind(field(wrapped, 'cause'));
    if (kind !== undefined) return kind;
  }
  // 2. The adapter's error itself.
  if (field(err, 'name') === 'DriverAdapterError') {
    const kind = adapterKind(field(err, 'cause'));
    if (kind !== undefined) return kind;
  }
  // 3. Prisma's own code.
  const prisma = prismaCode(err);
  if (prisma !== undefined && PRISMA_CODES[prisma] !== undefined) return PRISMA_CODES[prisma];
  // 4. The drivers' own errors: pg's DatabaseError (SQLSTATE in `code`), better-sqlite3's SqliteError, sockets, pg's texts.
  const code = text(field(err, 'code'));
  if (code !== undefined) {
    const kind = SQLSTATE[code] ?? sqliteKind(code) ?? SOCKET_CODES[code];
    if (kind !== undefined) return kind;
  }
  const message = text(field(err, 'message'));
  if (message !== undefined) {
    for (const [pattern, kind] of PG_MESSAGES) if (pattern.test(message)) return kind;
  }
  return kindOf(field(err, 'cause'), depth + 1);
}

/**
 * The storage fault `err` is, or null when it is none of them (a bug, a
 * constraint, a domain error: the truly unexpected stays unexpected).
 */
export function storageFault(err: unknown): StorageFault | null {
  const kind = kindOf(err, 0);
  if (kind === undefined) return null;
  return { kind, code: kind === 'disk-full' ? 'RESOURCE_EXHAUSTED' : 'UNAVAILABLE', message: MESSAGES[kind] };
}

/**
 * The database cannot serve right now (any storage fault but a full disk):
 * the caller may retry, here or on another replica.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const fault = storageFault(err);
  return fault !== null && fault.code === 'UNAVAILABLE';
}

/**
 * SQLite answered SQLITE_BUSY: another process holds the write lock, or
 * committed after this transaction's first read, so the transaction could
 * not start writing. Prisma reports it as P1008 from model queries and as
 * P2010 with `SQLITE_BUSY` from raw ones.
 */
export function isSqliteBusy(err: unknown): boolean {
  if (prismaCode(err) === 'P1008') return true;
  return storageFault(err)?.kind === 'busy';
}
