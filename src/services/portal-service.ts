/**
 * Portal sessions (issue #20): the links PortalService hands a platform, the
 * exchange of a link for a session cookie, and the look-up of the session a
 * cookie belongs to. The portal's pages (src/portal/) and the gRPC handler
 * both come here; neither keeps sessions of its own.
 *
 * Tokens and cookies are 32 random bytes (256 bits: not guessable), sent to
 * the browser once and stored only as SHA-256 digests, so a copy of the
 * database opens no portal. A link works once and only until the session's
 * end; the session ends at the same instant, whatever happens to the link.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Caller } from '../auth/tokens.js';
import { portalSessionLive, portalSessionRole, portalTtlSeconds, type PortalSession } from '../domain/portal-session.js';
import { checkAgentId, quote } from '../domain/validation.js';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../errors.js';
import { newPortalSessionId } from '../ids.js';
import type { Store } from '../storage/database.js';

/** The path a link opens; the portal's server answers it (src/portal/server.ts). */
export const PORTAL_OPEN_PATH = '/portal/open';

export interface PortalServiceOptions {
  readonly clock: () => Date;
  /**
   * The public origin links start with (HERALD_PORTAL_BASE_URL, else the
   * console's own address), or null when this process serves no portal.
   * A function: the console's port is known only once it listens.
   */
  readonly baseUrl: () => string | null;
}

/** SHA-256 in hex: what the database keeps of a token or a cookie. */
export function portalDigest(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

const newSecret = (): string => randomBytes(32).toString('base64url');

/** Only what {@link newSecret} makes can be a token or cookie: anything else is not looked up at all. */
const SECRET_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export class PortalService {
  constructor(
    private readonly store: Store,
    private readonly options: PortalServiceOptions,
  ) {}

  /** A new link to `agentId`'s portal, in the caller's tenant and with at most its role; the token is in the URL and nowhere else. */
  async create(caller: Caller, agentId: string, ttlSeconds: number, readOnly: boolean): Promise<{ session: PortalSession; url: string }> {
    const tenant = caller.tenant;
    checkAgentId('agent_id', agentId);
    const ttl = portalTtlSeconds('ttl_seconds', ttlSeconds);
    const base = this.options.baseUrl();
    if (base === null) throw new FailedPreconditionError('this Herald serves no portal: set HERALD_CONSOLE_ADDRESS (and HERALD_PORTAL_BASE_URL for links behind a proxy)');
    const now = this.options.clock();
    const token = newSecret();
    const session: PortalSession = {
      tenant,
      id: newPortalSessionId(now.getTime()),
      agentId,
      readOnly,
      role: portalSessionRole(caller.role, readOnly),
      createdAt: now,
      expiresAt: new Date(now.getTime() + ttl * 1000),
      openedAt: null,
      revokedAt: null,
    };
    await this.store.write(async (r) => {
      if ((await r.preferences.get(tenant, agentId)) === null) throw new NotFoundError(`preferences for agent ${quote(agentId)}`);
      await r.portalSessions.create(session, portalDigest(token));
    });
    return { session, url: `${base}${PORTAL_OPEN_PATH}?token=${token}` };
  }

  async list(tenant: string, agentId: string): Promise<PortalSession[]> {
    if (agentId !== '') checkAgentId('agent_id', agentId);
    return this.store.read((r) => r.portalSessions.listLive(tenant, agentId, this.options.clock()));
  }

  async revoke(tenant: string, id: string): Promise<PortalSession> {
    if (!/^ps_[0-9A-Z]{26}$/.test(id)) throw new InvalidArgumentError('id', `must be a portal session id ("ps_" and 26 characters), got ${quote(id, 40)}`);
    const revoked = await this.store.write((r) => r.portalSessions.revoke(tenant, id, this.options.clock()));
    if (revoked === null) throw new NotFoundError(`portal session ${quote(id)}`);
    return revoked;
  }

  /**
   * Exchanges a link's token for a session cookie (the value to set), once.
   * Null for a token that is malformed, unknown, used, revoked or expired:
   * the portal says the same to all of them.
   */
  async open(token: string): Promise<{ session: PortalSession; cookie: string } | null> {
    if (!SECRET_SHAPE.test(token)) return null;
    const cookie = newSecret();
    const session = await this.store.write((r) => r.portalSessions.open(portalDigest(token), portalDigest(cookie), this.options.clock()));
    return session === null ? null : { session, cookie };
  }

  /** The live session of a cookie, or null (unknown, revoked, expired). Checked on every request, so a revoke acts at once. */
  async session(cookie: string | undefined): Promise<PortalSession | null> {
    if (cookie === undefined || !SECRET_SHAPE.test(cookie)) return null;
    const session = await this.store.read((r) => r.portalSessions.byCookie(portalDigest(cookie)));
    return session !== null && portalSessionLive(session, this.options.clock()) ? session : null;
  }
}
