/**
 * Portal sessions (PortalService and src/portal/). Tokens and cookies are
 * looked up by their SHA-256 digest only; the values themselves never reach
 * the database. Opening a link is one conditional UPDATE, so two requests
 * racing with the same link cannot both win (on either database).
 */
import type { PortalSession } from '../domain/portal-session.js';
import { toPortalSession } from './rows/portal-sessions.js';
import type { PrismaTx } from './sql.js';

/** Sessions ListPortalSessions returns at most. */
export const PORTAL_LIST_LIMIT = 500;

export class PortalSessionRepository {
  constructor(private readonly tx: PrismaTx) {}

  async create(s: PortalSession, tokenDigest: string): Promise<void> {
    await this.tx.portalSession.create({
      data: { tenantId: s.tenant, id: s.id, agentId: s.agentId, readOnly: s.readOnly, role: s.role, tokenDigest, cookieDigest: null, createdAt: s.createdAt, expiresAt: s.expiresAt, openedAt: null, revokedAt: null },
    });
  }

  /**
   * Exchanges a link's token for a cookie: succeeds once per token, only
   * while the link is unused, unrevoked and unexpired at `now`. Returns the
   * session, or null when the token is unknown or can no longer be used.
   */
  async open(tokenDigest: string, cookieDigest: string, now: Date): Promise<PortalSession | null> {
    const { count } = await this.tx.portalSession.updateMany({
      where: { tokenDigest, openedAt: null, revokedAt: null, expiresAt: { gt: now } },
      data: { openedAt: now, cookieDigest },
    });
    if (count !== 1) return null;
    const row = await this.tx.portalSession.findUnique({ where: { tokenDigest } });
    return row === null ? null : toPortalSession(row);
  }

  /** The session a cookie belongs to, live or not (the caller judges), or null. */
  async byCookie(cookieDigest: string): Promise<PortalSession | null> {
    const row = await this.tx.portalSession.findUnique({ where: { cookieDigest } });
    return row === null ? null : toPortalSession(row);
  }

  /** A tenant's sessions live at `now`, newest first; one agent's when `agentId` is not empty. */
  async listLive(tenant: string, agentId: string, now: Date): Promise<PortalSession[]> {
    const rows = await this.tx.portalSession.findMany({
      where: { tenantId: tenant, ...(agentId === '' ? {} : { agentId }), revokedAt: null, expiresAt: { gt: now } },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: PORTAL_LIST_LIMIT,
    });
    return rows.map(toPortalSession);
  }

  /** Deletes the sessions that ended (expired, or were revoked) before `cutoff`; returns how many. Retention's. */
  async deleteEndedBefore(cutoff: Date): Promise<number> {
    const { count } = await this.tx.portalSession.deleteMany({ where: { OR: [{ expiresAt: { lt: cutoff } }, { revokedAt: { lt: cutoff } }] } });
    return count;
  }

  /** Marks a session revoked (again: keeps the first instant). Null when the tenant has no such session. */
  async revoke(tenant: string, id: string, now: Date): Promise<PortalSession | null> {
    await this.tx.portalSession.updateMany({ where: { tenantId: tenant, id, revokedAt: null }, data: { revokedAt: now } });
    const row = await this.tx.portalSession.findUnique({ where: { tenantId_id: { tenantId: tenant, id } } });
    return row === null ? null : toPortalSession(row);
  }
}
