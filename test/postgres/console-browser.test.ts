// The same test as test/integration/console-browser.test.ts, on PostgreSQL:
// the console's pages over the PostgreSQL storage, in Chromium.
process.env.HERALD_TEST_DB = 'postgresql';
await import('../integration/console-browser.test.js');
