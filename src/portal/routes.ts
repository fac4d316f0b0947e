/**
 * The portal's URLs (all under /portal/), each with the RPC whose role it
 * needs (src/auth/roles.ts, as the API and the console) and a handler that
 * calls the same services as they do, always with the session's tenant and
 * agent; objects named in a URL go through PortalScope. State changes are
 * POSTs answered with a redirect (post/redirect/get), except the two that
 * show a secret once. Each change names itself (`audit`) for the log line
 * the server writes after it succeeds.
 */
import type { RpcName } from '../auth/roles.js';
import { DEFAULT_ENDPOINT_SETTINGS, type EndpointService } from '../services/endpoint-service.js';
import type { EndpointOverrides, EndpointSettings } from '../domain/endpoint.js';
import { FILTER_OPERATORS, type FilterCondition } from '../domain/filter.js';
import { PRIORITIES, QUIET_HOURS_POLICIES, RATE_LIMIT_POLICIES } from '../domain/types.js';
import { InvalidArgumentError } from '../errors.js';
import type { DeliveryService, TestResult } from '../services/delivery-service.js';
import type { NotificationService } from '../services/notification-service.js';
import type { PreferencesService } from '../services/preferences-service.js';
import type { Html } from '../web/html.js';
import { field, parseInstant, preferencesChange } from '../web/forms.js';
import { activityPage, deliveryPage, endpointLabel, endpointPage, endpointsPage, preferencesPage, whyPage, type PortalPageContext, type RevealedSecret } from './pages.js';
import type { PortalCaller, PortalScope } from './scope.js';

/** The services the portal calls: the API's own. */
export interface PortalServices {
  readonly preferences: PreferencesService;
  readonly endpoints: EndpointService;
  readonly notifications: NotificationService;
  readonly deliveries: DeliveryService;
}

export type PortalReply = { readonly kind: 'page'; readonly html: Html } | { readonly kind: 'redirect'; readonly location: string };

export interface PortalRouteContext {
  readonly page: PortalPageContext;
  readonly caller: PortalCaller;
  readonly params: readonly string[];
  readonly query: URLSearchParams;
  /** The POSTed form (empty for a GET); its CSRF token and Origin have been checked. */
  readonly form: URLSearchParams;
  readonly services: PortalServices;
  readonly scope: PortalScope;
  /** Records what a change did, for the audit line written once it has succeeded. */
  audit(action: string, target: string): void;
}

export interface PortalRoute {
  readonly method: 'GET' | 'POST';
  readonly path: RegExp;
  readonly rpc: RpcName;
  readonly handle: (c: PortalRouteContext) => Promise<PortalReply>;
}

const page = (html: Html): PortalReply => ({ kind: 'page', html });
const redirect = (location: string): PortalReply => ({ kind: 'redirect', location });
const param = (c: PortalRouteContext, i: number): string => c.params[i] ?? '';

/** Notices after an action: fixed texts chosen by a code in the URL, so a URL cannot put words on the page. */
const NOTICES: Readonly<Record<string, string>> = {
  saved: 'Saved.',
  added: 'Endpoint added.',
  enabled: 'Endpoint turned on.',
  disabled: 'Endpoint turned off: nothing is sent to it until it is turned on again.',
  deleted: 'Endpoint deleted.',
  retried: 'Retried: the new attempt is listed below.',
  replayed: 'The deliveries of that period are scheduled again; they are sent shortly.',
};
const noticeOf = (c: PortalRouteContext): string | null => NOTICES[field(c.query, 'done')] ?? null;

function list(value: string): string[] {
  return value
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
}

/** The overrides the endpoint form sets; each "as in preferences" is a key present with undefined (back to inheriting). */
function overridesFrom(form: URLSearchParams): EndpointOverrides {
  const out: { -readonly [K in keyof EndpointOverrides]: EndpointOverrides[K] } = {};
  const min = field(form, 'min_priority');
  out.minPriority = min === 'inherit' || min === '' ? undefined : min === 'none' ? null : oneOf('endpoint.overrides.min_priority', min, PRIORITIES);
  const quiet = field(form, 'quiet_override');
  out.quietHours =
    quiet === 'none' ? null
    : quiet === 'own'
      ? { start: field(form, 'quiet_start'), end: field(form, 'quiet_end'), policy: oneOf('endpoint.overrides.quiet_hours.policy', field(form, 'quiet_policy'), QUIET_HOURS_POLICIES), urgentBypass: field(form, 'quiet_urgent_bypass') === 'true' }
      : undefined;
  const max = field(form, 'max_per_hour');
  if (max !== '' && !/^\d{1,9}$/.test(max)) throw new InvalidArgumentError('endpoint.overrides.max_notifications_per_hour', `expected a whole number, got "${max.slice(0, 20)}"`);
  out.maxPerHour = max === '' ? undefined : Number(max);
  const policy = field(form, 'rate_limit_policy');
  out.rateLimitPolicy = policy === '' ? undefined : oneOf('endpoint.overrides.rate_limit_policy', policy, RATE_LIMIT_POLICIES);
  return out;
}

/** A value of one of the domain's lists; anything else is refused naming the field. */
function oneOf<T extends string>(name: string, value: string, list: readonly T[]): T {
  const found = list.find((x) => x === value);
  if (found === undefined) throw new InvalidArgumentError(name, `must be one of ${list.join(', ')}, got "${value.slice(0, 20)}"`);
  return found;
}

/** The filter textarea: one condition a line, `FIELD OPERATOR value, value` (pages.ts writes it the same way). */
function filterFrom(text: string): FilterCondition[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line, i) => {
      const [fieldName = '', operator = '', ...rest] = line.split(/\s+/);
      const values = rest.join(' ');
      return {
        field: fieldName,
        operator: oneOf(`endpoint.filter[${i}].operator`, operator.toUpperCase(), FILTER_OPERATORS),
        values: values === '' ? [] : values.split(',').map((v) => v.trim()),
      };
    });
}

function endpointSettings(form: URLSearchParams): Pick<EndpointSettings, 'url' | 'description' | 'eventTypes' | 'filter'> {
  return { url: field(form, 'url'), description: field(form, 'description'), eventTypes: list(field(form, 'event_types')), filter: filterFrom(form.get('filter') ?? '') };
}

/** Endpoint names by id, for activity and "why not?" lines. */
async function endpointNames(c: PortalRouteContext): Promise<Map<string, string>> {
  const listed = await c.services.endpoints.list(c.caller.tenant, c.caller.agentId, 100, '');
  return new Map(listed.items.map((e) => [e.id, endpointLabel(e)]));
}

async function showEndpoint(c: PortalRouteContext, id: string, tested: TestResult | null, revealed: RevealedSecret | null): Promise<PortalReply> {
  const e = await c.scope.endpoint(id);
  const stats = await c.services.endpoints.stats(c.caller.tenant, e.id, null);
  return page(endpointPage(c.page, e, stats, noticeOf(c), tested, revealed));
}

const ENDPOINT = /^\/portal\/endpoints\/(ep_[^/]+)$/;
const endpointAction = (action: string): RegExp => new RegExp(`^/portal/endpoints/(ep_[^/]+)/${action}$`);

export const PORTAL_ROUTES: readonly PortalRoute[] = [
  {
    method: 'GET',
    path: /^\/portal\/?$/,
    rpc: 'GetPreferences',
    async handle(c) {
      return page(preferencesPage(c.page, await c.services.preferences.get(c.caller.tenant, c.caller.agentId), noticeOf(c)));
    },
  },
  {
    method: 'POST',
    path: /^\/portal\/preferences$/,
    rpc: 'UpdatePreferences',
    async handle(c) {
      // The console's form reading, without the fields the portal does not show (the 0.2 webhook URL: endpoints do that).
      const change = preferencesChange(c.caller.agentId, c.form);
      await c.services.preferences.update(c.caller.tenant, change);
      c.audit('preferences updated', c.caller.agentId);
      return redirect('/portal/?done=saved');
    },
  },
  {
    method: 'GET',
    path: /^\/portal\/endpoints$/,
    rpc: 'ListEndpoints',
    async handle(c) {
      const listed = await c.services.endpoints.list(c.caller.tenant, c.caller.agentId, 100, '');
      // The agent's first endpoint exists before any URL is set (the 0.2 webhook): without one it is not a destination.
      return page(endpointsPage(c.page, listed.items.filter((e) => e.url !== ''), noticeOf(c)));
    },
  },
  {
    method: 'POST',
    path: /^\/portal\/endpoints$/,
    rpc: 'CreateEndpoint',
    async handle(c) {
      const created = await c.services.endpoints.create(c.caller.tenant, c.caller.agentId, {
        ...DEFAULT_ENDPOINT_SETTINGS,
        ...endpointSettings(c.form),
        overrides: overridesFrom(c.form),
      });
      c.audit('endpoint created', created.id);
      return redirect(`/portal/endpoints/${encodeURIComponent(created.id)}?done=added`);
    },
  },
  {
    method: 'GET',
    path: ENDPOINT,
    rpc: 'GetEndpoint',
    handle: (c) => showEndpoint(c, param(c, 0), null, null),
  },
  {
    method: 'POST',
    path: ENDPOINT,
    rpc: 'UpdateEndpoint',
    async handle(c) {
      const e = await c.scope.endpoint(param(c, 0));
      await c.services.endpoints.update(c.caller.tenant, { id: e.id, set: endpointSettings(c.form), overridesParts: overridesFrom(c.form) });
      c.audit('endpoint updated', e.id);
      return redirect(`/portal/endpoints/${encodeURIComponent(e.id)}?done=saved`);
    },
  },
  ...(['enable', 'disable'] as const).map(
    (action): PortalRoute => ({
      method: 'POST',
      path: endpointAction(action),
      rpc: 'UpdateEndpoint',
      async handle(c) {
        const e = await c.scope.endpoint(param(c, 0));
        await c.services.endpoints.update(c.caller.tenant, { id: e.id, set: { enabled: action === 'enable' } });
        c.audit(`endpoint ${action}d`, e.id);
        return redirect(`/portal/endpoints/${encodeURIComponent(e.id)}?done=${action}d`);
      },
    }),
  ),
  {
    method: 'POST',
    path: endpointAction('delete'),
    rpc: 'DeleteEndpoint',
    async handle(c) {
      const e = await c.scope.endpoint(param(c, 0));
      if (field(c.form, 'confirm') !== 'yes') throw new InvalidArgumentError('confirm', 'tick the box to delete the endpoint');
      await c.services.endpoints.delete(c.caller.tenant, e.id);
      c.audit('endpoint deleted', e.id);
      return redirect('/portal/endpoints?done=deleted');
    },
  },
  {
    method: 'POST',
    path: endpointAction('test'),
    rpc: 'SendTestWebhook',
    async handle(c) {
      const e = await c.scope.endpoint(param(c, 0));
      const tested = await c.services.deliveries.sendTest(c.caller.tenant, c.caller.agentId, e.id);
      c.audit('test webhook sent', e.id);
      return showEndpoint(c, e.id, tested, null);
    },
  },
  {
    method: 'POST',
    path: endpointAction('secret'),
    rpc: 'GetEndpointSecret',
    async handle(c) {
      const e = await c.scope.endpoint(param(c, 0));
      if (field(c.form, 'confirm') !== 'yes') throw new InvalidArgumentError('confirm', 'tick the box to show the secret');
      const s = await c.services.endpoints.getSecrets(c.caller.tenant, e.id);
      c.audit('endpoint secret shown', e.id);
      return showEndpoint(c, e.id, null, { secret: s.current ?? '', previous: s.previous, previousUntil: s.previousExpiresAt });
    },
  },
  {
    method: 'POST',
    path: endpointAction('rotate'),
    rpc: 'RotateEndpointSecret',
    async handle(c) {
      const e = await c.scope.endpoint(param(c, 0));
      if (field(c.form, 'confirm') !== 'yes') throw new InvalidArgumentError('confirm', 'tick the box to make a new secret');
      const before = await c.services.endpoints.getSecrets(c.caller.tenant, e.id);
      const rotated = await c.services.endpoints.rotateSecret(c.caller.tenant, e.id, undefined);
      c.audit('endpoint secret rotated', e.id);
      return showEndpoint(c, e.id, null, { secret: rotated.secret, previous: rotated.previousExpiresAt === null ? null : before.current, previousUntil: rotated.previousExpiresAt });
    },
  },
  {
    method: 'GET',
    path: /^\/portal\/activity$/,
    rpc: 'ListNotifications',
    async handle(c) {
      const { tenant, agentId } = c.caller;
      const notifications = await c.services.notifications.list(tenant, {
        agentId,
        unreadOnly: false,
        notificationType: '',
        createdAfter: null,
        createdBefore: null,
        pageSize: 25,
        pageToken: field(c.query, 'page'),
      });
      const deliveries = await c.services.deliveries.list(tenant, agentId, null, 50, '');
      return page(activityPage(c.page, notifications.items, deliveries.items, await endpointNames(c), noticeOf(c), notifications.nextPageToken || null));
    },
  },
  {
    method: 'POST',
    path: /^\/portal\/replay$/,
    rpc: 'ReplayDeliveries',
    async handle(c) {
      const since = parseInstant('since', field(c.form, 'since'));
      const untilText = field(c.form, 'until');
      const until = untilText === '' ? null : parseInstant('until', untilText);
      const status = field(c.form, 'status') === 'CANCELLED' ? 'CANCELLED' : 'FAILED';
      // Endpoint by endpoint: an agent-wide replay is refused for an agent without a 0.2 webhook_url
      // (DeliveryService.schedule), which a portal-made agent usually is. One named endpoint goes
      // through PortalScope; "every endpoint" means those that are on (a replay to one that is off is refused).
      const named = field(c.form, 'endpoint');
      const targets = named === '' ? (await c.services.endpoints.list(c.caller.tenant, c.caller.agentId, 100, '')).items.filter((e) => e.enabled && e.url !== '') : [await c.scope.endpoint(named)];
      let count = 0;
      for (const e of targets) count += await c.services.deliveries.replay(c.caller.tenant, c.caller.agentId, since, until, status, e.id);
      c.audit(`replayed ${count} ${status.toLowerCase()} deliveries from ${since.toISOString()}`, c.caller.agentId);
      return redirect('/portal/activity?done=replayed');
    },
  },
  {
    method: 'GET',
    path: /^\/portal\/deliveries\/([^/]+)$/,
    rpc: 'GetDelivery',
    async handle(c) {
      const d = await c.scope.delivery(param(c, 0));
      const names = await endpointNames(c);
      return page(deliveryPage(c.page, d, names.get(d.endpointId ?? '') ?? d.endpointId ?? '—', noticeOf(c)));
    },
  },
  {
    method: 'POST',
    path: /^\/portal\/deliveries\/([^/]+)\/retry$/,
    rpc: 'RetryDelivery',
    async handle(c) {
      const d = await c.scope.delivery(param(c, 0));
      await c.services.deliveries.retry(c.caller.tenant, d.id);
      c.audit('delivery retried', d.id);
      return redirect(`/portal/deliveries/${encodeURIComponent(d.id)}?done=retried`);
    },
  },
  {
    method: 'GET',
    path: /^\/portal\/why$/,
    rpc: 'EvaluateNotification',
    async handle(c) {
      const type = field(c.query, 'type');
      const priorityText = field(c.query, 'priority').toUpperCase();
      const names = await endpointNames(c);
      if (type === '') return page(whyPage(c.page, '', priorityText, null, names, null));
      const priority = PRIORITIES.find((p) => p === priorityText) ?? 'NORMAL';
      const evaluation = await c.services.notifications.evaluate(
        c.caller.tenant,
        { agentId: c.caller.agentId, notificationType: type, title: 'why not?', content: '', priority, relatedEntityType: '', relatedEntityId: '', metadata: {}, idempotencyKey: '' },
        null,
      );
      return page(whyPage(c.page, type, priority, { results: evaluation.endpointResults, summary: evaluation.decision.explanation }, names, null));
    },
  },
];
