/**
 * A throwaway PostgreSQL cluster per test, on a loopback port of its own,
 * that the test may pause (SIGSTOP), kill (SIGKILL), stop and restart: the
 * shared test server must never be touched that way. As .ci/run does, the
 * cluster runs as the `postgres` user (runuser) when the tests run as root,
 * since initdb refuses root; otherwise as the current user.
 *
 * Every exit path resumes and stops it: `t.after`, and a process 'exit'
 * hook for a runner that dies first (a paused postmaster left behind would
 * hold its port and memory until someone found it).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestContext } from 'node:test';

/** The newest PostgreSQL server binaries installed (Debian's layout), or null. */
function serverBinaries(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl')) && existsSync(join(root, v, 'bin', 'initdb')));
  versions.sort((a, b) => Number(a) - Number(b));
  const newest = versions.at(-1);
  return newest === undefined ? null : join(root, newest, 'bin');
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function userExists(name: string): boolean {
  return spawnSync('id', ['-u', name], { stdio: 'ignore' }).status === 0;
}

/**
 * Why the PostgreSQL fault tests cannot run here, or false when they can:
 * for `{ skip: postgresClusterUnavailable() }`.
 */
export function postgresClusterUnavailable(): string | false {
  if (serverBinaries() === null) return 'needs PostgreSQL server binaries (/usr/lib/postgresql/*/bin: apt-get install postgresql; .ci/run installs them)';
  if (isRoot() && (!userExists('postgres') || spawnSync('runuser', ['--help'], { stdio: 'ignore' }).error !== undefined)) {
    return 'running as root needs the postgres user and runuser (initdb refuses root)';
  }
  return false;
}

/** Why tests that need root (mount) cannot run here, or false. */
export function rootUnavailable(): string | false {
  return isRoot() ? false : 'needs root (mounts a small tmpfs)';
}

export interface PostgresCluster {
  readonly port: number;
  /** A URL of a database created for the test (`herald`), as the postgres superuser, no password. */
  readonly url: string;
  /** Process ids of the postmaster and its children right now. */
  pids(): number[];
  /** SIGSTOP to every process of the cluster: connections stay open, nothing answers. */
  pause(): void;
  /** SIGCONT to every process paused. */
  resume(): void;
  /** SIGKILL to every process of the cluster, then waits until they are gone. */
  kill(): Promise<void>;
  /** `pg_ctl stop -m fast`: sessions get 57P01 (admin shutdown). */
  stopFast(): void;
  /** Starts the server again; `wait: false` returns at once (clients then meet 57P03 while it starts). */
  start(options?: { wait?: boolean }): Promise<void>;
  /** Resolves once the server accepts queries. */
  ready(timeoutMs?: number): Promise<void>;
}

const running = new Set<{ dir: string; bin: string; paused: Set<number> }>();
let exitHookInstalled = false;

function runAs(bin: string, args: string[], options: { quiet?: boolean } = {}): void {
  const [cmd, argv] = isRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  execFileSync(cmd, argv, { stdio: options.quiet === false ? 'inherit' : 'ignore' });
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function alive(pid: number): boolean {
  try {
    // A zombie (exited, not yet reaped by init) still "exists" for kill(0): read its state.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

function signal(pids: Iterable<number>, sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // Gone already.
    }
  }
}

export async function startPostgresCluster(t: TestContext): Promise<PostgresCluster> {
  const bin = serverBinaries();
  if (bin === null) throw new Error('no PostgreSQL server binaries');
  const dir = mkdtempSync(join(tmpdir(), 'herald-faults-pg-'));
  if (isRoot()) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  runAs(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const port = await freePort();
  const entry = { dir, bin, paused: new Set<number>() };
  running.add(entry);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // Last resort for a runner that exits without running t.after: no paused or orphaned cluster stays behind.
    process.on('exit', () => {
      for (const e of running) shutdown(e);
    });
  }
  const pgCtl = (args: string[]): void => runAs(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'log'), ...args]);
  const startArgs = ['-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`];
  const postmaster = (): number | null => {
    try {
      const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      return Number.isInteger(pid) && alive(pid) ? pid : null;
    } catch {
      return null;
    }
  };
  const pids = (): number[] => {
    const pm = postmaster();
    if (pm === null) return [];
    const children = spawnSync('pgrep', ['-P', String(pm)]).stdout.toString().split('\n').filter((l) => l.trim() !== '').map(Number);
    return [pm, ...children];
  };
  const ready = async (timeoutMs = 20_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { default: pg } = await import('pg');
      const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 1_000 });
      try {
        await client.connect();
        await client.query('SELECT 1');
        await client.end();
        return;
      } catch (err) {
        client.connection.stream.destroy();
        if (Date.now() > deadline) throw new Error(`PostgreSQL on port ${port} not ready within ${timeoutMs} ms: ${(err as Error).message}`);
        await sleep(50);
      }
    }
  };
  pgCtl([...startArgs, '-w', 'start']);
  t.after(() => {
    shutdown(entry);
    running.delete(entry);
  });
  const cluster: PostgresCluster = {
    port,
    url: `postgresql://postgres@127.0.0.1:${port}/herald`,
    pids,
    pause() {
      const all = pids();
      for (const pid of all) entry.paused.add(pid);
      signal(all, 'SIGSTOP');
    },
    resume() {
      signal(entry.paused, 'SIGCONT');
      entry.paused.clear();
    },
    async kill() {
      const all = pids();
      signal(all, 'SIGKILL');
      const deadline = Date.now() + 10_000;
      while (all.some(alive)) {
        if (Date.now() > deadline) throw new Error(`PostgreSQL processes ${all.filter(alive).join(', ')} still alive after SIGKILL`);
        await sleep(20);
      }
    },
    stopFast() {
      pgCtl(['-m', 'fast', '-w', 'stop']);
    },
    async start(options = {}) {
      // After a kill, the dead postmaster's pid file stays; pg_ctl starts anyway once its processes are gone.
      pgCtl([...startArgs, options.wait === false ? '-W' : '-w', 'start']);
    },
    ready,
  };
  const { default: pg } = await import('pg');
  const admin = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
  await admin.connect();
  await admin.query('CREATE DATABASE herald');
  await admin.end();
  return cluster;
}

/** Resumes whatever is paused and stops the cluster at once, then removes its directory. */
function shutdown(entry: { dir: string; bin: string; paused: Set<number> }): void {
  signal(entry.paused, 'SIGCONT');
  entry.paused.clear();
  const data = join(entry.dir, 'data');
  const [cmd, argv] = isRoot()
    ? ['runuser', ['-u', 'postgres', '--', join(entry.bin, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop']]
    : [join(entry.bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']];
  spawnSync(cmd, argv, { stdio: 'ignore' });
  rmSync(entry.dir, { recursive: true, force: true });
}
