/**
 * The console's pages: functions from domain values to HTML. No I/O here;
 * routes.ts fetches through the services and hands the results over.
 */
import { hasRole, type CallerRole } from '../auth/roles.js';
import type { Caller } from '../auth/tokens.js';
import type { HourPoint } from '../domain/attempt-series.js';
import type { AgentPreferences, Decision, Delivery, DeliveryStatus, Notification } from '../domain/types.js';
import { DELIVERY_STATUSES, PRIORITIES, QUIET_HOURS_POLICIES, RATE_LIMIT_POLICIES } from '../domain/types.js';
import type { DeliveryDetail } from '../services/delivery-service.js';
import { isFirstEndpoint, type EndpointHealth, type EndpointRecord } from '../services/endpoint-service.js';
import type { QueueSnapshot } from '../storage/queue-stats-repository.js';
import { barChart, hourLineChart, stackedHourChart } from './charts.js';
import { endpointDetails, endpointHealthList, endpointLabel, endpointRow, endpointTableHead, urlOf } from './endpoint-summary.js';
import { href, html, iso, urlHost, type Html, type Renderable } from '../web/html.js';
import { localTime, quietStatus } from '../web/quiet-status.js';

/** What every page needs to draw its frame and its forms. */
export interface PageContext {
  readonly caller: Caller;
  /** The CSRF token of the session, put into every form that changes something. */
  readonly csrf: string;
  readonly now: Date;
}

/** Links keep the tenant, so a copied URL opens the same tenant for an operator. */
export function link(ctx: PageContext, path: string, params: Readonly<Record<string, string | null | undefined>> = {}): string {
  return href(path, { ...params, tenant: ctx.caller.tenant });
}

export const canWrite = (role: CallerRole): boolean => hasRole(role, 'write');

function csrfField(ctx: PageContext): Html {
  return html`<input type="hidden" name="_csrf" value="${ctx.csrf}">`;
}

export function layout(title: string, body: Renderable, ctx: PageContext | null): Html {
  const nav =
    ctx === null
      ? ''
      : html`<nav><a href="${link(ctx, '/')}">Overview</a><a href="${link(ctx, '/agents')}">Agents</a><a href="${link(ctx, '/why')}">Why?</a><a href="${link(ctx, '/live')}">Live</a>
<span class="who">tenant <strong id="tenant">${ctx.caller.tenant}</strong> · role <strong id="role">${ctx.caller.role}</strong></span>
${ctx.caller.role === 'operator' ? html`<form method="get" action="/" class="inline"><input name="tenant" aria-label="tenant" value="${ctx.caller.tenant}" size="10"><button>Switch tenant</button></form>` : ''}
<form method="post" action="/sign-out" class="inline">${csrfField(ctx)}<button>Sign out</button></form></nav>`;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title} · Herald console</title>
<link rel="stylesheet" href="/assets/console.css"><script src="/assets/console.js" defer></script></head>
<body><header><span class="brand">Herald</span>${nav}</header><main><h1>${title}</h1>${body}</main></body></html>`;
}

export function signInPage(message: string | null, next: string | null = null): Html {
  return layout(
    'Sign in',
    html`${message === null ? '' : html`<p class="error" role="alert">${message}</p>`}
<form method="post" action="${href('/sign-in', { next })}" class="card">
<label>API token <input type="password" name="token" autocomplete="off" required></label>
<label>Tenant <input name="tenant" placeholder="operator tokens only; default: default"></label>
<button>Sign in</button></form>
<p class="hint">The same tokens as the gRPC API (HERALD_API_TOKENS): a read token sees, a write token acts, an operator token may switch tenant.</p>`,
    null,
  );
}

export function errorPage(ctx: PageContext | null, status: number, message: string): Html {
  return layout(status === 404 ? 'Not found' : status === 403 ? 'Not allowed' : status === 400 ? 'Not accepted' : 'Error', html`<p class="error" role="alert">${message}</p>`, ctx);
}

function statusBadge(status: DeliveryStatus): Html {
  return html`<span class="badge status-${status.toLowerCase()}">${status}</span>`;
}

function outcomeBadge(d: Decision): Html {
  return html`<span class="badge outcome-${d.outcome.toLowerCase()}">${d.outcome}</span>`;
}


function quietCell(p: AgentPreferences, now: Date): Html {
  const q = p.quietHours;
  const status = quietStatus(q, p.timeZone, now);
  if (q === null || status === null) return html`none`;
  return html`${q.start}–${q.end} ${p.timeZone}, ${q.policy}${q.urgentBypass ? ', urgent bypass' : ''}<br><span class="${status.quiet ? 'quiet-now' : 'quiet-not'}">${status.quiet ? 'quiet now' : 'not quiet'}</span>; next change at ${localTime(status.nextChange, p.timeZone)}`;
}

function limitCell(p: AgentPreferences, used: number): Html {
  if (p.maxPerHour === 0) return html`unlimited (${used} in the last hour)`;
  return html`<span class="${used >= p.maxPerHour ? 'limit-full' : ''}">${used} / ${p.maxPerHour}</span> in the last hour`;
}

function webhookCell(p: AgentPreferences): Html {
  return html`${p.enableWebhook ? html`<span class="on">on</span>` : html`<span class="off">off</span>`}${p.webhookDisabledReason === null ? '' : html`<br><span class="reason">turned off by Herald: ${p.webhookDisabledReason}</span>`}`;
}

export interface AgentRow {
  readonly preferences: AgentPreferences;
  readonly usedThisHour: number;
}

export function agentsPage(ctx: PageContext, query: string, rows: readonly AgentRow[], next: string | null, scanned: { limited: boolean }): Html {
  const body = html`<form method="get" action="/agents" class="search"><input type="hidden" name="tenant" value="${ctx.caller.tenant}"><label>Agent id <input name="q" value="${query}" placeholder="part of an agent id"></label><button>Search</button></form>
${rows.length === 0 ? html`<p class="empty">No agent${query === '' ? '' : html` matches “${query}”`} in tenant ${ctx.caller.tenant}.</p>` : html`<table id="agents"><thead><tr><th>Agent</th><th>Webhook</th><th>URL host</th><th>Quiet hours (agent's zone)</th><th>Hourly limit</th></tr></thead><tbody>
${rows.map((r) => html`<tr><td><a href="${link(ctx, `/agents/${encodeURIComponent(r.preferences.agentId)}`)}">${r.preferences.agentId}</a></td><td>${webhookCell(r.preferences)}</td><td>${urlHost(r.preferences.webhookUrl)}</td><td>${quietCell(r.preferences, ctx.now)}</td><td>${limitCell(r.preferences, r.usedThisHour)}</td></tr>`)}
</tbody></table>`}
${scanned.limited ? html`<p class="hint">The search looked at the first agents only; give more of the id.</p>` : ''}
${next === null ? '' : html`<p><a href="${link(ctx, '/agents', { q: query, page: next })}">Next page</a></p>`}`;
  return layout('Agents', body, ctx);
}

function decisionBlock(d: Decision): Html {
  return html`<dl class="decision"><dt>Outcome</dt><dd>${outcomeBadge(d)}</dd><dt>Reason</dt><dd class="reason-code">${d.reason}</dd><dt>Explanation</dt><dd class="explanation">${d.explanation}</dd><dt>Due at</dt><dd>${iso(d.deliverAt)}</dd><dt>Decided at</dt><dd>${iso(d.decidedAt)}</dd></dl>`;
}

function deliveriesTable(ctx: PageContext, items: readonly Delivery[]): Html {
  if (items.length === 0) return html`<p class="empty">No deliveries.</p>`;
  return html`<table class="deliveries"><thead><tr><th>Delivery</th><th>Agent</th><th>Status</th><th>Attempts</th><th>Last status code</th><th>Last error</th><th>Next attempt</th><th>Created</th></tr></thead><tbody>
${items.map((d) => html`<tr><td><a href="${link(ctx, `/deliveries/${encodeURIComponent(d.id)}`)}">${d.id}</a></td><td>${d.agentId}</td><td>${statusBadge(d.status)}</td><td>${d.attemptCount}</td><td>${d.lastStatusCode ?? '—'}</td><td>${d.lastError ?? ''}</td><td>${d.status === 'PENDING' ? iso(d.nextAttemptAt) : '—'}</td><td>${iso(d.createdAt)}</td></tr>`)}
</tbody></table>`;
}

function preferencesForm(ctx: PageContext, p: AgentPreferences): Html {
  const q = p.quietHours;
  return html`<form method="post" action="${link(ctx, `/agents/${encodeURIComponent(p.agentId)}/preferences`)}" class="card" id="preferences-form">${csrfField(ctx)}
<label><input type="checkbox" name="enable_webhook" value="true" ${p.enableWebhook ? 'checked' : ''}> Webhook on</label>
<label>New webhook URL <input name="webhook_url" placeholder="leave empty to keep the current one (${urlHost(p.webhookUrl)})" autocomplete="off"></label>
<label>Time zone <input name="time_zone" value="${p.timeZone}"></label>
<fieldset><legend>Quiet hours (both empty: none)</legend><label>Start <input name="quiet_start" value="${q?.start ?? ''}" placeholder="HH:MM" size="5"></label><label>End <input name="quiet_end" value="${q?.end ?? ''}" placeholder="HH:MM" size="5"></label>
<label>Policy <select name="quiet_policy">${QUIET_HOURS_POLICIES.map((x) => html`<option ${q?.policy === x ? 'selected' : ''}>${x}</option>`)}</select></label>
<label><input type="checkbox" name="quiet_urgent_bypass" value="true" ${q?.urgentBypass === true ? 'checked' : ''}> Urgent bypass</label></fieldset>
<label>Max notifications per hour (0: unlimited) <input name="max_per_hour" value="${p.maxPerHour}" inputmode="numeric" size="6"></label>
<label>Over the hourly limit <select name="rate_limit_policy">${RATE_LIMIT_POLICIES.map((x) => html`<option ${p.rateLimitPolicy === x ? 'selected' : ''}>${x}</option>`)}</select></label>
<label>Notification types (comma-separated; empty: all) <input name="notification_types" value="${p.notificationTypes.join(', ')}"></label>
<label>Minimum priority <select name="min_priority"><option value="">none</option>${PRIORITIES.map((x) => html`<option ${p.minPriority === x ? 'selected' : ''}>${x}</option>`)}</select></label>
<button>Save preferences</button></form>`;
}

function preferencesList(p: AgentPreferences, usedThisHour: number, now: Date): Html {
  const headers = Object.keys(p.webhookHeaders);
  return html`<dl class="preferences"><dt>Webhook</dt><dd>${webhookCell(p)}</dd><dt>URL host</dt><dd>${urlHost(p.webhookUrl)}</dd><dt>Signing secret</dt><dd>${p.webhookSecretSet ? 'set (never shown here)' : 'none'}</dd>
<dt>Time zone</dt><dd>${p.timeZone}</dd><dt>Quiet hours</dt><dd>${quietCell(p, now)}</dd><dt>Hourly limit</dt><dd>${limitCell(p, usedThisHour)}</dd><dt>Over the limit</dt><dd id="rate-limit-policy">${p.rateLimitPolicy}</dd>
<dt>Types</dt><dd>${p.notificationTypes.length === 0 ? 'all' : p.notificationTypes.join(', ')}</dd><dt>Minimum priority</dt><dd>${p.minPriority ?? 'none'}</dd>
<dt>Extra headers</dt><dd>${headers.length === 0 ? 'none' : html`${headers.join(', ')} <span class="hint">(values are write-only)</span>`}</dd><dt>Timeout</dt><dd>${p.webhookTimeoutMs === null ? 'service default' : `${p.webhookTimeoutMs} ms`}</dd>
<dt>Updated</dt><dd>${iso(p.updatedAt)}</dd></dl>`;
}

/** The test delivery SendTestWebhook just made, as the agent page reports it. */
function testResult(ctx: PageContext, d: Delivery): Html {
  const ok = d.status === 'SUCCEEDED';
  return html`<p class="${ok ? 'notice' : 'error'}" role="status" id="test-result">Test webhook sent: delivery <a href="${link(ctx, `/deliveries/${encodeURIComponent(d.id)}`)}">${d.id}</a> ${statusBadge(d.status)}${d.lastStatusCode === null ? '' : ` (HTTP ${d.lastStatusCode})`}${ok || d.lastError === null ? '' : `: ${d.lastError}`}.</p>`;
}

function testForm(ctx: PageContext, p: AgentPreferences): Html {
  if (p.webhookUrl === null) return html`<p class="hint">Set a webhook URL to send a test webhook.</p>`;
  return html`<form method="post" action="${link(ctx, `/agents/${encodeURIComponent(p.agentId)}/test`)}" class="inline">${csrfField(ctx)}<button id="send-test">Send test webhook</button></form> <span class="hint">a signed <code>test</code> event to ${urlHost(p.webhookUrl)} now, recorded as a delivery (SendTestWebhook)</span>`;
}

/** An endpoint with its figures from GetEndpointStats. */
export interface EndpointWithHealth {
  readonly endpoint: EndpointRecord;
  readonly health: EndpointHealth;
}

/** A form as it was sent, shown again with the service's message when the service refused it. */
export interface RefusedForm {
  readonly values: URLSearchParams;
  readonly error: string;
}

const formError = (refused: RefusedForm | null): Html => (refused === null ? html`` : html`<p class="error" role="alert" id="form-error">${refused.error}</p>`);

function createEndpointForm(ctx: PageContext, agentId: string, refused: RefusedForm | null): Html {
  const v = (name: string): string => refused?.values.get(name) ?? '';
  return html`<form method="post" action="${link(ctx, `/agents/${encodeURIComponent(agentId)}/endpoints`)}" class="card" id="create-endpoint-form">${csrfField(ctx)}<strong>Add an endpoint</strong>${formError(refused)}
<label>Description <input name="description" value="${v('description')}" maxlength="200" placeholder="e.g. chat"></label>
<label>URL <input name="url" value="${v('url')}" required autocomplete="off" placeholder="https://hooks.example.com/herald"></label>
<label>Event types (comma-separated: exact types, prefix.*, *; empty: all) <input name="event_types" value="${v('event_types')}"></label>
<button id="create-endpoint">Add endpoint</button><span class="hint">It gets its own signing secret; retries, timeout and overrides are set on its page.</span></form>`;
}

function endpointsSection(ctx: PageContext, agentId: string, endpoints: readonly EndpointWithHealth[], refused: RefusedForm | null): Html {
  return html`<section><h2>Endpoints</h2>${endpoints.length === 0 ? html`<p class="empty">No endpoint: set a webhook URL, or add one below.</p>` : html`<table id="endpoints">${endpointTableHead()}<tbody>
${endpoints.map((x) => endpointRow(x.endpoint, x.health, link(ctx, `/endpoints/${encodeURIComponent(x.endpoint.id)}`)))}
</tbody></table><p class="hint">Health: consecutive failures now, last outcomes at any time, deliveries waiting now (GetEndpointStats).</p>`}
${canWrite(ctx.caller.role) ? createEndpointForm(ctx, agentId, refused) : ''}</section>`;
}

/** What the agent page shows of its endpoints: each with its health, and the "add endpoint" form as it was refused, if it was. */
export interface AgentEndpoints {
  readonly items: readonly EndpointWithHealth[];
  readonly refused: RefusedForm | null;
}

/** `tested`: the delivery of a test webhook sent from this page, reported at the top. */
export function agentPage(ctx: PageContext, p: AgentPreferences, usedThisHour: number, notifications: readonly Notification[], deliveries: readonly Delivery[], endpoints: AgentEndpoints, notice: string | null, tested: Delivery | null = null): Html {
  const write = canWrite(ctx.caller.role);
  const id = encodeURIComponent(p.agentId);
  const body = html`${notice === null ? '' : html`<p class="notice" role="status">${notice}</p>`}${tested === null ? '' : testResult(ctx, tested)}
<p><a href="${link(ctx, '/why', { agent: p.agentId })}">Why would a notification be sent to this agent?</a></p>
<section><h2>Preferences</h2>${preferencesList(p, usedThisHour, ctx.now)}${write ? html`<div class="actions">${testForm(ctx, p)}</div>${preferencesForm(ctx, p)}` : ''}</section>
${endpointsSection(ctx, p.agentId, endpoints.items, endpoints.refused)}
<section><h2>Recent notifications</h2>${notifications.length === 0 ? html`<p class="empty">No notifications.</p>` : html`<table id="notifications"><thead><tr><th>Created</th><th>Type</th><th>Title</th><th>Priority</th><th>Outcome</th><th>Reason</th><th>Explanation</th><th>Delivery</th></tr></thead><tbody>
${notifications.map((n) => html`<tr><td><a href="${link(ctx, `/notifications/${encodeURIComponent(n.id)}`)}">${iso(n.createdAt)}</a></td><td>${n.notificationType}</td><td>${n.title}</td><td>${n.priority}</td><td>${outcomeBadge(n.decision)}</td><td>${n.decision.reason}</td><td>${n.decision.explanation}</td><td>${n.deliveryId === null ? '—' : html`<a href="${link(ctx, `/deliveries/${encodeURIComponent(n.deliveryId)}`)}">${n.deliveryId}</a>`}</td></tr>`)}
</tbody></table>`}</section>
<section><h2>Deliveries</h2>${deliveriesTable(ctx, deliveries)}
${write ? html`<form method="post" action="${link(ctx, `/agents/${id}/replay`)}" class="card inline-form">${csrfField(ctx)}<label>Replay deliveries created since (UTC) <input name="since" placeholder="2026-01-31T02:00Z" required></label><label>Status <select name="status"><option>FAILED</option><option>CANCELLED</option></select></label><button>Replay</button></form>` : ''}</section>`;
  return layout(`Agent ${p.agentId}`, body, ctx);
}

export function notificationPage(ctx: PageContext, n: Notification): Html {
  const body = html`<dl class="preferences"><dt>Agent</dt><dd><a href="${link(ctx, `/agents/${encodeURIComponent(n.agentId)}`)}">${n.agentId}</a></dd><dt>Type</dt><dd>${n.notificationType}</dd><dt>Title</dt><dd>${n.title}</dd><dt>Priority</dt><dd>${n.priority}</dd><dt>Created</dt><dd>${iso(n.createdAt)}</dd>
<dt>Delivery</dt><dd>${n.deliveryId === null ? 'none (no webhook was enqueued)' : html`<a href="${link(ctx, `/deliveries/${encodeURIComponent(n.deliveryId)}`)}">${n.deliveryId}</a>`}</dd></dl>
<section><h2>Decision</h2>${decisionBlock(n.decision)}
<p><a href="${link(ctx, '/why', { agent: n.agentId, type: n.notificationType, priority: n.priority, at: n.createdAt.toISOString() })}">Evaluate again at this instant with today's preferences</a></p></section>`;
  return layout(`Notification ${n.id}`, body, ctx);
}

export function deliveryPage(ctx: PageContext, d: DeliveryDetail, notice: string | null): Html {
  const write = canWrite(ctx.caller.role);
  const id = encodeURIComponent(d.id);
  const retryable = d.status === 'PENDING' || d.status === 'FAILED';
  const replayable = (d.eventType === 'notification' || d.eventType === 'digest') && (d.status === 'FAILED' || d.status === 'CANCELLED');
  const body = html`${notice === null ? '' : html`<p class="notice" role="status">${notice}</p>`}
<dl class="preferences"><dt>Status</dt><dd id="delivery-status">${statusBadge(d.status)}</dd><dt>Agent</dt><dd><a href="${link(ctx, `/agents/${encodeURIComponent(d.agentId)}`)}">${d.agentId}</a></dd>
<dt>Notification</dt><dd>${d.notificationId === null ? `— (${d.eventType} event)` : html`<a href="${link(ctx, `/notifications/${encodeURIComponent(d.notificationId)}`)}">${d.notificationId}</a>`}</dd>
<dt>Attempts</dt><dd>${d.attemptCount}</dd><dt>Next attempt</dt><dd>${d.status === 'PENDING' ? iso(d.nextAttemptAt) : '—'}</dd>
${d.ordering === null ? '' : html`<dt>Order</dt><dd id="delivery-order">key ${d.ordering.key}, #${d.ordering.seq}${d.blockedBy === null ? '' : html`; waiting behind <a href="${link(ctx, `/deliveries/${encodeURIComponent(d.blockedBy)}`)}">${d.blockedBy}</a>`}</dd>`}<dt>Last error</dt><dd>${d.lastError ?? '—'}</dd><dt>Created</dt><dd>${iso(d.createdAt)}</dd><dt>Completed</dt><dd>${iso(d.completedAt)}</dd></dl>
${write && (retryable || replayable) ? html`<div class="actions">${retryable ? html`<form method="post" action="${link(ctx, `/deliveries/${id}/retry`)}" class="inline">${csrfField(ctx)}<button id="retry">Retry now</button></form>` : ''}${replayable ? html`<form method="post" action="${link(ctx, `/deliveries/${id}/replay`)}" class="inline">${csrfField(ctx)}<button id="replay">Replay</button></form>` : ''}</div>` : ''}
<section><h2>Attempts</h2>${d.attempts.length === 0 ? html`<p class="empty">No attempt yet.</p>` : html`<table id="attempts"><thead><tr><th>#</th><th>Started</th><th>Duration</th><th>Status code</th><th>Error class</th><th>Error</th><th>Trigger</th><th>Response excerpt</th></tr></thead><tbody>
${d.attempts.map((a) => html`<tr><td>${a.number}</td><td>${iso(a.startedAt)}</td><td>${a.durationMs} ms</td><td>${a.statusCode ?? '—'}</td><td>${a.errorClass ?? '—'}</td><td>${a.errorMessage ?? ''}</td><td>${a.trigger}</td><td><pre class="excerpt">${a.responseExcerpt ?? ''}</pre></td></tr>`)}
</tbody></table>`}</section>`;
  return layout(`Delivery ${d.id}`, body, ctx);
}

export interface WhyForm {
  readonly agent: string;
  readonly type: string;
  readonly priority: string;
  readonly at: string;
}

export function whyPage(ctx: PageContext, form: WhyForm, decision: Decision | null, error: string | null): Html {
  const body = html`<form method="get" action="/why" class="card"><input type="hidden" name="tenant" value="${ctx.caller.tenant}">
<label>Agent <input name="agent" value="${form.agent}" required></label><label>Type <input name="type" value="${form.type}" required></label>
<label>Priority <select name="priority">${PRIORITIES.map((x) => html`<option ${form.priority === x || (form.priority === '' && x === 'NORMAL') ? 'selected' : ''}>${x}</option>`)}</select></label>
<label>Instant (UTC, ISO 8601; empty: now) <input name="at" value="${form.at}" placeholder="2026-01-31T03:00Z"></label><button>Evaluate</button></form>
<p class="hint">The same decision CreateNotification would make (EvaluateNotification): nothing is stored or counted.</p>
${error === null ? '' : html`<p class="error" role="alert">${error}</p>`}${decision === null ? '' : html`<section id="evaluation"><h2>Decision</h2>${decisionBlock(decision)}</section>`}`;
  return layout('Why would this be sent?', body, ctx);
}

export interface OverviewData {
  readonly stats: { byStatus: Readonly<Record<DeliveryStatus, number>>; successRate: number; p50LatencyMs: number; p95LatencyMs: number; attempts: number; total: number; since: Date };
  /** The last 24 hours of attempts, oldest first. */
  readonly hours: readonly HourPoint[];
  readonly queue: QueueSnapshot;
  readonly disabled: { agents: readonly AgentPreferences[]; complete: boolean };
  readonly failing: readonly Delivery[];
}

const percent = (v: number): string => `${Math.round(v * 1000) / 10} %`;

/** The overview's charts: deliveries by status (totals), then attempts, success rate and latency hour by hour. */
function overviewCharts(s: OverviewData['stats'], hours: readonly HourPoint[]): Html {
  const starts = hours.map((h) => h.hourStart);
  const attempts = hours.reduce((a, h) => a + h.attempts, 0);
  const succeeded = hours.reduce((a, h) => a + h.succeeded, 0);
  return html`<div class="charts">
${barChart(`Deliveries by status, created since ${iso(s.since)}`, DELIVERY_STATUSES.map((st) => ({ label: st, value: s.byStatus[st], tone: `bar-${st.toLowerCase()}` })))}
${stackedHourChart(`Attempts per hour (UTC): ${attempts} in 24 h`, hours.map((h) => ({ hourStart: h.hourStart, layers: [{ label: 'succeeded', value: h.succeeded, tone: 'bar-succeeded' }, { label: 'failed', value: h.failed, tone: 'bar-failed' }] })))}
${hourLineChart(`Success rate per hour (UTC)${attempts === 0 ? '' : `: ${percent(succeeded / attempts)} in 24 h`}`, starts, [{ label: 'succeeded / attempts', tone: 'line-rate', values: hours.map((h) => h.successRate) }], percent, 1)}
${hourLineChart('Attempt latency per hour (UTC)', starts, [{ label: 'p50', tone: 'line-p50', values: hours.map((h) => h.p50Ms) }, { label: 'p95', tone: 'line-p95', values: hours.map((h) => h.p95Ms) }], (v) => `${v} ms`)}
</div>
<p class="hint" id="stats-24h">Deliveries created since ${iso(s.since)}: ${s.total}; success rate (succeeded / finished) ${percent(s.successRate)}; their ${s.attempts} attempt${s.attempts === 1 ? '' : 's'} took p50 ${s.p50LatencyMs} ms, p95 ${s.p95LatencyMs} ms (as GetDeliveryStats answers).</p>`;
}

export function overviewPage(ctx: PageContext, o: OverviewData): Html {
  const oldestAge = o.queue.oldestDueAt === null ? null : Math.max(0, Math.round((ctx.now.getTime() - o.queue.oldestDueAt.getTime()) / 1000));
  const body = html`${overviewCharts(o.stats, o.hours)}
<section><h2>Queue</h2><dl class="preferences"><dt>Due now</dt><dd id="queue-due">${o.queue.due}</dd><dt>Oldest due for</dt><dd>${oldestAge === null ? 'nothing is waiting' : `${oldestAge} s (since ${iso(o.queue.oldestDueAt)})`}</dd><dt>Pending</dt><dd>${o.queue.byStatus.PENDING}</dd><dt>Being sent</dt><dd>${o.queue.byStatus.DELIVERING}</dd></dl></section>
<section><h2>Agents turned off by endpoint health</h2>${o.disabled.agents.length === 0 ? html`<p class="empty">None.</p>` : html`<table id="disabled"><thead><tr><th>Agent</th><th>Reason</th><th>URL host</th></tr></thead><tbody>${o.disabled.agents.map((p) => html`<tr><td><a href="${link(ctx, `/agents/${encodeURIComponent(p.agentId)}`)}">${p.agentId}</a></td><td>${p.webhookDisabledReason ?? ''}</td><td>${urlHost(p.webhookUrl)}</td></tr>`)}</tbody></table>`}
${o.disabled.complete ? '' : html`<p class="hint">Only the first agents by id were looked at.</p>`}</section>
<section><h2>Failing now: the latest failed deliveries</h2>${deliveriesTable(ctx, o.failing)}</section>`;
  return layout('Overview', body, ctx);
}

export function livePage(ctx: PageContext): Html {
  const body = html`<p>Delivery changes in tenant ${ctx.caller.tenant} as this process sees them (the events WatchDeliveries streams), newest first. <span id="live-state" class="hint">connecting…</span></p>
<table><thead><tr><th>At</th><th>Delivery</th><th>Agent</th><th>Status</th><th>Attempt</th><th>Status code</th><th>Error class</th></tr></thead><tbody id="live-rows" data-events="${link(ctx, '/live/events')}" data-tenant="${ctx.caller.tenant}"></tbody></table>
<noscript><p class="hint">The live view needs JavaScript; the other pages do not.</p></noscript>`;
  return layout('Live deliveries', body, ctx);
}

/** The edit form's fields as the stored endpoint fills them (the URL is never put into the page, only its host). */
export function endpointFormValues(e: EndpointRecord): URLSearchParams {
  const o = e.overrides;
  const r = e.retryPolicy;
  const q = o.quietHours;
  const text = (n: number | null | undefined): string => (n === null || n === undefined ? '' : String(n));
  return new URLSearchParams({
    description: e.description,
    url: '',
    enabled_was: String(e.enabled),
    ...(e.enabled ? { enabled: 'true' } : {}),
    event_types: e.eventTypes.join(', '),
    timeout_ms: text(e.timeoutMs),
    retry_max_attempts: text(r.maxAttempts),
    retry_initial_delay_ms: text(r.initialDelayMs),
    retry_multiplier: text(r.multiplier),
    retry_max_delay_ms: text(r.maxDelayMs),
    quiet: q === undefined ? 'inherit' : q === null ? 'none' : 'window',
    quiet_start: q?.start ?? '',
    quiet_end: q?.end ?? '',
    quiet_policy: q?.policy ?? 'SKIP',
    ...(q?.urgentBypass === true ? { quiet_urgent_bypass: 'true' } : {}),
    min_priority: o.minPriority === undefined ? 'inherit' : (o.minPriority ?? 'none'),
    max_per_hour: text(o.maxPerHour),
    rate_limit_policy: o.rateLimitPolicy ?? '',
  });
}

function options(selected: string, choices: ReadonlyArray<readonly [value: string, label: string]>): Html[] {
  return choices.map(([value, label]) => html`<option value="${value}" ${selected === value ? 'selected' : ''}>${label}</option>`);
}

/** The edit form, filled from `values` (the stored endpoint, or a refused form as it was sent). */
function endpointForm(ctx: PageContext, e: EndpointRecord, values: URLSearchParams, error: Html): Html {
  const v = (name: string): string => values.get(name) ?? '';
  const checked = (name: string): string => (v(name) === 'true' ? 'checked' : '');
  const first = isFirstEndpoint(e);
  return html`<form method="post" action="${link(ctx, `/endpoints/${encodeURIComponent(e.id)}/settings`)}" class="card" id="endpoint-form">${csrfField(ctx)}<strong>Edit</strong>${error}
<input type="hidden" name="enabled_was" value="${v('enabled_was')}">
<label><input type="checkbox" name="enabled" value="true" ${checked('enabled')}> Endpoint on <span class="hint">(turning it on again clears Herald's reason and the run of failures)</span></label>
<label>Description <input name="description" value="${v('description')}" maxlength="200"></label>
${first ? html`<p class="hint">The agent's first endpoint: its URL is the agent's webhook URL, changed in the agent's preferences.</p>` : html`<label>New URL <input name="url" value="${v('url')}" placeholder="leave empty to keep the current one (${urlOf(e)})" autocomplete="off"></label>`}
<label>Event types (comma-separated: exact types, prefix.*, *; empty: all) <input name="event_types" value="${v('event_types')}"></label>
<label>Timeout, ms (empty: service default) <input name="timeout_ms" value="${v('timeout_ms')}" inputmode="numeric" size="8"></label>
<fieldset><legend>Retry policy (each empty: service default)</legend><label>Attempts in all <input name="retry_max_attempts" value="${v('retry_max_attempts')}" inputmode="numeric" size="4"></label>
<label>First delay, ms <input name="retry_initial_delay_ms" value="${v('retry_initial_delay_ms')}" inputmode="numeric" size="8"></label><label>Multiplier <input name="retry_multiplier" value="${v('retry_multiplier')}" inputmode="decimal" size="4"></label>
<label>Longest delay, ms <input name="retry_max_delay_ms" value="${v('retry_max_delay_ms')}" inputmode="numeric" size="9"></label></fieldset>
<fieldset><legend>Overrides of the agent's preferences</legend>
<label>Quiet hours <select name="quiet">${options(v('quiet'), [['inherit', "the agent's"], ['none', 'none for this endpoint'], ['window', 'this window']])}</select></label>
<label>Start <input name="quiet_start" value="${v('quiet_start')}" placeholder="HH:MM" size="5"></label><label>End <input name="quiet_end" value="${v('quiet_end')}" placeholder="HH:MM" size="5"></label>
<label>Policy <select name="quiet_policy">${options(v('quiet_policy'), QUIET_HOURS_POLICIES.map((x) => [x, x] as const))}</select></label>
<label><input type="checkbox" name="quiet_urgent_bypass" value="true" ${checked('quiet_urgent_bypass')}> Urgent bypass</label>
<label>Minimum priority <select name="min_priority">${options(v('min_priority'), [['inherit', "the agent's"], ['none', 'none'], ...PRIORITIES.map((x) => [x, x] as const)])}</select></label>
<label>Max webhooks per hour (empty: the agent's limit; 0: unlimited) <input name="max_per_hour" value="${v('max_per_hour')}" inputmode="numeric" size="6"></label>
<label>Over the limit <select name="rate_limit_policy">${options(v('rate_limit_policy'), [['', "the agent's"], ...RATE_LIMIT_POLICIES.map((x) => [x, x] as const)])}</select></label></fieldset>
<p class="hint">The filter and the extra headers are kept as they are: change them with UpdateEndpoint.</p>
<button id="save-endpoint">Save endpoint</button></form>`;
}

export interface EndpointView {
  readonly endpoint: EndpointRecord;
  readonly health: EndpointHealth;
  readonly deliveries: readonly Delivery[];
  /** The page token of the next page of deliveries, or null on the last page. */
  readonly nextPage: string | null;
  readonly notice: string | null;
  readonly tested: Delivery | null;
  /** The edit form as it was sent and refused, or null to fill it from the endpoint. */
  readonly refused: RefusedForm | null;
}

export function endpointPage(ctx: PageContext, v: EndpointView): Html {
  const e = v.endpoint;
  const write = canWrite(ctx.caller.role);
  const id = encodeURIComponent(e.id);
  const body = html`${v.notice === null ? '' : html`<p class="notice" role="status">${v.notice}</p>`}${v.tested === null ? '' : testResult(ctx, v.tested)}
<p>Endpoint of agent <a href="${link(ctx, `/agents/${encodeURIComponent(e.agentId)}`)}" id="endpoint-agent">${e.agentId}</a>${e.description === '' ? '' : html`: ${e.description}`}</p>
<section><h2>Settings</h2>${endpointDetails(e)}
${write ? html`<div class="actions">${e.url === '' ? html`<p class="hint">Set the agent's webhook URL to send a test webhook.</p>` : html`<form method="post" action="${link(ctx, `/endpoints/${id}/test`)}" class="inline">${csrfField(ctx)}<button id="send-test">Send test webhook</button></form> <span class="hint">a signed <code>test</code> event to ${urlOf(e)} now, with this endpoint's secret (SendTestWebhook)</span>`}
${isFirstEndpoint(e) ? html`<span class="hint">The agent's first endpoint is removed by clearing its webhook URL, not deleted here.</span>` : html`<a href="${link(ctx, `/endpoints/${id}/delete`)}" id="delete-endpoint" class="danger">Delete…</a>`}</div>
${endpointForm(ctx, e, v.refused?.values ?? endpointFormValues(e), formError(v.refused))}` : ''}</section>
<section><h2>Health</h2>${endpointHealthList(v.health)}</section>
<section><h2>Deliveries</h2>${deliveriesTable(ctx, v.deliveries)}
${v.nextPage === null ? '' : html`<p><a href="${link(ctx, `/endpoints/${id}`, { page: v.nextPage })}" id="deliveries-next">Older deliveries</a></p>`}</section>`;
  return layout(`Endpoint ${endpointLabel(e)}`, body, ctx);
}

/** The confirmation before DeleteEndpoint: what goes, and how many waiting deliveries are cancelled with it. */
export function endpointDeletePage(ctx: PageContext, e: EndpointRecord, health: EndpointHealth): Html {
  const id = encodeURIComponent(e.id);
  const body = html`<p>Delete endpoint <strong>${e.id}</strong>${e.description === '' ? '' : ` (${e.description})`} of agent <a href="${link(ctx, `/agents/${encodeURIComponent(e.agentId)}`)}">${e.agentId}</a>, to ${urlOf(e)}?</p>
<p id="delete-consequence">Its signing secret is deleted with it, and ${health.queueDepth === 1 ? 'the 1 delivery' : `the ${health.queueDepth} deliveries`} waiting for it ${health.queueDepth === 1 ? 'is' : 'are'} cancelled (as of now). This cannot be undone.</p>
<form method="post" action="${link(ctx, `/endpoints/${id}/delete`)}" class="inline">${csrfField(ctx)}<input type="hidden" name="confirm" value="${e.id}"><button id="confirm-delete" class="danger">Delete endpoint</button></form>
<a href="${link(ctx, `/endpoints/${id}`)}">Keep it</a>`;
  return layout(`Delete endpoint ${endpointLabel(e)}?`, body, ctx);
}
