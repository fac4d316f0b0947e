/**
 * Herald as users run it: `node dist/main.js`, configured through the
 * environment variables README documents, in a process of its own. Not under
 * tsx, so its memory and CPU are what production sees (tsx's loader thread
 * and transform cache added about 170 MB of RSS).
 *
 * The build comes first when it is missing or older than its sources (a
 * build takes about 20 s on the 2-core machine; `--only delivery` is run
 * over and over while working on one path, and a fresh build on every run
 * would double its time). `--dist DIR` runs another build instead (e.g. a
 * copy of the previous branch's dist/, to compare two builds on one machine
 * state); that one is never rebuilt.
 *
 * CPU and peak RSS are read from /proc (Linux), so the figures come from
 * outside the process and cost it nothing.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { checkHealth } from '../src/healthcheck.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The default build: what `npm run build` writes and `npm start` runs. */
export const DEFAULT_DIST = join(ROOT, 'dist');

/** Inputs of `npm run build`: a newer file in any of them makes dist/ stale. */
const BUILD_INPUTS = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'scripts/build-info.mjs', 'scripts/console-assets.mjs'];

function newestMtimeMs(path: string): number {
  const st = statSync(path, { throwIfNoEntry: false });
  if (st === undefined) return 0;
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtimeMs(join(path, entry)));
  return newest;
}

/** Why dist/ must be (re)built, or null when it is up to date. */
export function staleBuildReason(dist: string = DEFAULT_DIST): string | null {
  const main = join(dist, 'main.js');
  if (!existsSync(main)) return `${main} is missing`;
  const builtAt = statSync(main).mtimeMs;
  const newer = BUILD_INPUTS.find((input) => newestMtimeMs(join(ROOT, input)) > builtAt);
  return newer === undefined ? null : `${newer} changed since the last build`;
}

/** Runs `npm run build` when dist/ is missing or stale; a build's output goes to stderr. */
export function ensureBuilt(progress: (line: string) => void): void {
  const reason = staleBuildReason();
  if (reason === null) return;
  progress(`build: ${reason}; running npm run build`);
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', process.stderr, process.stderr] });
}

/** A loopback port nobody listens on right now (Herald binds it a moment later). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port from the kernel');
  return address.port;
}

/** CPU time (user + system, ms), resident set and peak resident set (bytes) of a process, from /proc; null where there is no /proc. */
export function processUsage(pid: number): { cpuMs: number; rssBytes: number; peakRssBytes: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces), from field 3 on.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kB = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { cpuMs: (ticks * 1000) / clockTicksPerSecond(), rssBytes: kB('VmRSS'), peakRssBytes: kB('VmHWM') };
  } catch {
    return null;
  }
}

let ticksPerSecond: number | null = null;
function clockTicksPerSecond(): number {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

export interface HeraldProcess {
  /** The gRPC port, or null for HERALD_ROLE=worker (no port). */
  readonly port: number | null;
  readonly pid: number;
  /** CPU used so far, ms (0 where /proc is missing). */
  cpuMs(): number;
  /** Resident set now, bytes (0 where /proc is missing). */
  rssBytes(): number;
  /** SIGTERM (Herald's graceful stop), then waits for the exit; resolves with the peak RSS (bytes) and CPU (ms) read just before. */
  stop(): Promise<{ peakRssBytes: number; cpuMs: number }>;
}

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

/**
 * Starts `node <dist>/main.js` with exactly `env` (plus PATH, HOME, TMPDIR).
 * An API process is ready when the gRPC health service on its port answers
 * SERVING (the Docker HEALTHCHECK's own probe, src/healthcheck.ts); a worker
 * has no port and is ready once spawned (the bench then waits for its first
 * webhook). Herald's stdout and stderr (its log) go to the bench's stderr.
 */
export async function spawnHerald(env: Readonly<Record<string, string>>, options: { dist?: string; nodeFlags?: readonly string[] } = {}): Promise<HeraldProcess> {
  const worker = env.HERALD_ROLE === 'worker';
  const port = worker ? null : await freePort();
  const base: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR']) {
    const value = process.env[name];
    if (value !== undefined) base[name] = value;
  }
  const child: ChildProcess = spawn(process.execPath, [...(options.nodeFlags ?? []), join(options.dist ?? DEFAULT_DIST, 'main.js')], {
    cwd: ROOT,
    env: { ...base, ...env, ...(port === null ? {} : { GRPC_ADDRESS: `127.0.0.1:${port}` }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(process.stderr, { end: false });
  child.stderr?.pipe(process.stderr, { end: false });
  let exited: string | null = null;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = signal ?? `code ${String(code)}`;
      resolve();
    }),
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error('Herald did not start (no pid)');
  if (port !== null) {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (exited !== null) throw new Error(`Herald exited before serving (${exited})`);
      const status = await checkHealth(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), 1_000).catch(() => 'UNREACHABLE');
      if (status === 'SERVING') break;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`Herald on port ${port} not SERVING after ${READY_TIMEOUT_MS} ms (last: ${status})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  let stopped: Promise<{ peakRssBytes: number; cpuMs: number }> | null = null;
  return {
    port,
    pid,
    cpuMs: () => processUsage(pid)?.cpuMs ?? 0,
    rssBytes: () => processUsage(pid)?.rssBytes ?? 0,
    stop() {
      stopped ??= (async () => {
        if (exited !== null) return { peakRssBytes: 0, cpuMs: 0 };
        const usage = processUsage(pid) ?? { peakRssBytes: 0, cpuMs: 0 };
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exit;
        clearTimeout(timer);
        if (exited !== 'code 0') throw new Error(`Herald did not stop cleanly (${String(exited)})`);
        return usage;
      })();
      return stopped;
    },
  };
}
