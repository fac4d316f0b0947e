/**
 * Portal sessions (issue #20): a link to one agent's preference centre and,
 * once opened, the browser session it became. Pure: the link's lifetime
 * rules and what a session is; tokens are made and digested in services/.
 */
import { InvalidArgumentError } from '../errors.js';

/** A link lasts this long when the request asks for no TTL: long enough to be clicked, short enough to leak little. */
export const PORTAL_DEFAULT_TTL_SECONDS = 15 * 60;
/** The longest a link (and the session it opens) may last. */
export const PORTAL_MAX_TTL_SECONDS = 24 * 60 * 60;

/** The roles of src/auth/roles.ts a session can have (the same words; domain/ does not import auth/). */
export type PortalRole = 'read' | 'write' | 'admin';

export interface PortalSession {
  readonly tenant: string;
  /** "ps_" and a ULID. */
  readonly id: string;
  readonly agentId: string;
  readonly readOnly: boolean;
  /**
   * What the session may do within its agent: `read` for a read-only one,
   * else the role of the token that made it (an operator's counts as
   * admin), so a link never gives more than its maker has: a write token's
   * links cannot show or rotate signing secrets.
   */
  readonly role: PortalRole;
  readonly createdAt: Date;
  /** The link and the session both end here. */
  readonly expiresAt: Date;
  readonly openedAt: Date | null;
  readonly revokedAt: Date | null;
}

/** The TTL a request asks for, in seconds (0: the default), checked; throws INVALID_ARGUMENT naming `field`. */
export function portalTtlSeconds(field: string, requested: number): number {
  if (!Number.isInteger(requested) || requested < 0 || requested > PORTAL_MAX_TTL_SECONDS) {
    throw new InvalidArgumentError(field, `must be between 1 and ${PORTAL_MAX_TTL_SECONDS} seconds (24 hours), or 0 for the default ${PORTAL_DEFAULT_TTL_SECONDS}; got ${String(requested).slice(0, 20)}`);
  }
  return requested === 0 ? PORTAL_DEFAULT_TTL_SECONDS : requested;
}

/** The role of a new session: see {@link PortalSession.role}. */
export function portalSessionRole(makerRole: PortalRole | 'operator', readOnly: boolean): PortalRole {
  if (readOnly) return 'read';
  return makerRole === 'operator' ? 'admin' : makerRole;
}

/** Whether a session may be used at `now`: not revoked and not past its end. */
export function portalSessionLive(s: Pick<PortalSession, 'expiresAt' | 'revokedAt'>, now: Date): boolean {
  return s.revokedAt === null && s.expiresAt.getTime() > now.getTime();
}
