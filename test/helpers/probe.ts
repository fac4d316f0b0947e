/**
 * Runs the container health probe (src/healthcheck.ts, the image's
 * HEALTHCHECK) as a child process with the given environment, the way Docker
 * runs it: asynchronously, so an in-process server can answer meanwhile.
 */
import { execFile } from 'node:child_process';
import { REPO_ROOT } from './child-herald.js';

export interface ProbeResult {
  /** The exit code: 0 healthy, 1 not. */
  readonly code: number;
  /** Its one line of output. */
  readonly out: string;
}

/** Never rejects: a failing probe is a result. */
export function runProbe(env: Record<string, string>): Promise<ProbeResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/healthcheck.ts'],
      { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 },
      (err, stdout, stderr) => resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, out: `${stdout}${stderr}`.trim() }),
    );
  });
}
