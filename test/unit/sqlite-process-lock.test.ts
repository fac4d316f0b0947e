import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { lockSqliteFile, SqliteFileInUseError } from '../../src/storage/sqlite-process-lock.js';

test('a second lock on a SQLite file is refused, naming the holder and PostgreSQL; released, the file can be taken again', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'data', 'herald.db');
  const since = new Date('2026-12-01T08:00:00.000Z');
  const first = await lockSqliteFile(file, since);
  await assert.rejects(lockSqliteFile(file), (err: unknown) => {
    assert.ok(err instanceof SqliteFileInUseError);
    assert.deepEqual(err.holder, { pid: process.pid, host: hostname(), since: since.toISOString() });
    assert.match(err.message, new RegExp(`in use by Herald process ${process.pid} on .* \\(since 2026-12-01T08:00:00.000Z\\)`));
    assert.match(err.message, /SQLite serves one Herald process per file.*PostgreSQL/);
    return true;
  });
  first.release();
  const again = await lockSqliteFile(file);
  again.release();
});
