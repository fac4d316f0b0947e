// test/integration/health.test.ts on PostgreSQL.
process.env.HERALD_TEST_DB = 'postgresql';
await import('../integration/health.test.js');
