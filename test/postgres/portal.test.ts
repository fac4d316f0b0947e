// The same tests as test/integration/portal.test.ts, on PostgreSQL: each test
// gets a fresh database on the server of HERALD_TEST_DATABASE_URL.
process.env.HERALD_TEST_DB = 'postgresql';
await import('../integration/portal.test.js');
