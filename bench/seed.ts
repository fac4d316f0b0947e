/**
 * Seeding straight into the database, for backlogs too large to create
 * through the API in a benchmark's time (9,000 notifications in an agent's
 * window, 10,000 deliveries): rows made by Herald itself are copied under new
 * ids, so every column holds what Herald writes. Only the benchmark does this,
 * on its own throw-away databases.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import type { BenchDatabase } from './herald.js';

type Table = 'notifications' | 'deliveries';

async function execute(db: BenchDatabase, sql: { sqlite: string; postgresql: string }, params: readonly unknown[]): Promise<number> {
  if (db.target.provider === 'sqlite') {
    const conn = new Database(db.url.replace(/^file:/, ''));
    try {
      conn.pragma('busy_timeout = 10000');
      return conn.prepare(sql.sqlite).run(...params).changes;
    } finally {
      conn.close();
    }
  }
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query(sql.postgresql, [...params])).rowCount ?? 0;
  } finally {
    await client.end();
  }
}

async function columns(db: BenchDatabase, table: Table): Promise<string[]> {
  if (db.target.provider === 'sqlite') {
    const conn = new Database(db.url.replace(/^file:/, ''), { readonly: true });
    try {
      return (conn.prepare(`SELECT name FROM pragma_table_info('${table}')`).all() as Array<{ name: string }>).map((c) => c.name);
    } finally {
      conn.close();
    }
  }
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const r = await client.query<{ column_name: string }>(`SELECT column_name FROM information_schema.columns WHERE table_name = $1 AND table_schema = current_schema() ORDER BY ordinal_position`, [table]);
    return r.rows.map((c) => c.column_name);
  } finally {
    await client.end();
  }
}

/**
 * Copies every row of `table` whose `agent_id` starts with `agentPrefix`
 * `copies` times, ids suffixed `-c<n>`. Returns the rows inserted.
 */
export async function cloneRows(db: BenchDatabase, table: Table, agentPrefix: string, copies: number): Promise<number> {
  const cols = await columns(db, table);
  const list = cols.join(', ');
  // A counted notification's number is unique per agent: copy n of number s
  // takes s + n * (the agent's last number), and the agent's counter follows.
  const lastSeq = `(SELECT last_seq FROM rate_counters c WHERE c.tenant_id = ${table}.tenant_id AND c.agent_id = ${table}.agent_id)`;
  // An ordered delivery's number is unique per (endpoint, key) in the same way: copy n comes n key-lengths later.
  const lastOrder = `(SELECT last_seq FROM ordering_sequences o WHERE o.tenant_id = ${table}.tenant_id AND o.endpoint_id = ${table}.endpoint_id AND o.ordering_key = ${table}.ordering_key)`;
  const copyOf = (c: string): string =>
    c === 'id' ? `id || '-c' || n` : c === 'rate_seq' ? `rate_seq + n * ${lastSeq}` : c === 'ordering_seq' ? `ordering_seq + n * ${lastOrder}` : c;
  const select = cols.map(copyOf).join(', ');
  const inserted = await execute(
    db,
    {
      sqlite: `WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ?) INSERT INTO ${table} (${list}) SELECT ${select} FROM ${table}, s WHERE agent_id LIKE ? || '%' AND id NOT LIKE '%-c%'`,
      postgresql: `INSERT INTO ${table} (${list}) SELECT ${select} FROM ${table}, generate_series(1, $1) AS s(n) WHERE agent_id LIKE $2 || '%' AND id NOT LIKE '%-c%'`,
    },
    [copies, agentPrefix],
  );
  if (table === 'deliveries') {
    const follow = `UPDATE ordering_sequences SET last_seq = last_seq * (1 + ${db.target.provider === 'sqlite' ? '?' : '$1'})
      WHERE endpoint_id IN (SELECT endpoint_id FROM deliveries WHERE agent_id LIKE ${db.target.provider === 'sqlite' ? '?' : '$2'} || '%')`;
    await execute(db, { sqlite: follow, postgresql: follow }, [copies, agentPrefix]);
  }
  if (table === 'notifications') {
    const follow = `UPDATE rate_counters SET last_seq = last_seq * (1 + ${db.target.provider === 'sqlite' ? '?' : '$1'}) WHERE agent_id LIKE ${db.target.provider === 'sqlite' ? '?' : '$2'} || '%'`;
    await execute(db, { sqlite: follow, postgresql: follow }, [copies, agentPrefix]);
  }
  return inserted;
}

/** Makes every delivery PENDING and due again, as new, with no attempts: a fresh backlog for the next round. */
export async function resetBacklog(db: BenchDatabase): Promise<void> {
  await execute(db, { sqlite: 'DELETE FROM delivery_attempts', postgresql: 'DELETE FROM delivery_attempts' }, []);
  const reset = `UPDATE deliveries SET status = 'PENDING', attempt_count = 0, attempt_base = 0, lease_owner = NULL, lease_expires_at = NULL,
    completed_at = NULL, last_status_code = NULL, last_error = NULL, next_attempt_at = created_at`;
  await execute(db, { sqlite: reset, postgresql: reset }, []);
}

/** One delivery body as Herald wrote it (the ceiling posts the same bytes). */
export async function sampleBody(db: BenchDatabase): Promise<string> {
  if (db.target.provider === 'sqlite') {
    const conn = new Database(db.url.replace(/^file:/, ''), { readonly: true });
    try {
      return (conn.prepare('SELECT body FROM deliveries LIMIT 1').get() as { body: string }).body;
    } finally {
      conn.close();
    }
  }
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query<{ body: string }>('SELECT body FROM deliveries LIMIT 1')).rows[0]!.body;
  } finally {
    await client.end();
  }
}
