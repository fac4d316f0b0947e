// The same test as test/integration/client-package.test.ts, on PostgreSQL: Herald runs on a
// fresh database on the server of HERALD_TEST_DATABASE_URL.
process.env.HERALD_TEST_DB = 'postgresql';
await import('../integration/client-package.test.js');
