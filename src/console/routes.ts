/**
 * The console's URLs, each with the RPC whose role it needs (src/auth/roles.ts,
 * the same table as the gRPC API) and a handler that calls the services.
 * State changes are POSTs answered with a redirect (post/redirect/get), so a
 * reload never repeats an action and every page has a URL to share.
 */
import type { RpcName } from '../auth/roles.js';
import { HeraldError, InvalidArgumentError, NotFoundError } from '../errors.js';
import type { EndpointOverrides, EndpointSettings } from '../domain/endpoint.js';
import { PRIORITIES, QUIET_HOURS_POLICIES, RATE_LIMIT_POLICIES, type AgentPreferences, type Delivery, type Priority, type QuietHours } from '../domain/types.js';
import type { DeliveryService } from '../services/delivery-service.js';
import { DEFAULT_ENDPOINT_SETTINGS, type EndpointChange, type EndpointService } from '../services/endpoint-service.js';
import type { NotificationService } from '../services/notification-service.js';
import type { OverviewService } from '../services/overview-service.js';
import type { PreferencesChange, PreferencesService } from '../services/preferences-service.js';
import type { Html } from './html.js';
import { httpStatus } from './http-status.js';
import {
  agentPage,
  agentsPage,
  deliveryPage,
  endpointDeletePage,
  endpointPage,
  link,
  livePage,
  notificationPage,
  overviewPage,
  whyPage,
  type AgentRow,
  type EndpointWithHealth,
  type PageContext,
  type RefusedForm,
} from './pages.js';

/** The services the console's routes call: the same as the gRPC API's, with the console's extra reads. */
export interface ConsoleServices {
  readonly preferences: PreferencesService;
  readonly notifications: NotificationService;
  readonly deliveries: DeliveryService;
  readonly endpoints: EndpointService;
  readonly overview: OverviewService;
}

export type Reply = { readonly kind: 'page'; readonly html: Html; readonly status?: number } | { readonly kind: 'redirect'; readonly location: string };

export interface RouteContext {
  readonly page: PageContext;
  /** The decoded groups of the route's path. */
  readonly params: readonly string[];
  readonly query: URLSearchParams;
  /** The POSTed form (empty for a GET); its CSRF token has been checked. */
  readonly form: URLSearchParams;
  readonly services: ConsoleServices;
  /** Throws PERMISSION_DENIED unless the caller has the role of `rpc`. */
  readonly authorize: (rpc: RpcName) => void;
}

export interface Route {
  readonly method: 'GET' | 'POST';
  readonly path: RegExp;
  /** The RPC this page stands for: its role is checked before the handler runs. */
  readonly rpc: RpcName;
  readonly handle: (c: RouteContext) => Promise<Reply>;
}

const page = (html: Html, status?: number): Reply => ({ kind: 'page', html, ...(status === undefined ? {} : { status }) });
const param = (c: RouteContext, i: number): string => c.params[i] ?? '';

/** A form or query field, trimmed ("" when absent). */
export function field(values: URLSearchParams, name: string): string {
  return values.get(name)?.trim() ?? '';
}

/** An instant typed by a person: ISO 8601, a date or a date and time; without a zone it is UTC. */
export function parseInstant(name: string, value: string): Date {
  const shape = /^\d{4}-\d\d-\d\d(?:T\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?)?$/i;
  let d = new Date(NaN);
  if (shape.test(value)) {
    if (!value.includes('T')) d = new Date(`${value}T00:00Z`);
    else d = new Date(/(?:Z|[+-]\d\d:?\d\d)$/i.test(value) ? value : `${value}Z`);
  }
  if (Number.isNaN(d.getTime())) throw new InvalidArgumentError(name, `expected an instant such as 2026-01-31T03:00Z, got "${value.slice(0, 40)}"`);
  return d;
}

/** A value of one of the domain's lists (case-insensitive); anything else is refused, never mapped to a default. */
function oneOf<T extends string>(name: string, value: string, list: readonly T[]): T {
  const found = list.find((x) => x === value.toUpperCase());
  if (found === undefined) throw new InvalidArgumentError(name, `must be one of ${list.join(', ')}, got "${value.slice(0, 20)}"`);
  return found;
}

function priority(name: string, value: string): Priority {
  return oneOf(name, value, PRIORITIES);
}

/**
 * The preferences form as a PreferencesChange: only what the form shows;
 * webhook headers are left as they are, and so is the rate-limit policy when
 * the form does not send one.
 */
export function preferencesChange(agentId: string, form: URLSearchParams): PreferencesChange {
  const start = field(form, 'quiet_start');
  const end = field(form, 'quiet_end');
  const quietHours: QuietHours | null =
    start === '' && end === ''
      ? null
      : { start, end, policy: oneOf('preferences.quiet_hours.policy', field(form, 'quiet_policy'), QUIET_HOURS_POLICIES), urgentBypass: field(form, 'quiet_urgent_bypass') === 'true' };
  const maxRaw = field(form, 'max_per_hour') || '0';
  if (!/^\d{1,9}$/.test(maxRaw)) throw new InvalidArgumentError('preferences.max_notifications_per_hour', `expected a whole number, got "${maxRaw.slice(0, 20)}"`);
  const url = field(form, 'webhook_url');
  const minPriority = field(form, 'min_priority');
  const ratePolicy = field(form, 'rate_limit_policy');
  return {
    agentId,
    set: {
      enableWebhook: field(form, 'enable_webhook') === 'true',
      ...(url === '' ? {} : { webhookUrl: url }),
      timeZone: field(form, 'time_zone') || 'UTC',
      quietHours,
      maxPerHour: Number(maxRaw),
      ...(ratePolicy === '' ? {} : { rateLimitPolicy: oneOf('preferences.rate_limit_policy', ratePolicy, RATE_LIMIT_POLICIES) }),
      notificationTypes: field(form, 'notification_types')
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t !== ''),
      minPriority: minPriority === '' ? null : priority('preferences.min_priority', minPriority),
    },
  };
}

/** A comma-separated list typed by a person, without empty entries. */
function list(value: string): string[] {
  return value
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
}

/** A whole number from a form field, or null when the field is empty (the field's default). */
function wholeOrNull(form: URLSearchParams, name: string, apiField: string): number | null {
  const v = field(form, name);
  if (v === '') return null;
  if (!/^\d{1,10}$/.test(v)) throw new InvalidArgumentError(apiField, `expected a whole number, got "${v.slice(0, 20)}"`);
  return Number(v);
}

const E = 'endpoint';

/** The "add endpoint" form as the settings of a new endpoint: what it does not show takes CreateEndpoint's defaults. */
export function newEndpointSettings(form: URLSearchParams): EndpointSettings {
  return { ...DEFAULT_ENDPOINT_SETTINGS, description: field(form, 'description'), url: field(form, 'url'), eventTypes: list(field(form, 'event_types')) };
}

/** The overrides the edit form sets, whole: a choice left at "the agent's" is absent (inherits). */
function overridesFrom(form: URLSearchParams): EndpointOverrides {
  const f = `${E}.overrides`;
  const out: { -readonly [K in keyof EndpointOverrides]: EndpointOverrides[K] } = {};
  const quiet = field(form, 'quiet');
  if (quiet === 'none') out.quietHours = null;
  else if (quiet === 'window') {
    out.quietHours = {
      start: field(form, 'quiet_start'),
      end: field(form, 'quiet_end'),
      policy: oneOf(`${f}.quiet_hours.policy`, field(form, 'quiet_policy'), QUIET_HOURS_POLICIES),
      urgentBypass: field(form, 'quiet_urgent_bypass') === 'true',
    };
  } else if (quiet !== 'inherit' && quiet !== '') throw new InvalidArgumentError(`${f}.quiet_hours`, `must be inherit, none or window, got "${quiet.slice(0, 20)}"`);
  const min = field(form, 'min_priority');
  if (min === 'none') out.minPriority = null;
  else if (min !== 'inherit' && min !== '') out.minPriority = priority(`${f}.min_priority`, min);
  const max = wholeOrNull(form, 'max_per_hour', `${f}.max_notifications_per_hour`);
  if (max !== null) out.maxPerHour = max;
  const rate = field(form, 'rate_limit_policy');
  if (rate !== '') out.rateLimitPolicy = oneOf(`${f}.rate_limit_policy`, rate, RATE_LIMIT_POLICIES);
  return out;
}

/**
 * The edit form as an UpdateEndpoint change. What the form shows is written
 * whole (the retry policy and the overrides included); the URL only when a
 * new one is typed (the page never holds the current one); the filter and
 * headers are left as they are. `enabled` is written only when the box
 * changed from what the page showed (`enabled_was`): writing enabled=true is
 * the owner turning the endpoint on, which clears Herald's run of failures,
 * and saving a description must not do that.
 */
export function endpointChange(id: string, form: URLSearchParams): EndpointChange {
  const url = field(form, 'url');
  const enabled = field(form, 'enabled') === 'true';
  const multiplierRaw = field(form, 'retry_multiplier');
  if (multiplierRaw !== '' && !/^\d{1,6}(?:\.\d{1,6})?$/.test(multiplierRaw)) {
    throw new InvalidArgumentError(`${E}.retry_policy.multiplier`, `expected a number such as 1.5, got "${multiplierRaw.slice(0, 20)}"`);
  }
  const set: Partial<EndpointSettings> = {
    description: field(form, 'description'),
    ...(url === '' ? {} : { url }),
    ...(field(form, 'enabled_was') === String(enabled) ? {} : { enabled }),
    eventTypes: list(field(form, 'event_types')),
    timeoutMs: wholeOrNull(form, 'timeout_ms', `${E}.timeout_ms`),
    retryPolicy: {
      maxAttempts: wholeOrNull(form, 'retry_max_attempts', `${E}.retry_policy.max_attempts`),
      initialDelayMs: wholeOrNull(form, 'retry_initial_delay_ms', `${E}.retry_policy.initial_delay_ms`),
      multiplier: multiplierRaw === '' ? null : Number(multiplierRaw),
      maxDelayMs: wholeOrNull(form, 'retry_max_delay_ms', `${E}.retry_policy.max_delay_ms`),
    },
    overrides: overridesFrom(form),
  };
  return { id, set };
}

/**
 * A form the services refused for what was in it (a field's value, or a rule
 * such as the endpoint limit) is shown again with their message; anything
 * else (not found, not allowed, a fault) is the error page's.
 */
function refusedForm(err: unknown, values: URLSearchParams): (RefusedForm & { status: number }) | null {
  if (!(err instanceof HeraldError) || (err.code !== 'INVALID_ARGUMENT' && err.code !== 'FAILED_PRECONDITION')) return null;
  return { values, error: err.message, status: httpStatus(err) };
}

/** Notices after an action: fixed texts chosen by a code in the URL, so the URL cannot put words on the page. */
function notice(query: URLSearchParams): string | null {
  switch (field(query, 'done')) {
    case 'saved':
      return 'Preferences saved.';
    case 'endpoint-created':
      return 'Endpoint created, with its own signing secret (GetEndpointSecret reads it, with the admin role).';
    case 'endpoint-saved':
      return 'Endpoint saved.';
    case 'endpoint-deleted': {
      const n = Number(field(query, 'count'));
      return Number.isSafeInteger(n) ? `Endpoint deleted; ${n} waiting ${n === 1 ? 'delivery was' : 'deliveries were'} cancelled.` : null;
    }
    case 'retried':
      return 'Retried: the new attempt is listed below.';
    case 'replayed': {
      const n = Number(field(query, 'count'));
      return Number.isSafeInteger(n) ? `${n} ${n === 1 ? 'delivery was' : 'deliveries were'} scheduled again; the worker sends them shortly.` : null;
    }
    default:
      return null;
  }
}

/**
 * The test delivery named in the agent page's URL after "Send test webhook":
 * shown only when it is a test delivery of this agent in the caller's tenant,
 * so a crafted URL shows nothing it could not show anyway.
 */
async function testedDelivery(c: RouteContext, ofThisPage: (d: Delivery) => boolean): Promise<Delivery | null> {
  const id = field(c.query, 'delivery');
  if (field(c.query, 'done') !== 'tested' || id === '') return null;
  try {
    const d = await c.services.deliveries.get(c.page.caller.tenant, id);
    return d.eventType === 'test' && ofThisPage(d) ? d : null;
  } catch (err) {
    if (err instanceof NotFoundError || err instanceof InvalidArgumentError) return null;
    throw err;
  }
}

const AGENTS_PAGE = 50;
/** Agents a search looks at, at most. */
const SEARCH_SCAN = 2_000;

async function agentRows(c: RouteContext, items: readonly AgentPreferences[]): Promise<AgentRow[]> {
  const rows: AgentRow[] = [];
  for (const p of items) rows.push({ preferences: p, usedThisHour: await c.services.overview.hourlyUsage(c.page.caller.tenant, p.agentId) });
  return rows;
}

/** Every endpoint of the agent (at most HERALD_MAX_ENDPOINTS_PER_AGENT), each with GetEndpointStats' figures. */
async function endpointsWithHealth(c: RouteContext, agentId: string): Promise<EndpointWithHealth[]> {
  const tenant = c.page.caller.tenant;
  const out: EndpointWithHealth[] = [];
  let token = '';
  do {
    const listed = await c.services.endpoints.list(tenant, agentId, 100, token);
    for (const endpoint of listed.items) out.push({ endpoint, health: await c.services.endpoints.stats(tenant, endpoint.id, null) });
    token = listed.nextPageToken;
  } while (token !== '');
  return out;
}

/** The agent page; `refused`: the "add endpoint" form as it was sent and refused. */
async function agentView(c: RouteContext, id: string, refused: RefusedForm | null, status?: number): Promise<Reply> {
  const tenant = c.page.caller.tenant;
  c.authorize('ListNotifications');
  c.authorize('ListDeliveries');
  c.authorize('ListEndpoints');
  c.authorize('GetEndpointStats');
  const prefs = await c.services.preferences.get(tenant, id);
  const used = await c.services.overview.hourlyUsage(tenant, id);
  const notifications = await c.services.notifications.list(tenant, {
    agentId: id,
    unreadOnly: false,
    notificationType: '',
    createdAfter: null,
    createdBefore: null,
    pageSize: 25,
    pageToken: '',
  });
  const deliveries = await c.services.deliveries.list(tenant, id, null, 25, '');
  const endpoints = { items: await endpointsWithHealth(c, id), refused };
  return page(agentPage(c.page, prefs, used, notifications.items, deliveries.items, endpoints, notice(c.query), await testedDelivery(c, (d) => d.agentId === id)), status);
}

const ENDPOINT_DELIVERIES_PAGE = 25;

/** The endpoint page; `refused`: the edit form as it was sent and refused. */
async function endpointView(c: RouteContext, id: string, refused: RefusedForm | null, status?: number): Promise<Reply> {
  const tenant = c.page.caller.tenant;
  c.authorize('GetEndpointStats');
  c.authorize('ListDeliveries');
  const endpoint = await c.services.endpoints.get(tenant, id);
  const health = await c.services.endpoints.stats(tenant, id, null);
  const deliveries = await c.services.deliveries.list(tenant, endpoint.agentId, null, ENDPOINT_DELIVERIES_PAGE, field(c.query, 'page'), id);
  return page(
    endpointPage(c.page, {
      endpoint,
      health,
      deliveries: deliveries.items,
      nextPage: deliveries.nextPageToken || null,
      notice: notice(c.query),
      tested: await testedDelivery(c, (d) => d.endpointId === id),
      refused,
    }),
    status,
  );
}

const endpointPath = (id: string): string => `/endpoints/${encodeURIComponent(id)}`;

export const ROUTES: readonly Route[] = [
  {
    method: 'GET',
    path: /^\/$/,
    rpc: 'GetDeliveryStats',
    async handle(c) {
      const tenant = c.page.caller.tenant;
      const [stats, hours, queue, disabled, failing] = [
        await c.services.deliveries.stats(tenant, '', null),
        await c.services.overview.attemptsByHour(tenant),
        await c.services.overview.queue(tenant),
        await c.services.overview.disabledAgents(tenant),
        await c.services.deliveries.list(tenant, '', 'FAILED', 20, ''),
      ];
      return page(overviewPage(c.page, { stats, hours, queue, disabled, failing: failing.items }));
    },
  },
  {
    method: 'GET',
    path: /^\/agents$/,
    rpc: 'ListPreferences',
    async handle(c) {
      const tenant = c.page.caller.tenant;
      const q = field(c.query, 'q');
      const start = field(c.query, 'page');
      if (q === '') {
        const listed = await c.services.preferences.list(tenant, AGENTS_PAGE, start);
        return page(agentsPage(c.page, q, await agentRows(c, listed.items), listed.nextPageToken || null, { limited: false }));
      }
      const found = [];
      let token = start;
      let scanned = 0;
      do {
        const listed = await c.services.preferences.list(tenant, 500, token);
        scanned += listed.items.length;
        found.push(...listed.items.filter((p) => p.agentId.includes(q)));
        token = listed.nextPageToken;
      } while (token !== '' && found.length < AGENTS_PAGE && scanned < SEARCH_SCAN);
      return page(agentsPage(c.page, q, await agentRows(c, found.slice(0, AGENTS_PAGE)), null, { limited: token !== '' && found.length < AGENTS_PAGE }));
    },
  },
  {
    method: 'GET',
    path: /^\/agents\/([^/]+)$/,
    rpc: 'GetPreferences',
    async handle(c) {
      return agentView(c, param(c, 0), null);
    },
  },
  {
    method: 'POST',
    path: /^\/agents\/([^/]+)\/endpoints$/,
    rpc: 'CreateEndpoint',
    async handle(c) {
      const id = param(c, 0);
      try {
        const created = await c.services.endpoints.create(c.page.caller.tenant, id, newEndpointSettings(c.form));
        return { kind: 'redirect', location: link(c.page, endpointPath(created.id), { done: 'endpoint-created' }) };
      } catch (err) {
        const refused = refusedForm(err, c.form);
        if (refused === null) throw err;
        return agentView(c, id, refused, refused.status);
      }
    },
  },
  {
    method: 'GET',
    path: /^\/endpoints\/([^/]+)$/,
    rpc: 'GetEndpoint',
    async handle(c) {
      return endpointView(c, param(c, 0), null);
    },
  },
  {
    method: 'POST',
    path: /^\/endpoints\/([^/]+)\/settings$/,
    rpc: 'UpdateEndpoint',
    async handle(c) {
      const id = param(c, 0);
      try {
        await c.services.endpoints.update(c.page.caller.tenant, endpointChange(id, c.form));
      } catch (err) {
        const refused = refusedForm(err, c.form);
        if (refused === null) throw err;
        return endpointView(c, id, refused, refused.status);
      }
      return { kind: 'redirect', location: link(c.page, endpointPath(id), { done: 'endpoint-saved' }) };
    },
  },
  {
    method: 'POST',
    path: /^\/endpoints\/([^/]+)\/test$/,
    rpc: 'SendTestWebhook',
    async handle(c) {
      const id = param(c, 0);
      const tenant = c.page.caller.tenant;
      const endpoint = await c.services.endpoints.get(tenant, id);
      const sent = await c.services.deliveries.sendTest(tenant, endpoint.agentId, id);
      return { kind: 'redirect', location: link(c.page, endpointPath(id), { done: 'tested', delivery: sent.deliveryId }) };
    },
  },
  {
    method: 'GET',
    path: /^\/endpoints\/([^/]+)\/delete$/,
    rpc: 'DeleteEndpoint',
    async handle(c) {
      const id = param(c, 0);
      const tenant = c.page.caller.tenant;
      c.authorize('GetEndpointStats');
      return page(endpointDeletePage(c.page, await c.services.endpoints.get(tenant, id), await c.services.endpoints.stats(tenant, id, null)));
    },
  },
  {
    method: 'POST',
    path: /^\/endpoints\/([^/]+)\/delete$/,
    rpc: 'DeleteEndpoint',
    async handle(c) {
      const id = param(c, 0);
      const tenant = c.page.caller.tenant;
      // The confirmation page names the endpoint in its form: a POST without it did not come through that page.
      if (field(c.form, 'confirm') !== id) throw new InvalidArgumentError('confirm', 'must name the endpoint: delete it from its confirmation page');
      const { agentId } = await c.services.endpoints.get(tenant, id);
      const cancelled = await c.services.endpoints.delete(tenant, id);
      return { kind: 'redirect', location: link(c.page, `/agents/${encodeURIComponent(agentId)}`, { done: 'endpoint-deleted', count: String(cancelled) }) };
    },
  },
  {
    method: 'POST',
    path: /^\/agents\/([^/]+)\/test$/,
    rpc: 'SendTestWebhook',
    async handle(c) {
      const id = param(c, 0);
      const sent = await c.services.deliveries.sendTest(c.page.caller.tenant, id);
      return { kind: 'redirect', location: link(c.page, `/agents/${encodeURIComponent(id)}`, { done: 'tested', delivery: sent.deliveryId }) };
    },
  },
  {
    method: 'POST',
    path: /^\/agents\/([^/]+)\/preferences$/,
    rpc: 'UpdatePreferences',
    async handle(c) {
      const id = param(c, 0);
      await c.services.preferences.update(c.page.caller.tenant, preferencesChange(id, c.form));
      return { kind: 'redirect', location: link(c.page, `/agents/${encodeURIComponent(id)}`, { done: 'saved' }) };
    },
  },
  {
    method: 'POST',
    path: /^\/agents\/([^/]+)\/replay$/,
    rpc: 'ReplayDeliveries',
    async handle(c) {
      const id = param(c, 0);
      const since = parseInstant('since', field(c.form, 'since'));
      const status = field(c.form, 'status') === 'CANCELLED' ? 'CANCELLED' : 'FAILED';
      const count = await c.services.deliveries.replay(c.page.caller.tenant, id, since, null, status);
      return { kind: 'redirect', location: link(c.page, `/agents/${encodeURIComponent(id)}`, { done: 'replayed', count: String(count) }) };
    },
  },
  {
    method: 'GET',
    path: /^\/notifications\/([^/]+)$/,
    rpc: 'GetNotification',
    async handle(c) {
      return page(notificationPage(c.page, await c.services.notifications.get(c.page.caller.tenant, param(c, 0))));
    },
  },
  {
    method: 'GET',
    path: /^\/deliveries\/([^/]+)$/,
    rpc: 'GetDelivery',
    async handle(c) {
      return page(deliveryPage(c.page, await c.services.deliveries.get(c.page.caller.tenant, param(c, 0)), notice(c.query)));
    },
  },
  {
    method: 'POST',
    path: /^\/deliveries\/([^/]+)\/retry$/,
    rpc: 'RetryDelivery',
    async handle(c) {
      const id = param(c, 0);
      await c.services.deliveries.retry(c.page.caller.tenant, id);
      return { kind: 'redirect', location: link(c.page, `/deliveries/${encodeURIComponent(id)}`, { done: 'retried' }) };
    },
  },
  {
    method: 'POST',
    path: /^\/deliveries\/([^/]+)\/replay$/,
    rpc: 'ReplayDeliveries',
    async handle(c) {
      const id = param(c, 0);
      await c.services.deliveries.replayDelivery(c.page.caller.tenant, id);
      return { kind: 'redirect', location: link(c.page, `/deliveries/${encodeURIComponent(id)}`, { done: 'replayed', count: '1' }) };
    },
  },
  {
    method: 'GET',
    path: /^\/why$/,
    rpc: 'EvaluateNotification',
    async handle(c) {
      const form = { agent: field(c.query, 'agent'), type: field(c.query, 'type'), priority: field(c.query, 'priority').toUpperCase(), at: field(c.query, 'at') };
      if (form.agent === '' || form.type === '') return page(whyPage(c.page, form, null, null));
      try {
        const { decision } = await c.services.notifications.evaluate(
          c.page.caller.tenant,
          {
            agentId: form.agent,
            notificationType: form.type,
            // Evaluation needs a title to validate; it does not affect the decision.
            title: 'evaluation',
            content: '',
            priority: form.priority === '' ? null : priority('priority', form.priority),
            relatedEntityType: '',
            relatedEntityId: '',
            metadata: {},
            idempotencyKey: '',
          },
          form.at === '' ? null : parseInstant('at', form.at),
        );
        return page(whyPage(c.page, form, decision, null));
      } catch (err) {
        if (err instanceof InvalidArgumentError) return page(whyPage(c.page, form, null, err.message), 400);
        throw err;
      }
    },
  },
  {
    method: 'GET',
    path: /^\/live$/,
    rpc: 'WatchDeliveries',
    async handle(c) {
      return page(livePage(c.page));
    },
  },
];
