/**
 * The portal's pages: functions from domain values to HTML, with the
 * escaping templates it shares with the console (web/html.ts). No I/O here; routes.ts
 * fetches through the services. Every page works without JavaScript (the
 * portal serves none), reads at 360 px, and labels every control.
 */
import type { PortalSession } from '../domain/portal-session.js';
import type { FilterCondition } from '../domain/filter.js';
import type { DeliveryStatus, EndpointResult, Notification } from '../domain/types.js';
import { PRIORITIES, QUIET_HOURS_POLICIES, RATE_LIMIT_POLICIES, type AgentPreferences, type Delivery } from '../domain/types.js';
import type { DeliveryDetail, TestResult } from '../services/delivery-service.js';
import type { EndpointHealth } from '../services/endpoint-service.js';
import type { EndpointRecord } from '../storage/rows/endpoints.js';
import { html, type Html, type Renderable } from '../web/html.js';
import { localTime } from '../web/quiet-status.js';
import { limitPreview, quietPreview } from './preview.js';

/** What every page needs to draw its frame and forms. */
export interface PortalPageContext {
  readonly session: PortalSession;
  /** The session's CSRF token, in every form that changes something. */
  readonly csrf: string;
  readonly now: Date;
  /** The agent's time zone, for every instant shown (UTC until the preferences are read). */
  readonly zone: string;
}

/** The searchable list of the time-zone field: UTC (which ICU's list leaves out), then every zone ICU knows. */
const TIME_ZONES: readonly string[] = ['UTC', ...Intl.supportedValuesOf('timeZone')];

const when = (ctx: PortalPageContext, d: Date | null): string => (d === null ? '—' : localTime(d, ctx.zone));

function csrfField(ctx: PortalPageContext): Html {
  return html`<input type="hidden" name="_csrf" value="${ctx.csrf}">`;
}

const canAct = (ctx: PortalPageContext | null): boolean => ctx !== null && ctx.session.role !== 'read';
/** Secrets need the admin role, as GetEndpointSecret does: a link made with a write token does not show them. */
const canSeeSecrets = (ctx: PortalPageContext): boolean => ctx.session.role === 'admin';

const NAV: ReadonlyArray<{ path: string; label: string }> = [
  { path: '/portal/', label: 'Preferences' },
  { path: '/portal/endpoints', label: 'Endpoints' },
  { path: '/portal/activity', label: 'Activity' },
  { path: '/portal/why', label: 'Why not?' },
];

export function layout(title: string, body: Renderable, ctx: PortalPageContext | null, current = ''): Html {
  const nav =
    ctx === null
      ? ''
      : html`<nav aria-label="Portal">${NAV.map((n) => html`<a href="${n.path}" ${n.path === current ? html`aria-current="page"` : ''}>${n.label}</a>`)}</nav>
<div class="who"><p>Agent <strong id="agent">${ctx.session.agentId}</strong>${ctx.session.readOnly ? html` · <span id="read-only">read only</span>` : ''} · until ${when(ctx, ctx.session.expiresAt)}</p>
<form method="post" action="/portal/sign-out">${csrfField(ctx)}<button class="quiet">Sign out</button></form></div>`;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title} · Notification settings</title>
<link rel="stylesheet" href="/portal/assets/portal.css"></head>
<body><header><span class="brand">Notification settings</span>${nav}</header><main id="main"><h1>${title}</h1>${body}</main></body></html>`;
}

export function messagePage(ctx: PortalPageContext | null, title: string, message: string): Html {
  return layout(title, html`<p class="error" role="alert">${message}</p>`, ctx);
}

function notice(text: string | null): Html | '' {
  return text === null ? '' : html`<p class="notice" role="status">${text}</p>`;
}

function readOnlyNote(ctx: PortalPageContext): Html | '' {
  return ctx.session.readOnly ? html`<p class="hint">This link is read only: you can look, not change anything.</p>` : '';
}

function options<T extends string>(list: readonly T[], selected: string, labels: Partial<Record<T, string>> = {}): Html[] {
  return list.map((x) => html`<option value="${x}" ${x === selected ? 'selected' : ''}>${labels[x] ?? x}</option>`);
}

const QUIET_LABELS = { SKIP: 'Drop them', DEFER: 'Hold each and send it after', DIGEST: 'Collect them into one digest' } as const;
const LIMIT_LABELS = { SUPPRESS: 'Drop them', DEFER: 'Hold and send them later', DIGEST: 'Collect them into one digest' } as const;

// ---------------------------------------------------------------------------
// Preferences
// ---------------------------------------------------------------------------

export function preferencesPage(ctx: PortalPageContext, p: AgentPreferences, message: string | null): Html {
  const q = p.quietHours;
  const act = canAct(ctx);
  const dis = act ? '' : 'disabled';
  const body = html`${notice(message)}${readOnlyNote(ctx)}
<section aria-labelledby="preview-h"><h2 id="preview-h">What happens now</h2>
<p id="quiet-preview">${quietPreview(p, ctx.now)}</p><p id="limit-preview">${limitPreview(p)}</p>
<p>Types: ${p.notificationTypes.length === 0 ? 'every type' : p.notificationTypes.join(', ')}. Lowest priority sent: ${p.minPriority ?? 'any'}. Webhooks are ${p.enableWebhook ? 'on' : 'off for every endpoint'}.</p></section>
<form method="post" action="/portal/preferences" class="card" id="preferences-form">${csrfField(ctx)}
<fieldset ${dis}><legend>Sending</legend>
<label class="check"><input type="checkbox" name="enable_webhook" value="true" ${p.enableWebhook ? 'checked' : ''}> Send webhooks (off: no endpoint gets anything)</label>
<label for="time_zone">Time zone (type to search)</label><input id="time_zone" name="time_zone" list="zones" value="${p.timeZone}" autocomplete="off" required>
<datalist id="zones">${TIME_ZONES.map((z) => html`<option value="${z}"></option>`)}</datalist></fieldset>
<fieldset ${dis}><legend>Quiet hours (leave both empty for none)</legend>
<div class="row"><label>From <input type="time" name="quiet_start" value="${q?.start ?? ''}"></label><label>Until <input type="time" name="quiet_end" value="${q?.end ?? ''}"></label></div>
<label>During quiet hours <select name="quiet_policy">${options(QUIET_HOURS_POLICIES, q?.policy ?? 'DEFER', QUIET_LABELS)}</select></label>
<label class="check"><input type="checkbox" name="quiet_urgent_bypass" value="true" ${q?.urgentBypass === true ? 'checked' : ''}> Urgent notifications are sent anyway</label></fieldset>
<fieldset ${dis}><legend>Hourly limit</legend>
<label>At most this many webhooks an hour (0: no limit) <input type="number" min="0" name="max_per_hour" value="${p.maxPerHour}" inputmode="numeric"></label>
<label>Beyond the limit <select name="rate_limit_policy">${options(RATE_LIMIT_POLICIES, p.rateLimitPolicy, LIMIT_LABELS)}</select></label></fieldset>
<fieldset ${dis}><legend>What to send</legend>
<label><span>Notification types, comma-separated; empty: all (e.g. <code>job.*, invoice.paid</code>)</span><input name="notification_types" value="${p.notificationTypes.join(', ')}"></label>
<label>Lowest priority <select name="min_priority"><option value="">any</option>${options(PRIORITIES, p.minPriority ?? '')}</select></label></fieldset>
${act ? html`<button id="save-preferences">Save preferences</button>` : ''}</form>`;
  return layout('Preferences', body, ctx, '/portal/');
}

// ---------------------------------------------------------------------------
// Endpoints
// ---------------------------------------------------------------------------

/** Only the host of an endpoint's URL in lists: paths and queries may carry the receiver's credentials. */
function host(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(unparsable)';
  }
}

export const endpointLabel = (e: Pick<EndpointRecord, 'description' | 'id'>): string => (e.description === '' ? e.id : e.description);

function health(e: EndpointRecord): Html {
  if (!e.enabled) return html`<span class="bad">off</span>${e.disabledReason === null ? '' : html`: ${e.disabledReason}`}`;
  if (e.consecutiveFailures > 0) return html`<span class="warn">failing</span> (${e.consecutiveFailures} in a row)`;
  return html`<span class="good">healthy</span>`;
}

/** A filter as the form's text: one condition a line, `FIELD OPERATOR value, value` (routes.ts reads it back). */
export function filterText(filter: readonly FilterCondition[]): string {
  return filter.map((c) => [c.field, c.operator, c.values.join(', ')].filter((x) => x !== '').join(' ')).join('\n');
}

/** The endpoint's own settings: each "as in preferences" unless set here (EndpointOverrides). */
function overrideFields(e: EndpointRecord | null): Html {
  const o = e?.overrides ?? {};
  const quiet = o.quietHours === undefined ? 'inherit' : o.quietHours === null ? 'none' : 'own';
  return html`<fieldset><legend>This endpoint only</legend>
<label>Lowest priority <select name="min_priority"><option value="inherit" ${o.minPriority === undefined ? 'selected' : ''}>as in preferences</option><option value="none" ${o.minPriority === null ? 'selected' : ''}>any</option>${options(PRIORITIES, o.minPriority ?? '')}</select></label>
<label>Quiet hours <select name="quiet_override"><option value="inherit" ${quiet === 'inherit' ? 'selected' : ''}>as in preferences</option><option value="none" ${quiet === 'none' ? 'selected' : ''}>none: always send (e.g. a pager)</option><option value="own" ${quiet === 'own' ? 'selected' : ''}>its own, below</option></select></label>
<div class="row"><label>From <input type="time" name="quiet_start" value="${o.quietHours?.start ?? ''}"></label><label>Until <input type="time" name="quiet_end" value="${o.quietHours?.end ?? ''}"></label></div>
<label>During its quiet hours <select name="quiet_policy">${options(QUIET_HOURS_POLICIES, o.quietHours?.policy ?? 'DEFER', QUIET_LABELS)}</select></label>
<label class="check"><input type="checkbox" name="quiet_urgent_bypass" value="true" ${o.quietHours?.urgentBypass === true ? 'checked' : ''}> Urgent notifications are sent anyway</label>
<label>At most this many webhooks an hour (empty: as in preferences; 0: no limit) <input type="number" min="0" name="max_per_hour" value="${o.maxPerHour ?? ''}" inputmode="numeric"></label>
<label>Beyond it <select name="rate_limit_policy"><option value="" ${o.rateLimitPolicy === undefined ? 'selected' : ''}>as in preferences</option>${options(RATE_LIMIT_POLICIES, o.rateLimitPolicy ?? '', LIMIT_LABELS)}</select></label></fieldset>`;
}

function endpointFields(e: EndpointRecord | null): Html {
  return html`<label>URL (https://…) <input type="url" name="url" value="${e?.url ?? ''}" required autocomplete="off"></label>
<label>Name <input name="description" value="${e?.description ?? ''}" maxlength="200"></label>
<label><span>Event types, comma-separated; empty: all (e.g. <code>job.*</code>)</span><input name="event_types" value="${e?.eventTypes.join(', ') ?? ''}"></label>
<label><span>Filter: one condition a line, <code>FIELD OPERATOR values</code> (e.g. <code>metadata.env IN prod, staging</code> or <code>priority GREATER_OR_EQUAL HIGH</code>); all must hold; empty: none</span><textarea name="filter" rows="3">${filterText(e?.filter ?? [])}</textarea></label>
${overrideFields(e)}`;
}

export function endpointsPage(ctx: PortalPageContext, endpoints: readonly EndpointRecord[], message: string | null): Html {
  const body = html`${notice(message)}${readOnlyNote(ctx)}
${endpoints.length === 0 ? html`<p class="empty">No endpoint yet.</p>` : html`<ul class="cards" id="endpoints">${endpoints.map((e) => html`<li><a href="/portal/endpoints/${encodeURIComponent(e.id)}">${endpointLabel(e)}</a> <span class="hint">${host(e.url)}</span><br>${health(e)} · ${e.eventTypes.length === 0 ? 'every type' : e.eventTypes.join(', ')}</li>`)}</ul>`}
${canAct(ctx) ? html`<form method="post" action="/portal/endpoints" class="card" id="add-endpoint"><h2>Add an endpoint</h2>${csrfField(ctx)}${endpointFields(null)}<button id="add">Add endpoint</button></form>` : ''}`;
  return layout('Endpoints', body, ctx, '/portal/endpoints');
}

const percent = (v: number): string => `${Math.round(v * 1000) / 10} %`;

/** A secret shown once, after an explicit confirmation: the only place a secret is ever in a page. */
export interface RevealedSecret {
  readonly secret: string;
  readonly previous: string | null;
  readonly previousUntil: Date | null;
}

export function endpointPage(ctx: PortalPageContext, e: EndpointRecord, stats: EndpointHealth, message: string | null, tested: TestResult | null, revealed: RevealedSecret | null): Html {
  const act = canAct(ctx);
  const id = encodeURIComponent(e.id);
  const confirm = (name: string, text: string): Html => html`<label class="check"><input type="checkbox" name="${name}" value="yes" required> ${text}</label>`;
  const body = html`${notice(message)}${readOnlyNote(ctx)}
${tested === null ? '' : html`<p class="${tested.success ? 'notice' : 'error'}" role="status" id="test-result">Test webhook ${tested.success ? 'delivered' : 'not delivered'}${tested.statusCode === null ? '' : ` (HTTP ${tested.statusCode})`} in ${tested.durationMs} ms${tested.error === null ? '' : `: ${tested.error}`}. <a href="/portal/deliveries/${encodeURIComponent(tested.deliveryId)}">See the attempt</a></p>`}
${revealed === null ? '' : html`<section class="secret" aria-labelledby="secret-h"><h2 id="secret-h">Signing secret</h2><p>Copy it now; it is not shown again unless you ask.</p><p><code id="secret">${revealed.secret}</code></p>${revealed.previous === null ? '' : html`<p>The previous secret <code>${revealed.previous}</code> keeps signing until ${when(ctx, revealed.previousUntil)}.</p>`}</section>`}
<dl class="facts"><dt>Sends to</dt><dd>${host(e.url)} <span class="hint">(the full URL is in the edit form: its path may hold a credential)</span></dd><dt>Health</dt><dd id="health">${health(e)}</dd><dt>Event types</dt><dd>${e.eventTypes.length === 0 ? 'every type' : e.eventTypes.join(', ')}</dd>
<dt>Deliveries</dt><dd>since ${when(ctx, stats.since)}: ${stats.succeeded} delivered, ${stats.failed} failed (${percent(stats.successRate)}); p50 ${stats.p50LatencyMs} ms, p95 ${stats.p95LatencyMs} ms</dd>
<dt>Last success</dt><dd>${when(ctx, stats.lastSuccessAt)}</dd><dt>Last failure</dt><dd>${when(ctx, stats.lastFailureAt)}</dd><dt>Waiting</dt><dd>${stats.queueDepth}</dd>
<dt>Signing secret</dt><dd>${e.secretSet ? 'set' : 'none'}</dd></dl>
${act ? html`<div class="actions">
<form method="post" action="/portal/endpoints/${id}/test">${csrfField(ctx)}<button id="send-test">Send a test webhook</button></form>
<form method="post" action="/portal/endpoints/${id}/${e.enabled ? 'disable' : 'enable'}">${csrfField(ctx)}<button>${e.enabled ? 'Turn off' : 'Turn on'}</button></form></div>
<form method="post" action="/portal/endpoints/${id}" class="card" id="edit-endpoint"><h2>Edit</h2>${csrfField(ctx)}${endpointFields(e)}<button>Save endpoint</button></form>
${canSeeSecrets(ctx) ? html`<form method="post" action="/portal/endpoints/${id}/secret" class="card" id="reveal-secret"><h2>Show the signing secret</h2>${csrfField(ctx)}${confirm('confirm', 'I am somewhere nobody can read my screen')}<button>Show secret</button></form>
<form method="post" action="/portal/endpoints/${id}/rotate" class="card" id="rotate-secret"><h2>Replace the signing secret</h2>${csrfField(ctx)}<p class="hint">The old secret keeps signing for a day, so your receiver can switch.</p>${confirm('confirm', 'Make a new secret')}<button>Rotate secret</button></form>` : ''}
${e.position === 0 ? '' : html`<form method="post" action="/portal/endpoints/${id}/delete" class="card" id="delete-endpoint"><h2>Delete</h2>${csrfField(ctx)}${confirm('confirm', 'Delete this endpoint and cancel what waits for it')}<button class="danger">Delete endpoint</button></form>`}` : ''}`;
  return layout(endpointLabel(e), body, ctx, '/portal/endpoints');
}

// ---------------------------------------------------------------------------
// Activity
// ---------------------------------------------------------------------------

function statusWord(s: DeliveryStatus): Html {
  const tone = s === 'SUCCEEDED' ? 'good' : s === 'FAILED' ? 'bad' : s === 'CANCELLED' ? '' : 'warn';
  const words: Record<DeliveryStatus, string> = { PENDING: 'waiting', DELIVERING: 'being sent', SUCCEEDED: 'delivered', FAILED: 'failed', CANCELLED: 'cancelled' };
  return html`<span class="${tone}">${words[s]}</span>`;
}

const OUTCOME_WORDS = { DELIVER: 'sent', DEFER: 'held', SUPPRESS: 'not sent' } as const;

function resultLine(ctx: PortalPageContext, r: EndpointResult, names: ReadonlyMap<string, string>, deliveries: ReadonlyMap<string, Delivery>): Html {
  const d = r.deliveryId === null ? undefined : deliveries.get(r.deliveryId);
  return html`<li><strong>${names.get(r.endpointId) ?? r.endpointId}</strong>: <span class="outcome-${r.outcome.toLowerCase()}">${OUTCOME_WORDS[r.outcome]}</span> (${r.explanation})${r.outcome === 'DEFER' && r.deliverAt !== null ? html`, due ${when(ctx, r.deliverAt)}` : ''}${r.deliveryId === null ? '' : html` · <a href="/portal/deliveries/${encodeURIComponent(r.deliveryId)}">delivery</a>${d === undefined ? '' : html` ${statusWord(d.status)}`}`}</li>`;
}

export function activityPage(ctx: PortalPageContext, notifications: readonly Notification[], deliveries: readonly Delivery[], names: ReadonlyMap<string, string>, message: string | null, next: string | null): Html {
  const byId = new Map(deliveries.map((d) => [d.id, d]));
  const body = html`${notice(message)}${readOnlyNote(ctx)}
<section aria-labelledby="n-h"><h2 id="n-h">Notifications</h2>${notifications.length === 0 ? html`<p class="empty">No notification yet.</p>` : html`<ul class="cards" id="notifications">${notifications.map((n) => html`<li><span class="hint">${when(ctx, n.createdAt)}</span> <strong>${n.title}</strong> <span class="hint">${n.notificationType}, ${n.priority.toLowerCase()}</span>
${n.endpointResults.length === 0 ? html`<p>${OUTCOME_WORDS[n.decision.outcome]}: ${n.decision.explanation}</p>` : html`<ul class="results">${n.endpointResults.map((r) => resultLine(ctx, r, names, byId))}</ul>`}
<a href="/portal/why?type=${encodeURIComponent(n.notificationType)}&amp;priority=${n.priority}">Why? What would happen now</a></li>`)}</ul>`}
${next === null ? '' : html`<p><a href="/portal/activity?page=${encodeURIComponent(next)}">Older notifications</a></p>`}</section>
<section aria-labelledby="d-h"><h2 id="d-h">Deliveries</h2>${deliveries.length === 0 ? html`<p class="empty">No delivery yet.</p>` : html`<ul class="cards" id="deliveries">${deliveries.map((d) => html`<li><a href="/portal/deliveries/${encodeURIComponent(d.id)}">${d.eventType} to ${names.get(d.endpointId ?? '') ?? d.endpointId ?? '—'}</a>: ${statusWord(d.status)}, ${d.attemptCount} attempt${d.attemptCount === 1 ? '' : 's'}${d.lastStatusCode === null ? '' : `, last HTTP ${d.lastStatusCode}`} <span class="hint">${when(ctx, d.createdAt)}</span></li>`)}</ul>`}</section>
${canAct(ctx) ? html`<form method="post" action="/portal/replay" class="card" id="replay-form"><h2>Send again</h2>${csrfField(ctx)}<p class="hint">Sends again the failed or cancelled deliveries created in a period (UTC).</p>
<label>From <input type="datetime-local" name="since" required></label><label>Until (empty: now) <input type="datetime-local" name="until"></label>
<label>Which <select name="status"><option value="FAILED">failed</option><option value="CANCELLED">cancelled</option></select></label>
<label>To <select name="endpoint"><option value="">every endpoint that is on</option>${[...names].map(([id, name]) => html`<option value="${id}">${name}</option>`)}</select></label><button>Send again</button></form>` : ''}`;
  return layout('Activity', body, ctx, '/portal/activity');
}

export function deliveryPage(ctx: PortalPageContext, d: DeliveryDetail, endpointName: string, message: string | null): Html {
  const retryable = d.status === 'PENDING' || d.status === 'FAILED';
  const body = html`${notice(message)}${readOnlyNote(ctx)}
<dl class="facts"><dt>Status</dt><dd id="delivery-status">${statusWord(d.status)}</dd><dt>Endpoint</dt><dd>${endpointName}</dd><dt>Kind</dt><dd>${d.eventType}</dd><dt>Created</dt><dd>${when(ctx, d.createdAt)}</dd>
<dt>Next attempt</dt><dd>${d.status === 'PENDING' ? when(ctx, d.nextAttemptAt) : '—'}</dd><dt>Last error</dt><dd>${d.lastError ?? '—'}</dd></dl>
${canAct(ctx) && retryable ? html`<form method="post" action="/portal/deliveries/${encodeURIComponent(d.id)}/retry">${csrfField(ctx)}<button id="retry">Retry now</button></form>` : ''}
<section aria-labelledby="a-h"><h2 id="a-h">Attempts</h2>${d.attempts.length === 0 ? html`<p class="empty">No attempt yet.</p>` : html`<ol class="cards" id="attempts">${d.attempts.map((a) => html`<li>${when(ctx, a.startedAt)}: ${a.statusCode === null ? 'no answer' : `HTTP ${a.statusCode}`} in ${a.durationMs} ms${a.errorMessage === null ? '' : html` · ${a.errorMessage}`}${a.trigger === 'SCHEDULED' ? '' : html` <span class="hint">(${a.trigger.toLowerCase()})</span>`}${a.responseExcerpt === null || a.responseExcerpt === '' ? '' : html`<pre class="excerpt">${a.responseExcerpt}</pre>`}</li>`)}</ol>`}</section>`;
  return layout('Delivery', body, ctx, '/portal/activity');
}

// ---------------------------------------------------------------------------
// Why not?
// ---------------------------------------------------------------------------

export interface WhyAnswer {
  readonly results: readonly EndpointResult[];
  readonly summary: string;
}

export function whyPage(ctx: PortalPageContext, type: string, priority: string, answer: WhyAnswer | null, names: ReadonlyMap<string, string>, error: string | null): Html {
  const body = html`<form method="get" action="/portal/why" class="card" id="why-form">
<label>Notification type <input name="type" value="${type}" required placeholder="job.failed"></label>
<label>Priority <select name="priority">${options(PRIORITIES, priority === '' ? 'NORMAL' : priority)}</select></label><button>Check</button></form>
<p class="hint">What each endpoint would do with such a notification right now. Nothing is sent or counted.</p>
${error === null ? '' : html`<p class="error" role="alert">${error}</p>`}
${answer === null ? '' : html`<section id="evaluation" aria-labelledby="why-h"><h2 id="why-h">Right now</h2>${answer.results.length === 0 ? html`<p>${answer.summary}</p>` : html`<ul class="cards">${answer.results.map((r) => html`<li><strong>${names.get(r.endpointId) ?? r.endpointId}</strong>: <span class="outcome-${r.outcome.toLowerCase()}">${r.outcome === 'DELIVER' ? 'would be sent now' : r.outcome === 'DEFER' ? html`would be sent ${when(ctx, r.deliverAt)}` : 'would not be sent'}</span><br>${r.explanation}</li>`)}</ul>`}</section>`}`;
  return layout('Why not?', body, ctx, '/portal/why');
}
