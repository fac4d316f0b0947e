// test/integration/sqlite-thread.test.ts on PostgreSQL: every test skips there (the thread holds a SQLite connection), kept so the suite's rule holds.
process.env.HERALD_TEST_DB = 'postgresql';
await import('../integration/sqlite-thread.test.js');
