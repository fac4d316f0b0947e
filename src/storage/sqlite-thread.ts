/**
 * Prisma's SQLite connection on a thread of its own.
 *
 * better-sqlite3 is synchronous: on the main thread every statement, every
 * busy wait and every COMMIT's fsync (synchronous=FULL, WAL) stops the event
 * loop, so no gRPC call is decoded or answered and no webhook is sent while
 * the disk works. {@link SqliteThread} is a Prisma driver adapter factory
 * whose one connection lives on a worker thread (sqlite-thread-worker.ts):
 * Prisma's own JavaScript (the query compiler, row mapping) still runs here,
 * but the database work overlaps everything else the process does.
 *
 * The worker runs Prisma's own better-sqlite3 adapter, so argument and row
 * conversion, transactions (BEGIN, the adapter's transaction mutex) and the
 * error mapping are exactly what they were in-thread; this side forwards each
 * call as one message with an id and answers it with a promise. A
 * `DriverAdapterError` crosses as its `cause` (plain data) and is rebuilt
 * here, so storage/errors.ts classifies it as before; any other error
 * crosses as its name, message and code.
 *
 * Alternatives weighed: talking to better-sqlite3 directly in the worker
 * (cached prepared statements, a whole transaction in one message) would save
 * work per statement, but re-implements the adapter's conversions and error
 * mapping, which Prisma's query compiler depends on; and Prisma awaits each
 * statement's rows before it builds the next, so a transaction cannot be sent
 * ahead in one message without going around Prisma.
 *
 * If the thread dies (an uncaught error, out of memory), every call waiting
 * on it and every later statement of a transaction that was open on it fails
 * with the adapter error `ConnectionClosed` (a storage fault,
 * `connection-lost`: clients get UNAVAILABLE, never a hang). SQLite rolled
 * the open transaction back with the connection; the next call starts a new
 * thread and connection. `dispose` (Prisma's `$disconnect`) ends the thread.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import {
  DriverAdapterError,
  type IsolationLevel,
  type SqlDriverAdapter,
  type SqlDriverAdapterFactory,
  type SqlQuery,
  type SqlResultSet,
  type Transaction,
  type TransactionOptions,
  type Error as AdapterErrorCause,
} from '@prisma/driver-adapter-utils';
import type { SqliteSettings } from './sqlite-connection.js';

/** A call to the thread. `tx` names a transaction the thread began (null: outside any). */
export type ThreadRequest =
  | { readonly id: number; readonly op: 'queryRaw' | 'executeRaw'; readonly tx: number | null; readonly query: SqlQuery }
  | { readonly id: number; readonly op: 'executeScript'; readonly script: string }
  | { readonly id: number; readonly op: 'begin'; readonly isolationLevel: IsolationLevel | undefined }
  | { readonly id: number; readonly op: 'commit' | 'rollback'; readonly tx: number }
  | { readonly id: number; readonly op: 'dispose' };

/** An error as it crosses the thread: a driver adapter error's cause, or another error's name, message and code. */
export type WireError = { readonly adapter: AdapterErrorCause } | { readonly name: string; readonly message: string; readonly code: string | undefined };

/** The thread's answer to request `id` (id 0 answers its start: the connection is open and set up). */
export type ThreadReply = { readonly id: number; readonly ok: true; readonly value: unknown } | { readonly id: number; readonly ok: false; readonly error: WireError };

const ADAPTER_NAME = 'herald-sqlite-thread';
/** The id of the thread's first answer: its connection is ready, or why it is not. */
export const READY_ID = 0;

/** The worker's module beside this one: `.ts` under tsx, `.js` in the build. */
const WORKER_URL = new URL(`./sqlite-thread-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/**
 * Starts the worker. Under tsx (tests, `npm run dev`) the TypeScript module
 * is loaded through tsx's loader, registered in the thread first: on Node 20
 * a worker does not get the loader hooks that `--import tsx` registered on
 * the main thread, and fails on the `.ts` extension. The build runs the
 * compiled `.js` as is.
 */
function startWorker(settings: SqliteSettings): Worker {
  const options: WorkerOptions = { workerData: settings };
  if (!WORKER_URL.pathname.endsWith('.ts')) return new Worker(WORKER_URL, options);
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}

/** Rebuilds an error that crossed the thread, in the shape storage/errors.ts recognises. */
export function decodeError(wire: WireError): Error {
  if ('adapter' in wire) return new DriverAdapterError(wire.adapter);
  const err = new Error(wire.message);
  err.name = wire.name;
  if (wire.code !== undefined) Object.assign(err, { code: wire.code });
  return err;
}

/** The error of every call a dead (or closed) thread cannot answer: a lost connection to storage/errors.ts. */
function connectionClosed(why: string): DriverAdapterError {
  const err = new DriverAdapterError({ kind: 'ConnectionClosed', originalMessage: why });
  // The kind alone would be the message; the log should say why.
  err.message = `ConnectionClosed: ${why}`;
  return err;
}

interface Waiter {
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: Error) => void;
}

/** One worker and its connection; replaced by a new one when it dies. */
class Thread {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, Waiter>();
  private nextId = READY_ID + 1;
  /** Why the thread can answer no more (it died or was disposed); null while it runs. */
  private endedBecause: string | null = null;
  private readonly ended: Promise<void>;
  /** Resolves once the connection is open and set up; rejects with why it could not be. */
  readonly ready: Promise<void>;

  constructor(settings: SqliteSettings) {
    this.worker = startWorker(settings);
    // Idle, the thread must not keep the process alive (a forgotten close
    // would hang exit); while a call waits it must, or a script awaiting
    // only this call would end with the call unanswered.
    this.worker.unref();
    this.ready = new Promise<void>((resolve, reject) => this.waiting.set(READY_ID, { resolve: () => resolve(), reject }));
    // A connection that could not be opened leaves nothing to keep: the next call starts a new thread.
    this.ready.catch(() => {
      this.end('the SQLite connection could not be opened');
      void this.worker.terminate();
    });
    this.worker.ref();
    this.worker.on('message', (reply: ThreadReply) => this.answer(reply));
    let crash: Error | null = null;
    this.worker.on('error', (err) => (crash = err));
    this.ended = new Promise((resolve) =>
      this.worker.once('exit', (code) => {
        const err = crash as Error | null;
        this.end(err === null ? `the SQLite thread ended (exit code ${code})` : `the SQLite thread died: ${err.name}: ${err.message}`);
        resolve();
      }),
    );
  }

  get alive(): boolean {
    return this.endedBecause === null;
  }

  /** Sends a request and waits for its answer. */
  call<T>(request: DistributiveOmit<ThreadRequest, 'id'>): Promise<T> {
    if (this.endedBecause !== null) return Promise.reject(connectionClosed(this.endedBecause));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      if (this.waiting.size === 0) this.worker.ref();
      this.waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.postMessage({ ...request, id });
    });
  }

  /** Closes the connection (when it is open) and ends the thread. */
  async dispose(): Promise<void> {
    if (this.endedBecause === null) {
      await this.call({ op: 'dispose' }).catch(() => undefined);
      this.end('the SQLite connection was closed');
      await this.worker.terminate();
    }
    await this.ended;
  }

  private answer(reply: ThreadReply): void {
    const waiter = this.waiting.get(reply.id);
    if (waiter === undefined) return;
    this.waiting.delete(reply.id);
    if (this.waiting.size === 0) this.worker.unref();
    if (reply.ok) waiter.resolve(reply.value);
    else waiter.reject(decodeError(reply.error));
  }

  private end(why: string): void {
    if (this.endedBecause !== null) return;
    this.endedBecause = why;
    const waiters = [...this.waiting.values()];
    this.waiting.clear();
    this.worker.unref();
    for (const w of waiters) w.reject(connectionClosed(why));
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A transaction begun on one thread: it lives and dies with that thread's connection. */
class ThreadTransaction implements Transaction {
  readonly provider = 'sqlite';
  readonly adapterName = ADAPTER_NAME;

  constructor(
    private readonly thread: Thread,
    private readonly tx: number,
    readonly options: TransactionOptions,
  ) {}

  queryRaw(query: SqlQuery): Promise<SqlResultSet> {
    return this.thread.call({ op: 'queryRaw', tx: this.tx, query });
  }

  executeRaw(query: SqlQuery): Promise<number> {
    return this.thread.call({ op: 'executeRaw', tx: this.tx, query });
  }

  commit(): Promise<void> {
    return this.thread.call({ op: 'commit', tx: this.tx });
  }

  /** Nothing is left to roll back on a dead thread: SQLite dropped the transaction with the connection. */
  rollback(): Promise<void> {
    return this.thread.alive ? this.thread.call({ op: 'rollback', tx: this.tx }) : Promise.resolve();
  }

  async createSavepoint(name: string): Promise<void> {
    await this.executeRaw({ sql: `SAVEPOINT ${name}`, args: [], argTypes: [] });
  }

  async rollbackToSavepoint(name: string): Promise<void> {
    await this.executeRaw({ sql: `ROLLBACK TO ${name}`, args: [], argTypes: [] });
  }

  async releaseSavepoint(name: string): Promise<void> {
    await this.executeRaw({ sql: `RELEASE SAVEPOINT ${name}`, args: [], argTypes: [] });
  }
}

/** The connection Prisma holds: forwards to the current thread, starting a new one after a death. */
class ThreadConnection implements SqlDriverAdapter {
  readonly provider = 'sqlite';
  readonly adapterName = ADAPTER_NAME;
  private thread: Thread | null = null;
  private disposed = false;

  constructor(private readonly settings: SqliteSettings) {}

  /** The running thread, once its connection is ready; a new one if none runs. */
  async current(): Promise<Thread> {
    if (this.disposed) throw connectionClosed('the SQLite connection was closed');
    if (this.thread === null || !this.thread.alive) this.thread = new Thread(this.settings);
    const thread = this.thread;
    await thread.ready;
    return thread;
  }

  async queryRaw(query: SqlQuery): Promise<SqlResultSet> {
    return (await this.current()).call({ op: 'queryRaw', tx: null, query });
  }

  async executeRaw(query: SqlQuery): Promise<number> {
    return (await this.current()).call({ op: 'executeRaw', tx: null, query });
  }

  async executeScript(script: string): Promise<void> {
    await (await this.current()).call({ op: 'executeScript', script });
  }

  async startTransaction(isolationLevel?: IsolationLevel): Promise<Transaction> {
    const thread = await this.current();
    const begun = await thread.call<{ tx: number; options: TransactionOptions }>({ op: 'begin', isolationLevel });
    return new ThreadTransaction(thread, begun.tx, begun.options);
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    const thread = this.thread;
    this.thread = null;
    await thread?.dispose();
  }
}

/**
 * Prisma's driver adapter factory for a SQLite file whose connection lives
 * on a worker thread (see the file comment). Pass it as PrismaClient's
 * `adapter`; the connection is opened, and set up as `settings` say, when
 * Prisma first connects, and again after a thread died.
 */
export class SqliteThread implements SqlDriverAdapterFactory {
  readonly provider = 'sqlite';
  readonly adapterName = ADAPTER_NAME;

  constructor(private readonly settings: SqliteSettings) {}

  async connect(): Promise<SqlDriverAdapter> {
    const connection = new ThreadConnection(this.settings);
    try {
      await connection.current();
    } catch (err) {
      await connection.dispose();
      throw err;
    }
    return connection;
  }
}
