/**
 * A portal session as a {@link Caller} of one agent. The services check it:
 * every call takes the session's tenant (nothing of another tenant is
 * reachable), lists take its agent, and an endpoint or delivery named in a
 * URL is read with the services' `getOfAgent`, which answers another agent's
 * exactly as a missing one (NOT_FOUND with the same words), so ids cannot be
 * probed. The portal's routes read every named object through here before
 * acting on it.
 */
import type { Caller } from '../auth/tokens.js';
import type { PortalSession } from '../domain/portal-session.js';
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

  endpoint(id: string): Promise<EndpointRecord> {
    return this.endpoints.getOfAgent(this.caller.tenant, this.caller.agentId, id);
  }

  delivery(id: string): Promise<DeliveryDetail> {
    return this.deliveries.getOfAgent(this.caller.tenant, this.caller.agentId, id);
  }
}
