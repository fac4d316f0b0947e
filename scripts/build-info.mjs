// Writes dist/build-info.json after `tsc` (the last step of `npm run build`):
// the git revision this build is made from, which src/version.ts reports.
// HERALD_BUILD_REVISION wins (the Docker build sets it from its REVISION
// argument: the build context has no .git); otherwise `git rev-parse --short
// HEAD` in a checkout; otherwise "unknown".
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function gitRevision() {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

const given = process.env.HERALD_BUILD_REVISION?.trim();
const revision = given ? given.toLowerCase() : gitRevision();
if (revision !== 'unknown' && !/^[0-9a-f]{4,40}$/.test(revision)) {
  console.error(`HERALD_BUILD_REVISION: expected a commit id in hex (git rev-parse --short HEAD) or "unknown", got "${revision.slice(0, 40)}"`);
  process.exit(2);
}
mkdirSync(new URL('../dist', import.meta.url), { recursive: true });
writeFileSync(new URL('../dist/build-info.json', import.meta.url), `${JSON.stringify({ revision })}\n`);
console.log(`wrote dist/build-info.json (revision ${revision})`);
