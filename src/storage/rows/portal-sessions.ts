/**
 * The `portal_sessions` table: a portal link (only its token's digest) and,
 * once opened, the digest of the session cookie it was exchanged for.
 */
import type { PortalSession as Row } from '../../generated/prisma/sqlite/client.js';
import type { PortalRole, PortalSession } from '../../domain/portal-session.js';

const ROLES: readonly PortalRole[] = ['read', 'write', 'admin'];

export type PortalSessionRow = Row;

export function toPortalSession(row: Row): PortalSession {
  return {
    tenant: row.tenantId,
    id: row.id,
    agentId: row.agentId,
    readOnly: row.readOnly,
    // An unknown word (a row written by a newer Herald) gives the least: read.
    role: ROLES.find((r) => r === row.role) ?? 'read',
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    openedAt: row.openedAt,
    revokedAt: row.revokedAt,
  };
}
