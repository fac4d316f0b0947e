/**
 * Runs the real entry point (src/main.ts) as a child process, for tests that
 * kill Herald: SIGKILL mid-send, SIGTERM with a grace period, a restart on the
 * same database, a configuration that must stop start-up.
 *
 * Everything a test opens here (children, clients, temporary directories) is
 * closed by `t.after`; a child still running then gets SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { createHeraldClient, type HeraldClient } from '../../src/client.js';
import { freshDatabaseUrl, TEST_DATABASE } from './herald.js';

/** The repository root: the child's working directory, so that `src/main.ts` and `proto/` resolve. */
export const REPO_ROOT: string = fileURLToPath(new URL('../../', import.meta.url));

/** How a child ended: exactly one of `code` and `signal` is non-null. */
export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** One parsed stdout line (pino JSON); `msg` is what the tests look for. */
export interface LogRecord {
  readonly msg?: string;
  readonly level?: number;
  readonly [field: string]: unknown;
}

/** A Herald child process, started and not (necessarily) ready. */
export interface HeraldProcess {
  readonly proc: ChildProcess;
  /** Every stdout line so far (pino JSON), in order. */
  readonly logs: string[];
  /** Every stderr line so far. */
  readonly stderr: string[];
  /** Resolves once the process has exited (never rejects). */
  readonly exited: Promise<ChildExit>;
  /** The stdout lines that parse as JSON, in order. */
  records(): LogRecord[];
  /** Resolves with the first log record with this `msg` (past or future); rejects after `timeoutMs` or when the child exits first. */
  waitForLog(msg: string, timeoutMs?: number): Promise<LogRecord>;
  /** Sends `signal`; false when the child had already exited. */
  kill(signal: NodeJS.Signals): boolean;
  /** The captured output, for assertion messages. */
  describe(): string;
}

/** A Herald child that logged 'Herald started', with a client connected to it. */
export interface ChildHerald extends HeraldProcess {
  /** `127.0.0.1:<port>`. */
  readonly address: string;
  readonly port: number;
  /** A client for this child; closed by `t.after` (or earlier by the test). */
  readonly client: HeraldClient;
}

export interface SpawnOptions {
  /** The directory holding the SQLite database (`<dir>/herald.db`); reuse it to restart on the same data. */
  readonly dir: string;
  /** Extra environment, applied over the defaults below. */
  readonly env?: Record<string, string>;
  /** How long start-up may take before the child is killed and the test fails, ms. Default 20,000. */
  readonly readyTimeoutMs?: number;
}

/**
 * The child's environment: only what Herald reads, so that the variables of
 * the shell running the tests (a real WEBHOOK_SECRET, HERALD_API_TOKENS…)
 * cannot change the service under test. GRPC_ADDRESS uses port 0 and the
 * bound port is read from the 'gRPC server listening' line: a port picked
 * beforehand could be taken by another process before the child binds it.
 */
function childEnv(dir: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  const inherited: NodeJS.ProcessEnv = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'SYSTEMROOT', 'NODE_OPTIONS']) {
    const value = process.env[name];
    if (value !== undefined) inherited[name] = value;
  }
  return {
    ...inherited,
    DATABASE_URL: `file:${join(dir, 'herald.db')}`,
    GRPC_ADDRESS: '127.0.0.1:0',
    HERALD_ALLOW_HTTP_TARGETS: 'true',
    HERALD_ALLOW_PRIVATE_TARGETS: 'true',
    HERALD_LOG_LEVEL: 'info',
    ...extra,
  };
}

/** The database of each directory's children: a SQLite file in it, or (PostgreSQL suite) a fresh database created once per directory. */
const databases = new Map<string, Promise<string>>();

async function databaseFor(t: TestContext, dir: string): Promise<string> {
  let url = databases.get(dir);
  if (url === undefined) {
    url = TEST_DATABASE === 'postgresql' ? freshDatabaseUrl(t, dir) : Promise.resolve(`file:${join(dir, 'herald.db')}`);
    databases.set(dir, url);
  }
  return url;
}

/** Children not yet exited, by database directory, so that a directory is removed only after its children are gone. */
const running = new Map<string, Set<HeraldProcess>>();

async function killAll(dir: string): Promise<void> {
  const children = [...(running.get(dir) ?? [])];
  for (const child of children) child.kill('SIGKILL');
  await Promise.all(children.map((child) => child.exited));
}

/**
 * A fresh temporary directory, removed by `t.after`. `t.after` hooks run in
 * the order they were registered, so this one first SIGKILLs the children
 * still running on the directory (they are registered later).
 */
export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'herald-crash-'));
  t.after(async () => {
    await killAll(dir);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

function parse(line: string): LogRecord | null {
  if (!line.startsWith('{')) return null;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as LogRecord) : null;
  } catch {
    return null;
  }
}

/** Splits a stream into lines, calling `onLine` for each complete one (and for a last unterminated one at the end). */
function lines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    rest += chunk;
    let newline = rest.indexOf('\n');
    while (newline !== -1) {
      onLine(rest.slice(0, newline));
      rest = rest.slice(newline + 1);
      newline = rest.indexOf('\n');
    }
  });
  stream.on('end', () => {
    if (rest !== '') onLine(rest);
    rest = '';
  });
}

/**
 * Starts `node --import tsx src/main.ts` without waiting for anything: for
 * children expected to fail start-up. `t.after` SIGKILLs it if still running.
 */
export function startHeraldProcess(t: TestContext, options: SpawnOptions): HeraldProcess {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: REPO_ROOT,
    env: childEnv(options.dir, options.env ?? {}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const stderr: string[] = [];
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const listener of [...listeners]) listener();
  };

  // 'close' rather than 'exit': it comes after stdout and stderr have been read to the end,
  // so a test that awaits `exited` sees every line the child wrote.
  const exited = new Promise<ChildExit>((resolve) => {
    proc.once('close', (code, signal) => resolve({ code, signal }));
    proc.once('error', () => resolve({ code: proc.exitCode, signal: proc.signalCode }));
  });
  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
    notify();
  });
  if (proc.stdout === null || proc.stderr === null) throw new Error('spawn gave no stdout/stderr pipes');
  lines(proc.stdout, (line) => {
    logs.push(line);
    notify();
  });
  lines(proc.stderr, (line) => stderr.push(line));

  const describe = (): string =>
    [`pid ${proc.pid ?? '?'} exit ${proc.exitCode ?? '-'} signal ${proc.signalCode ?? '-'}`, '--- stdout', ...logs, '--- stderr', ...stderr].join('\n');

  const handle: HeraldProcess = {
    proc,
    logs,
    stderr,
    exited,
    records: () => logs.map(parse).filter((r): r is LogRecord => r !== null),
    describe,
    kill(signal) {
      if (proc.exitCode !== null || proc.signalCode !== null) return false;
      return proc.kill(signal);
    },
    waitForLog(msg, timeoutMs = 20_000) {
      return new Promise<LogRecord>((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`no log line with msg "${msg}" within ${timeoutMs} ms\n${describe()}`)), timeoutMs);
        const check = (): void => {
          const found = handle.records().find((r) => r.msg === msg);
          if (found !== undefined) finish(null, found);
          else if (hasExited) finish(new Error(`the child exited before logging "${msg}"\n${describe()}`));
        };
        function finish(error: Error | null, record?: LogRecord): void {
          clearTimeout(timer);
          listeners.delete(check);
          if (error !== null) reject(error);
          else resolve(record as LogRecord);
        }
        listeners.add(check);
        check();
      });
    },
  };

  const siblings = running.get(options.dir) ?? new Set<HeraldProcess>();
  running.set(options.dir, siblings);
  siblings.add(handle);
  void exited.then(() => {
    siblings.delete(handle);
    if (siblings.size === 0 && running.get(options.dir) === siblings) running.delete(options.dir);
  });
  t.after(async () => {
    handle.kill('SIGKILL');
    await exited;
  });
  return handle;
}

/**
 * Starts Herald as a child process and waits for 'Herald started'. Fails with
 * the captured output when the child exits first or does not come up within
 * `readyTimeoutMs` (the child is then killed).
 */
export async function spawnHerald(t: TestContext, options: SpawnOptions): Promise<ChildHerald> {
  const child = startHeraldProcess(t, { ...options, env: { DATABASE_URL: await databaseFor(t, options.dir), ...options.env } });
  // Generous: three children compiling and starting on a loaded 2-core machine
  // have taken over 20 s; this is a wait for readiness, not a measure of speed.
  const timeoutMs = options.readyTimeoutMs ?? 60_000;
  try {
    const listening = await child.waitForLog('gRPC server listening', timeoutMs);
    await child.waitForLog('Herald started', timeoutMs);
    const port = listening.port;
    if (typeof port !== 'number') throw new Error(`'gRPC server listening' carries no port\n${child.describe()}`);
    const address = `127.0.0.1:${port}`;
    const client = createHeraldClient(address);
    t.after(() => client.close());
    return { ...child, address, port, client };
  } catch (err) {
    child.kill('SIGKILL');
    await child.exited;
    throw err;
  }
}

/**
 * Polls `probe` until it returns a value other than undefined; rejects after
 * `timeoutMs` with `what` and the last probe error, if any. For outcomes that
 * arrive asynchronously (a retry, a lease takeover), instead of fixed sleeps.
 */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Resolves with how the child exited, or rejects when it is still running after `timeoutMs`. */
export async function exitWithin(child: HeraldProcess, timeoutMs: number): Promise<ChildExit> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the child did not exit within ${timeoutMs} ms\n${child.describe()}`)), timeoutMs);
  });
  try {
    return await Promise.race([child.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
