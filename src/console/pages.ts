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
import type { QueueSnapshot } from '../storage/queue-stats-repository.js';
import { barChart, hourLineChart, stackedHourChart } from './charts.js';
import { href, html, type Html, type Renderable } from './html.js';
import { localTime, quietStatus } from './quiet-status.js';

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

const iso = (d: Date | null): string => (d === null ? '—' : d.toISOString().replace('.000Z', 'Z'));

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

/** Only the host of a webhook URL: paths and queries may carry the receiver's credentials. */
export function urlHost(url: string | null): string {
  if (url === null) return '—';
  try {
    return new URL(url).host;
  } catch {
    return '(unparsable)';
  }
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

/** `tested`: the delivery of a test webhook sent from this page, reported at the top. */
export function agentPage(ctx: PageContext, p: AgentPreferences, usedThisHour: number, notifications: readonly Notification[], deliveries: readonly Delivery[], notice: string | null, tested: Delivery | null = null): Html {
  const write = canWrite(ctx.caller.role);
  const id = encodeURIComponent(p.agentId);
  const body = html`${notice === null ? '' : html`<p class="notice" role="status">${notice}</p>`}${tested === null ? '' : testResult(ctx, tested)}
<p><a href="${link(ctx, '/why', { agent: p.agentId })}">Why would a notification be sent to this agent?</a></p>
<section><h2>Preferences</h2>${preferencesList(p, usedThisHour, ctx.now)}${write ? html`<div class="actions">${testForm(ctx, p)}</div>${preferencesForm(ctx, p)}` : ''}</section>
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
