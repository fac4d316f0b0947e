/**
 * EndpointService: translates between proto messages and the endpoint use
 * cases (src/services/endpoint-service.ts). No rules live here beyond the
 * shape of a request.
 */
import type { EndpointRetryPolicy } from '../domain/backoff.js';
import type { EndpointOverrides, EndpointSettings } from '../domain/endpoint.js';
import { FILTER_OPERATORS, type FilterCondition, type FilterOperator } from '../domain/filter.js';
import { ORDERINGS, type Ordering } from '../domain/ordering.js';
import { quote } from '../domain/validation.js';
import { InvalidArgumentError } from '../errors.js';
import type { Endpoint, Endpoint__Output } from '../generated/proto/herald/v1/Endpoint.js';
import type { EndpointOverrides as OverridesProto, EndpointOverrides__Output } from '../generated/proto/herald/v1/EndpointOverrides.js';
import type { EndpointServiceHandlers } from '../generated/proto/herald/v1/EndpointService.js';
import type { FilterCondition__Output } from '../generated/proto/herald/v1/FilterCondition.js';
import type { FilterOperator__Output } from '../generated/proto/herald/v1/FilterOperator.js';
import type { Ordering__Output } from '../generated/proto/herald/v1/Ordering.js';
import type { RetryPolicy__Output } from '../generated/proto/herald/v1/RetryPolicy.js';
import { DEFAULT_ENDPOINT_SETTINGS, type EndpointChange, type EndpointRecord, type EndpointService } from '../services/endpoint-service.js';
import { fromPriority, fromTimestamp, toPriority, toTimestamp, toTimestampOrNull } from './convert.js';
import { policyFrom, POLICY_NAMES, RATE_POLICY_NAMES, rateLimitPolicyFrom } from './preferences-handlers.js';
import { unary, type CallContext } from './unary.js';

const E = 'endpoint';
const OPERATOR_PREFIX = 'FILTER_OPERATOR_';
const ORDERING_PREFIX = 'ORDERING_';

type Field = keyof EndpointSettings;

/** Mask paths of writable fields, with the domain field each one sets. */
const PATHS: Readonly<Record<string, Field>> = {
  description: 'description',
  url: 'url',
  enabled: 'enabled',
  event_types: 'eventTypes',
  filter: 'filter',
  headers: 'headers',
  timeout_ms: 'timeoutMs',
  retry_policy: 'retryPolicy',
  overrides: 'overrides',
  ordering: 'ordering',
};
const RETRY_PATHS: Readonly<Record<string, keyof EndpointRetryPolicy>> = {
  'retry_policy.max_attempts': 'maxAttempts',
  'retry_policy.initial_delay_ms': 'initialDelayMs',
  'retry_policy.multiplier': 'multiplier',
  'retry_policy.max_delay_ms': 'maxDelayMs',
};
const OVERRIDE_PATHS: Readonly<Record<string, keyof EndpointOverrides>> = {
  'overrides.quiet_hours': 'quietHours',
  'overrides.no_quiet_hours': 'quietHours',
  'overrides.min_priority': 'minPriority',
  'overrides.max_notifications_per_hour': 'maxPerHour',
  'overrides.rate_limit_policy': 'rateLimitPolicy',
};
const OUTPUT_ONLY = ['id', 'agent_id', 'disabled_reason', 'secret_set', 'consecutive_failures', 'created_at', 'updated_at'];

function operatorFrom(field: string, op: FilterOperator__Output): FilterOperator {
  const name = typeof op === 'string' && op.startsWith(OPERATOR_PREFIX) ? op.slice(OPERATOR_PREFIX.length) : '';
  const operator = FILTER_OPERATORS.find((x) => x === name);
  if (operator === undefined) throw new InvalidArgumentError(field, `must be one of ${FILTER_OPERATORS.map((x) => OPERATOR_PREFIX + x).join(', ')}, got ${quote(String(op))}`);
  return operator;
}

/** The ordering the request sets; undefined for ORDERING_UNSPECIFIED (not carried). */
function orderingFrom(value: Ordering__Output): Ordering | undefined {
  if (value === 'ORDERING_UNSPECIFIED') return undefined;
  const name = typeof value === 'string' && value.startsWith(ORDERING_PREFIX) ? value.slice(ORDERING_PREFIX.length) : '';
  const ordering = ORDERINGS.find((x) => x === name);
  if (ordering === undefined) throw new InvalidArgumentError(`${E}.ordering`, `must be one of ${ORDERINGS.map((x) => ORDERING_PREFIX + x).join(', ')}, got ${quote(String(value))}`);
  return ordering;
}

function filterFrom(conditions: readonly FilterCondition__Output[]): FilterCondition[] {
  return conditions.map((c, i) => ({ field: c.field, operator: operatorFrom(`${E}.filter[${i}].operator`, c.operator), values: [...c.values] }));
}

function retryPolicyFrom(p: RetryPolicy__Output): EndpointRetryPolicy {
  return { maxAttempts: p.max_attempts ?? null, initialDelayMs: p.initial_delay_ms ?? null, multiplier: p.multiplier ?? null, maxDelayMs: p.max_delay_ms ?? null };
}

/** The overrides the message sets; a field it leaves unset is absent (inherits the agent's). */
function overridesFrom(o: EndpointOverrides__Output): EndpointOverrides {
  const f = `${E}.overrides`;
  const out: { -readonly [K in keyof EndpointOverrides]: EndpointOverrides[K] } = {};
  if (o.quiet_hours_choice === 'quiet_hours' && o.quiet_hours != null) {
    const q = o.quiet_hours;
    out.quietHours = { start: q.start, end: q.end, policy: policyFrom(q.policy, `${f}.quiet_hours.policy`), urgentBypass: q.urgent_bypass };
  } else if (o.quiet_hours_choice === 'no_quiet_hours') {
    out.quietHours = null;
  }
  if (o.min_priority !== undefined) out.minPriority = fromPriority(`${f}.min_priority`, o.min_priority);
  if (o.max_notifications_per_hour !== undefined) out.maxPerHour = o.max_notifications_per_hour;
  if (o.rate_limit_policy !== undefined) out.rateLimitPolicy = rateLimitPolicyFrom(o.rate_limit_policy, `${f}.rate_limit_policy`);
  return out;
}

/** The value of one writable field in the request, or undefined when the request does not carry it. */
function valueOf(e: Endpoint__Output, field: Field): EndpointSettings[Field] | undefined {
  switch (field) {
    case 'description':
      return e.description === '' ? undefined : e.description;
    case 'url':
      return e.url === '' ? undefined : e.url;
    case 'enabled':
      return e.enabled;
    case 'eventTypes':
      return e.event_types.length === 0 ? undefined : e.event_types;
    case 'filter':
      return e.filter.length === 0 ? undefined : filterFrom(e.filter);
    case 'headers':
      return Object.keys(e.headers).length === 0 ? undefined : e.headers;
    case 'timeoutMs':
      return e.timeout_ms;
    case 'retryPolicy':
      return e.retry_policy === null ? undefined : retryPolicyFrom(e.retry_policy);
    case 'overrides':
      return e.overrides === null ? undefined : overridesFrom(e.overrides);
    case 'ordering':
      return orderingFrom(e.ordering);
  }
}

/** Every writable field the request carries. */
function settingsIn(e: Endpoint__Output): Partial<EndpointSettings> {
  const set: Partial<Record<Field, unknown>> = {};
  for (const field of Object.values(PATHS)) {
    const value = valueOf(e, field);
    if (value !== undefined) set[field] = value;
  }
  return set as Partial<EndpointSettings>;
}

/** A create: every field the request leaves unset takes its default. */
export function settingsFromRequest(e: Endpoint__Output): EndpointSettings {
  return { ...DEFAULT_ENDPOINT_SETTINGS, ...settingsIn(e) };
}

/**
 * With a mask, exactly the named fields change, and a named field the request
 * leaves unset goes back to its default (an override: back to inheriting the
 * agent's). Without one, every field the request carries is written.
 */
export function changeFromRequest(e: Endpoint__Output, paths: readonly string[] | null): EndpointChange {
  if (paths === null) return { id: e.id, set: settingsIn(e) };
  if (paths.length === 0) throw new InvalidArgumentError('update_mask.paths', 'must name at least one field (omit update_mask to write every field given)');
  const set: Partial<Record<Field, unknown>> = {};
  const retry: Partial<Record<keyof EndpointRetryPolicy, number | null>> = {};
  const overrides: Record<string, unknown> = {};
  const given = e.overrides === null ? {} : overridesFrom(e.overrides);
  const policy = e.retry_policy === null ? null : retryPolicyFrom(e.retry_policy);
  for (const path of paths) {
    const field = PATHS[path];
    if (field !== undefined) {
      set[field] = valueOf(e, field) ?? DEFAULT_ENDPOINT_SETTINGS[field];
      continue;
    }
    const retryField = RETRY_PATHS[path];
    if (retryField !== undefined) {
      retry[retryField] = policy?.[retryField] ?? null;
      continue;
    }
    const override = OVERRIDE_PATHS[path];
    if (override !== undefined) {
      overrides[override] = given[override];
      continue;
    }
    if (OUTPUT_ONLY.includes(path)) throw new InvalidArgumentError('update_mask.paths', `${quote(path)} is output only and cannot be updated`);
    throw new InvalidArgumentError('update_mask.paths', `unknown field ${quote(path)}; updatable: ${[...Object.keys(PATHS), ...Object.keys(RETRY_PATHS), ...Object.keys(OVERRIDE_PATHS)].join(', ')}`);
  }
  if (('retryPolicy' in set && Object.keys(retry).length > 0) || ('overrides' in set && Object.keys(overrides).length > 0)) {
    throw new InvalidArgumentError('update_mask.paths', 'name either "retry_policy" / "overrides" or their sub-fields, not both');
  }
  return { id: e.id, set: set as Partial<EndpointSettings>, retryPolicyParts: retry, overridesParts: overrides as EndpointOverrides };
}

function overridesToProto(o: EndpointOverrides): OverridesProto {
  return {
    ...(o.quietHours === undefined
      ? {}
      : o.quietHours === null
        ? { no_quiet_hours: {} }
        : { quiet_hours: { start: o.quietHours.start, end: o.quietHours.end, policy: POLICY_NAMES[o.quietHours.policy], urgent_bypass: o.quietHours.urgentBypass } }),
    ...(o.minPriority === undefined ? {} : { min_priority: toPriority(o.minPriority) }),
    ...(o.maxPerHour === undefined ? {} : { max_notifications_per_hour: o.maxPerHour }),
    ...(o.rateLimitPolicy === undefined ? {} : { rate_limit_policy: RATE_POLICY_NAMES[o.rateLimitPolicy] }),
  };
}

/** The endpoint as the API shows it: header values masked (write-only), no secret. */
export function toProto(e: EndpointRecord): Endpoint {
  const r = e.retryPolicy;
  return {
    id: e.id,
    agent_id: e.agentId,
    description: e.description,
    url: e.url,
    enabled: e.enabled,
    disabled_reason: e.disabledReason ?? '',
    event_types: [...e.eventTypes],
    filter: e.filter.map((c) => ({ field: c.field, operator: `${OPERATOR_PREFIX}${c.operator}` as FilterOperator__Output, values: [...c.values] })),
    headers: { ...e.headers },
    // Unset means "the service default", which is how it is stored.
    ...(e.timeoutMs === null ? {} : { timeout_ms: e.timeoutMs }),
    retry_policy: {
      ...(r.maxAttempts === null ? {} : { max_attempts: r.maxAttempts }),
      ...(r.initialDelayMs === null ? {} : { initial_delay_ms: r.initialDelayMs }),
      ...(r.multiplier === null ? {} : { multiplier: r.multiplier }),
      ...(r.maxDelayMs === null ? {} : { max_delay_ms: r.maxDelayMs }),
    },
    overrides: overridesToProto(e.overrides),
    ordering: `${ORDERING_PREFIX}${e.ordering}`,
    secret_set: e.secretSet,
    consecutive_failures: e.consecutiveFailures,
    created_at: toTimestamp(e.createdAt),
    updated_at: toTimestamp(e.updatedAt),
  };
}

export function endpointHandlers(ctx: CallContext, service: EndpointService): EndpointServiceHandlers {
  return {
    CreateEndpoint: unary(ctx, 'CreateEndpoint', async (req, caller) => {
      if (req.endpoint === null) throw new InvalidArgumentError(E, 'is required');
      return toProto(await service.create(caller.tenant, req.endpoint.agent_id, settingsFromRequest(req.endpoint)));
    }),
    GetEndpoint: unary(ctx, 'GetEndpoint', async (req, caller) => toProto(await service.get(caller.tenant, req.id))),
    UpdateEndpoint: unary(ctx, 'UpdateEndpoint', async (req, caller) => {
      if (req.endpoint === null) throw new InvalidArgumentError(E, 'is required');
      return toProto(await service.update(caller.tenant, changeFromRequest(req.endpoint, req.update_mask === null ? null : req.update_mask.paths)));
    }),
    DeleteEndpoint: unary(ctx, 'DeleteEndpoint', async (req, caller) => ({ cancelled_deliveries: await service.delete(caller.tenant, req.id) })),
    ListEndpoints: unary(ctx, 'ListEndpoints', async (req, caller) => {
      const page = await service.list(caller.tenant, req.agent_id, req.page_size, req.page_token);
      return { endpoints: page.items.map(toProto), next_page_token: page.nextPageToken };
    }),
    RotateEndpointSecret: unary(ctx, 'RotateEndpointSecret', async (req, caller) => {
      const rotated = await service.rotateSecret(caller.tenant, req.id, req.grace_period_seconds);
      return { secret: rotated.secret, previous_secret_expires_at: toTimestampOrNull(rotated.previousExpiresAt) };
    }),
    GetEndpointStats: unary(ctx, 'GetEndpointStats', async (req, caller) => {
      const s = await service.stats(caller.tenant, req.id, fromTimestamp('since', req.since));
      return {
        endpoint_id: req.id,
        since: toTimestamp(s.since),
        succeeded: s.succeeded,
        failed: s.failed,
        success_rate: s.successRate,
        attempts: s.attempts,
        p50_latency_ms: s.p50LatencyMs,
        p95_latency_ms: s.p95LatencyMs,
        last_success_at: toTimestampOrNull(s.lastSuccessAt),
        last_failure_at: toTimestampOrNull(s.lastFailureAt),
        consecutive_failures: s.consecutiveFailures,
        queue_depth: s.queueDepth,
      };
    }),
    GetEndpointSecret: unary(ctx, 'GetEndpointSecret', async (req, caller) => {
      const s = await service.getSecrets(caller.tenant, req.id);
      return { secret: s.current ?? '', previous_secret: s.previous ?? '', previous_secret_expires_at: toTimestampOrNull(s.previousExpiresAt) };
    }),
  };
}
