import { agentKey, type AgentRef } from '../domain/agent-key.js';
import { MASKED_HEADER_VALUE } from '../domain/types.js';
import type { Endpoint, EndpointSettings } from '../domain/endpoint.js';
import type { AgentPreferences, EditablePreferences, SigningSecrets } from '../domain/types.js';
import { AGENT_PREFERENCES, editableColumns, firstEndpointColumns, toPreferences, type PreferencesRow as Row, type StoredHeaders } from './rows/agent-preferences.js';
import { ENDPOINTS, FIRST_POSITION, newFirstEndpointRow, toEndpoint, toEndpointRecord, type EndpointRecord, type EndpointRow } from './rows/endpoints.js';
import { SealedValueError, type SealedPlace, type SecretBox } from './secret-box.js';
import { Prisma, type PrismaTx } from './sql.js';
import type { TxFacts } from './tx-facts.js';

/** One endpoint as the dispatcher needs it: its settings with opened headers, the secrets that sign now, failures in a row. */
export interface EndpointTargetRow {
  readonly endpoint: Endpoint;
  readonly secrets: SigningSecrets;
  readonly consecutiveFailures: number;
}

/**
 * Where an agent's webhooks go, as the dispatcher needs it: preferences with
 * the first endpoint's opened headers and secrets (the 0.2 view), failures
 * in a row, and every endpoint that has a URL by id.
 */
export interface DeliveryTargetRow {
  readonly prefs: AgentPreferences;
  /** The owner's master switch alone (`prefs.enableWebhook` is also off while Herald has the first endpoint off). */
  readonly masterSwitch: boolean;
  readonly secrets: SigningSecrets;
  readonly consecutiveFailures: number;
  readonly endpoints: ReadonlyMap<string, EndpointTargetRow>;
}

// Where each secret sits, for its encryption's additional data. A place names
// one agent of one tenant, so a value copied to another agent or tenant does
// not open. Both secret columns share one field name so that a rotation can
// move the current secret to the previous column without opening it. The
// names are those of the 0.2 columns: the migration to endpoints copied the
// sealed values into the agent's first endpoint as they were, and they open
// there under the same names.
function secretPlace(tenantId: string, agentId: string): SealedPlace {
  return { tenantId, agentId, field: 'webhook_secret' };
}
function headerPlace(tenantId: string, agentId: string, name: string): SealedPlace {
  return { tenantId, agentId, field: `webhook_headers.${name.toLowerCase()}` };
}

/** The include that brings an agent's first endpoint (the lowest position) with its row. */
const FIRST_ENDPOINT = { endpoints: { orderBy: { position: 'asc' as const }, take: 1 } };
/** The include that brings every endpoint of the agent, the first first. */
const ALL_ENDPOINTS = { endpoints: { orderBy: { position: 'asc' as const } } };
type RowWithFirst = Row & { readonly endpoints: readonly EndpointRow[] };

/** What deciding for an agent reads (see PreferencesRepository.decisionTargets). */
export interface DecisionTargets {
  /** The agent as the API shows it (0.2's view: `enableWebhook` is also off while Herald has its first endpoint off). */
  readonly preferences: AgentPreferences | null;
  /**
   * The recipient's defaults to decide with: the same, but `enableWebhook` is
   * the owner's master switch alone, so a first endpoint that Herald turned
   * off does not turn off the agent's others (it is off by its own `enabled`).
   */
  readonly recipient: AgentPreferences | null;
  readonly endpoints: readonly Endpoint[];
}

const NO_TARGETS: DecisionTargets = Object.freeze({ preferences: null, recipient: null, endpoints: [] });

function targetsOf(row: RowWithFirst): DecisionTargets {
  const preferences = preferencesOf(row);
  return {
    preferences,
    recipient: { ...preferences, enableWebhook: row.enableWebhook },
    endpoints: row.endpoints.map((e) => toEndpoint(e)).filter((e): e is Endpoint => e !== null),
  };
}

/** The agent as the API shows it: its row and its first endpoint (rows carrying more endpoints are fine: the first is first). */
function preferencesOf(row: RowWithFirst): AgentPreferences {
  return toPreferences(row, row.endpoints[0] ?? null);
}

type SealedEndpointColumns = Pick<EndpointRow, 'tenantId' | 'agentId' | 'headers' | 'secret' | 'previousSecret' | 'previousSecretExpiresAt'>;

function openedHeaders(e: Pick<EndpointRow, 'tenantId' | 'agentId' | 'headers'> | null, box: SecretBox): Record<string, string> {
  if (e === null) return {};
  const stored = JSON.parse(e.headers) as StoredHeaders;
  return Object.fromEntries(Object.entries(stored).map(([name, value]) => [name, box.open(value, headerPlace(e.tenantId, e.agentId, name))]));
}

function secretsOf(e: Pick<EndpointRow, 'tenantId' | 'agentId' | 'secret' | 'previousSecret' | 'previousSecretExpiresAt'> | null, now: Date, box: SecretBox): SigningSecrets {
  if (e === null) return { current: null, previous: null, previousExpiresAt: null };
  const previousValid = e.previousSecret !== null && e.previousSecretExpiresAt !== null && e.previousSecretExpiresAt > now;
  const open = (stored: string | null): string | null => (stored === null ? null : box.open(stored, secretPlace(e.tenantId, e.agentId)));
  return {
    current: open(e.secret),
    previous: previousValid ? open(e.previousSecret) : null,
    previousExpiresAt: previousValid ? e.previousSecretExpiresAt : null,
  };
}

/**
 * Sealed header values. A masked value keeps the stored one (`stored`, by
 * lower-case name); the service has checked that there is one.
 */
function sealedHeaders(tenantId: string, agentId: string, headers: Readonly<Record<string, string>>, stored: StoredHeaders, box: SecretBox): StoredHeaders {
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => {
      const place = headerPlace(tenantId, agentId, name);
      if (value !== MASKED_HEADER_VALUE) return [name, box.seal(value, place)];
      const kept = stored[name.toLowerCase()];
      if (kept === undefined) throw new Error(`webhook_headers["${name}"] is masked but has no stored value to keep`);
      return [name, box.keep(kept, place)];
    }),
  );
}

/** An endpoint's sealed columns as stored, for re-encryption. */
export interface StoredSecrets {
  readonly tenantId: string;
  readonly agentId: string;
  readonly endpointId: string;
  readonly secret: string | null;
  readonly previousSecret: string | null;
  readonly headers: string;
}

export class PreferencesRepository {
  /** `get`'s and `decisionTargets`' answers read ahead by `prefetch`, by agent key. */
  private prefetched: Map<string, DecisionTargets> | null = null;

  constructor(
    private readonly tx: PrismaTx,
    private readonly box: SecretBox,
    private readonly facts: TxFacts,
  ) {}

  /** Records that the agent's webhook target changed: this process's cache and, at commit, other replicas' drop it. */
  private announce(tenantId: string, agentId: string): void {
    this.facts.targetChanged(tenantId, agentId);
  }

  /**
   * Reads several agents' preferences in one statement; `get` answers them
   * from memory from then on. Only for a group commit, which has taken the
   * agents' locks before this read, so every acknowledged write is visible
   * to it; a member that writes its agent's preferences drops that agent's
   * entry, and a later member of that agent reads it again. Two raw
   * statements (`withEndpoints`), as the worker's batch read: a group's
   * agents differ in number every time.
   */
  /** Drops what `prefetch` read of the agent: the next `get` or `decisionTargets` reads the tables again. */
  forget(tenantId: string, agentId: string): void {
    this.prefetched?.delete(agentKey(tenantId, agentId));
  }

  async prefetch(agents: readonly AgentRef[]): Promise<void> {
    const rows = await this.withEndpoints(agents);
    const found = new Map<string, DecisionTargets>(agents.map((a) => [agentKey(a.tenantId, a.agentId), NO_TARGETS]));
    for (const row of rows) found.set(agentKey(row.tenantId, row.agentId), targetsOf(row));
    this.prefetched = found;
  }

  /**
   * What deciding a notification for the agent reads: its preferences and its
   * endpoints that have a URL, in creation order (header values masked).
   */
  async decisionTargets(tenantId: string, agentId: string): Promise<DecisionTargets> {
    const known = this.prefetched?.get(agentKey(tenantId, agentId));
    if (known !== undefined) return known;
    const row = await this.tx.agentPreferences.findUnique({ where: { tenantId_agentId: { tenantId, agentId } }, include: ALL_ENDPOINTS });
    return row === null ? NO_TARGETS : targetsOf(row);
  }

  /**
   * Adds an endpoint after the agent's others, with its own secret (sealed
   * here). The agent must have preferences (the foreign key). Header values
   * given masked are refused by the caller before this.
   */
  async addEndpoint(tenantId: string, agentId: string, settings: EndpointSettings, opts: { readonly id: string; readonly secret: string; readonly now: Date }): Promise<Endpoint> {
    this.announce(tenantId, agentId);
    this.prefetched?.delete(agentKey(tenantId, agentId));
    const last = await this.tx.endpoint.findFirst({ where: { tenantId, agentId }, orderBy: { position: 'desc' }, select: { position: true } });
    const row = await this.tx.endpoint.create({
      data: {
        ...newFirstEndpointRow({ tenantId, agentId, id: opts.id, now: opts.now }),
        position: (last?.position ?? -1) + 1,
        description: settings.description,
        url: settings.url,
        enabled: settings.enabled,
        eventTypes: JSON.stringify(settings.eventTypes),
        filter: JSON.stringify(settings.filter),
        headers: JSON.stringify(sealedHeaders(tenantId, agentId, settings.headers, {}, this.box)),
        timeoutMs: settings.timeoutMs,
        maxAttempts: settings.retryPolicy.maxAttempts,
        initialDelayMs: settings.retryPolicy.initialDelayMs,
        multiplier: settings.retryPolicy.multiplier,
        maxDelayMs: settings.retryPolicy.maxDelayMs,
        secret: this.sealSecret(tenantId, agentId, opts.secret),
        overrides: JSON.stringify(settings.overrides),
        ordering: settings.ordering,
      },
    });
    return toEndpoint(row)!;
  }

  /** One endpoint of the tenant by id (header values masked), or null. */
  async endpointRecord(tenantId: string, id: string): Promise<EndpointRecord | null> {
    const row = await this.tx.endpoint.findUnique({ where: { tenantId_id: { tenantId, id } } });
    return row === null ? null : toEndpointRecord(row);
  }

  /** Up to `limit` of the agent's endpoints after `afterPosition` (null: from the first), in creation order. */
  async listEndpoints(tenantId: string, agentId: string, limit: number, afterPosition: number | null): Promise<EndpointRecord[]> {
    const rows = await this.tx.endpoint.findMany({
      where: { tenantId, agentId, ...(afterPosition === null ? {} : { position: { gt: afterPosition } }) },
      orderBy: { position: 'asc' },
      take: limit,
    });
    return rows.map(toEndpointRecord);
  }

  /** How many endpoints the agent has, its first (even without a URL) included. */
  async countEndpoints(tenantId: string, agentId: string): Promise<number> {
    return this.tx.endpoint.count({ where: { tenantId, agentId } });
  }

  /**
   * Writes the settings present in `change` over the endpoint. A masked header
   * value keeps the stored one (the service has checked there is one).
   * `reenable`: the owner turned it on, which clears Herald's reason and the run of failures.
   */
  async updateEndpoint(tenantId: string, agentId: string, id: string, change: Partial<EndpointSettings>, opts: { readonly now: Date; readonly reenable: boolean }): Promise<EndpointRecord | null> {
    const current = await this.tx.endpoint.findUnique({ where: { tenantId_id: { tenantId, id } } });
    if (current === null || current.agentId !== agentId) return null;
    this.announce(tenantId, agentId);
    this.prefetched?.delete(agentKey(tenantId, agentId));
    const c = change;
    const row = await this.tx.endpoint.update({
      where: { tenantId_id: { tenantId, id } },
      data: {
        ...(c.description === undefined ? {} : { description: c.description }),
        ...(c.url === undefined ? {} : { url: c.url }),
        ...(c.enabled === undefined ? {} : { enabled: c.enabled }),
        ...(c.eventTypes === undefined ? {} : { eventTypes: JSON.stringify(c.eventTypes) }),
        ...(c.filter === undefined ? {} : { filter: JSON.stringify(c.filter) }),
        ...(c.headers === undefined ? {} : { headers: JSON.stringify(sealedHeaders(tenantId, agentId, c.headers, storedByLowerName(current.headers), this.box)) }),
        ...(c.timeoutMs === undefined ? {} : { timeoutMs: c.timeoutMs }),
        ...(c.retryPolicy === undefined
          ? {}
          : { maxAttempts: c.retryPolicy.maxAttempts, initialDelayMs: c.retryPolicy.initialDelayMs, multiplier: c.retryPolicy.multiplier, maxDelayMs: c.retryPolicy.maxDelayMs }),
        ...(c.overrides === undefined ? {} : { overrides: JSON.stringify(c.overrides) }),
        ...(c.ordering === undefined ? {} : { ordering: c.ordering }),
        ...(opts.reenable ? { disabledReason: null, consecutiveFailures: 0 } : {}),
        updatedAt: opts.now,
      },
    });
    return toEndpointRecord(row);
  }

  /** Deletes one endpoint and its secret; false when there was none. */
  async deleteEndpoint(tenantId: string, agentId: string, id: string): Promise<boolean> {
    const { count } = await this.tx.endpoint.deleteMany({ where: { tenantId, agentId, id } });
    if (count > 0) {
      this.announce(tenantId, agentId);
      this.prefetched?.delete(agentKey(tenantId, agentId));
    }
    return count > 0;
  }

  /** Replaces one endpoint's secret; the old one signs until `previousExpiresAt` (null: revoked now). Whether it had one before. */
  async rotateEndpointSecret(tenantId: string, agentId: string, id: string, secret: string, previousExpiresAt: Date | null, now: Date): Promise<{ readonly had: boolean } | null> {
    const current = await this.tx.endpoint.findUnique({ where: { tenantId_id: { tenantId, id } } });
    if (current === null || current.agentId !== agentId) return null;
    this.announce(tenantId, agentId);
    const keepPrevious = previousExpiresAt !== null && current.secret !== null;
    await this.tx.endpoint.update({
      where: { tenantId_id: { tenantId, id } },
      data: {
        secret: this.box.seal(secret, secretPlace(tenantId, agentId)),
        // Moved as stored: both columns share one place (see secretPlace).
        previousSecret: keepPrevious ? current.secret : null,
        previousSecretExpiresAt: keepPrevious ? previousExpiresAt : null,
        updatedAt: now,
      },
    });
    return { had: current.secret !== null };
  }

  /** One endpoint's signing secrets (opened), or null when the tenant has no such endpoint. */
  async endpointSecrets(tenantId: string, id: string, now: Date): Promise<SigningSecrets | null> {
    const row = await this.tx.endpoint.findUnique({ where: { tenantId_id: { tenantId, id } } });
    return row === null ? null : secretsOf(row, now, this.box);
  }

  async get(tenantId: string, agentId: string): Promise<AgentPreferences | null> {
    const known = this.prefetched?.get(agentKey(tenantId, agentId));
    if (known !== undefined) return known.preferences;
    const row = await this.tx.agentPreferences.findUnique({ where: { tenantId_agentId: { tenantId, agentId } }, include: FIRST_ENDPOINT });
    return row === null ? null : preferencesOf(row);
  }

  /** The agent's first endpoint as stored (the one that carries its 0.2 webhook fields), or null. */
  private async first(tenantId: string, agentId: string): Promise<EndpointRow | null> {
    return this.tx.endpoint.findFirst({ where: { tenantId, agentId }, orderBy: { position: 'asc' } });
  }

  /**
   * Writes an agent's preferences: creates the row unless `exists`.
   * `newSecret` is given only when the row has no secret yet.
   * `disabledReason` undefined leaves the recorded reason as it is.
   * `firstEndpointId`: the id of the first endpoint made for an agent that has none.
   * `switchSet` false: the change does not name enable_webhook, so the stored master switch stays.
   */
  async save(
    tenantId: string,
    agentId: string,
    prefs: EditablePreferences,
    opts: { now: Date; exists: boolean; newSecret: string | null; disabledReason?: string | null; firstEndpointId: string; switchSet?: boolean },
  ): Promise<AgentPreferences> {
    this.announce(tenantId, agentId);
    this.prefetched?.delete(agentKey(tenantId, agentId));
    const first = opts.exists ? await this.first(tenantId, agentId) : null;
    const keeps = first !== null && Object.values(prefs.webhookHeaders).includes(MASKED_HEADER_VALUE);
    const endpointColumns = firstEndpointColumns(prefs, sealedHeaders(tenantId, agentId, prefs.webhookHeaders, keeps ? storedByLowerName(first.headers) : {}, this.box));
    const secret = opts.newSecret !== null ? { secret: this.sealSecret(tenantId, agentId, opts.newSecret) } : {};
    // Turning the webhook back on (reason null) also starts the failure count afresh, and turns the first endpoint back on.
    const reason = opts.disabledReason === undefined ? {} : { webhookDisabledReason: opts.disabledReason, ...(opts.disabledReason === null ? { consecutiveFailures: 0 } : {}) };
    const endpointReason = opts.disabledReason === null ? { enabled: true, disabledReason: null, consecutiveFailures: 0 } : {};
    // The master switch is written only when the change names it: read back, it is also off while
    // Herald has the first endpoint off, and writing that back would turn every endpoint off.
    const { enableWebhook, ...columns } = editableColumns(prefs);
    const master = opts.switchSet === false ? {} : { enableWebhook };
    const row = opts.exists
      ? await this.tx.agentPreferences.update({ where: { tenantId_agentId: { tenantId, agentId } }, data: { ...columns, ...master, ...reason, updatedAt: opts.now } })
      : await this.tx.agentPreferences.create({ data: { tenantId, agentId, ...columns, enableWebhook, ...reason, createdAt: opts.now, updatedAt: opts.now } });
    const endpoint =
      first !== null
        ? await this.tx.endpoint.update({ where: { tenantId_id: { tenantId, id: first.id } }, data: { ...endpointColumns, ...secret, ...endpointReason, updatedAt: opts.now } })
        : await this.tx.endpoint.create({
            data: { ...newFirstEndpointRow({ tenantId, agentId, id: opts.firstEndpointId, now: opts.now }), ...endpointColumns, ...secret },
          });
    return toPreferences(row, endpoint);
  }

  private sealSecret(tenantId: string, agentId: string, secret: string | null): string | null {
    return secret === null ? null : this.box.seal(secret, secretPlace(tenantId, agentId));
  }

  async hasSecret(tenantId: string, agentId: string): Promise<boolean> {
    return ((await this.first(tenantId, agentId))?.secret ?? null) !== null;
  }

  /** Deletes the row; false when there was none. */
  async delete(tenantId: string, agentId: string): Promise<boolean> {
    // The foreign key would delete them too; said here so that it does not depend on the connection's PRAGMA.
    await this.tx.endpoint.deleteMany({ where: { tenantId, agentId } });
    const { count } = await this.tx.agentPreferences.deleteMany({ where: { tenantId, agentId } });
    if (count > 0) {
      this.announce(tenantId, agentId);
      this.prefetched?.delete(agentKey(tenantId, agentId));
    }
    return count > 0;
  }

  /** A page of the tenant's agents ordered by agent_id, starting after `afterAgentId`. */
  async list(tenantId: string, limit: number, afterAgentId: string | null): Promise<AgentPreferences[]> {
    const rows = await this.tx.agentPreferences.findMany({
      where: afterAgentId === null ? { tenantId } : { tenantId, agentId: { gt: afterAgentId } },
      orderBy: { agentId: 'asc' },
      take: limit,
      include: FIRST_ENDPOINT,
    });
    return rows.map(preferencesOf);
  }

  /** The secrets that sign right now; an expired previous secret is reported as none. */
  async signingSecrets(tenantId: string, agentId: string, now: Date): Promise<SigningSecrets | null> {
    const agent = await this.tx.agentPreferences.findUnique({ where: { tenantId_agentId: { tenantId, agentId } }, select: { agentId: true } });
    return agent === null ? null : secretsOf(await this.first(tenantId, agentId), now, this.box);
  }

  /**
   * Everything a send needs about the agent, in one read: preferences, the
   * secrets that sign now, and how many of its deliveries ended FAILED in a row.
   * The one read that opens the header values (to send them) and the secrets
   * (to sign); throws SealedValueError when one cannot be opened.
   */
  async deliveryTarget(tenantId: string, agentId: string, now: Date): Promise<DeliveryTargetRow | null> {
    const row = await this.tx.agentPreferences.findUnique({ where: { tenantId_agentId: { tenantId, agentId } }, include: ALL_ENDPOINTS });
    return row === null ? null : this.targetOf(row, now);
  }

  /**
   * {@link deliveryTarget} for many agents in one statement (the worker reads
   * a claimed batch's agents at once). Keyed by `agentKey`;
   * an agent without preferences maps to null; an agent whose stored secret
   * or headers cannot be opened is left out, so that its own read reports why.
   */
  async deliveryTargets(agents: readonly AgentRef[], now: Date): Promise<Map<string, DeliveryTargetRow | null>> {
    const found = new Map<string, DeliveryTargetRow | null>();
    if (agents.length === 0) return found;
    for (const { tenantId, agentId } of agents) found.set(agentKey(tenantId, agentId), null);
    const rows = await this.withEndpoints(agents);
    for (const row of rows) {
      const key = agentKey(row.tenantId, row.agentId);
      try {
        found.set(key, this.targetOf(row, now));
      } catch (err) {
        if (!(err instanceof SealedValueError)) throw err;
        found.delete(key);
      }
    }
    return found;
  }

  /**
   * Agents' preferences rows with their endpoints in position order, as
   * `include: ALL_ENDPOINTS` gives them, in two raw statements: the worker
   * reads a batch's agents for every claim, a group commit its agents for
   * every group (`prefetch`), and Prisma compiles a model
   * query's OR list anew for each length and maps every row and relation
   * itself (most of the read's cost).
   */
  private async withEndpoints(agents: readonly AgentRef[]): Promise<RowWithFirst[]> {
    const keys = (alias: string): Prisma.Sql =>
      Prisma.join(agents.map(({ tenantId, agentId }) => Prisma.sql`(${Prisma.raw(alias)}.tenant_id = ${tenantId} AND ${Prisma.raw(alias)}.agent_id = ${agentId})`), ' OR ');
    const prefs = await this.tx.$queryRaw<Array<Record<string, unknown>>>`SELECT ${AGENT_PREFERENCES.list([], 'p')} FROM agent_preferences p WHERE ${keys('p')}`;
    if (prefs.length === 0) return [];
    const endpoints = await this.tx.$queryRaw<Array<Record<string, unknown>>>`SELECT ${ENDPOINTS.list([], 'e')} FROM endpoints e WHERE ${keys('e')} ORDER BY e.position`;
    const byAgent = new Map<string, EndpointRow[]>();
    for (const raw of endpoints) {
      const e = ENDPOINTS.decode(raw);
      const key = agentKey(e.tenantId, e.agentId);
      const list = byAgent.get(key);
      if (list === undefined) byAgent.set(key, [e]);
      else list.push(e);
    }
    return prefs.map((raw) => {
      const row = AGENT_PREFERENCES.decode(raw);
      return { ...row, endpoints: byAgent.get(agentKey(row.tenantId, row.agentId)) ?? [] };
    });
  }

  private targetOf(row: RowWithFirst, now: Date): DeliveryTargetRow {
    const first = row.endpoints[0] ?? null;
    const endpoints = new Map<string, EndpointTargetRow>();
    for (const e of row.endpoints) {
      const endpoint = toEndpoint(e, openedHeaders(e, this.box));
      if (endpoint !== null) endpoints.set(e.id, { endpoint, secrets: secretsOf(e, now, this.box), consecutiveFailures: e.consecutiveFailures });
    }
    return {
      prefs: { ...preferencesOf(row), webhookHeaders: openedHeaders(first, this.box) },
      masterSwitch: row.enableWebhook,
      secrets: secretsOf(first, now, this.box),
      consecutiveFailures: row.consecutiveFailures,
      endpoints,
    };
  }

  /** Counts one more delivery of the agent ended FAILED; returns the count in a row, or null without a row. */
  async recordFailure(tenantId: string, agentId: string): Promise<number | null> {
    const [row] = await this.tx.agentPreferences.updateManyAndReturn({
      where: { tenantId, agentId },
      data: { consecutiveFailures: { increment: 1 } },
      select: { consecutiveFailures: true },
    });
    return row?.consecutiveFailures ?? null;
  }

  /** How many of the agent's deliveries have ended FAILED in a row; null without a row. */
  async failuresInARow(tenantId: string, agentId: string): Promise<number | null> {
    const row = await this.tx.agentPreferences.findUnique({ where: { tenantId_agentId: { tenantId, agentId } }, select: { consecutiveFailures: true } });
    return row?.consecutiveFailures ?? null;
  }

  /** A delivery of the agent succeeded: the failures in a row start again from 0. */
  async resetFailures(tenantId: string, agentId: string): Promise<void> {
    await this.tx.agentPreferences.updateMany({ where: { tenantId, agentId, consecutiveFailures: { gt: 0 } }, data: { consecutiveFailures: 0 } });
  }

  /** {@link resetFailures} for many agents of one tenant or several, in one statement (a no-op for agents at 0). */
  async resetFailuresOf(agents: readonly AgentRef[]): Promise<void> {
    if (agents.length === 0) return;
    await this.tx.agentPreferences.updateMany({
      where: { consecutiveFailures: { gt: 0 }, OR: agents.map(({ tenantId, agentId }) => ({ tenantId, agentId })) },
      data: { consecutiveFailures: 0 },
    });
  }

  /** Counts one more delivery to the endpoint ended FAILED; returns the count in a row, or null without the endpoint. */
  async recordEndpointFailure(tenantId: string, endpointId: string): Promise<number | null> {
    const [row] = await this.tx.endpoint.updateManyAndReturn({ where: { tenantId, id: endpointId }, data: { consecutiveFailures: { increment: 1 } }, select: { consecutiveFailures: true } });
    return row?.consecutiveFailures ?? null;
  }

  /** How many deliveries to the endpoint have ended FAILED in a row; null without the endpoint. */
  async endpointFailuresInARow(tenantId: string, endpointId: string): Promise<number | null> {
    const row = await this.tx.endpoint.findUnique({ where: { tenantId_id: { tenantId, id: endpointId } }, select: { consecutiveFailures: true } });
    return row?.consecutiveFailures ?? null;
  }

  /** Deliveries to these endpoints succeeded: their failures in a row start again from 0 (one statement; a no-op at 0). */
  async resetEndpointFailures(endpoints: ReadonlyArray<{ readonly tenantId: string; readonly endpointId: string }>): Promise<void> {
    if (endpoints.length === 0) return;
    // Raw: it runs once per recorded batch of successes, and Prisma compiles a
    // model query's OR list anew for each length (its query compiler was the
    // larger part of this statement's cost). A key lookup per endpoint.
    const keys = endpoints.map(({ tenantId, endpointId }) => Prisma.sql`(tenant_id = ${tenantId} AND id = ${endpointId})`);
    await this.tx.$executeRaw`UPDATE endpoints SET consecutive_failures = 0 WHERE consecutive_failures > 0 AND (${Prisma.join(keys, ' OR ')})`;
  }

  /**
   * Turns one endpoint off on Herald's own initiative (410 Gone, too many
   * failures), recording why, if it still points at `url` (a late answer from
   * an old URL must not switch off the new one). `onlyIfOn`: leave an
   * endpoint that is off already alone. Returns whether it did, and whether
   * the agent has another endpoint still on.
   */
  async disableEndpoint(tenantId: string, agentId: string, endpointId: string, url: string, reason: string, now: Date, onlyIfOn = false): Promise<{ readonly off: boolean; readonly othersOn: boolean; readonly first: boolean }> {
    const { count } = await this.tx.endpoint.updateMany({
      where: { tenantId, agentId, id: endpointId, url, ...(onlyIfOn ? { enabled: true } : {}) },
      data: { enabled: false, disabledReason: reason, updatedAt: now },
    });
    if (count === 0) return { off: false, othersOn: true, first: false };
    this.announce(tenantId, agentId);
    const others = await this.tx.endpoint.count({ where: { tenantId, agentId, enabled: true, url: { not: null }, id: { not: endpointId } } });
    const row = await this.tx.endpoint.findUnique({ where: { tenantId_id: { tenantId, id: endpointId } }, select: { position: true } });
    return { off: true, othersOn: others > 0, first: row?.position === FIRST_POSITION };
  }

  /** Replaces the secret of the agent's first endpoint; the old one signs until `previousExpiresAt` (null: revoked now). */
  async rotateSecret(tenantId: string, agentId: string, secret: string, previousExpiresAt: Date | null, now: Date): Promise<boolean> {
    const first = await this.first(tenantId, agentId);
    if (first === null) return false;
    this.announce(tenantId, agentId);
    const keepPrevious = previousExpiresAt !== null && first.secret !== null;
    await this.tx.endpoint.update({
      where: { tenantId_id: { tenantId, id: first.id } },
      data: {
        secret: this.box.seal(secret, secretPlace(tenantId, agentId)),
        // Moved as stored: both columns share one place (see secretPlace).
        previousSecret: keepPrevious ? first.secret : null,
        previousSecretExpiresAt: keepPrevious ? previousExpiresAt : null,
        updatedAt: now,
      },
    });
    await this.tx.agentPreferences.update({ where: { tenantId_agentId: { tenantId, agentId } }, data: { updatedAt: now } });
    return true;
  }

  /**
   * Turns the webhook off on Herald's own initiative (410 Gone, too many failures), recording
   * why, if it still points at `url`: a late answer from an old URL must not
   * switch off the new one. `onlyIfOn`: leave a webhook that is off already
   * (and its recorded reason) alone. Returns whether it did.
   */
  async disableWebhook(tenantId: string, agentId: string, url: string, reason: string, now: Date, onlyIfOn = false): Promise<boolean> {
    if ((await this.first(tenantId, agentId))?.url !== url) return false;
    const { count } = await this.tx.agentPreferences.updateMany({
      where: { tenantId, agentId, ...(onlyIfOn ? { enableWebhook: true } : {}) },
      data: { enableWebhook: false, webhookDisabledReason: reason, updatedAt: now },
    });
    if (count > 0) this.announce(tenantId, agentId);
    return count > 0;
  }

  /** Up to `limit` endpoints of every tenant after `after` (ordered by tenant, then endpoint id) with their sealed columns as stored. */
  async storedSecrets(after: { readonly tenantId: string; readonly endpointId: string } | null, limit: number): Promise<StoredSecrets[]> {
    const rows = await this.tx.endpoint.findMany({
      where: after === null ? {} : { OR: [{ tenantId: { gt: after.tenantId } }, { tenantId: after.tenantId, id: { gt: after.endpointId } }] },
      orderBy: [{ tenantId: 'asc' }, { id: 'asc' }],
      take: limit,
      select: { tenantId: true, agentId: true, id: true, secret: true, previousSecret: true, headers: true },
    });
    return rows.map(({ id, ...rest }) => ({ ...rest, endpointId: id }));
  }

  /**
   * The row's values under the current key (plain text and the previous
   * key's values re-sealed), or null when every value already is. Throws
   * SealedValueError for a value no key of this process opens.
   */
  resealed(row: StoredSecrets): StoredSecrets | null {
    const place = secretPlace(row.tenantId, row.agentId);
    const reseal = (stored: string | null): string | null => (stored === null || this.box.isCurrent(stored) ? stored : this.box.seal(this.box.open(stored, place), place));
    const staleHeaders = Object.values(JSON.parse(row.headers) as StoredHeaders).some((v) => !this.box.isCurrent(v));
    const next = {
      ...row,
      secret: reseal(row.secret),
      previousSecret: reseal(row.previousSecret),
      headers: staleHeaders ? JSON.stringify(sealedHeaders(row.tenantId, row.agentId, openedHeaders(row, this.box), {}, this.box)) : row.headers,
    };
    const same = next.secret === row.secret && next.previousSecret === row.previousSecret && !staleHeaders;
    return same ? null : next;
  }

  /**
   * Writes `next` over the endpoint's sealed columns if they still hold `row`
   * (compare-and-swap: a concurrent update wins). Whether it did.
   */
  async replaceSecrets(row: StoredSecrets, next: StoredSecrets): Promise<boolean> {
    const { count } = await this.tx.endpoint.updateMany({
      where: { tenantId: row.tenantId, agentId: row.agentId, id: row.endpointId, secret: row.secret, previousSecret: row.previousSecret, headers: row.headers },
      data: { secret: next.secret, previousSecret: next.previousSecret, headers: next.headers },
    });
    return count === 1;
  }
}

/** Stored (sealed) header values by lower-case name, for an update that keeps some. */
function storedByLowerName(headers: string): StoredHeaders {
  const stored = JSON.parse(headers) as StoredHeaders;
  return Object.fromEntries(Object.entries(stored).map(([name, value]) => [name.toLowerCase(), value]));
}
