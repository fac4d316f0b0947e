import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BUILD, readBuildInfo, revisionFromBuildInfo, revisionFromGit, UNKNOWN_REVISION, versionLabel } from '../../src/version.js';

const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const OTHER = 'fedcba9876543210fedcba9876543210fedcba98';

/** A scratch directory removed after the test, with `files` (path → contents) written into it. */
function scratch(t: TestContext, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'herald-version-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [path, contents] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), contents);
  }
  return dir;
}

describe('revisionFromGit', () => {
  const cases: Array<{ name: string; files: Record<string, string>; expected: string | null }> = [
    { name: 'a branch with a loose ref', files: { '.git/HEAD': 'ref: refs/heads/main\n', '.git/refs/heads/main': `${COMMIT}\n` }, expected: '0123456' },
    {
      name: 'a branch only in packed-refs',
      files: { '.git/HEAD': 'ref: refs/heads/main\n', '.git/packed-refs': `# pack-refs with: peeled fully-peeled sorted\n${OTHER} refs/heads/other\n${COMMIT} refs/heads/main\n` },
      expected: '0123456',
    },
    { name: 'a detached HEAD', files: { '.git/HEAD': `${COMMIT}\n` }, expected: '0123456' },
    {
      name: 'a worktree, whose branch lives in the common git directory',
      files: {
        'repo/.git/HEAD': 'ref: refs/heads/main\n',
        'repo/.git/refs/heads/main': `${OTHER}\n`,
        'repo/.git/refs/heads/docker': `${COMMIT}\n`,
        'repo/.git/worktrees/docker/HEAD': 'ref: refs/heads/docker\n',
        'repo/.git/worktrees/docker/commondir': '../..\n',
        'wt/.git': 'gitdir: ../repo/.git/worktrees/docker\n',
      },
      expected: '0123456',
    },
    { name: 'a branch not yet committed to', files: { '.git/HEAD': 'ref: refs/heads/new\n' }, expected: null },
    { name: 'a HEAD that is not a commit id', files: { '.git/HEAD': 'garbage\n' }, expected: null },
    { name: 'no .git at all', files: { 'package.json': '{}' }, expected: null },
  ];
  for (const c of cases) {
    it(`reads ${c.name}`, (t) => {
      const dir = scratch(t, c.files);
      assert.equal(revisionFromGit(c.name.startsWith('a worktree') ? join(dir, 'wt') : dir), c.expected);
    });
  }

  it('agrees with git itself on this checkout', (t) => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    let expected: string;
    try {
      expected = execFileSync('git', ['rev-parse', '--short=7', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      t.skip('not a git checkout, or git is not installed');
      return;
    }
    assert.equal(revisionFromGit(root), expected);
  });
});

describe('readBuildInfo', () => {
  const packageJson = JSON.stringify({ version: '9.8.7' });

  it('takes the revision from build-info.json beside the modules before .git', (t) => {
    const root = scratch(t, { 'package.json': packageJson, 'dist/build-info.json': '{"revision":"abc1234"}', '.git/HEAD': `${COMMIT}\n` });
    assert.deepEqual(readBuildInfo(join(root, 'dist')), { version: '9.8.7', revision: 'abc1234' });
  });

  it('falls back to .git when there is no build-info.json (running from source)', (t) => {
    const root = scratch(t, { 'package.json': packageJson, '.git/HEAD': `${COMMIT}\n` });
    mkdirSync(join(root, 'src'));
    assert.deepEqual(readBuildInfo(join(root, 'src')), { version: '9.8.7', revision: '0123456' });
  });

  it('says unknown with neither, and ignores a build-info.json whose revision is not hex', (t) => {
    const root = scratch(t, { 'package.json': packageJson, 'dist/build-info.json': '{"revision":"$(reboot)"}' });
    assert.equal(revisionFromBuildInfo(join(root, 'dist')), null);
    assert.deepEqual(readBuildInfo(join(root, 'dist')), { version: '9.8.7', revision: UNKNOWN_REVISION });
  });

  it('gives this process the version of package.json', (t) => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(BUILD.version, version);
    t.diagnostic(`this build: ${versionLabel(BUILD)}`);
  });
});

describe('versionLabel', () => {
  it('appends the revision as semver build metadata, or leaves it out when unknown', () => {
    assert.equal(versionLabel({ version: '0.2.0', revision: 'abc1234' }), '0.2.0+abc1234');
    assert.equal(versionLabel({ version: '0.2.0', revision: UNKNOWN_REVISION }), '0.2.0');
  });
});
