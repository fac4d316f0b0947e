/**
 * The agents' preference centre (issue #20), served by the console's HTTP
 * server under /portal/ with its own sessions and routes: the console hands
 * every /portal request here and nothing else, and this serves nothing
 * outside /portal.
 *
 * Security, in one place:
 * - A session starts only from a PortalService link: GET /portal/open?token=…
 *   exchanges the single-use token (PortalService.open) for a cookie and
 *   redirects to /portal/, so the token leaves the address bar, history and
 *   Referer at once. Failed exchanges are limited per client address with the
 *   console's sign-in limiter.
 * - The cookie is HttpOnly, Path=/portal, SameSite=Lax (a link opened from the
 *   platform's site is a cross-site navigation: Strict would drop the cookie
 *   on the redirect that follows it) and, when the portal may be framed
 *   (HERALD_PORTAL_FRAME_ANCESTORS), SameSite=None; Secure; Partitioned: a
 *   frame of another site is a third-party context, where browsers now keep
 *   only partitioned cookies (CHIPS; Chromium 150 here dropped the cookie
 *   without it), each keyed by the site framing it. It is checked against
 *   the database on every request, so a revoke or the session's end acts at once.
 * - Every POST carries a CSRF token derived from the cookie and an Origin of
 *   this server (or of HERALD_PORTAL_BASE_URL); every route checks its RPC's
 *   role, so a read-only session (role read) cannot change anything.
 * - The CSP allows no script at all and, unless configured, no framing.
 * - Each change is logged with the session's id and agent after it succeeds.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import { authorize } from '../auth/tokens.js';
import { HeraldError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { PortalService } from '../services/portal-service.js';
import { PORTAL_OPEN_PATH } from '../services/portal-service.js';
import type { Html } from '../web/html.js';
import { cookieOf, readForm, sameOrigin, sendPage } from '../web/http-forms.js';
import { httpStatus } from '../web/http-status.js';
import { clientKey, SignInLimiter } from '../web/sign-in-limiter.js';
import { messagePage, type PortalPageContext } from './pages.js';
import { PORTAL_ROUTES, type PortalRouteContext, type PortalServices } from './routes.js';
import { portalCaller, PortalScope } from './scope.js';

const COOKIE = 'herald_portal';
const PREFIX = '/portal';
const STYLESHEET = '/portal/assets/portal.css';
const OWN_ORIGIN = 'http://portal.invalid';

export interface PortalServerOptions {
  /** The server speaks TLS (HERALD_TLS_*). */
  readonly secure: boolean;
  /** HERALD_PORTAL_BASE_URL: one more origin POSTs may come from (the public one, behind a proxy). */
  readonly baseUrl: string | null;
  /** HERALD_PORTAL_FRAME_ANCESTORS. */
  readonly frameAncestors: readonly string[];
  readonly clock: () => Date;
}

/** The CSRF token of a session: derived from its cookie, so nothing more is stored and it dies with the session. */
function csrfOf(cookie: string): string {
  return createHash('sha256').update(`herald-portal-csrf\0${cookie}`).digest('base64url');
}

function sameSecret(a: string, b: string | null): boolean {
  if (b === null) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class PortalServer {
  private readonly headers: Readonly<Record<string, string>>;
  private readonly stylesheet: Buffer;
  private readonly exchanges: SignInLimiter;

  constructor(
    private readonly services: PortalServices & { readonly portal: PortalService },
    private readonly log: Logger,
    private readonly options: PortalServerOptions,
  ) {
    const framed = options.frameAncestors.length > 0;
    this.headers = {
      'content-security-policy': `default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors ${framed ? options.frameAncestors.join(' ') : "'none'"}; base-uri 'none'`,
      'x-content-type-options': 'nosniff',
      ...(framed ? {} : { 'x-frame-options': 'DENY' }),
      // As the console: with no-referrer Chromium sends `Origin: null` on form POSTs.
      'referrer-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-origin',
    };
    // Read once at start: a missing stylesheet stops start-up instead of a page later.
    this.stylesheet = readFileSync(new URL('./assets/portal.css', import.meta.url));
    this.exchanges = new SignInLimiter(() => options.clock().getTime());
  }

  /** Whether `pathname` is the portal's: the console hands exactly these here. */
  static owns(pathname: string): boolean {
    return pathname === PREFIX || pathname.startsWith(`${PREFIX}/`);
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      await this.serve(req, res);
    } catch (err) {
      this.fail(res, null, err);
    }
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', OWN_ORIGIN);
    const method = req.method ?? 'GET';
    if (url.pathname === STYLESHEET && (method === 'GET' || method === 'HEAD')) {
      res.writeHead(200, { ...this.headers, 'content-type': 'text/css; charset=utf-8', 'cache-control': 'no-cache' }).end(method === 'HEAD' ? undefined : this.stylesheet);
      return;
    }
    if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') {
      this.send(res, 405, messagePage(null, 'Not allowed', 'This method is not allowed here.'), { allow: 'GET, HEAD, POST' });
      return;
    }
    if (method === 'POST' && !sameOrigin(req, this.options.secure, this.options.baseUrl)) {
      this.send(res, 403, messagePage(null, 'Not allowed', 'This form was sent from another site (Origin does not match); nothing was changed.'));
      return;
    }
    if (url.pathname === PORTAL_OPEN_PATH) {
      // Only a GET spends the token: a HEAD (a link checker, a proxy's probe) must not use up the owner's one visit.
      if (method === 'GET') return this.open(req, res, url);
      this.send(res, 405, messagePage(null, 'Not allowed', 'Open this link in a browser.'), { allow: 'GET' });
      return;
    }
    const cookie = cookieOf(req, COOKIE);
    const session = await this.services.portal.session(cookie);
    if (session === null || cookie === undefined) {
      this.send(res, 401, messagePage(null, 'Session ended', 'This page needs a current link: yours has ended, was revoked, or was never opened here. Open the settings again from the site you came from.'), {
        'set-cookie': this.cookie('', 0),
      });
      return;
    }
    const ctx: PortalPageContext = { session, csrf: csrfOf(cookie), now: this.options.clock(), zone: 'UTC' };
    let form = new URLSearchParams();
    if (method === 'POST') {
      form = await readForm(req);
      if (!sameSecret(ctx.csrf, form.get('_csrf'))) {
        this.send(res, 403, messagePage(ctx, 'Not allowed', 'The form had no valid CSRF token (reload the page and try again); nothing was changed.'));
        return;
      }
      if (url.pathname === `${PREFIX}/sign-out`) {
        await this.services.portal.revoke(session.tenant, session.id);
        this.log.info({ audit: 'portal', tenant: session.tenant, agentId: session.agentId, portalSession: session.id, action: 'signed out' }, 'portal change');
        this.send(res, 200, messagePage(null, 'Signed out', 'You are signed out; this link no longer works.'), { 'set-cookie': this.cookie('', 0) });
        return;
      }
    }
    return this.route(res, method === 'POST' ? 'POST' : 'GET', method === 'HEAD', url, ctx, form);
  }

  private async route(res: http.ServerResponse, method: 'GET' | 'POST', headOnly: boolean, url: URL, page: PortalPageContext, form: URLSearchParams): Promise<void> {
    const caller = portalCaller(page.session);
    for (const r of PORTAL_ROUTES) {
      if (r.method !== method) continue;
      const match = r.path.exec(url.pathname);
      if (match === null) continue;
      const done: Array<{ action: string; target: string }> = [];
      let ctx = page;
      try {
        // Instants in the agent's own zone: read once per page, as the agent sees its day.
        if (method === 'GET') ctx = { ...page, zone: (await this.services.preferences.get(caller.tenant, caller.agentId)).timeZone };
        const rc: PortalRouteContext = {
          page: ctx,
          caller,
          params: match.slice(1).map((p) => decodeURIComponent(p)),
          query: url.searchParams,
          form,
          services: this.services,
          scope: new PortalScope(caller, this.services.endpoints, this.services.deliveries),
          audit: (action, target) => done.push({ action, target }),
        };
        authorize(caller, r.rpc);
        const reply = await r.handle(rc);
        for (const d of done) this.log.info({ audit: 'portal', tenant: caller.tenant, agentId: caller.agentId, portalSession: caller.portalSession, action: d.action, target: d.target }, 'portal change');
        if (reply.kind === 'redirect') res.writeHead(303, { ...this.headers, location: reply.location, 'cache-control': 'no-store' }).end();
        else this.send(res, 200, reply.html, {}, headOnly);
      } catch (err) {
        this.fail(res, ctx, err);
      }
      return;
    }
    this.send(res, 404, messagePage(page, 'Not found', 'There is no such page here.'));
  }

  /** The link: its token for a cookie, once; then to the clean URL. */
  private async open(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const client = clientKey(req.socket.remoteAddress);
    // Checked before the token, so a limited client learns nothing about its guesses.
    const waitMs = this.exchanges.retryAfterMs(client);
    if (waitMs > 0) {
      const seconds = Math.max(1, Math.ceil(waitMs / 1000));
      this.send(res, 429, messagePage(null, 'Too many tries', `Too many links that did not work were opened from your address: try again in ${seconds} s.`), { 'retry-after': String(seconds) });
      return;
    }
    const opened = await this.services.portal.open(url.searchParams.get('token') ?? '');
    if (opened === null) {
      this.exchanges.recordFailure(client);
      if (this.exchanges.retryAfterMs(client) > 0) this.log.warn({ client }, 'portal links from this client are limited after repeated failures');
      this.log.info('portal link refused (unknown, used, revoked or expired)');
      this.send(res, 410, messagePage(null, 'Link no longer valid', 'This link has been used already or has expired. Open the settings again from the site you came from to get a new one.'));
      return;
    }
    const s = opened.session;
    this.log.info({ audit: 'portal', tenant: s.tenant, agentId: s.agentId, portalSession: s.id, role: s.role, action: 'link opened' }, 'portal change');
    const maxAge = Math.max(0, Math.floor((s.expiresAt.getTime() - this.options.clock().getTime()) / 1000));
    res.writeHead(303, { ...this.headers, location: `${PREFIX}/`, 'cache-control': 'no-store', 'set-cookie': this.cookie(opened.cookie, maxAge) }).end();
  }

  private cookie(value: string, maxAge: number): string {
    const framed = this.options.frameAncestors.length > 0;
    // Secure also when the console speaks plain HTTP behind a proxy that serves the portal over HTTPS:
    // the browser sees the public origin, and the cookie must never travel over plain HTTP to it.
    const secure = this.options.secure || (this.options.baseUrl?.startsWith('https:') ?? false);
    const site = framed ? 'SameSite=None; Secure; Partitioned' : `SameSite=Lax${secure ? '; Secure' : ''}`;
    return `${COOKIE}=${value}; Path=${PREFIX}; HttpOnly; ${site}; Max-Age=${maxAge}`;
  }

  private send(res: http.ServerResponse, status: number, page: Html, headers: Record<string, string> = {}, headOnly = false): void {
    sendPage(res, status, page, this.headers, headers, headOnly);
  }

  private fail(res: http.ServerResponse, ctx: PortalPageContext | null, err: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err instanceof HeraldError) {
      const status = httpStatus(err);
      const message =
        err.code !== 'PERMISSION_DENIED' || ctx === null ? err.message
        : ctx.session.readOnly ? 'This link is read only; nothing was changed.'
        : 'This link was not given the right to do that; nothing was changed.';
      this.send(res, status, messagePage(ctx, status === 404 ? 'Not found' : status === 403 ? 'Not allowed' : 'Not accepted', message));
      return;
    }
    this.log.error({ err }, 'portal page failed');
    this.send(res, 500, messagePage(ctx, 'Error', 'Something went wrong on our side; try again shortly.'));
  }
}
