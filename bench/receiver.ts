/**
 * The webhook receiver of the benchmarks: a trivial node:http server on
 * 127.0.0.1 that reads each body, answers 200 at once and notes when the
 * request arrived. Ceiling B posts to it and Herald delivers to it, so both
 * pay for exactly the same server.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { epochMs } from './load.js';

/** One request as the receiver saw it. */
export interface Arrival {
  /** `webhook-id` (Herald's delivery id), or "" for a request without one. */
  readonly id: string;
  /** Wall-clock ms (see epochMs) when the body had been read completely: comparable with the load generator's times. */
  readonly at: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface BenchReceiver {
  /** `http://127.0.0.1:<port>/`. */
  readonly url: string;
  /** Requests since the last `reset`, in order of arrival. */
  readonly arrivals: readonly Arrival[];
  /** Arrival time by `webhook-id`, since the last `reset`. */
  arrivalOf(id: string): number | undefined;
  /** Resolves once `n` requests arrived since the last `reset`; rejects after `timeoutMs`. */
  waitFor(n: number, timeoutMs: number): Promise<void>;
  /** Resolves once the request with this `webhook-id` arrived; rejects after `timeoutMs`. */
  waitForId(id: string, timeoutMs: number): Promise<number>;
  /** Forgets every arrival (keeps connections). */
  reset(): void;
  /** Stops listening and destroys kept-alive connections. */
  close(): Promise<void>;
}

/** Starts the receiver. Bodies are kept until the next `reset`, for signature checks. */
export async function startReceiver(): Promise<BenchReceiver> {
  let arrivals: Arrival[] = [];
  let byId = new Map<string, number>();
  const waiters = new Set<() => void>();
  const sockets = new Set<Socket>();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const at = epochMs();
      const header = req.headers['webhook-id'];
      const id = typeof header === 'string' ? header : '';
      arrivals.push({ id, at, headers: req.headers, body: Buffer.concat(chunks) });
      if (id !== '') byId.set(id, at);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
      for (const wake of [...waiters]) wake();
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  const waitUntil = <T>(ready: () => T | undefined, timeoutMs: number, what: () => string): Promise<T> => {
    const now = ready();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`receiver: ${what()} within ${timeoutMs} ms`));
      }, timeoutMs);
      const check = (): void => {
        const value = ready();
        if (value === undefined) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(value);
      };
      waiters.add(check);
    });
  };

  return {
    url: `http://127.0.0.1:${port}/`,
    get arrivals() {
      return arrivals;
    },
    arrivalOf: (id) => byId.get(id),
    async waitFor(n, timeoutMs) {
      await waitUntil(() => (arrivals.length >= n ? true : undefined), timeoutMs, () => `expected ${n} requests, got ${arrivals.length}`);
    },
    waitForId: (id, timeoutMs) => waitUntil(() => byId.get(id), timeoutMs, () => `no request with webhook-id ${id}`),
    reset() {
      arrivals = [];
      byId = new Map();
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
