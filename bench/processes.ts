/**
 * Forking the benchmark's processes (bench/child.ts) and talking to them over
 * IPC, one request at a time.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));

/** What the parent asks a child. */
export type ChildRequest =
  | { readonly type: 'stop' }
  | { readonly type: 'closed'; readonly durationMs: number }
  | { readonly type: 'open'; readonly ratePerSecond: number; readonly durationMs: number }
  | { readonly type: 'count'; readonly total: number }
  | { readonly type: 'latencies'; readonly durationMs: number };

/** What a child answers. */
export type ChildReply =
  | { readonly type: 'ready'; readonly port: number | null }
  | { readonly type: 'stopped'; readonly peakRssBytes: number; readonly cpuMs: number }
  | { readonly type: 'closed'; readonly calls: number; readonly seconds: number }
  | { readonly type: 'open'; readonly started: ReadonlyArray<readonly [string, number]>; readonly late: number }
  | { readonly type: 'count'; readonly seconds: number; readonly cpuMs: number }
  | { readonly type: 'latencies'; readonly ms: readonly number[] }
  | { readonly type: 'error'; readonly message: string };

export interface Child {
  readonly port: number | null;
  /** Its process id (for /proc). */
  readonly pid: number;
  /** Sends `request` and resolves with the child's answer (an `error` answer rejects). */
  request(request: ChildRequest): Promise<ChildReply>;
  /** Stops the child gracefully; resolves with its peak RSS, bytes, and the CPU time it used, ms. */
  stop(): Promise<{ peakRssBytes: number; cpuMs: number }>;
}

export interface ForkOptions {
  readonly args?: readonly string[];
  /** Replaces the environment (PATH and HOME are kept). */
  readonly env?: Readonly<Record<string, string>>;
  /** Extra Node flags, e.g. --cpu-prof. */
  readonly nodeFlags?: readonly string[];
}

/** Forks `role` and waits until it is serving. */
export async function forkChild(role: 'echo' | 'load', options: ForkOptions = {}): Promise<Child> {
  const base: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR']) {
    const value = process.env[name];
    if (value !== undefined) base[name] = value;
  }
  const child: ChildProcess = fork(CHILD, [role, ...(options.args ?? [])], {
    execArgv: ['--import', 'tsx', ...(options.nodeFlags ?? [])],
    env: { ...base, ...options.env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const replies: ChildReply[] = [];
  const waiting: Array<{ resolve: (r: ChildReply) => void; reject: (e: Error) => void }> = [];
  let exited: Error | null = null;
  child.on('message', (reply: ChildReply) => {
    const w = waiting.shift();
    if (w === undefined) replies.push(reply);
    else if (reply.type === 'error') w.reject(new Error(`${role}: ${reply.message}`));
    else w.resolve(reply);
  });
  child.on('exit', (code, signal) => {
    exited = new Error(`${role} process exited (${signal ?? `code ${String(code)}`})`);
    for (const w of waiting.splice(0)) w.reject(exited);
  });
  const next = (): Promise<ChildReply> => {
    const queued = replies.shift();
    if (queued !== undefined) return queued.type === 'error' ? Promise.reject(new Error(`${role}: ${queued.message}`)) : Promise.resolve(queued);
    if (exited !== null) return Promise.reject(exited);
    return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  };
  const ready = await next();
  if (ready.type !== 'ready') throw new Error(`${role}: expected ready, got ${ready.type}`);
  let stopped: Promise<{ peakRssBytes: number; cpuMs: number }> | null = null;
  return {
    port: ready.port,
    pid: child.pid ?? 0,
    request(request) {
      child.send(request);
      return next();
    },
    stop() {
      stopped ??= (async () => {
        if (exited !== null) return { peakRssBytes: 0, cpuMs: 0 };
        const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.send({ type: 'stop' } satisfies ChildRequest);
        const reply = await next();
        await done;
        return reply.type === 'stopped' ? { peakRssBytes: reply.peakRssBytes, cpuMs: reply.cpuMs } : { peakRssBytes: 0, cpuMs: 0 };
      })();
      return stopped;
    },
  };
}
