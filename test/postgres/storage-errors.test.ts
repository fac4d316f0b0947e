// test/integration/storage-errors.test.ts on PostgreSQL.
process.env.HERALD_TEST_DB = 'postgresql';
await import('../integration/storage-errors.test.js');
