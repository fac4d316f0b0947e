/**
 * The console's URLs, each with the RPC whose role it needs (src/auth/roles.ts,
 * the same table as the gRPC API) and a handler that calls the services.
 * State changes are POSTs answered with a redirect (post/redirect/get), so a
 * reload never repeats an action and every page has a URL to share.
 */
import type { RpcName } from '../auth/roles.js';
import { HeraldError, InvalidArgumentError, NotFoundError } from '../errors.js';
import type { AgentPreferences, Delivery } from '../domain/types.js';
import type { DeliveryService } from '../services/delivery-service.js';
import type { EndpointService } from '../services/endpoint-service.js';
import type { NotificationService } from '../services/notification-service.js';
import type { OverviewService } from '../services/overview-service.js';
import type { PreferencesService } from '../services/preferences-service.js';
import { endpointChange, field, newEndpointSettings, parseInstant, preferencesChange, priority } from '../web/forms.js';
import type { Html } from '../web/html.js';
import { httpStatus } from '../web/http-status.js';
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
