/**
 * The operator console: a node:http (or, with HERALD_TLS_*, https) server in
 * the Herald process that renders pages from the same services the gRPC
 * handlers call, with the caller the signed-in token makes. Nothing here
 * decides or delivers: a retry is DeliveryService.retry, an edit is
 * PreferencesService.update, a "why" is NotificationService.evaluate.
 *
 * Security, in one place: sessions live in memory (sessions.ts); every
 * state-changing request is a POST that must carry the session's CSRF token
 * and, when the browser sends one, an Origin equal to this server's; failed
 * sign-ins are limited per client address (sign-in-limiter.ts); each
 * action checks the role of its RPC in src/auth/roles.ts; every response
 * carries a Content-Security-Policy without inline scripts.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { authorize, type Caller, type TokenRegistry } from '../auth/tokens.js';
import type { RpcName } from '../auth/roles.js';
import type { ConsoleConfig, TlsConfig } from '../config.js';
import { HeraldError } from '../errors.js';
import type { Logger } from '../logger.js';
import { type Html } from '../web/html.js';
import { cookieOf, readForm, sameOrigin, sendPage } from '../web/http-forms.js';
import { httpStatus } from '../web/http-status.js';
import { ROUTES, type ConsoleServices, type Reply, type RouteContext } from './routes.js';
import { errorPage, layout, signInPage, type PageContext } from './pages.js';
import { PortalServer } from '../portal/server.js';
import { csrfMatches, SessionStore, type Session } from './sessions.js';
import { clientKey, SignInLimiter } from '../web/sign-in-limiter.js';

const COOKIE = 'herald_console';
/** Live views open at once; each holds a connection and an event listener. */
const MAX_LIVE_STREAMS = 50;
/** Live views one tenant may hold of {@link MAX_LIVE_STREAMS}, so one tenant's read token cannot take them all. */
const MAX_LIVE_STREAMS_PER_TENANT = 10;
/** Proxies and browsers drop an idle stream; a comment this often keeps it open, and rechecks its session. */
const LIVE_HEARTBEAT_MS = 15_000;

/** An open live view: whose session it belongs to, and which tenant it streams. */
interface LiveStream {
  readonly sessionId: string;
  readonly tenant: string;
}

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // Not no-referrer: with it Chromium sends `Origin: null` on form POSTs, and the Origin check needs the real one.
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const ASSETS: Readonly<Record<string, string>> = { '/assets/console.css': 'text/css; charset=utf-8', '/assets/console.js': 'text/javascript; charset=utf-8' };

const OWN_ORIGIN = 'http://console.invalid';

/**
 * Where sign-in may send the browser back to: a path of this console, or
 * null. Judged the way a browser reads a Location: resolved as a URL
 * against a stand-in origin, kept only when it stays on that origin, and
 * given back as its path and query alone. Control characters are refused
 * outright, raw or percent-encoded, since URL parsers drop tabs and
 * newlines (`/\t/evil.example` is `//evil.example` to a browser); a path that would start with `//` is
 * refused too, since on its own it names another host.
 */
export function consolePath(given: string | null): string | null {
  if (given === null || !given.startsWith('/') || /[\u0000-\u001f\u007f]|%[01][0-9a-f]|%7f/i.test(given)) return null;
  let url: URL;
  try {
    url = new URL(given, OWN_ORIGIN);
  } catch {
    return null;
  }
  if (url.origin !== OWN_ORIGIN || url.pathname.startsWith('//')) return null;
  return url.pathname + url.search;
}

export class ConsoleServer {
  private readonly sessions: SessionStore;
  private readonly signInLimit: SignInLimiter;
  private readonly live = new Map<http.ServerResponse, LiveStream>();
  private readonly assets: ReadonlyMap<string, Buffer>;

  private constructor(
    private readonly server: http.Server,
    private readonly services: ConsoleServices,
    private readonly tokens: TokenRegistry,
    private readonly log: Logger,
    private readonly clock: () => Date,
    private readonly secure: boolean,
    config: ConsoleConfig,
    /** The agents' portal, which answers every /portal path (src/portal/): its own sessions and routes. */
    private readonly portal: PortalServer | null,
  ) {
    this.sessions = new SessionStore(config.sessionSeconds * 1000, () => clock().getTime());
    this.signInLimit = new SignInLimiter(() => clock().getTime());
    // Read once at start: a missing asset stops start-up instead of a page later.
    this.assets = new Map(Object.keys(ASSETS).map((path) => [path, readFileSync(new URL(`.${path}`, import.meta.url))]));
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      this.handle(req, res).catch((err: unknown) => this.fail(res, null, err));
    });
  }

  /** The bound port (useful when the address asked for port 0). */
  get port(): number {
    return (this.server.address() as AddressInfo | null)?.port ?? 0;
  }

  /** Listens on `config.address`; over TLS when `tls` is given (the gRPC API's certificate). */
  static async listen(config: ConsoleConfig, tls: TlsConfig | null, services: ConsoleServices, tokens: TokenRegistry, log: Logger, clock: () => Date, portal: PortalServer | null = null): Promise<ConsoleServer> {
    const split = config.address.lastIndexOf(':');
    const host = config.address.slice(0, split).replace(/^\[(.*)\]$/, '$1');
    const port = Number(config.address.slice(split + 1));
    const server =
      tls === null
        ? http.createServer()
        : https.createServer({ cert: tls.certChain, key: tls.privateKey, ...(tls.clientCa === null ? {} : { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true }) });
    const instance = new ConsoleServer(server, services, tokens, log, clock, tls !== null, config, portal);
    server.listen(port, host);
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err as Error))]);
    log.info({ address: config.address, port: instance.port, tls: tls !== null }, 'console listening');
    if (tls === null && !/^(127\.|localhost$|::1$)/.test(host)) {
      log.warn({ address: config.address }, 'the console is reachable beyond this host without TLS: tokens and session cookies cross the network in clear; set HERALD_TLS_CERT_FILE and HERALD_TLS_KEY_FILE');
    }
    return instance;
  }

  async close(): Promise<void> {
    for (const res of this.live.keys()) res.end();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', OWN_ORIGIN);
    if (this.portal !== null && PortalServer.owns(url.pathname)) return this.portal.handle(req, res);
    const method = req.method ?? 'GET';
    const asset = this.assets.get(url.pathname);
    if (asset !== undefined && (method === 'GET' || method === 'HEAD')) {
      res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': ASSETS[url.pathname], 'cache-control': 'no-cache' }).end(method === 'HEAD' ? undefined : asset);
      return;
    }
    if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') {
      this.send(res, 405, layout('Method not allowed', '', null), { allow: 'GET, HEAD, POST' });
      return;
    }
    if (method === 'POST' && !sameOrigin(req, this.secure)) {
      this.send(res, 403, errorPage(null, 403, 'This form was sent from another site (Origin does not match); refused.'));
      return;
    }
    if (url.pathname === '/sign-in') return this.signIn(req, res, method);
    const session = this.sessions.get(cookieOf(req, COOKIE));
    if (session === null) {
      if (method === 'POST') {
        this.send(res, 401, signInPage('Your session has ended; sign in again.'));
      } else {
        this.redirect(res, `/sign-in?next=${encodeURIComponent(url.pathname + url.search)}`);
      }
      return;
    }
    let caller: Caller;
    try {
      caller = this.tokens.callerFor(`Bearer ${session.token}`, url.searchParams.get('tenant') ?? session.tenant);
    } catch (err) {
      if (err instanceof HeraldError && err.code === 'UNAUTHENTICATED') {
        this.sessions.delete(session.id);
        this.send(res, 401, signInPage('The token of this session is no longer valid; sign in again.'), { 'set-cookie': this.cookie('', 0) });
        return;
      }
      throw err;
    }
    const ctx: PageContext = { caller, csrf: session.csrf, now: this.clock() };
    if (method === 'POST') {
      const form = await readForm(req);
      if (!csrfMatches(session, form.get('_csrf') ?? undefined)) {
        this.send(res, 403, errorPage(ctx, 403, 'The form had no valid CSRF token (reload the page and try again); nothing was changed.'));
        return;
      }
      if (url.pathname === '/sign-out') {
        this.sessions.delete(session.id);
        for (const [res, stream] of this.live) if (stream.sessionId === session.id) res.end();
        this.log.info({ tenant: caller.tenant, role: caller.role }, 'console sign-out');
        this.redirect(res, '/sign-in', { 'set-cookie': this.cookie('', 0) });
        return;
      }
      return this.route(req, res, 'POST', url, ctx, form);
    }
    if (url.pathname === '/live/events') return this.liveEvents(req, res, ctx, session);
    return this.route(req, res, 'GET', url, ctx, null);
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse, method: 'GET' | 'POST', url: URL, ctx: PageContext, form: URLSearchParams | null): Promise<void> {
    for (const r of ROUTES) {
      if (r.method !== method) continue;
      const match = r.path.exec(url.pathname);
      if (match === null) continue;
      try {
        const params = match.slice(1).map((p) => decodeURIComponent(p));
        const rc: RouteContext = {
          page: ctx,
          params,
          query: url.searchParams,
          form: form ?? new URLSearchParams(),
          services: this.services,
          authorize: (rpc: RpcName) => authorize(ctx.caller, rpc),
        };
        rc.authorize(r.rpc);
        const reply: Reply = await r.handle(rc);
        if (reply.kind === 'redirect') this.redirect(res, reply.location);
        else this.send(res, reply.status ?? 200, reply.html, {}, req.method === 'HEAD');
      } catch (err) {
        this.fail(res, ctx, err);
      }
      return;
    }
    this.send(res, 404, errorPage(ctx, 404, `There is no console page at ${url.pathname.slice(0, 80)}.`));
  }

  private async signIn(req: http.IncomingMessage, res: http.ServerResponse, method: string): Promise<void> {
    const next = consolePath(new URL(req.url ?? '/', OWN_ORIGIN).searchParams.get('next'));
    if (method !== 'POST') {
      this.send(res, 200, signInPage(null, next));
      return;
    }
    const form = await readForm(req);
    const client = clientKey(req.socket.remoteAddress);
    // Checked before the token, so a limited client learns nothing about its guesses.
    const waitMs = this.signInLimit.retryAfterMs(client);
    if (waitMs > 0) {
      const seconds = Math.max(1, Math.ceil(waitMs / 1000));
      this.send(res, 429, signInPage(`Too many failed sign-ins from your address: try again in ${seconds} s.`, next), { 'retry-after': String(seconds) });
      return;
    }
    const token = form.get('token')?.trim() ?? '';
    const tenant = form.get('tenant')?.trim() ?? '';
    let caller: Caller;
    try {
      caller = this.tokens.callerFor(`Bearer ${token}`, tenant === '' ? undefined : tenant);
    } catch (err) {
      if (err instanceof HeraldError) {
        this.log.info({ reason: err.code }, 'console sign-in refused');
        if (err.code === 'UNAUTHENTICATED') {
          this.signInLimit.recordFailure(client);
          if (this.signInLimit.retryAfterMs(client) > 0) this.log.warn({ client }, 'console sign-ins from this client are limited after repeated failures');
        }
        const message = err.code === 'UNAUTHENTICATED' ? 'That token is not valid.' : err.message;
        this.send(res, httpStatus(err), signInPage(message, next));
        return;
      }
      throw err;
    }
    // A sign-in over a live session replaces it: one browser, one session.
    const previous = cookieOf(req, COOKIE);
    if (previous !== undefined) this.sessions.delete(previous);
    const session = this.sessions.create(token, caller.tenant);
    this.log.info({ tenant: caller.tenant, role: caller.role }, 'console sign-in');
    this.redirect(res, next ?? '/', { 'set-cookie': this.cookie(session.id, null) });
  }

  /**
   * Server-sent events: the tenant's delivery changes, fed by
   * DeliveryService.watch (as WatchDeliveries is). The stream lasts only as
   * long as what let it open: before every event and on every heartbeat the
   * session (without extending it) and its token's role are checked again,
   * and the stream ends when either is gone; sign-out ends it at once.
   */
  private liveEvents(req: http.IncomingMessage, res: http.ServerResponse, ctx: PageContext, session: Session): void {
    authorize(ctx.caller, 'WatchDeliveries');
    const tenant = ctx.caller.tenant;
    let ofTenant = 0;
    for (const stream of this.live.values()) if (stream.tenant === tenant) ofTenant++;
    if (ofTenant >= MAX_LIVE_STREAMS_PER_TENANT) {
      this.send(res, 429, errorPage(ctx, 429, `Tenant ${tenant} has ${MAX_LIVE_STREAMS_PER_TENANT} live views open already, the most one tenant may; close one and try again.`), { 'retry-after': '15' });
      return;
    }
    if (this.live.size >= MAX_LIVE_STREAMS) {
      this.send(res, 503, errorPage(ctx, 503, `${MAX_LIVE_STREAMS} live views are open on this server already; try again shortly.`), { 'retry-after': '15' });
      return;
    }
    const stillAllowed = (): boolean => {
      if (!this.sessions.isLive(session.id)) return false;
      try {
        authorize(this.tokens.callerFor(`Bearer ${session.token}`, tenant), 'WatchDeliveries');
        return true;
      } catch {
        return false;
      }
    };
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(': connected\n\n');
    this.live.set(res, { sessionId: session.id, tenant });
    let off = (): void => {};
    let beat: NodeJS.Timeout | undefined;
    const end = (): void => {
      clearInterval(beat);
      off();
      this.live.delete(res);
    };
    const writeIfAllowed = (text: string): void => {
      if (stillAllowed()) {
        res.write(text);
        return;
      }
      end();
      res.end();
    };
    off = this.services.deliveries.watch(tenant, '', (event) => {
      const data =
        event.kind === 'changed'
          ? {
              kind: 'changed',
              at: event.change.at.toISOString(),
              id: event.change.delivery.id,
              agentId: event.change.delivery.agentId,
              status: event.change.delivery.status,
              attempt: event.change.attempt?.number ?? null,
              statusCode: event.change.attempt?.statusCode ?? event.change.delivery.lastStatusCode,
              errorClass: event.change.attempt?.errorClass ?? null,
            }
          : { kind: 'agentDisabled', at: event.disabled.at.toISOString(), id: event.disabled.deliveryId, agentId: event.disabled.agentId, status: 'AGENT DISABLED', attempt: null, statusCode: null, errorClass: event.disabled.reason };
      writeIfAllowed(`event: delivery\ndata: ${JSON.stringify(data)}\n\n`);
    });
    beat = setInterval(() => writeIfAllowed(': keep-alive\n\n'), LIVE_HEARTBEAT_MS);
    beat.unref();
    req.on('close', end);
    res.on('close', end);
  }

  private cookie(value: string, maxAge: number | null): string {
    return `${COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict${this.secure ? '; Secure' : ''}${maxAge === null ? '' : `; Max-Age=${maxAge}`}`;
  }

  private redirect(res: http.ServerResponse, location: string, headers: Record<string, string> = {}): void {
    res.writeHead(303, { ...SECURITY_HEADERS, location, 'cache-control': 'no-store', ...headers }).end();
  }

  private send(res: http.ServerResponse, status: number, page: Html, headers: Record<string, string> = {}, headOnly = false): void {
    sendPage(res, status, page, SECURITY_HEADERS, headers, headOnly);
  }

  private fail(res: http.ServerResponse, ctx: PageContext | null, err: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err instanceof HeraldError) {
      const status = httpStatus(err);
      this.send(res, status, errorPage(ctx, status, err.message));
      return;
    }
    this.log.error({ err }, 'console page failed');
    this.send(res, 500, errorPage(ctx, 500, 'Something went wrong on the server; the log has the details.'));
  }
}
