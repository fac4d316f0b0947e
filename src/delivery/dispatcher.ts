/**
 * One delivery attempt from start to finish, in three phases as svix's
 * worker has them: **prepare** (the attempt budget, where the agent's webhook
 * goes, the lease), **send** (sign the stored body and POST it) and
 * **record** (the attempt and the delivery's new state in one transaction,
 * with the agent's endpoint health). The worker calls it for scheduled
 * attempts; RetryDelivery, SendTestWebhook call it directly.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { nextRetryDelayMs, type RetryPolicy } from '../domain/backoff.js';
import { classifyResult, type DeliveryVerdict, type SendResult } from '../domain/delivery-outcome.js';
import type { AttemptTrigger, Delivery, DeliveryAttempt } from '../domain/types.js';
import { newAttemptId } from '../ids.js';
import type { Logger } from '../logger.js';
import type { Store } from '../storage/database.js';
import type { Settlement } from '../storage/delivery-queue.js';
import type { ClaimedDelivery } from '../storage/delivery-repository.js';
import { SealedValueError } from '../storage/secret-box.js';
import { isUniqueViolation } from '../storage/errors.js';
import type { AgentDisabled, DeliveryEvents } from './events.js';
import type { WebhookSender } from './sender.js';
import { SettleBatcher } from './settle-batcher.js';
import { DeliveryTargetCache, keyOf, type DeliveryTarget } from './target-cache.js';
import { signedHeaders } from './signer.js';

export interface DispatcherOptions {
  readonly retryPolicy: RetryPolicy;
  /** Timeout for agents that set none, ms. */
  readonly defaultTimeoutMs: number;
  readonly signatureHeader: string;
  readonly userAgent: string;
  readonly leaseMs: number;
  /** Deliveries of one agent ending FAILED in a row that turn its webhook off; 0: never. */
  readonly disableAfterFailures: number;
  readonly clock: () => Date;
  readonly random: () => number;
}

/**
 * What to do when the attempt fails in a way that could succeed later:
 * `schedule` another attempt (if retries remain), or `fail` now (a manual
 * retry of a FAILED delivery, a test webhook: one attempt, no schedule).
 */
export type OnRetryable = 'schedule' | 'fail';

export interface AttemptOutcome {
  /** The delivery after the attempt, or null when the lease was lost and nothing was recorded. */
  readonly delivery: Delivery | null;
  /** The attempt made, or null when none was (cancelled, or aborted by shutdown). */
  readonly attempt: DeliveryAttempt | null;
}

/** One claimed delivery on its way through the phases. */
interface Job {
  readonly claimed: ClaimedDelivery;
  readonly owner: string;
  readonly trigger: AttemptTrigger;
  readonly onRetryable: OnRetryable;
  /** When the delivery was claimed (process clock, ms): its target must have been read since. */
  readonly claimedAtMs: number;
}

/** A delivery ready to send: the request, and the agent's failures in a row when it was read. */
interface Prepared {
  readonly url: string;
  readonly timeoutMs: number;
  readonly secrets: readonly string[];
  readonly customHeaders: Readonly<Record<string, string>>;
  readonly consecutiveFailures: number;
}

/** Time a worker is given after a send to record its result before its lease may run out. */
const LEASE_MARGIN_MS = 2_000;

/**
 * Tries at recording an attempt. A send that reached the receiver must not
 * wait out its lease (and be sent again) because one transaction failed.
 */
const RECORD_TRIES = 3;
const RECORD_RETRY_MS = 200;

/**
 * Successful scheduled attempts settled in one transaction at most. Large
 * enough for a worker's whole pipeline (HERALD_WORKER_CONCURRENCY is 16 by
 * default), small enough that one statement's IN list stays short.
 */
const SETTLE_BATCH_MAX = 128;

/** A successful scheduled attempt waiting for the batched settle. */
interface SettleItem {
  readonly job: Job;
  readonly attempt: DeliveryAttempt;
  readonly statusCode: number | null;
}

function describe(result: SendResult): string {
  return result.kind === 'response' ? `HTTP ${result.statusCode}` : `${result.errorClass}: ${result.message}`;
}

/**
 * A receiver that is overloaded rather than broken: retrying it sooner than the
 * floor only adds to its load. `unreachable` is included because the outbound
 * guard reports a timeout towards an internal address under that class (so that
 * attempts cannot be used to probe ports), and such a retry must not come faster
 * than one towards a public address would.
 */
function throttled(result: SendResult): boolean {
  return result.kind === 'response' ? result.statusCode === 429 : result.errorClass === 'timeout' || result.errorClass === 'unreachable';
}

export class Dispatcher {
  private readonly settler: SettleBatcher<SettleItem, AttemptOutcome>;
  private readonly targets = new DeliveryTargetCache();

  constructor(
    private readonly store: Store,
    private readonly sender: WebhookSender,
    private readonly events: DeliveryEvents,
    private readonly log: Logger,
    private readonly options: DispatcherOptions,
  ) {
    this.settler = new SettleBatcher(
      (items) => this.settleSucceeded(items),
      (item) => this.settleOne(item.job, item.attempt, { status: 'SUCCEEDED', lastStatusCode: item.statusCode, lastError: null }, { gone: null, consecutiveFailures: 0 }),
      SETTLE_BATCH_MAX,
      (err, size) => this.log.warn({ err, size }, 'recording a batch of attempts failed; recording each on its own'),
    );
    // Lives as long as the dispatcher, which lives as long as the app.
    events.onPreferencesChanged((tenantId, agentId) => this.targets.invalidate(tenantId, agentId));
  }

  /** Another replica changed the agent's webhook target (see Store.listenForPreferenceChanges). */
  targetChanged(tenantId: string, agentId: string): void {
    this.targets.invalidate(tenantId, agentId);
  }

  /** Changes by other replicas may have been missed (a LISTEN connection came back): read every target afresh. */
  targetsMissed(): void {
    this.targets.clear();
  }

  /** The agent's target as read since `notBeforeMs`, from the cache or read (and then cached); a SealedValueError is never cached. */
  private async target(tenantId: string, agentId: string, notBeforeMs: number): Promise<DeliveryTarget> {
    const now = this.options.clock();
    const cached = this.targets.get(tenantId, agentId, now.getTime(), notBeforeMs);
    if (cached !== undefined) return cached;
    const token = this.targets.token();
    const target = await this.store.read((r) => r.preferences.deliveryTarget(tenantId, agentId, now));
    this.targets.set(tenantId, agentId, target, token, now.getTime());
    return target;
  }

  /**
   * Reads the targets of a claimed batch's agents in one statement, after
   * the claim, so that its attempts find them cached instead of reading one
   * row each. Best effort: an agent left out (or a failed read) is read by
   * its attempt, which reports what went wrong.
   */
  async prefetchTargets(claimed: readonly ClaimedDelivery[]): Promise<void> {
    const agents = new Map<string, { tenantId: string; agentId: string }>();
    for (const { tenantId, agentId } of claimed) agents.set(keyOf(tenantId, agentId), { tenantId, agentId });
    if (agents.size < 2) return;
    const token = this.targets.token();
    const now = this.options.clock();
    const found = await this.store.read((r) => r.preferences.deliveryTargets([...agents.values()], now));
    for (const [key, target] of found) {
      const agent = agents.get(key);
      if (agent !== undefined) this.targets.set(agent.tenantId, agent.agentId, target, token, now.getTime());
    }
  }

  /**
   * Makes the attempt that `claimed` (leased by `owner`) was claimed for.
   * Never throws for a receiver's behaviour; a database failure propagates
   * (recording is retried first), and the lease then runs out so that
   * another worker retries the row.
   */
  async attempt(
    claimed: ClaimedDelivery,
    owner: string,
    trigger: AttemptTrigger,
    onRetryable: OnRetryable,
    signal?: AbortSignal,
    claimedAtMs: number = this.options.clock().getTime(),
  ): Promise<AttemptOutcome> {
    const job: Job = { claimed, owner, trigger, onRetryable, claimedAtMs };
    const prepared = await this.prepare(job);
    if (!('url' in prepared)) return prepared;
    const result = await this.send(job, prepared, signal);
    if (result === null) return this.giveBack(job, null);
    return this.record(job, prepared, result);
  }

  /** Phase 1: decides whether to send at all, and where; makes sure the lease outlives the send. */
  private async prepare(job: Job): Promise<Prepared | AttemptOutcome> {
    const { claimed, trigger } = job;
    const { clock, retryPolicy } = this.options;
    const used = claimed.attemptCount - claimed.attemptBase;
    if (trigger === 'SCHEDULED' && used > 1 + retryPolicy.maxRetries) {
      // The attempt budget is used up by claims that never recorded a result:
      // workers stopped mid-send (a delivery that crashes them is the worst
      // case), or the database failed around the send. Stop here instead of
      // taking down worker after worker.
      return this.giveBack(job, {
        status: 'FAILED',
        lastStatusCode: claimed.lastStatusCode,
        lastError: `retries exhausted: ${used - 1} attempts were started but did not all record a result (a worker stopped or the database failed mid-attempt); last error: ${claimed.lastError ?? 'none recorded'}`,
      });
    }
    const target = await this.target(claimed.tenantId, claimed.agentId, job.claimedAtMs).catch((err: unknown) => {
        if (err instanceof SealedValueError) return err;
        throw err;
      });
    if (target instanceof SealedValueError) {
      // A secret or header this process cannot decrypt (a missing key): what
      // would be sent is garbage, so the delivery fails with the reason. No
      // attempt was made, so it does not count toward HERALD_DISABLE_AFTER_FAILURES.
      this.log.error({ deliveryId: claimed.id, agentId: claimed.agentId, reason: target.message }, 'webhook not sent: a stored secret cannot be decrypted');
      return this.giveBack(job, { status: 'FAILED', lastStatusCode: null, lastError: `not sent: ${target.message}` });
    }
    const prefs = target?.prefs ?? null;
    const url = prefs?.webhookUrl ?? null;
    const current = target?.secrets.current ?? null;
    // A test webhook checks the endpoint, so it goes out even while webhooks are off.
    const off = prefs !== null && !prefs.enableWebhook && trigger !== 'TEST';
    if (prefs === null || url === null || current === null || off) {
      const reason =
        prefs === null ? "the agent's preferences were deleted"
        : url === null ? 'the agent has no webhook_url'
        : off ? `the agent's webhook is turned off${prefs.webhookDisabledReason ? ` (${prefs.webhookDisabledReason})` : ''}`
        : 'the agent has no signing secret';
      // Scheduled deliveries are cancelled (nothing is wrong with them); a
      // manual retry or a test reports a failure to the caller who asked.
      return this.giveBack(job, { status: trigger === 'SCHEDULED' ? 'CANCELLED' : 'FAILED', lastStatusCode: null, lastError: `not sent: ${reason}` });
    }

    const timeoutMs = prefs.webhookTimeoutMs ?? this.options.defaultTimeoutMs;
    // The lease must outlive the send: extend it when what is left of it
    // (claims wait their turn on a busy process) is shorter than the timeout
    // plus the time to record the result. Otherwise another worker could take
    // the delivery over while this one is still sending it. Both sides of the
    // comparison are on this process's clock (see ClaimedDelivery).
    const neededMs = timeoutMs + LEASE_MARGIN_MS;
    if (claimed.leaseExpiresAt.getTime() - clock().getTime() < neededMs) {
      const extended = await this.store.write((r) => r.queue.extendLease(claimed.id, job.owner, neededMs, clock()));
      if (!extended) {
        this.log.warn({ deliveryId: claimed.id, owner: job.owner }, 'lease lost before sending; another worker owns the delivery');
        return { delivery: null, attempt: null };
      }
    }
    const previous = target?.secrets.previous ?? null;
    return { url, timeoutMs, secrets: previous === null ? [current] : [current, previous], customHeaders: prefs.webhookHeaders, consecutiveFailures: target?.consecutiveFailures ?? 0 };
  }

  /** Phase 2: signs the stored bytes and sends them. Null when our own shutdown aborted the send. */
  private async send(job: Job, p: Prepared, signal: AbortSignal | undefined): Promise<(SendResult & { startedAt: Date }) | null> {
    const { claimed } = job;
    const body = Buffer.from(claimed.body, 'utf8');
    const startedAt = this.options.clock();
    const headers = signedHeaders({
      deliveryId: claimed.id,
      eventType: claimed.eventType,
      body,
      secrets: p.secrets,
      timestampSeconds: Math.floor(startedAt.getTime() / 1000),
      signatureHeader: this.options.signatureHeader,
      userAgent: this.options.userAgent,
      customHeaders: { ...p.customHeaders },
    });
    const result = await this.sender.send({ url: p.url, body, headers, timeoutMs: p.timeoutMs, ...(signal ? { signal } : {}) });
    // The receiver may still have seen an aborted send; the stable delivery
    // id lets it de-duplicate.
    if (result.kind === 'error' && result.errorClass === 'aborted') return null;
    return { ...result, startedAt };
  }

  /** Phase 3: the attempt, the delivery's next state and the agent's endpoint health, in one transaction. */
  private async record(job: Job, p: Prepared, result: SendResult & { startedAt: Date }): Promise<AttemptOutcome> {
    const { claimed, trigger } = job;
    const ok = result.kind === 'response' && result.statusCode >= 200 && result.statusCode < 300;
    const attempt: DeliveryAttempt = {
      number: claimed.attemptCount,
      startedAt: result.startedAt,
      durationMs: Math.max(0, Math.round(result.durationMs)),
      statusCode: result.kind === 'response' ? result.statusCode : null,
      errorClass: result.kind === 'error' ? result.errorClass : ok ? null : 'http_status',
      errorMessage: result.kind === 'error' ? result.message : ok ? null : `HTTP ${result.statusCode}`,
      responseExcerpt: result.kind === 'response' ? result.bodyExcerpt : null,
      trigger,
      url: p.url,
    };
    const verdict = classifyResult(result);
    const settlement = this.settlementFor(job, result, verdict);
    const outcome = await this.settle(job, attempt, settlement, {
      gone: verdict.verdict === 'gone' ? verdict.reason : null,
      consecutiveFailures: p.consecutiveFailures,
    });
    this.log.info(
      { deliveryId: claimed.id, tenantId: claimed.tenantId, agentId: claimed.agentId, attempt: attempt.number, trigger, result: describe(result), status: settlement.status, ms: attempt.durationMs },
      'webhook attempt',
    );
    return outcome;
  }

  private settlementFor(job: Job, result: SendResult, verdict: DeliveryVerdict): Settlement {
    const { claimed, onRetryable } = job;
    const lastStatusCode = result.kind === 'response' ? result.statusCode : null;
    switch (verdict.verdict) {
      case 'success':
        return { status: 'SUCCEEDED', lastStatusCode, lastError: null };
      case 'fail':
      case 'gone':
        return { status: 'FAILED', lastStatusCode, lastError: verdict.reason };
      case 'retry': {
        const { retryPolicy, clock, random } = this.options;
        if (onRetryable === 'fail') return { status: 'FAILED', lastStatusCode, lastError: describe(result) };
        const used = claimed.attemptCount - claimed.attemptBase;
        if (used >= 1 + retryPolicy.maxRetries) {
          return { status: 'FAILED', lastStatusCode, lastError: `retries exhausted after ${used} attempts; last: ${describe(result)}` };
        }
        const retryInMs = nextRetryDelayMs(used, retryPolicy, { retryAfter: verdict.retryAfter, throttled: throttled(result) }, clock(), random);
        // A manual retry of a delivery due later (deferred by quiet hours)
        // must not pull its next attempt forward.
        return { status: 'PENDING', retryInMs, notBefore: claimed.nextAttemptAt, lastStatusCode, lastError: describe(result) };
      }
    }
  }

  /**
   * Settles a claim that made no attempt (`settlement`), or releases it for
   * later (null: shutdown aborted the send). This is the one place where the
   * attempt counted at claim is given back.
   */
  private async giveBack(job: Job, settlement: Settlement | null): Promise<AttemptOutcome> {
    if (settlement !== null) return this.settle(job, null, settlement, { gone: null, consecutiveFailures: 0 });
    const { claimed, owner } = job;
    const released = await this.store.write((r) => r.queue.release(claimed.id, owner, this.options.clock()));
    this.log.info({ deliveryId: claimed.id, released }, 'send aborted by shutdown; delivery released');
    return { delivery: null, attempt: null };
  }

  /**
   * Records `attempt` (if one was made) and `s`, fenced on the lease, and
   * keeps the agent's failures-in-a-row count: a success resets it; a
   * delivery ending FAILED after an attempt (not a test) adds one, and at
   * the threshold the webhook is turned off, as a 410 does at once.
   */
  private async settle(job: Job, attempt: DeliveryAttempt | null, s: Settlement, health: { gone: string | null; consecutiveFailures: number }): Promise<AttemptOutcome> {
    // The worker's common case (a scheduled attempt that succeeded: no
    // failure to count, no switch-off) is batched with its neighbours.
    if (attempt !== null && job.trigger === 'SCHEDULED' && s.status === 'SUCCEEDED' && health.gone === null) {
      return this.settler.submit({ job, attempt, statusCode: s.lastStatusCode });
    }
    return this.settleOne(job, attempt, s, health);
  }

  /**
   * Settles successful scheduled attempts together: every attempt row, every
   * delivery's new state (fenced on its lease) and the failures-in-a-row
   * reset of their agents, in one transaction of three statements whatever
   * the batch's size, so each delivery's attempt and state commit together.
   */
  private async settleSucceeded(items: readonly SettleItem[]): Promise<AttemptOutcome[]> {
    const now = this.options.clock();
    const settled = await this.store.write(async (r) => {
      await r.deliveries.recordAttempts(items.map((i) => ({ ...i.attempt, id: newAttemptId(now.getTime()), deliveryId: i.job.claimed.id })));
      const rows = await r.queue.settleSucceeded(
        items.map((i) => ({ id: i.job.claimed.id, owner: i.job.owner, statusCode: i.statusCode })),
        now,
      );
      const agents = new Map<string, { tenantId: string; agentId: string }>();
      for (const row of rows.values()) agents.set(`${row.tenantId}\u0000${row.agentId}`, { tenantId: row.tenantId, agentId: row.agentId });
      await r.preferences.resetFailuresOf([...agents.values()]);
      return rows;
    });
    return items.map((i) => this.announce(i.job, i.attempt, now, { settled: settled.get(i.job.claimed.id) ?? null, cancelled: [], disabled: null }));
  }

  /** The settlement of one delivery, in a transaction of its own (see {@link settle}). */
  private async settleOne(job: Job, attempt: DeliveryAttempt | null, s: Settlement, health: { gone: string | null; consecutiveFailures: number }): Promise<AttemptOutcome> {
    const { claimed, owner, trigger } = job;
    const { tenantId, agentId } = claimed;
    const threshold = this.options.disableAfterFailures;
    const counts = attempt !== null && trigger !== 'TEST';
    const now = this.options.clock();
    const attemptId = newAttemptId(now.getTime());
    const transaction = () =>
      this.store.write(async (r) => {
        // The agent's lock first, as every transaction that takes it does, so
        // that a switch-off below cannot deadlock with a preferences update.
        const mayDisable = attempt !== null && (health.gone !== null || (counts && s.status === 'FAILED' && threshold > 0));
        if (mayDisable) await r.lockAgent(tenantId, agentId);
        // The attempt happened whether or not this worker still holds the
        // lease, so it is recorded either way; only the state change is fenced.
        if (attempt !== null) await r.deliveries.recordAttempt({ ...attempt, id: attemptId, deliveryId: claimed.id });
        const settled = await r.queue.settle(claimed.id, owner, s, now, attempt !== null);
        if (settled === null || attempt === null) return { settled, cancelled: [], disabled: null };
        let failures = health.consecutiveFailures;
        let reason: string | null = null;
        // Unconditional (a no-op at 0): the count read before the send may be stale.
        if (settled.status === 'SUCCEEDED') await r.preferences.resetFailures(tenantId, agentId);
        if (counts && settled.status === 'FAILED') {
          failures = (await r.preferences.recordFailure(tenantId, agentId)) ?? failures;
          if (threshold > 0 && failures >= threshold) {
            reason = `${failures} deliveries in a row ended FAILED (HERALD_DISABLE_AFTER_FAILURES=${threshold}); last: ${settled.lastError ?? 'unknown'}`;
          }
        }
        // The receiver says the endpoint is gone: stop sending to it at all.
        if (health.gone !== null) reason = `receiver answered ${health.gone}`;
        if (reason === null) return { settled, cancelled: [], disabled: null };
        // Sends still in flight when the count was reached end FAILED too:
        // they must not turn off again what is off, nor announce it twice.
        const off = await r.preferences.disableWebhook(tenantId, agentId, attempt.url, reason, now, health.gone === null);
        if (!off) return { settled, cancelled: [], disabled: null };
        const cancelled = await r.deliveries.cancelPending(tenantId, agentId, `cancelled: ${reason}`, now);
        await r.rate.releaseAfter(tenantId, agentId, now);
        const disabled: AgentDisabled = { tenantId, agentId, deliveryId: claimed.id, reason, consecutiveFailures: failures, at: now };
        return { settled, cancelled, disabled };
      });
    return this.announce(job, attempt, now, await this.durably(job, transaction));
  }

  /** Tells the log and the event bus what a committed settlement changed. */
  private announce(job: Job, attempt: DeliveryAttempt | null, now: Date, r: { settled: Delivery | null; cancelled: Delivery[]; disabled: AgentDisabled | null }): AttemptOutcome {
    const { claimed, owner } = job;
    const { settled, cancelled, disabled } = r;
    if (settled === null) {
      this.log.warn({ deliveryId: claimed.id, owner }, 'lease lost before the attempt was settled; another worker owns the delivery');
    } else {
      this.events.changed({ delivery: settled, attempt, at: now });
    }
    for (const other of cancelled) this.events.changed({ delivery: other, attempt: null, at: now });
    // The operator's warn line comes from the event (src/event-log.ts).
    if (disabled !== null) {
      this.targets.invalidate(disabled.tenantId, disabled.agentId);
      this.events.agentDisabled(disabled);
    }
    return { delivery: settled, attempt };
  }

  /**
   * Runs the recording transaction, retrying a failure a few times before
   * giving up to the lease. A retry that meets its own attempt row (the
   * commit had succeeded, only its answer was lost) reads the result instead.
   */
  private async durably<T extends { settled: Delivery | null; cancelled: Delivery[]; disabled: AgentDisabled | null }>(job: Job, transaction: () => Promise<T>): Promise<T | { settled: Delivery | null; cancelled: Delivery[]; disabled: null }> {
    for (let tries = 1; ; tries++) {
      try {
        return await transaction();
      } catch (err) {
        if (tries > 1 && isUniqueViolation(err)) {
          const settled = await this.store.read((r) => r.deliveries.get(job.claimed.tenantId, job.claimed.id));
          return { settled, cancelled: [], disabled: null };
        }
        if (tries >= RECORD_TRIES) throw err;
        this.log.warn({ err, deliveryId: job.claimed.id, tries }, 'recording the attempt failed; retrying');
        await sleep(RECORD_RETRY_MS * tries);
      }
    }
  }
}
