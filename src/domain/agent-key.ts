/**
 * The one spelling of "this agent of this tenant" as a single string: the
 * key of every per-agent map, queue and lock (in this process and, hashed,
 * PostgreSQL's advisory locks). Tenant ids never contain ':' (see
 * src/auth/tenant.ts), so the first ':' ends the tenant and two tenants'
 * agents of the same id never share a key.
 */

/** An agent of a tenant. */
export interface AgentRef {
  readonly tenantId: string;
  readonly agentId: string;
}

export function agentKey(tenantId: string, agentId: string): string {
  return `${tenantId}:${agentId}`;
}

/** The agents of `items`, once each, in first-seen order. */
export function distinctAgents(items: Iterable<AgentRef>): AgentRef[] {
  const seen = new Map<string, AgentRef>();
  for (const { tenantId, agentId } of items) {
    const key = agentKey(tenantId, agentId);
    if (!seen.has(key)) seen.set(key, { tenantId, agentId });
  }
  return [...seen.values()];
}
