/**
 * Use cases of an agent's endpoints (issue #18): validate, check the URL with
 * the outbound guard, and store; each endpoint with its own signing secret.
 * The agent's first endpoint is its 0.2 webhook: PreferencesService creates
 * it and keeps writing it through `webhook_url`, so it cannot be deleted here.
 */
import { generateWebhookSecret } from '../delivery/signer.js';
import type { TargetGuard } from '../delivery/target-guard.js';
import { DEFAULT_ENDPOINT_RETRY_POLICY, type EndpointRetryPolicy } from '../domain/backoff.js';
import type { EndpointOverrides, EndpointSettings } from '../domain/endpoint.js';
import { checkEndpointSettings, type EndpointRules } from '../domain/endpoint-validation.js';
import { MASKED_HEADER_VALUE, type SigningSecrets } from '../domain/types.js';
import { checkAgentId, checkEndpointId, checkRange, pageSize, quote } from '../domain/validation.js';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../errors.js';
import { newEndpointId } from '../ids.js';
import type { Store } from '../storage/database.js';
import type { EndpointStats } from '../storage/endpoint-stats-repository.js';
import { decodePageToken, encodePageToken } from '../storage/page-token.js';
import { FIRST_POSITION, type EndpointRecord } from '../storage/rows/endpoints.js';

export type { EndpointRecord };

export interface EndpointServiceOptions {
  /** The outbound guard: checks an endpoint URL's scheme and host (resolving names) on write. */
  readonly targets: TargetGuard;
  readonly signatureHeader: string;
  /** Default grace period of a rotated-out secret, seconds. */
  readonly secretGraceSeconds: number;
  /** HERALD_MAX_ENDPOINTS_PER_AGENT: endpoints one agent may have, its first included. */
  readonly maxEndpointsPerAgent: number;
  readonly clock: () => Date;
}

/** A change to one endpoint: the settings present are written, the others kept. */
export interface EndpointChange {
  readonly id: string;
  readonly set: Partial<EndpointSettings>;
  /** Single fields of the retry policy (mask paths such as `retry_policy.max_attempts`), merged into the stored policy. */
  readonly retryPolicyParts?: Partial<EndpointRetryPolicy>;
  /**
   * Single overrides (mask paths such as `overrides.min_priority`), merged into
   * the stored ones; a key present with the value undefined goes back to
   * inheriting the agent's setting.
   */
  readonly overridesParts?: EndpointOverrides;
}

/**
 * Whether `e` is its agent's first endpoint, its 0.2 webhook: its URL is
 * changed through webhook_url, and it is deleted with the agent, not here.
 */
export function isFirstEndpoint(e: EndpointRecord): boolean {
  return e.position === FIRST_POSITION;
}

const F = 'endpoint';
const DAY_MS = 86_400_000;

/** GetEndpointStats' answer: the stored figures, the period's start, and what the service works out. */
export interface EndpointHealth extends EndpointStats {
  readonly since: Date;
  /** succeeded / (succeeded + failed); 0 when neither. */
  readonly successRate: number;
  /** Deliveries that ended FAILED in a row since the last success. */
  readonly consecutiveFailures: number;
}
const MAX_GRACE_SECONDS = 7 * 86_400;

/** What a create leaves unset. */
export const DEFAULT_ENDPOINT_SETTINGS: EndpointSettings = Object.freeze({
  description: '',
  url: '',
  enabled: true,
  eventTypes: [],
  filter: [],
  headers: {},
  timeoutMs: null,
  retryPolicy: DEFAULT_ENDPOINT_RETRY_POLICY,
  overrides: {},
  ordering: 'NONE',
});

/** A masked header value keeps a stored one; with none stored it is a mistake, not a value (as for webhook_headers). */
function checkKeptHeaders(headers: Readonly<Record<string, string>> | undefined, stored: Readonly<Record<string, string>>): void {
  if (headers === undefined) return;
  const names = new Set(Object.keys(stored).map((n) => n.toLowerCase()));
  for (const [name, value] of Object.entries(headers)) {
    if (value === MASKED_HEADER_VALUE && !names.has(name.toLowerCase())) {
      throw new InvalidArgumentError(
        `${F}.headers["${name.slice(0, 60)}"]`,
        `"${MASKED_HEADER_VALUE}" keeps the stored value of a header, but the endpoint has no stored value for this one; send the value itself`,
      );
    }
  }
}

/**
 * Header values are bound to the origin they were given for (see
 * PreferencesService): moving the URL to another origin while keeping them
 * would send them to a host of the caller's choosing.
 */
function checkCredentialsStay(existing: EndpointRecord, url: string, headers: Readonly<Record<string, string>>): void {
  if (existing.url !== '' && new URL(existing.url).origin === new URL(url).origin) return;
  const kept = Object.entries(headers).filter(([, v]) => v === MASKED_HEADER_VALUE).map(([n]) => n);
  if (kept.length === 0) return;
  throw new InvalidArgumentError(
    `${F}.headers`,
    `url moves to another origin (${quote(new URL(url).origin)}), and the stored values of ${kept.map((n) => quote(n)).slice(0, 5).join(', ')} would go with it: send headers in the same update, with the values again or without those headers`,
  );
}

export class EndpointService {
  private readonly rules: EndpointRules;

  constructor(
    private readonly store: Store,
    private readonly options: EndpointServiceOptions,
  ) {
    this.rules = { allowHttp: options.targets.allowHttp, signatureHeader: options.signatureHeader };
  }

  /** Adds an endpoint to an agent that has preferences, with a new secret; nothing is written unless every field is valid. */
  async create(tenant: string, agentId: string, settings: EndpointSettings): Promise<EndpointRecord> {
    checkAgentId(`${F}.agent_id`, agentId);
    checkEndpointSettings(F, settings, this.rules);
    checkKeptHeaders(settings.headers, {});
    // Last, after the checks that need no DNS: it may resolve the host.
    await this.options.targets.checkWebhookUrl(`${F}.url`, settings.url);
    const now = this.options.clock();
    const secret = generateWebhookSecret();
    const id = newEndpointId(now.getTime());
    // Under the agent's lock: two creates at once must not both pass the limit.
    const created = await this.store.writeForAgent({ tenantId: tenant, agentId }, async (r) => {
      if ((await r.preferences.get(tenant, agentId)) === null) {
        throw new FailedPreconditionError(`agent ${quote(agentId)} has no preferences: create them with UpdatePreferences first (time zone, quiet hours and limits apply to every endpoint)`);
      }
      const count = await r.preferences.countEndpoints(tenant, agentId);
      if (count >= this.options.maxEndpointsPerAgent) {
        throw new FailedPreconditionError(
          `agent ${quote(agentId)} already has ${count} endpoints, the most allowed (HERALD_MAX_ENDPOINTS_PER_AGENT=${this.options.maxEndpointsPerAgent}); delete one first`,
        );
      }
      await r.preferences.addEndpoint(tenant, agentId, settings, { id, secret, now });
      return r.preferences.endpointRecord(tenant, id);
    });
    return created!;
  }

  async get(tenant: string, id: string): Promise<EndpointRecord> {
    checkEndpointId('id', id);
    const found = await this.store.read((r) => r.preferences.endpointRecord(tenant, id));
    if (found === null) throw new NotFoundError(`endpoint ${quote(id)}`);
    return found;
  }

  /**
   * One endpoint of one agent, for a caller scoped to that agent (a portal
   * session): another agent's endpoint answers exactly as a missing one, so
   * ids cannot be probed. An endpoint never changes agent, so what is
   * checked here holds for the call that follows.
   */
  async getOfAgent(tenant: string, agentId: string, id: string): Promise<EndpointRecord> {
    const found = await this.get(tenant, id);
    if (found.agentId !== agentId) throw new NotFoundError(`endpoint ${quote(id)}`);
    return found;
  }

  /** Writes the settings in `change`, merged with the stored ones so that the rules across fields hold. */
  async update(tenant: string, change: EndpointChange): Promise<EndpointRecord> {
    checkEndpointId(`${F}.id`, change.id);
    checkEndpointSettings(F, change.set, this.rules);
    if (change.set.url !== undefined) await this.options.targets.checkWebhookUrl(`${F}.url`, change.set.url);
    const existing = await this.get(tenant, change.id);
    const now = this.options.clock();
    const updated = await this.store.writeForAgent({ tenantId: tenant, agentId: existing.agentId }, async (r) => {
      // Read again under the lock: a concurrent update or delete may have come first.
      const current = await r.preferences.endpointRecord(tenant, change.id);
      if (current === null) return null;
      const set = mergeParts(change, current);
      // PreferencesService gives the first endpoint its secret when webhook_url is first set
      // (WEBHOOK_SECRET in the default tenant): its URL stays webhook_url's to change.
      if (current.position === FIRST_POSITION && set.url !== undefined && set.url !== current.url) {
        throw new FailedPreconditionError(
          `endpoint ${quote(current.id)} is agent ${quote(current.agentId)}'s first endpoint, its 0.2 webhook: change its url with UpdatePreferences (webhook_url)`,
        );
      }
      // The merged policy and overrides are checked whole, so that their rules across fields hold.
      checkEndpointSettings(F, { retryPolicy: set.retryPolicy, overrides: set.overrides }, this.rules);
      checkKeptHeaders(set.headers, current.headers);
      const url = set.url ?? current.url;
      if (url !== '') checkCredentialsStay(current, url, set.headers ?? current.headers);
      return r.preferences.updateEndpoint(tenant, current.agentId, change.id, set, { now, reenable: set.enabled === true });
    });
    if (updated === null) throw new NotFoundError(`endpoint ${quote(change.id)}`);
    return updated;
  }

  /** Deletes an endpoint (not the agent's first) and cancels its waiting deliveries; returns how many. */
  async delete(tenant: string, id: string): Promise<number> {
    const existing = await this.get(tenant, id);
    const now = this.options.clock();
    const cancelled = await this.store.writeForAgent({ tenantId: tenant, agentId: existing.agentId }, async (r) => {
      const current = await r.preferences.endpointRecord(tenant, id);
      if (current === null) return null;
      if (current.position === FIRST_POSITION) {
        throw new FailedPreconditionError(
          `endpoint ${quote(id)} is agent ${quote(current.agentId)}'s first endpoint, its 0.2 webhook: clear webhook_url with UpdatePreferences, or delete the agent with DeletePreferences`,
        );
      }
      const deliveries = await r.deliveries.cancelPending(tenant, current.agentId, 'cancelled: the endpoint was deleted', now, id);
      await r.preferences.deleteEndpoint(tenant, current.agentId, id);
      return deliveries.length;
    });
    if (cancelled === null) throw new NotFoundError(`endpoint ${quote(id)}`);
    return cancelled;
  }

  async list(tenant: string, agentId: string, requestedPageSize: number, pageToken: string): Promise<{ items: EndpointRecord[]; nextPageToken: string }> {
    checkAgentId('agent_id', agentId);
    const size = pageSize('page_size', requestedPageSize);
    // The token is bound to the agent: another agent's token is refused, not misread.
    const filters = { endpoints: agentId };
    const after = decodePageToken('page_token', pageToken, filters, 1);
    const position = after === null ? null : Number(after[0]);
    if (position !== null && !Number.isSafeInteger(position)) throw new InvalidArgumentError('page_token', 'is not a token this server issued');
    const items = await this.store.read((r) => r.preferences.listEndpoints(tenant, agentId, size + 1, position));
    const page = items.slice(0, size);
    const last = page.at(-1);
    const nextPageToken = items.length > size && last !== undefined ? encodePageToken([String(last.position)], filters) : '';
    return { items: page, nextPageToken };
  }

  /** Replaces the endpoint's secret; the previous one keeps signing for the grace period. */
  async rotateSecret(tenant: string, id: string, graceSeconds: number | undefined): Promise<{ secret: string; previousExpiresAt: Date | null }> {
    checkEndpointId('id', id);
    const grace = graceSeconds ?? this.options.secretGraceSeconds;
    checkRange('grace_period_seconds', grace, 0, MAX_GRACE_SECONDS);
    const existing = await this.get(tenant, id);
    const now = this.options.clock();
    const secret = generateWebhookSecret();
    const previousExpiresAt = grace > 0 ? new Date(now.getTime() + grace * 1000) : null;
    const result = await this.store.writeForAgent({ tenantId: tenant, agentId: existing.agentId }, (r) =>
      r.preferences.rotateEndpointSecret(tenant, existing.agentId, id, secret, previousExpiresAt, now),
    );
    if (result === null) throw new NotFoundError(`endpoint ${quote(id)}`);
    return { secret, previousExpiresAt: result.had ? previousExpiresAt : null };
  }

  /** One endpoint's health: figures over the period from `since` (null: the last 24 hours), and its state now. */
  async stats(tenant: string, id: string, since: Date | null): Promise<EndpointHealth> {
    const endpoint = await this.get(tenant, id);
    const from = since ?? new Date(this.options.clock().getTime() - DAY_MS);
    const figures = await this.store.read((r) => r.endpointStats.stats(tenant, id, from));
    const ended = figures.succeeded + figures.failed;
    return { ...figures, since: from, successRate: ended === 0 ? 0 : figures.succeeded / ended, consecutiveFailures: endpoint.consecutiveFailures };
  }

  async getSecrets(tenant: string, id: string): Promise<SigningSecrets> {
    checkEndpointId('id', id);
    const now = this.options.clock();
    const secrets = await this.store.read((r) => r.preferences.endpointSecrets(tenant, id, now));
    if (secrets === null) throw new NotFoundError(`endpoint ${quote(id)}`);
    return secrets;
  }
}

/** The change's settings with its single retry-policy and override fields merged into the stored ones. */
function mergeParts(change: EndpointChange, current: EndpointRecord): Partial<EndpointSettings> {
  const set: { -readonly [K in keyof EndpointSettings]?: EndpointSettings[K] } = { ...change.set };
  if (change.retryPolicyParts !== undefined && Object.keys(change.retryPolicyParts).length > 0) {
    set.retryPolicy = { ...(change.set.retryPolicy ?? current.retryPolicy), ...change.retryPolicyParts };
  }
  const parts = change.overridesParts;
  if (parts !== undefined && Object.keys(parts).length > 0) {
    const merged: Record<string, unknown> = { ...(change.set.overrides ?? current.overrides), ...parts };
    for (const [key, value] of Object.entries(merged)) if (value === undefined) delete merged[key];
    set.overrides = merged as EndpointOverrides;
  }
  return set;
}

