/**
 * PortalService: translates between proto messages and the portal-session
 * use cases (src/services/portal-service.ts).
 */
import type { PortalSession } from '../domain/portal-session.js';
import type { PortalServiceHandlers } from '../generated/proto/herald/v1/PortalService.js';
import type { PortalSession as PortalSessionProto } from '../generated/proto/herald/v1/PortalSession.js';
import type { PortalService } from '../services/portal-service.js';
import { toTimestamp, toTimestampOrNull } from './convert.js';
import { unary, type CallContext } from './unary.js';

function toProto(s: PortalSession): PortalSessionProto {
  return {
    id: s.id,
    agent_id: s.agentId,
    read_only: s.readOnly,
    created_at: toTimestamp(s.createdAt),
    expire_at: toTimestamp(s.expiresAt),
    opened_at: toTimestampOrNull(s.openedAt),
    revoked_at: toTimestampOrNull(s.revokedAt),
  };
}

export function portalHandlers(ctx: CallContext, service: PortalService): PortalServiceHandlers {
  return {
    CreatePortalSession: unary(ctx, 'CreatePortalSession', async (req, caller) => {
      const created = await service.create(caller, req.agent_id, req.ttl_seconds, req.read_only);
      ctx.log.info({ tenant: caller.tenant, agentId: req.agent_id, portalSession: created.session.id, role: created.session.role }, 'portal session created');
      return { session: toProto(created.session), url: created.url };
    }),
    ListPortalSessions: unary(ctx, 'ListPortalSessions', async (req, caller) => ({ sessions: (await service.list(caller.tenant, req.agent_id)).map(toProto) })),
    RevokePortalSession: unary(ctx, 'RevokePortalSession', async (req, caller) => {
      const revoked = await service.revoke(caller.tenant, req.id);
      ctx.log.info({ tenant: caller.tenant, agentId: revoked.agentId, portalSession: revoked.id }, 'portal session revoked');
      return toProto(revoked);
    }),
  };
}
