/**
 * Start-up against a database that never answers, with a real Herald
 * process: a TCP server that accepts connections and stays silent (what a
 * hung PostgreSQL, or a wrong port behind a load balancer, looks like). On
 * 0.2 such a start logged nothing and never exited. Now the process must
 * exit with status 1 within HERALD_DB_STARTUP_TIMEOUT_MS (plus the time to
 * start Node), and say on stderr which host it waited for, never the
 * password. Needs nothing but Node: it runs everywhere.
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { exitWithin, startHeraldProcess, tempDir } from '../helpers/child-herald.js';

const STARTUP_TIMEOUT_MS = 2_000;
/** Node and tsx start, migrations are tried: generous, as these machines are shared. */
const SLACK_MS = 30_000;
const PASSWORD = 'hunter2-must-not-leak';

describe('start-up against a silent database', () => {
  it('a PostgreSQL port that accepts TCP and never answers: exit 1 within the start-up bound, naming the host and never the password', { timeout: 90_000 }, async (t) => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      // Hold the connection open and say nothing.
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      for (const s of sockets) s.destroy();
      silent.close();
    });
    const address = silent.address();
    assert.ok(address !== null && typeof address === 'object');
    const started = Date.now();
    const child = startHeraldProcess(t, {
      dir: tempDir(t),
      env: {
        DATABASE_URL: `postgresql://herald:${PASSWORD}@127.0.0.1:${address.port}/herald`,
        HERALD_DB_STARTUP_TIMEOUT_MS: String(STARTUP_TIMEOUT_MS),
      },
    });
    const exit = await exitWithin(child, STARTUP_TIMEOUT_MS + SLACK_MS);
    const tookMs = Date.now() - started;
    assert.equal(exit.code, 1, `exit code\n${child.describe()}`);
    assert.ok(sockets.size > 0 || tookMs >= STARTUP_TIMEOUT_MS, 'Herald gave up before it had waited for the database at all');
    const said = [...child.stderr, ...child.logs].join('\n');
    assert.match(child.stderr.join('\n'), /herald: cannot start: .*127\.0\.0\.1/, `stderr names the host\n${child.describe()}`);
    assert.ok(!said.includes(PASSWORD), 'the password appears in what the process wrote');
    assert.ok(!child.logs.some((l) => l.includes('gRPC server listening')), 'it served although the database never answered');
    t.diagnostic(`exited ${exit.code} after ${tookMs} ms (bound ${STARTUP_TIMEOUT_MS} ms + start)`);
  });
});
