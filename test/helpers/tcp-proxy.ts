/**
 * A TCP proxy in front of a real server (PostgreSQL in the storage tests)
 * that a test can turn silent or cut: the client's driver then meets a
 * server that stops answering or a connection that breaks, and throws its
 * real errors. `pause` holds every byte both ways (new connections are
 * accepted, as the kernel does for a stopped server) until `resume`;
 * `dropAll` resets every open connection.
 */
import net from 'node:net';
import type { TestContext } from 'node:test';

export interface TcpProxy {
  readonly port: number;
  pause(): void;
  resume(): void;
  /** Resets every connection open now. */
  dropAll(): void;
  /** Connections open now. */
  openConnections(): number;
  close(): Promise<void>;
}

interface Pair {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  readonly held: Array<{ to: net.Socket; data: Buffer }>;
}

export async function startTcpProxy(t: TestContext, target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let paused = false;
  const relay = (pair: Pair, to: net.Socket, data: Buffer): void => {
    if (paused) pair.held.push({ to, data });
    else if (!to.destroyed) to.write(data);
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    const pair: Pair = { client, upstream, held: [] };
    pairs.add(pair);
    client.on('data', (d: Buffer) => relay(pair, upstream, d));
    upstream.on('data', (d: Buffer) => relay(pair, client, d));
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const proxy: TcpProxy = {
    port,
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      for (const pair of pairs) {
        for (const { to, data } of pair.held.splice(0)) if (!to.destroyed) to.write(data);
      }
    },
    dropAll() {
      for (const pair of [...pairs]) {
        pair.client.resetAndDestroy();
        pair.upstream.destroy();
      }
    },
    openConnections: () => pairs.size,
    async close() {
      proxy.dropAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  t.after(() => proxy.close());
  return proxy;
}

/**
 * A port that accepts TCP connections and never answers (a hung server, or
 * the wrong service behind a load balancer). Closed by `t.after`.
 */
export async function startSilentPort(t: TestContext): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as net.AddressInfo).port;
}

/** A loopback port nothing listens on (bound, then closed: the kernel refuses connections to it). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
