/**
 * Roles, and the one table of the role each RPC needs. A scoped token has a
 * role within its tenant; an operator token (a bare entry of
 * HERALD_API_TOKENS, or no tokens configured) has every role in every tenant.
 */

/** The roles a scoped token may have, weakest first. */
export const ROLES = ['read', 'write', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** What a caller may do: a scoped role, or `operator` (every tenant, every call). */
export type CallerRole = Role | 'operator';

const RANK: Readonly<Record<CallerRole, number>> = { read: 0, write: 1, admin: 2, operator: 3 };

/**
 * The role each Herald RPC needs, by its method name in the proto (names are
 * unique across Herald's services; test/unit/auth.test.ts checks that every
 * RPC of every service is here and nothing else is).
 *
 * - `read`: calls that change nothing and show no secret.
 * - `write`: everything else within the tenant except the secrets.
 * - `admin`: reading or rotating an agent's signing secret, and deleting an agent (which drops it).
 */
export const RPC_ROLES = {
  GetPreferences: 'read',
  ListPreferences: 'read',
  UpdatePreferences: 'write',
  // Deleting drops the agent's signing secret: recreating it is a rotation with no grace period.
  DeletePreferences: 'admin',
  RotateWebhookSecret: 'admin',
  GetWebhookSecret: 'admin',
  GetEndpoint: 'read',
  ListEndpoints: 'read',
  GetEndpointStats: 'read',
  CreateEndpoint: 'write',
  UpdateEndpoint: 'write',
  DeleteEndpoint: 'write',
  // An endpoint's signing secret is guarded as the agent's is.
  RotateEndpointSecret: 'admin',
  GetEndpointSecret: 'admin',
  CreateNotification: 'write',
  EvaluateNotification: 'read',
  GetNotification: 'read',
  ListNotifications: 'read',
  MarkNotificationRead: 'write',
  GetDelivery: 'read',
  ListDeliveries: 'read',
  RetryDelivery: 'write',
  SendTestWebhook: 'write',
  GetDeliveryStats: 'read',
  ReplayDeliveries: 'write',
  WatchDeliveries: 'read',
  // A portal link can change the agent's settings: handing one out is a write. Listing them
  // shows who holds links, so it needs the same role as creating them.
  CreatePortalSession: 'write',
  ListPortalSessions: 'write',
  RevokePortalSession: 'write',
} as const satisfies Record<string, Role>;

export type RpcName = keyof typeof RPC_ROLES;

/** Whether `role` includes `needed`. */
export function hasRole(role: CallerRole, needed: Role): boolean {
  return RANK[role] >= RANK[needed];
}
