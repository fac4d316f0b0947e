/**
 * The token registry: which bearer tokens may call Herald, for which tenant
 * and with which role, and the {@link Caller} a request's metadata makes.
 *
 * Entries (HERALD_API_TOKENS, comma-separated; HERALD_API_TOKENS_FILE, one a
 * line): a bare `TOKEN` is an operator token over every tenant (the meaning
 * HERALD_API_TOKENS had before tenants, so existing configurations keep
 * working); `TENANT:ROLE:TOKEN` is scoped to one tenant. An entry with a
 * `:` must be a valid scoped entry: a mistyped role must not turn a scoped
 * token into an operator one.
 *
 * Only SHA-256 digests of the tokens are kept, and a presented token is
 * compared with every digest in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { HeraldError, UnauthenticatedError } from '../errors.js';
import { hasRole, ROLES, RPC_ROLES, type CallerRole, type Role, type RpcName } from './roles.js';
import { checkTenantId, DEFAULT_TENANT, isTenantId, TENANT_HEADER } from './tenant.js';

/** Who is calling: the tenant the call acts on and what the caller may do there. */
export interface Caller {
  readonly tenant: string;
  readonly role: CallerRole;
}

/** A configured token, as kept in memory: its digest, never the token. */
export interface ApiToken {
  /** null: an operator token, over every tenant. */
  readonly tenant: string | null;
  readonly role: CallerRole;
  readonly digest: Buffer;
}

/** A bad token entry; the message never quotes the token. */
export class TokenEntryError extends Error {}

const MIN_TOKEN_LENGTH = 16;

const digestOf = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/**
 * Parses token entries (already split and trimmed, blank ones removed).
 * `where(i)` names entry i in messages, e.g. "entry 2" or "line 7".
 */
export function parseTokenEntries(entries: readonly string[], where: (i: number) => string): ApiToken[] {
  const tokens: ApiToken[] = [];
  const seen = new Set<string>();
  entries.forEach((entry, i) => {
    const colon = entry.indexOf(':');
    let parsed: { tenant: string | null; role: CallerRole; token: string };
    if (colon === -1) {
      parsed = { tenant: null, role: 'operator', token: entry };
    } else {
      const second = entry.indexOf(':', colon + 1);
      const tenant = entry.slice(0, colon);
      const role = second === -1 ? '' : entry.slice(colon + 1, second);
      const token = second === -1 ? '' : entry.slice(second + 1);
      if (!isTenantId(tenant) || !(ROLES as readonly string[]).includes(role)) {
        throw new TokenEntryError(
          `${where(i)}: an entry with ':' is TENANT:ROLE:TOKEN, with TENANT of a-z, 0-9, _ and - (1-63 characters) and ROLE one of ${ROLES.join(', ')}; a bare operator token has no ':'`,
        );
      }
      parsed = { tenant, role: role as Role, token };
    }
    if (parsed.token.length < MIN_TOKEN_LENGTH) throw new TokenEntryError(`${where(i)}: each token must be at least ${MIN_TOKEN_LENGTH} characters`);
    if (!/^[\x21-\x7e]+$/.test(parsed.token)) throw new TokenEntryError(`${where(i)}: tokens must be printable ASCII without spaces`);
    const digest = digestOf(parsed.token);
    const key = digest.toString('hex');
    if (seen.has(key)) throw new TokenEntryError(`${where(i)}: the same token appears twice; give each tenant and role its own token`);
    seen.add(key);
    tokens.push({ tenant: parsed.tenant, role: parsed.role, digest });
  });
  return tokens;
}

/**
 * The tokens that may call Herald right now. `enabled` false (no token
 * variable set at all) leaves the API open: every caller is an operator,
 * as before tokens existed; x-herald-tenant still picks the tenant.
 */
/**
 * The tokens of HERALD_API_TOKENS and of HERALD_API_TOKENS_FILE together. A
 * token in both would get the rights of whichever is looked at first, and
 * editing the file (to take a right away) would silently change nothing: refused.
 */
export function combineTokenSources(fromEnv: readonly ApiToken[], fromFile: readonly ApiToken[]): ApiToken[] {
  const inEnv = new Set(fromEnv.map((t) => t.digest.toString('hex')));
  if (fromFile.some((t) => inEnv.has(t.digest.toString('hex')))) {
    throw new TokenEntryError('a token is in both HERALD_API_TOKENS and HERALD_API_TOKENS_FILE; keep each token in one place');
  }
  return [...fromEnv, ...fromFile];
}

export class TokenRegistry {
  private tokens: readonly ApiToken[];

  constructor(
    tokens: readonly ApiToken[],
    private readonly enabled: boolean = tokens.length > 0,
  ) {
    this.tokens = tokens;
  }

  /** Swaps in a new set of tokens (a reloaded HERALD_API_TOKENS_FILE); calls in flight keep the caller they had. */
  replace(tokens: readonly ApiToken[]): void {
    this.tokens = tokens;
  }

  get size(): number {
    return this.tokens.length;
  }

  /**
   * The caller of a request, from its `authorization` and `x-herald-tenant`
   * metadata values. UNAUTHENTICATED without a valid token; INVALID_ARGUMENT
   * for a malformed tenant; PERMISSION_DENIED when a scoped token names
   * another tenant.
   */
  callerFor(authorization: string | undefined, tenantHeader: string | undefined): Caller {
    let token: ApiToken | null = null;
    if (this.enabled) {
      // The scheme name is case-insensitive (RFC 9110).
      const match = authorization === undefined ? null : /^bearer +(\S+)\s*$/i.exec(authorization);
      if (match?.[1] === undefined) throw new UnauthenticatedError('missing credentials: send metadata "authorization: Bearer <token>"');
      token = this.find(digestOf(match[1]));
      if (token === null) throw new UnauthenticatedError('the bearer token is not valid');
    }
    const named = tenantHeader === undefined || tenantHeader === '' ? null : tenantHeader;
    if (named !== null) checkTenantId(TENANT_HEADER, named);
    if (token === null || token.tenant === null) return { tenant: named ?? DEFAULT_TENANT, role: 'operator' };
    if (named !== null && named !== token.tenant) {
      throw new HeraldError('PERMISSION_DENIED', `this token belongs to tenant "${token.tenant}" and cannot act on tenant "${named}"`);
    }
    return { tenant: token.tenant, role: token.role };
  }

  /** Compares with every digest, without stopping at a match, so the time taken says nothing about which matched. */
  private find(given: Buffer): ApiToken | null {
    let found: ApiToken | null = null;
    for (const t of this.tokens) {
      if (timingSafeEqual(t.digest, given) && found === null) found = t;
    }
    return found;
  }
}

/** Throws PERMISSION_DENIED unless `caller` has the role `method` needs. */
export function authorize(caller: Caller, method: RpcName): void {
  const needed = RPC_ROLES[method];
  if (!hasRole(caller.role, needed)) {
    throw new HeraldError('PERMISSION_DENIED', `${method} needs the ${needed} role; this token has ${caller.role}`);
  }
}
