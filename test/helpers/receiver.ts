import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A request as the receiver saw it. */
export interface RecordedRequest {
  method: string;
  /** Path and query, as sent on the request line. */
  path: string;
  /** Lower-case header names, as Node reports them. */
  headers: http.IncomingHttpHeaders;
  /** The body exactly as received, for byte-level and signature checks. */
  body: Buffer;
  /** When the body had been read completely. */
  receivedAt: Date;
  /** The client's port: equal across requests that shared a kept-alive connection. */
  remotePort: number | undefined;
}

/**
 * One scripted answer, consumed in order of arrival.
 *
 * - `{ status, headers?, body?, delayMs? }`: answer after `delayMs` (default 0).
 * - `{ hang: true }`: read the request, then never answer (sockets are destroyed on close).
 * - `{ destroy: true }`: read the request, then reset the connection without answering.
 */
export type ReceiverStep =
  | { status: number; headers?: Record<string, string | string[]>; body?: string | Buffer; delayMs?: number }
  | { hang: true }
  | { destroy: true };

export interface Receiver {
  /** Base URL, `http://127.0.0.1:<port>/`. */
  url: string;
  /** Every request received so far, in order of completion. */
  requests: RecordedRequest[];
  /** Replaces the queue of remaining steps. */
  setScript(steps: readonly ReceiverStep[]): void;
  /** Resolves with the requests once at least `n` arrived; rejects after `timeoutMs`. */
  waitForRequests(n: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  /** TCP connections currently open to the receiver (kept-alive ones included). */
  openConnections(): number;
  /** The most requests that were open at once (arrived, not yet answered or abandoned). */
  maxConcurrent(): number;
  /** Stops listening and destroys every connection, including hanging ones. */
  close(): Promise<void>;
}

export interface ReceiverOptions {
  /** The answer once the script is exhausted. Default: 200 with body `"ok"`. */
  fallback?: ReceiverStep;
  /**
   * Answers by what a request says (its path and headers) before the script is
   * consulted: undefined leaves the request to the script. Called on arrival.
   */
  answer?: (request: { readonly path: string; readonly headers: http.IncomingHttpHeaders }) => ReceiverStep | undefined;
}

const DEFAULT_FALLBACK: ReceiverStep = { status: 200, headers: { 'content-type': 'text/plain' }, body: 'ok' };

/**
 * Starts a real HTTP server on 127.0.0.1 with an ephemeral port that records every request
 * and answers from a script.
 */
export async function startReceiver(script: readonly ReceiverStep[] = [], options: ReceiverOptions = {}): Promise<Receiver> {
  let queue: ReceiverStep[] = [...script];
  const fallback = options.fallback ?? DEFAULT_FALLBACK;
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  // Each pending waitForRequests: its check, and how to fail it if the receiver closes first.
  const waiters = new Map<() => void, (error: Error) => void>();

  let active = 0;
  let maxActive = 0;
  const server = http.createServer((req, res) => {
    active += 1;
    maxActive = Math.max(maxActive, active);
    // Answered, or the client gave up (a timeout closes the socket): no longer open.
    res.once('close', () => {
      active -= 1;
    });
    // The step is taken on arrival, so concurrent requests follow the script in the order
    // they reached the server, not the order their bodies finished.
    const step = options.answer?.({ path: req.url ?? '', headers: req.headers }) ?? queue.shift() ?? fallback;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      requests.push({
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
        receivedAt: new Date(),
        remotePort: req.socket.remotePort,
      });
      for (const wake of [...waiters.keys()]) {
        wake();
      }
      answer(step, req.socket, res);
    });
  });

  const answer = (step: ReceiverStep, socket: Socket, res: http.ServerResponse): void => {
    if ('hang' in step) {
      return;
    }
    if ('destroy' in step) {
      // RST rather than FIN, so the client sees a reset, as from a crashing receiver.
      socket.resetAndDestroy();
      return;
    }
    const write = (): void => {
      res.writeHead(step.status, step.headers);
      res.end(step.body);
    };
    if (step.delayMs === undefined || step.delayMs <= 0) {
      write();
      return;
    }
    const timer = setTimeout(() => {
      timers.delete(timer);
      write();
    }, step.delayMs);
    timers.add(timer);
  };

  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // A client that gives up mid-response (a truncated read) makes writes fail; that is
  // expected in these tests and must not crash the process.
  server.on('clientError', (_error: Error, socket: Socket) => {
    socket.destroy();
  });

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    openConnections() {
      return sockets.size;
    },
    maxConcurrent() {
      return maxActive;
    },
    setScript(steps) {
      queue = [...steps];
    },
    async waitForRequests(n, timeoutMs = 5000) {
      if (requests.length >= n) {
        return requests;
      }
      return new Promise<RecordedRequest[]>((resolve, reject) => {
        const fail = (error: Error): void => {
          clearTimeout(timer);
          waiters.delete(check);
          reject(error);
        };
        const timer = setTimeout(() => {
          fail(new Error(`expected ${n} requests within ${timeoutMs} ms, got ${requests.length}`));
        }, timeoutMs);
        const check = (): void => {
          if (requests.length >= n) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve(requests);
          }
        };
        waiters.set(check, fail);
      });
    },
    async close() {
      for (const fail of [...waiters.values()]) {
        fail(new Error(`receiver closed with ${requests.length} requests received`));
      }
      for (const timer of timers) {
        clearTimeout(timer);
      }
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // server.close() waits for open connections, and a hanging request keeps one open.
      for (const socket of sockets) {
        socket.destroy();
      }
      await closed;
    },
  };
}

/**
 * A URL on 127.0.0.1 where nothing listens: binds an ephemeral port, then releases it.
 * Another process could take the port in between; on loopback that is unlikely enough.
 */
export async function refusedUrl(): Promise<string> {
  const server = http.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  return `http://127.0.0.1:${port}/`;
}
