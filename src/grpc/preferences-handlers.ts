/**
 * PreferencesService: translates between proto messages and the
 * preferences use cases. No rules live here beyond the shape of a request.
 */
import { InvalidArgumentError } from '../errors.js';
import { DEFAULT_PREFERENCES, QUIET_HOURS_POLICIES, RATE_LIMIT_POLICIES } from '../domain/types.js';
import type { AgentPreferences, EditablePreferences, QuietHours, QuietHoursPolicy, RateLimitPolicy } from '../domain/types.js';
import type { Preferences, Preferences__Output } from '../generated/proto/herald/v1/Preferences.js';
import type { PreferencesServiceHandlers } from '../generated/proto/herald/v1/PreferencesService.js';
import type { QuietHours__Output } from '../generated/proto/herald/v1/QuietHours.js';
import type { QuietHoursPolicy__Output } from '../generated/proto/herald/v1/QuietHoursPolicy.js';
import type { RateLimitPolicy__Output } from '../generated/proto/herald/v1/RateLimitPolicy.js';
import type { PreferencesChange, PreferencesService } from '../services/preferences-service.js';
import { quote } from '../domain/validation.js';
import { fromPriority, toPriority, toTimestamp, toTimestampOrNull } from './convert.js';
import { unary, type CallContext } from './unary.js';

const P = 'preferences';

type Field = keyof EditablePreferences;

/** Mask paths of writable fields, with the domain field each one sets. */
const PATHS: Readonly<Record<string, Field>> = {
  enable_webhook: 'enableWebhook',
  webhook_url: 'webhookUrl',
  time_zone: 'timeZone',
  quiet_hours: 'quietHours',
  max_notifications_per_hour: 'maxPerHour',
  rate_limit_policy: 'rateLimitPolicy',
  notification_types: 'notificationTypes',
  min_priority: 'minPriority',
  webhook_headers: 'webhookHeaders',
  webhook_timeout_ms: 'webhookTimeoutMs',
};
const QUIET_PARTS = ['start', 'end', 'policy', 'urgent_bypass'] as const;
const OUTPUT_ONLY = ['agent_id', 'webhook_secret_set', 'created_at', 'updated_at', 'webhook_disabled_reason'];

/** The proto name of each policy; UNSPECIFIED reads as SKIP. */
export const POLICY_NAMES: Readonly<Record<QuietHoursPolicy, QuietHoursPolicy__Output>> = {
  SKIP: 'QUIET_HOURS_POLICY_SKIP',
  DEFER: 'QUIET_HOURS_POLICY_DEFER',
  DIGEST: 'QUIET_HOURS_POLICY_DIGEST',
};

/** The domain policy of a proto one; `field` names it in the error for a value this server does not know. */
export function policyFrom(p: QuietHoursPolicy__Output | undefined, field = `${P}.quiet_hours.policy`): QuietHoursPolicy {
  if (p === undefined || p === 'QUIET_HOURS_POLICY_UNSPECIFIED') return 'SKIP';
  const policy = QUIET_HOURS_POLICIES.find((x) => POLICY_NAMES[x] === p);
  // An enum number this server does not know arrives as a number.
  if (policy === undefined) throw new InvalidArgumentError(field, `unknown policy ${quote(String(p))}; use ${QUIET_HOURS_POLICIES.map((x) => POLICY_NAMES[x]).join(', ')}`);
  return policy;
}

export const RATE_POLICY_NAMES: Readonly<Record<RateLimitPolicy, RateLimitPolicy__Output>> = {
  SUPPRESS: 'RATE_LIMIT_POLICY_SUPPRESS',
  DEFER: 'RATE_LIMIT_POLICY_DEFER',
  DIGEST: 'RATE_LIMIT_POLICY_DIGEST',
};

/** The domain policy of a proto one; `field` names it in the error for a value this server does not know. */
export function rateLimitPolicyFrom(p: RateLimitPolicy__Output, field = `${P}.rate_limit_policy`): RateLimitPolicy {
  if (p === 'RATE_LIMIT_POLICY_UNSPECIFIED') return 'SUPPRESS';
  const policy = RATE_LIMIT_POLICIES.find((x) => RATE_POLICY_NAMES[x] === p);
  // An enum number this server does not know arrives as a number.
  if (policy === undefined) throw new InvalidArgumentError(field, `unknown policy ${quote(String(p))}; use ${RATE_LIMIT_POLICIES.map((x) => RATE_POLICY_NAMES[x]).join(', ')}`);
  return policy;
}

function quietHoursFrom(q: QuietHours__Output): QuietHours | null {
  if (q.start === '' && q.end === '') return null;
  return { start: q.start, end: q.end, policy: policyFrom(q.policy), urgentBypass: q.urgent_bypass };
}

/** The value of one writable field in the request, or undefined when the request does not carry it. */
function valueOf(p: Preferences__Output, field: Field): EditablePreferences[Field] | undefined {
  switch (field) {
    case 'enableWebhook':
      return p.enable_webhook;
    case 'webhookUrl':
      return p.webhook_url === undefined ? undefined : p.webhook_url === '' ? null : p.webhook_url;
    case 'timeZone':
      return p.time_zone;
    case 'quietHours':
      return p.quiet_hours === null ? undefined : quietHoursFrom(p.quiet_hours);
    case 'maxPerHour':
      return p.max_notifications_per_hour;
    case 'rateLimitPolicy':
      return p.rate_limit_policy === undefined ? undefined : rateLimitPolicyFrom(p.rate_limit_policy);
    case 'notificationTypes':
      return p.notification_types.length === 0 ? undefined : p.notification_types;
    case 'minPriority':
      return p.min_priority === undefined ? undefined : fromPriority(`${P}.min_priority`, p.min_priority);
    case 'webhookHeaders':
      return Object.keys(p.webhook_headers).length === 0 ? undefined : p.webhook_headers;
    case 'webhookTimeoutMs':
      return p.webhook_timeout_ms;
  }
}

/**
 * With a mask, exactly the named fields change, and a named field the
 * request leaves unset goes back to its default. Without one, every field the
 * request carries is written (repeated and map fields only when non-empty:
 * clearing them needs a mask).
 */
export function changeFromRequest(p: Preferences__Output, paths: readonly string[] | null): PreferencesChange {
  const set: Partial<Record<Field, unknown>> = {};
  if (paths === null) {
    for (const field of Object.values(PATHS)) {
      const value = valueOf(p, field);
      if (value !== undefined) set[field] = value;
    }
    return { agentId: p.agent_id, set: set as Partial<EditablePreferences> };
  }
  if (paths.length === 0) throw new InvalidArgumentError('update_mask.paths', 'must name at least one field (omit update_mask to write every field given)');
  const parts: Partial<Record<keyof QuietHours, unknown>> = {};
  for (const path of paths) {
    const field = PATHS[path];
    if (field !== undefined) {
      set[field] = valueOf(p, field) ?? DEFAULT_PREFERENCES[field];
      continue;
    }
    const part = path.startsWith('quiet_hours.') ? QUIET_PARTS.find((x) => `quiet_hours.${x}` === path) : undefined;
    if (part !== undefined) {
      const q = p.quiet_hours;
      if (part === 'start') parts.start = q?.start ?? '';
      else if (part === 'end') parts.end = q?.end ?? '';
      else if (part === 'policy') parts.policy = policyFrom(q?.policy);
      else parts.urgentBypass = q?.urgent_bypass ?? false;
      continue;
    }
    if (OUTPUT_ONLY.includes(path)) throw new InvalidArgumentError('update_mask.paths', `${quote(path)} is output only and cannot be updated`);
    throw new InvalidArgumentError('update_mask.paths', `unknown field ${quote(path)}; updatable: ${[...Object.keys(PATHS), ...QUIET_PARTS.map((x) => `quiet_hours.${x}`)].join(', ')}`);
  }
  if ('quietHours' in set && Object.keys(parts).length > 0) {
    throw new InvalidArgumentError('update_mask.paths', 'name either "quiet_hours" or its sub-fields, not both');
  }
  return { agentId: p.agent_id, set: set as Partial<EditablePreferences>, quietHoursParts: parts as Partial<QuietHours> };
}

export function toProto(p: AgentPreferences): Preferences {
  return {
    agent_id: p.agentId,
    enable_webhook: p.enableWebhook,
    webhook_url: p.webhookUrl ?? '',
    time_zone: p.timeZone,
    quiet_hours:
      p.quietHours === null
        ? null
        : {
            start: p.quietHours.start,
            end: p.quietHours.end,
            policy: POLICY_NAMES[p.quietHours.policy],
            urgent_bypass: p.quietHours.urgentBypass,
          },
    max_notifications_per_hour: p.maxPerHour,
    rate_limit_policy: RATE_POLICY_NAMES[p.rateLimitPolicy],
    notification_types: [...p.notificationTypes],
    min_priority: toPriority(p.minPriority),
    webhook_headers: { ...p.webhookHeaders },
    // Unset means "the service default", which is how it is stored.
    ...(p.webhookTimeoutMs === null ? {} : { webhook_timeout_ms: p.webhookTimeoutMs }),
    webhook_secret_set: p.webhookSecretSet,
    created_at: toTimestamp(p.createdAt),
    updated_at: toTimestamp(p.updatedAt),
    webhook_disabled_reason: p.webhookDisabledReason ?? '',
  };
}

export function preferencesHandlers(ctx: CallContext, service: PreferencesService): PreferencesServiceHandlers {
  return {
    GetPreferences: unary(ctx, 'GetPreferences', async (req, caller) => toProto(await service.get(caller.tenant, req.agent_id))),
    UpdatePreferences: unary(ctx, 'UpdatePreferences', async (req, caller) => {
      if (req.preferences === null) throw new InvalidArgumentError('preferences', 'is required');
      const change = changeFromRequest(req.preferences, req.update_mask === null ? null : req.update_mask.paths);
      return toProto(await service.update(caller.tenant, change));
    }),
    DeletePreferences: unary(ctx, 'DeletePreferences', async (req, caller) => ({ cancelled_deliveries: await service.delete(caller.tenant, req.agent_id) })),
    ListPreferences: unary(ctx, 'ListPreferences', async (req, caller) => {
      const page = await service.list(caller.tenant, req.page_size, req.page_token);
      return { preferences: page.items.map(toProto), next_page_token: page.nextPageToken };
    }),
    RotateWebhookSecret: unary(ctx, 'RotateWebhookSecret', async (req, caller) => {
      const rotated = await service.rotateSecret(caller.tenant, req.agent_id, req.grace_period_seconds);
      return { webhook_secret: rotated.secret, previous_secret_expires_at: toTimestampOrNull(rotated.previousExpiresAt) };
    }),
    GetWebhookSecret: unary(ctx, 'GetWebhookSecret', async (req, caller) => {
      const s = await service.getSecrets(caller.tenant, req.agent_id);
      return {
        webhook_secret: s.current ?? '',
        previous_webhook_secret: s.previous ?? '',
        previous_secret_expires_at: toTimestampOrNull(s.previousExpiresAt),
      };
    }),
  };
}
