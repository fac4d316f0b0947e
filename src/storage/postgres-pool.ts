/**
 * PostgreSQL connections that cannot hang. Without bounds, a server that
 * stops answering (paused, partitioned, a silent port) leaves every pooled
 * query waiting forever, measured on 0.2: a 20 s pause cost clients 38 s of
 * timeouts. Each wait here has its own bound (see {@link DatabaseTimeouts}),
 * and each ends in an error src/storage/errors.ts classifies.
 */
import pg from 'pg';
import { VARIABLES, type DatabaseTimeouts } from '../config.js';

/**
 * The defaults of src/config.ts's table, for callers without a
 * configuration (tests): read from the table, the one place they are named.
 */
export const DEFAULT_DATABASE_TIMEOUTS: DatabaseTimeouts = Object.freeze({
  connectTimeoutMs: VARIABLES.HERALD_DB_CONNECT_TIMEOUT_MS.read(undefined, 'HERALD_DB_CONNECT_TIMEOUT_MS', ''),
  acquireTimeoutMs: VARIABLES.HERALD_DB_ACQUIRE_TIMEOUT_MS.read(undefined, 'HERALD_DB_ACQUIRE_TIMEOUT_MS', ''),
  statementTimeoutMs: VARIABLES.HERALD_DB_STATEMENT_TIMEOUT_MS.read(undefined, 'HERALD_DB_STATEMENT_TIMEOUT_MS', ''),
  transactionTimeoutMs: VARIABLES.HERALD_DB_TRANSACTION_TIMEOUT_MS.read(undefined, 'HERALD_DB_TRANSACTION_TIMEOUT_MS', ''),
});

/**
 * How much later than `statement_timeout` the client gives up on an answer:
 * a server that answers at all cancels the statement first (57014, the
 * clearer error); one that is paused or gone never does.
 */
export const CLIENT_BOUND_MARGIN_MS = 500;

/** pg's text for a statement the client-side bound (`query_timeout`) gave up on. */
const READ_TIMEOUT = 'Query read timeout';

type Query = (...args: unknown[]) => unknown;

/**
 * A pg client whose connection is closed when the client-side bound of a
 * statement runs out. pg only stops waiting: the statement stays on the
 * connection, and the ROLLBACK Prisma sends next would queue behind it for
 * another full bound while the pool hands the connection out again.
 * Closing it fails what is queued at once, the pool drops the client, and a
 * server that comes back ends the abandoned transaction itself.
 */
class BoundedClient extends pg.Client {
  constructor(config: pg.ClientConfig) {
    super(config);
    const query = this.query.bind(this) as unknown as Query;
    const bounded: Query = (...args) => {
      const result = query(...args);
      if (result instanceof Promise) {
        result.catch((err: unknown) => {
          if (err instanceof Error && err.message === READ_TIMEOUT) this.connection.stream.destroy();
        });
      }
      return result;
    };
    (this as unknown as { query: Query }).query = bounded;
  }
}

/**
 * A pool of at most `max` connections to `connectionString` with every wait
 * bounded: connecting (`connectTimeoutMs`), waiting for a free connection
 * (`acquireTimeoutMs`), each statement (`statement_timeout` on the server,
 * `query_timeout` a little later on the client, then the connection is
 * closed). TCP keep-alive finds connections to a host that vanished.
 */
export function boundedPool(connectionString: string, max: number, timeouts: DatabaseTimeouts): pg.Pool {
  const clientConfig: pg.ClientConfig = {
    connectionString,
    connectionTimeoutMillis: timeouts.connectTimeoutMs,
    statement_timeout: timeouts.statementTimeoutMs,
    query_timeout: timeouts.statementTimeoutMs + CLIENT_BOUND_MARGIN_MS,
    keepAlive: true,
  };
  return new pg.Pool({
    ...clientConfig,
    max,
    // pg-pool bounds the wait for a free connection with the same option it
    // gives each new client; the client above keeps its own connect bound.
    connectionTimeoutMillis: timeouts.acquireTimeoutMs,
    Client: class extends BoundedClient {
      constructor() {
        super(clientConfig);
      }
    },
  });
}
