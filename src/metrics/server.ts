/**
 * The Prometheus endpoint: a plain node:http server answering `GET /metrics`
 * on its own address, so that it can stay on loopback or a private network
 * whatever the gRPC port is exposed to.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logger.js';
import type { Metrics } from './metrics.js';

export class MetricsServer {
  private constructor(
    private readonly server: http.Server,
    /** The bound port (useful when the address asked for port 0). */
    readonly port: number,
  ) {}

  /** Listens on `address` (host:port; IPv6 hosts in brackets). */
  static async listen(address: string, metrics: Metrics, log: Logger): Promise<MetricsServer> {
    const split = address.lastIndexOf(':');
    const host = address.slice(0, split).replace(/^\[(.*)\]$/, '$1');
    const port = Number(address.slice(split + 1));
    const server = http.createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at /metrics\n');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
        return;
      }
      metrics.render().then(
        ({ contentType, body }) => {
          res.writeHead(200, { 'content-type': contentType });
          res.end(req.method === 'HEAD' ? undefined : body);
        },
        (err: unknown) => {
          log.error({ err }, 'rendering metrics failed');
          res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics are unavailable; see the server log\n');
        },
      );
    });
    server.listen(port, host);
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err as Error))]);
    const bound = (server.address() as AddressInfo).port;
    log.info({ address, port: bound }, 'metrics server listening');
    return new MetricsServer(server, bound);
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Scrapers keep connections alive; they must not hold the stop up.
    this.server.closeAllConnections();
    await closed;
  }
}
