/**
 * LISTENs on one PostgreSQL channel and calls back with each payload
 * (deliveries enqueued by any replica, so that every worker wakes at once
 * instead of at its next poll; webhook targets changed). A lost connection is re-opened with
 * backoff; polling covers the gap, and `onReconnected` lets a listener that
 * cannot rely on polling (a cache) drop what it may have missed.
 */
import type pg from 'pg';
import type { Logger } from '../logger.js';

/** How long opening the LISTEN connection may take, ms (the listener is in the background: polling covers it). */
const LISTEN_CONNECT_TIMEOUT_MS = 5_000;

export class PostgresListener {
  private client: pg.Client | null = null;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private failures = 0;

  private connectedBefore = false;

  constructor(
    private readonly connectionString: string,
    private readonly log: Logger,
    private readonly channel: string,
    private readonly onNotification: (payload: string) => void,
    private readonly onReconnected: () => void = () => undefined,
  ) {}

  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const { default: pgDriver } = await import('pg');
    // Bounded, so that a reconnect to a server that accepts TCP and never answers is tried again rather than waited on forever.
    const client = new pgDriver.Client({ connectionString: this.connectionString, connectionTimeoutMillis: LISTEN_CONNECT_TIMEOUT_MS, keepAlive: true });
    client.on('notification', (msg) => {
      if (msg.channel === this.channel) this.onNotification(msg.payload ?? '');
    });
    const lost = (err?: Error): void => {
      if (this.stopped || this.client !== client) return;
      this.log.warn({ err }, 'PostgreSQL LISTEN connection lost; reconnecting (polling covers the gap)');
      void client.end().catch(() => undefined);
      this.scheduleReconnect();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
      if (this.stopped) {
        // stop() ran while this connection was being opened.
        await client.end().catch(() => undefined);
        return;
      }
      this.client = client;
      this.failures = 0;
      if (this.connectedBefore) this.onReconnected();
      this.connectedBefore = true;
    } catch (err) {
      void client.end().catch(() => undefined);
      this.log.warn({ err }, 'could not LISTEN on PostgreSQL; relying on polling until it works');
      this.scheduleReconnect();
    }
  }

  private scheduleReconnect(): void {
    this.client = null;
    if (this.stopped || this.retryTimer !== null) return;
    const delay = Math.min(30_000, 500 * 2 ** this.failures++);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped) void this.connect();
    }, delay);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    await this.client?.end().catch(() => undefined);
    this.client = null;
  }
}
