/**
 * Which Herald this is: the package version and the git revision it was built
 * from. Every commit carries the same package version, so the revision is what
 * tells two builds apart in a log line, a webhook's User-Agent or a health probe.
 *
 * The revision comes from `build-info.json` beside the compiled modules
 * (written by `npm run build`, see scripts/build-info.mjs; the Docker build
 * passes it as the REVISION build argument, as the image has no .git), else
 * from the checkout's `.git` when running from source, else `unknown`.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BuildInfo {
  /** package.json `version`, e.g. `0.2.0`. */
  readonly version: string;
  /** Abbreviated commit id (hex), or `unknown`. */
  readonly revision: string;
}

export const UNKNOWN_REVISION = 'unknown';

/** What a build-info file or .git may hold as a revision: hex only, so nothing else reaches logs or headers. */
const REVISION_PATTERN = /^[0-9a-f]{4,40}$/;

/** Length of the abbreviated id read from .git, as `git rev-parse --short` prints it in a small repository. */
const SHORT_REVISION_LENGTH = 7;

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** The revision recorded by `npm run build` in `dir/build-info.json`, or null when there is none. */
export function revisionFromBuildInfo(dir: string): string | null {
  const text = readText(join(dir, 'build-info.json'));
  if (text === null) return null;
  try {
    const revision = (JSON.parse(text) as { revision?: unknown }).revision;
    return typeof revision === 'string' && (REVISION_PATTERN.test(revision) || revision === UNKNOWN_REVISION) ? revision : null;
  } catch {
    return null;
  }
}

/**
 * The commit checked out at `root`, read from `.git` without running git
 * (which may not be installed): a plain repository or a worktree (`.git` is
 * then a file naming its git directory, whose refs live in the common one),
 * a branch (loose or packed ref) or a detached HEAD. Null when unreadable.
 */
export function revisionFromGit(root: string): string | null {
  let gitDir = join(root, '.git');
  const pointer = readText(gitDir);
  if (pointer !== null) {
    const match = /^gitdir: (.+)$/m.exec(pointer);
    if (match === null) return null;
    gitDir = resolve(root, match[1]!.trim());
  }
  const head = readText(join(gitDir, 'HEAD'))?.trim();
  if (head === undefined) return null;
  let commit: string | undefined = head;
  const ref = /^ref: (refs\/\S+)$/.exec(head)?.[1];
  if (ref !== undefined) {
    const common = readText(join(gitDir, 'commondir'))?.trim();
    const commonDir = common === undefined ? gitDir : isAbsolute(common) ? common : resolve(gitDir, common);
    commit =
      readText(join(gitDir, ref))?.trim() ??
      readText(join(commonDir, ref))?.trim() ??
      readText(join(commonDir, 'packed-refs'))
        ?.split('\n')
        .map((line) => line.split(' '))
        .find(([, name]) => name === ref)?.[0];
  }
  return commit !== undefined && /^[0-9a-f]{40}$/.test(commit) ? commit.slice(0, SHORT_REVISION_LENGTH) : null;
}

/**
 * Reads the build information of the Herald whose modules sit in `moduleDir`
 * (`src/` under tsx, `dist/` once compiled); the package root is its parent.
 */
export function readBuildInfo(moduleDir: string = dirname(fileURLToPath(import.meta.url))): BuildInfo {
  const root = dirname(moduleDir);
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const revision = revisionFromBuildInfo(moduleDir) ?? revisionFromGit(root) ?? UNKNOWN_REVISION;
  return Object.freeze({ version, revision });
}

/** `0.2.0+abc1234` (semver build metadata), or just the version when the revision is unknown. */
export function versionLabel(info: BuildInfo): string {
  return info.revision === UNKNOWN_REVISION ? info.version : `${info.version}+${info.revision}`;
}

/** This process's build, read once at start-up. */
export const BUILD: BuildInfo = readBuildInfo();
