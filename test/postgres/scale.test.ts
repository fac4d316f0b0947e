// test/integration/scale.test.ts on PostgreSQL, where it actually runs:
// several processes sharing one database.
process.env.HERALD_TEST_DB = 'postgresql';
await import('../integration/scale.test.js');
