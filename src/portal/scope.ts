/**
 * The one place the portal keeps a session inside its agent. The services
 * check the tenant (every call takes the session's tenant, so nothing of
 * another tenant is reachable); ids of endpoints and deliveries are unique
 * only per tenant, so each object named in a URL is read through here and
 * must belong to the session's agent. Another agent's object answers exactly
 * as a missing one does (NOT_FOUND with the same words), so ids cannot be
 * probed.
 */
import type { Caller } from '../auth/tokens.js';
import type { PortalSession } from '../domain/portal-session.js';
import { quote } from '../domain/validation.js';
import { NotFoundError } from '../errors.js';
import type { DeliveryDetail, DeliveryService } from '../services/delivery-service.js';
import type { EndpointService } from '../services/endpoint-service.js';
import type { EndpointRecord } from '../storage/rows/endpoints.js';

/** A portal session as a {@link Caller}: its tenant, and a role its routes are checked against (src/auth/roles.ts). */
export interface PortalCaller extends Caller {
  /** The only agent the session may see or change. */
  readonly agentId: string;
  /** For audit lines. */
  readonly portalSession: string;
}

/**
 * The session's role (read for a read-only one, else its maker's), checked
 * by every route as the API checks a token's; the portal has no route for
 * what reaches beyond the agent (listing agents, deleting the agent), so an
 * admin session is its agent's owner, secrets included.
 */
export function portalCaller(s: PortalSession): PortalCaller {
  return { tenant: s.tenant, role: s.role, agentId: s.agentId, portalSession: s.id };
}

export class PortalScope {
  constructor(
    private readonly caller: PortalCaller,
    private readonly endpoints: EndpointService,
    private readonly deliveries: DeliveryService,
  ) {}

  async endpoint(id: string): Promise<EndpointRecord> {
    const e = await this.endpoints.get(this.caller.tenant, id);
    if (e.agentId !== this.caller.agentId) throw new NotFoundError(`endpoint ${quote(id)}`);
    return e;
  }

  async delivery(id: string): Promise<DeliveryDetail> {
    const d = await this.deliveries.get(this.caller.tenant, id);
    if (d.agentId !== this.caller.agentId) throw new NotFoundError(`delivery ${quote(id)}`);
    return d;
  }
}
