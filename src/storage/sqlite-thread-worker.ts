/**
 * The SQLite thread (see sqlite-thread.ts): owns the process's one SQLite
 * connection, through Prisma's own better-sqlite3 adapter, and runs what the
 * main thread sends, one message a call.
 *
 * Each request is answered once, an error included. Requests run in their
 * arrival order: the adapter does each statement's work synchronously before
 * its first await, so no statement overtakes another. A `begin` that must
 * wait for the adapter's transaction mutex waits without blocking the
 * messages behind it (the open transaction's own COMMIT among them).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isDriverAdapterError, type SqlDriverAdapter, type Transaction } from '@prisma/driver-adapter-utils';
import { openSqlite, type SqliteSettings } from './sqlite-connection.js';
import { READY_ID, type ThreadReply, type ThreadRequest, type WireError } from './sqlite-thread.js';

const port = parentPort;
if (port === null) throw new Error('sqlite-thread-worker runs as a worker thread (storage/sqlite-thread.ts starts it)');
const settings = workerData as SqliteSettings;

function encode(err: unknown): WireError {
  if (typeof err === 'object' && err !== null && isDriverAdapterError(err)) return { adapter: err.cause };
  const e = err instanceof Error ? err : new Error(String(err));
  const code = (e as { code?: unknown }).code;
  return { name: e.name, message: e.message, code: typeof code === 'string' ? code : undefined };
}

const transactions = new Map<number, Transaction>();
let nextTx = 1;

function transaction(id: number): Transaction {
  const tx = transactions.get(id);
  // The main thread never sends a statement for a transaction it did not begin here; an unknown id is a bug, not a database error.
  if (tx === undefined) throw new Error(`no open transaction ${id} on the SQLite thread`);
  return tx;
}

async function run(db: SqlDriverAdapter, request: ThreadRequest): Promise<unknown> {
  switch (request.op) {
    case 'queryRaw':
      return request.tx === null ? db.queryRaw(request.query) : transaction(request.tx).queryRaw(request.query);
    case 'executeRaw':
      return request.tx === null ? db.executeRaw(request.query) : transaction(request.tx).executeRaw(request.query);
    case 'executeScript':
      return db.executeScript(request.script);
    case 'begin': {
      const tx = await db.startTransaction(request.isolationLevel);
      const id = nextTx++;
      transactions.set(id, tx);
      return { tx: id, options: tx.options };
    }
    case 'commit':
    case 'rollback': {
      const tx = transaction(request.tx);
      transactions.delete(request.tx);
      return request.op === 'commit' ? tx.commit() : tx.rollback();
    }
    case 'dispose':
      return db.dispose();
  }
}

function reply(message: ThreadReply): void {
  port!.postMessage(message);
}

const ready = openSqlite(settings);
ready.then(
  () => reply({ id: READY_ID, ok: true, value: null }),
  (err: unknown) => reply({ id: READY_ID, ok: false, error: encode(err) }),
);

port.on('message', (request: ThreadRequest) => {
  ready
    .then((db) => run(db, request))
    .then(
      (value) => reply({ id: request.id, ok: true, value }),
      (err: unknown) => reply({ id: request.id, ok: false, error: encode(err) }),
    );
});
