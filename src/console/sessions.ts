/**
 * Console sessions, in memory only: a random id in an HttpOnly cookie points
 * at the token the operator signed in with, the tenant the session started
 * on and its CSRF token. A restart signs everyone out.
 *
 * The token itself is kept (in this process's memory, never in the cookie,
 * a page or a log) so that every request is checked against the token
 * registry again: removing a token from HERALD_API_TOKENS_FILE and sending
 * SIGHUP ends its sessions at their next request.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

export interface Session {
  readonly id: string;
  readonly token: string;
  /** The tenant a scoped token belongs to, or the one an operator token signed in to. */
  readonly tenant: string;
  /** Sent in every form and checked on every state-changing request. */
  readonly csrf: string;
  expiresAt: number;
}

/** Sessions at most; the oldest is dropped beyond this, so sign-ins cannot fill memory. */
const MAX_SESSIONS = 10_000;

export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly idleMs: number,
    private readonly now: () => number,
  ) {}

  create(token: string, tenant: string): Session {
    this.sweep();
    while (this.sessions.size >= MAX_SESSIONS) {
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
    }
    const session: Session = {
      id: randomBytes(32).toString('base64url'),
      token,
      tenant,
      csrf: randomBytes(32).toString('base64url'),
      expiresAt: this.now() + this.idleMs,
    };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The live session of `id`, its expiry pushed back; null when unknown or expired. */
  get(id: string | undefined): Session | null {
    if (id === undefined) return null;
    const session = this.sessions.get(id);
    if (session === undefined) return null;
    if (session.expiresAt <= this.now()) {
      this.sessions.delete(id);
      return null;
    }
    session.expiresAt = this.now() + this.idleMs;
    return session;
  }

  /** Whether `id` is a live session, without pushing its expiry back: an open live view is not a request. */
  isLive(id: string): boolean {
    const session = this.sessions.get(id);
    return session !== undefined && session.expiresAt > this.now();
  }

  delete(id: string): void {
    this.sessions.delete(id);
  }

  get size(): number {
    return this.sessions.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(id);
  }
}

/** Whether the CSRF token a form sent is the session's, in constant time. */
export function csrfMatches(session: Session, sent: string | undefined): boolean {
  if (sent === undefined) return false;
  const a = Buffer.from(session.csrf);
  const b = Buffer.from(sent);
  return a.length === b.length && timingSafeEqual(a, b);
}
