// `npm run test:faults`: the fault suite (issue #19), test/faults/*.test.ts
// with node:test, one file at a time (each starts real processes, and the
// PostgreSQL cases a cluster of their own). Tests that need PostgreSQL's
// server binaries or root skip with their reason where those are missing.
// Extra arguments go to node --test, e.g. --test-name-pattern=paused.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const files = readdirSync(new URL('../test/faults', import.meta.url))
  .filter((f) => f.endsWith('.test.ts'))
  .sort()
  .map((f) => `test/faults/${f}`);
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...process.argv.slice(2), ...files], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
