/**
 * Use cases of agent preferences: validate, merge, store, and look after the
 * agent's signing secret.
 */
import { DEFAULT_TENANT } from '../auth/tenant.js';
import { generateWebhookSecret } from '../delivery/signer.js';
import { InvalidArgumentError, NotFoundError } from '../errors.js';
import { newEndpointId } from '../ids.js';
import { DEFAULT_PREFERENCES, MASKED_HEADER_VALUE } from '../domain/types.js';
import type { AgentPreferences, EditablePreferences, QuietHours, SigningSecrets } from '../domain/types.js';
import {
  checkAgentId,
  checkClockTime,
  checkHeaders,
  checkNotificationTypes,
  checkRange,
  checkTimeZone,
  checkWebhookUrlSyntax,
  LIMITS,
  pageSize,
  quote,
} from '../domain/validation.js';
import type { TargetGuard } from '../delivery/target-guard.js';
import type { Store } from '../storage/database.js';
import { isUniqueViolation } from '../storage/errors.js';
import { decodePageToken, encodePageToken } from '../storage/page-token.js';

/** A change to one agent's preferences. Absent keys are left as they are. */
export interface PreferencesChange {
  readonly agentId: string;
  readonly set: Partial<EditablePreferences>;
  /** Individual quiet-hours fields (mask paths such as `quiet_hours.end`), merged into the current window. */
  readonly quietHoursParts?: Partial<QuietHours>;
}

export interface PreferencesServiceOptions {
  /** The outbound guard: checks a webhook URL's scheme and host (resolving names) on write. */
  readonly targets: TargetGuard;
  readonly signatureHeader: string;
  /** WEBHOOK_SECRET: given to new agents instead of a random secret. */
  readonly defaultWebhookSecret: string | undefined;
  /** Default grace period of a rotated-out secret, seconds. */
  readonly secretGraceSeconds: number;
  readonly clock: () => Date;
}

const F = 'preferences';
const MAX_GRACE_SECONDS = 7 * 86_400;

/**
 * Header values are write-only: preferences are read back with every value
 * masked, and a masked value written back keeps the stored one. So a
 * read-modify-write of the whole record (a full update with the headers it
 * got from Get) keeps every credential, and leaving a header out removes it.
 * A masked value with nothing stored behind it is a mistake, not a value.
 */
function checkKeptHeaders(change: PreferencesChange, existing: AgentPreferences | null): void {
  const headers = change.set.webhookHeaders;
  if (headers === undefined) return;
  const stored = new Set(Object.keys(existing?.webhookHeaders ?? {}).map((name) => name.toLowerCase()));
  for (const [name, value] of Object.entries(headers)) {
    if (value === MASKED_HEADER_VALUE && !stored.has(name.toLowerCase())) {
      throw new InvalidArgumentError(
        `${F}.webhook_headers["${name.slice(0, 60)}"]`,
        `"${MASKED_HEADER_VALUE}" keeps the stored value of a header, but the agent has no stored value for this one; send the value itself`,
      );
    }
  }
}

/** The scheme, host and port of a URL: where credentials given for it may go. */
function originOf(url: string): string {
  return new URL(url).origin;
}

/**
 * Receiver credentials are bound to the origin they were given for. A caller
 * may not read them back (they are write-only), so moving the webhook to
 * another scheme, host or port while keeping them (a masked value, or headers
 * left out of the update) would let anyone with the write role send them to a
 * host of their choosing. Such an update must send the values again, or drop them.
 */
function checkCredentialsStay(existing: AgentPreferences | null, merged: EditablePreferences): void {
  if (existing === null || merged.webhookUrl === null) return;
  // With no URL stored there is no origin the values are known to belong to
  // (the URL may have been cleared on the way to another host): the same rule.
  if (existing.webhookUrl !== null && originOf(existing.webhookUrl) === originOf(merged.webhookUrl)) return;
  const kept = Object.entries(merged.webhookHeaders).filter(([, value]) => value === MASKED_HEADER_VALUE).map(([name]) => name);
  if (kept.length === 0) return;
  throw new InvalidArgumentError(
    `${F}.webhook_headers`,
    `webhook_url ${existing.webhookUrl === null ? 'is set' : 'moves to another origin'} (${quote(originOf(merged.webhookUrl))}), and the stored values of ${kept.map((n) => quote(n)).slice(0, 5).join(', ')} would go with it: send webhook_headers in the same update, with the values again or without those headers`,
  );
}

export class PreferencesService {
  constructor(
    private readonly store: Store,
    private readonly options: PreferencesServiceOptions,
  ) {}

  /** The agent's preferences; webhook_headers values are masked (see checkKeptHeaders). */
  async get(tenant: string, agentId: string): Promise<AgentPreferences> {
    checkAgentId('agent_id', agentId);
    const prefs = await this.store.read((r) => r.preferences.get(tenant, agentId));
    if (prefs === null) throw new NotFoundError(`preferences for agent ${quote(agentId)}`);
    return prefs;
  }

  /** Creates or changes an agent's preferences; nothing is written unless every field is valid. */
  async update(tenant: string, change: PreferencesChange): Promise<AgentPreferences> {
    checkAgentId(`${F}.agent_id`, change.agentId);
    this.checkChange(change);
    // Last, after the checks that need no DNS: it may resolve the host.
    if (change.set.webhookUrl != null) await this.options.targets.checkWebhookUrl(`${F}.webhook_url`, change.set.webhookUrl);
    try {
      return await this.write(tenant, change);
    } catch (err) {
      // Two first writes for the same agent raced to create its row (a
      // process that is not Herald, sharing the database); the loser retries
      // once as an update of the winner's row.
      if (isUniqueViolation(err)) return this.write(tenant, change);
      throw err;
    }
  }

  private write(tenant: string, change: PreferencesChange): Promise<AgentPreferences> {
    const now = this.options.clock();
    // Read-merge-write under the agent's lock: otherwise two concurrent partial
    // updates (or an update racing a 410) would each overwrite the other.
    return this.store.writeForAgent({ tenantId: tenant, agentId: change.agentId }, async (r) => {
      const existing = await r.preferences.get(tenant, change.agentId);
      checkKeptHeaders(change, existing);
      const base: EditablePreferences = existing ?? DEFAULT_PREFERENCES;
      const merged: EditablePreferences = { ...base, ...change.set, quietHours: this.mergeQuietHours(base, change) };
      checkCredentialsStay(existing, merged);
      const hasSecret = existing?.webhookSecretSet ?? false;
      // WEBHOOK_SECRET is the single-tenant setup's shared secret: in any other
      // tenant it would let one tenant's receivers accept another's webhooks.
      const shared = tenant === DEFAULT_TENANT ? this.options.defaultWebhookSecret : undefined;
      const newSecret = merged.webhookUrl !== null && !hasSecret ? (shared ?? generateWebhookSecret()) : null;
      // Turning the webhook back on clears the reason Herald turned it off.
      const disabledReason = change.set.enableWebhook === true ? null : undefined;
      return r.preferences.save(tenant, change.agentId, merged, { now, exists: existing !== null, newSecret, disabledReason, firstEndpointId: newEndpointId(now.getTime()), switchSet: change.set.enableWebhook !== undefined });
    });
  }

  private mergeQuietHours(base: EditablePreferences, change: PreferencesChange): QuietHours | null {
    const whole = 'quietHours' in change.set ? (change.set.quietHours ?? null) : base.quietHours;
    const parts = change.quietHoursParts;
    if (parts === undefined || Object.keys(parts).length === 0) return whole;
    const merged = { start: '', end: '', policy: 'SKIP' as const, urgentBypass: false, ...whole, ...parts };
    if (merged.start === '' || merged.end === '') {
      const missing = merged.start === '' ? 'start' : 'end';
      throw new InvalidArgumentError(`${F}.quiet_hours.${missing}`, 'is required: the agent has no quiet hours yet, so give both start and end');
    }
    return merged;
  }

  private checkChange(change: PreferencesChange): void {
    const s = change.set;
    if (s.webhookUrl != null) checkWebhookUrlSyntax(`${F}.webhook_url`, s.webhookUrl, this.options.targets);
    if (s.timeZone !== undefined) checkTimeZone(`${F}.time_zone`, s.timeZone);
    if (s.quietHours != null) {
      checkClockTime(`${F}.quiet_hours.start`, s.quietHours.start);
      checkClockTime(`${F}.quiet_hours.end`, s.quietHours.end);
    }
    const parts = change.quietHoursParts;
    if (parts?.start !== undefined) checkClockTime(`${F}.quiet_hours.start`, parts.start);
    if (parts?.end !== undefined) checkClockTime(`${F}.quiet_hours.end`, parts.end);
    if (s.maxPerHour !== undefined) checkRange(`${F}.max_notifications_per_hour`, s.maxPerHour, 0, LIMITS.maxPerHour);
    if (s.notificationTypes !== undefined) checkNotificationTypes(`${F}.notification_types`, s.notificationTypes);
    if (s.webhookHeaders !== undefined) checkHeaders(`${F}.webhook_headers`, s.webhookHeaders, this.options.signatureHeader);
    if (s.webhookTimeoutMs != null) checkRange(`${F}.webhook_timeout_ms`, s.webhookTimeoutMs, LIMITS.timeoutMsMin, LIMITS.timeoutMsMax);
  }

  /** Deletes the agent's preferences, cancels its waiting deliveries and gives back their hourly-limit slots, in one transaction. */
  async delete(tenant: string, agentId: string): Promise<number> {
    checkAgentId('agent_id', agentId);
    const now = this.options.clock();
    const cancelled = await this.store.writeForAgent({ tenantId: tenant, agentId }, async (r) => {
      if (!(await r.preferences.delete(tenant, agentId))) return null;
      const cancelled = await r.deliveries.cancelPending(tenant, agentId, "cancelled: the agent's preferences were deleted", now);
      await r.rate.releaseAfter(tenant, agentId, now);
      return cancelled.length;
    });
    if (cancelled === null) throw new NotFoundError(`preferences for agent ${quote(agentId)}`);
    return cancelled;
  }

  async list(tenant: string, requestedPageSize: number, pageToken: string): Promise<{ items: AgentPreferences[]; nextPageToken: string }> {
    const size = pageSize('page_size', requestedPageSize);
    const after = decodePageToken('page_token', pageToken, 'preferences', 1);
    const items = await this.store.read((r) => r.preferences.list(tenant, size + 1, after?.[0] ?? null));
    const page = items.slice(0, size);
    const last = page.at(-1);
    const nextPageToken = items.length > size && last !== undefined ? encodePageToken([last.agentId], 'preferences') : '';
    return { items: page, nextPageToken };
  }

  /** Replaces the secret; the previous one keeps signing for the grace period. */
  async rotateSecret(tenant: string, agentId: string, graceSeconds: number | undefined): Promise<{ secret: string; previousExpiresAt: Date | null }> {
    checkAgentId('agent_id', agentId);
    const grace = graceSeconds ?? this.options.secretGraceSeconds;
    checkRange('grace_period_seconds', grace, 0, MAX_GRACE_SECONDS);
    const now = this.options.clock();
    const secret = generateWebhookSecret();
    const previousExpiresAt = grace > 0 ? new Date(now.getTime() + grace * 1000) : null;
    // Under the agent's lock: two rotations at once must not both answer with a secret when only one is kept.
    const result = await this.store.writeForAgent({ tenantId: tenant, agentId }, async (r) => {
      const had = await r.preferences.hasSecret(tenant, agentId);
      const found = await r.preferences.rotateSecret(tenant, agentId, secret, previousExpiresAt, now);
      return found ? had : null;
    });
    if (result === null) throw new NotFoundError(`preferences for agent ${quote(agentId)}`);
    return { secret, previousExpiresAt: result ? previousExpiresAt : null };
  }

  async getSecrets(tenant: string, agentId: string): Promise<SigningSecrets> {
    checkAgentId('agent_id', agentId);
    const now = this.options.clock();
    const secrets = await this.store.read((r) => r.preferences.signingSecrets(tenant, agentId, now));
    if (secrets === null) throw new NotFoundError(`preferences for agent ${quote(agentId)}`);
    return secrets;
  }
}
