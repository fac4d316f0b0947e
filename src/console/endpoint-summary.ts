/**
 * One endpoint's summary and health as HTML fragments. They need no page
 * context (no tenant, no CSRF token, no role): the caller passes the link
 * to the endpoint's own page, so another front end over the same services
 * can draw the same rows with its own links. Never shown: the signing
 * secret, header values, and the URL beyond its host (paths and queries
 * may carry the receiver's credentials).
 */
import type { EndpointOverrides } from '../domain/endpoint.js';
import type { FilterCondition } from '../domain/filter.js';
import type { EndpointHealth, EndpointRecord } from '../services/endpoint-service.js';
import { html, iso, urlHost, type Html } from '../web/html.js';

const percent = (v: number): string => `${Math.round(v * 1000) / 10} %`;

/** Where the endpoint sends, as far as a page may say: the URL's host. */
export function urlOf(e: EndpointRecord): string {
  return e.url === '' ? 'no URL yet' : urlHost(e.url);
}

/** "on", or "off" with the reason Herald turned it off, if it did. */
export function endpointState(e: EndpointRecord): Html {
  return html`${e.enabled ? html`<span class="on">on</span>` : html`<span class="off">off</span>`}${e.disabledReason === null ? '' : html`<br><span class="reason">turned off by Herald: ${e.disabledReason}</span>`}`;
}

export function eventTypesText(types: readonly string[]): string {
  return types.length === 0 ? 'all' : types.join(', ');
}

/** The endpoint's label: its description, or its id when it has none. */
export function endpointLabel(e: EndpointRecord): string {
  return e.description === '' ? e.id : e.description;
}

/** The headings of {@link endpointRow}'s cells. */
export function endpointTableHead(): Html {
  return html`<thead><tr><th>Endpoint</th><th>Description</th><th>URL host</th><th>State</th><th>Event types</th><th>Consecutive failures</th><th>Last success</th><th>Last failure</th><th>Queue depth</th></tr></thead>`;
}

/** One endpoint as a table row: what it is and how it is doing. `href`: the link on its id (null: none). */
export function endpointRow(e: EndpointRecord, health: EndpointHealth, href: string | null): Html {
  return html`<tr data-endpoint="${e.id}"><td>${href === null ? e.id : html`<a href="${href}">${e.id}</a>`}</td><td>${e.description}</td><td>${urlOf(e)}</td><td>${endpointState(e)}</td><td>${eventTypesText(e.eventTypes)}</td>
<td class="${health.consecutiveFailures > 0 ? 'limit-full' : ''}">${health.consecutiveFailures}</td><td>${iso(health.lastSuccessAt)}</td><td>${iso(health.lastFailureAt)}</td><td>${health.queueDepth}</td></tr>`;
}

/** GetEndpointStats' figures as a list: the period's counts, rate and latencies, and the state now. */
export function endpointHealthList(h: EndpointHealth): Html {
  const ended = h.succeeded + h.failed;
  return html`<dl class="preferences" id="endpoint-health"><dt>Success rate</dt><dd id="success-rate">${ended === 0 ? 'no delivery ended yet' : html`${percent(h.successRate)} <span class="hint">(${h.succeeded} succeeded, ${h.failed} failed)</span>`}</dd>
<dt>Attempt latency</dt><dd>${h.attempts === 0 ? 'no attempt' : `p50 ${h.p50LatencyMs} ms, p95 ${h.p95LatencyMs} ms over ${h.attempts} attempt${h.attempts === 1 ? '' : 's'}`}</dd>
<dt>Period</dt><dd>deliveries created since ${iso(h.since)}</dd>
<dt>Last success</dt><dd>${iso(h.lastSuccessAt)}</dd><dt>Last failure</dt><dd>${iso(h.lastFailureAt)}</dd>
<dt>Consecutive failures</dt><dd id="consecutive-failures">${h.consecutiveFailures}</dd><dt>Queue depth</dt><dd id="queue-depth">${h.queueDepth} <span class="hint">(pending and being sent)</span></dd></dl>`;
}

function conditionText(c: FilterCondition): string {
  return `${c.field} ${c.operator}${c.values.length === 0 ? '' : ` ${c.values.map((v) => JSON.stringify(v)).join(', ')}`}`;
}

function overridesText(o: EndpointOverrides): Html {
  const inherit = html`<span class="hint">the agent's</span>`;
  const q = o.quietHours;
  return html`<dl class="decision" id="endpoint-overrides"><dt>Quiet hours</dt><dd>${q === undefined ? inherit : q === null ? 'none' : `${q.start}–${q.end} (agent's time zone), ${q.policy}${q.urgentBypass ? ', urgent bypass' : ''}`}</dd>
<dt>Minimum priority</dt><dd>${o.minPriority === undefined ? inherit : (o.minPriority ?? 'none')}</dd>
<dt>Hourly limit</dt><dd>${o.maxPerHour === undefined ? inherit : o.maxPerHour === 0 ? 'unlimited (own)' : `${o.maxPerHour} (this endpoint's own)`}</dd>
<dt>Over the limit</dt><dd>${o.rateLimitPolicy ?? inherit}</dd></dl>`;
}

/** Everything an endpoint is set to, for reading: header names only, no secret, the URL's host only. */
export function endpointDetails(e: EndpointRecord): Html {
  const r = e.retryPolicy;
  const service = 'service default';
  const headers = Object.keys(e.headers);
  return html`<dl class="preferences" id="endpoint-details"><dt>Id</dt><dd>${e.id}</dd><dt>Description</dt><dd>${e.description === '' ? '—' : e.description}</dd><dt>URL host</dt><dd id="endpoint-host">${urlOf(e)}</dd>
<dt>State</dt><dd id="endpoint-state">${endpointState(e)}</dd><dt>Event types</dt><dd id="endpoint-event-types">${eventTypesText(e.eventTypes)}</dd>
<dt>Filter</dt><dd>${e.filter.length === 0 ? 'none' : html`<ul class="conditions">${e.filter.map((c) => html`<li><code>${conditionText(c)}</code></li>`)}</ul>`}</dd>
<dt>Extra headers</dt><dd>${headers.length === 0 ? 'none' : html`${headers.join(', ')} <span class="hint">(values are write-only)</span>`}</dd><dt>Signing secret</dt><dd>${e.secretSet ? 'set (never shown here)' : 'none'}</dd>
<dt>Timeout</dt><dd id="endpoint-timeout">${e.timeoutMs === null ? service : `${e.timeoutMs} ms`}</dd>
<dt>Retries</dt><dd id="endpoint-retry">${r.maxAttempts === null ? service : `${r.maxAttempts} attempts in all`}; first delay ${r.initialDelayMs === null ? service : `${r.initialDelayMs} ms`}; multiplier ${r.multiplier ?? service}; longest delay ${r.maxDelayMs === null ? service : `${r.maxDelayMs} ms`}</dd>
<dt>Overrides</dt><dd>${overridesText(e.overrides)}</dd>
<dt>Created</dt><dd>${iso(e.createdAt)}</dd><dt>Updated</dt><dd>${iso(e.updatedAt)}</dd></dl>`;
}
