// The same test as test/integration/portal-browser.test.ts, on PostgreSQL.
process.env.HERALD_TEST_DB = 'postgresql';
await import('../integration/portal-browser.test.js');
