/**
 * One delivery attempt from start to finish: look up where the agent's
 * webhook goes, sign the stored body, send it, and record the attempt and
 * the delivery's new state in one transaction. The worker calls it for
 * scheduled attempts; RetryDelivery and SendTestWebhook call it directly.
 */
import { nextRetryDelayMs, type RetryPolicy } from '../domain/backoff.js';
import { classifyResult, type DeliveryVerdict, type SendResult } from '../domain/delivery-outcome.js';
import type { AttemptTrigger, Delivery, DeliveryAttempt } from '../domain/types.js';
import { newAttemptId } from '../ids.js';
import type { Logger } from '../logger.js';
import type { Store } from '../storage/database.js';
import type { ClaimedDelivery, Settlement } from '../storage/delivery-repository.js';
import type { DeliveryEvents } from './events.js';
import type { WebhookSender } from './sender.js';
import { signedHeaders } from './signer.js';

export interface DispatcherOptions {
  readonly retryPolicy: RetryPolicy;
  /** Timeout for agents that set none, ms. */
  readonly defaultTimeoutMs: number;
  readonly signatureHeader: string;
  readonly userAgent: string;
  readonly leaseMs: number;
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

/** Time a worker is given after a send to record its result before its lease may run out. */
const LEASE_MARGIN_MS = 2_000;

function describe(result: SendResult): string {
  return result.kind === 'response' ? `HTTP ${result.statusCode}` : `${result.errorClass}: ${result.message}`;
}

export class Dispatcher {
  constructor(
    private readonly store: Store,
    private readonly sender: WebhookSender,
    private readonly events: DeliveryEvents,
    private readonly log: Logger,
    private readonly options: DispatcherOptions,
  ) {}

  /**
   * Makes the attempt that `claimed` (leased by `owner`) was claimed for.
   * Never throws for a receiver's behaviour; a database failure propagates,
   * and the lease then runs out so that another worker retries the row.
   */
  async attempt(claimed: ClaimedDelivery, owner: string, trigger: AttemptTrigger, onRetryable: OnRetryable, signal?: AbortSignal): Promise<AttemptOutcome> {
    const { clock, retryPolicy } = this.options;
    if (trigger === 'SCHEDULED' && claimed.attemptCount > 1 + retryPolicy.maxRetries) {
      // The attempt budget is used up by claims that never recorded a result:
      // workers stopped mid-send (a delivery that crashes them is the worst
      // case), or the database failed around the send. Stop here instead of
      // taking down worker after worker.
      return this.settle(claimed, owner, null, {
        status: 'FAILED',
        lastStatusCode: claimed.lastStatusCode,
        lastError: `retries exhausted: ${claimed.attemptCount - 1} attempts were started but did not all record a result (a worker stopped or the database failed mid-attempt); last error: ${claimed.lastError ?? 'none recorded'}`,
      });
    }
    const target = await this.store.read((r) => r.preferences.deliveryTarget(claimed.agentId, clock()));
    const prefs = target?.prefs ?? null;
    const keys = target?.secrets ?? null;
    const url = prefs?.webhookUrl ?? null;
    const current = keys?.current ?? null;
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
      const status = trigger === 'SCHEDULED' ? 'CANCELLED' : 'FAILED';
      return this.settle(claimed, owner, null, { status, lastStatusCode: null, lastError: `not sent: ${reason}` });
    }

    const timeoutMs = prefs.webhookTimeoutMs ?? this.options.defaultTimeoutMs;
    // The lease must outlive the send: extend it when what is left of it
    // (claims wait their turn on a busy process) is shorter than the timeout
    // plus the time to record the result. Otherwise another worker could take
    // the delivery over while this one is still sending it.
    const needed = clock().getTime() + timeoutMs + LEASE_MARGIN_MS;
    if (claimed.leaseExpiresAt === null || claimed.leaseExpiresAt.getTime() < needed) {
      const extended = await this.store.write((r) => r.deliveries.extendLease(claimed.id, owner, new Date(needed)));
      if (!extended) {
        this.log.warn({ deliveryId: claimed.id, owner }, 'lease lost before sending; another worker owns the delivery');
        return { delivery: null, attempt: null };
      }
    }

    const body = Buffer.from(claimed.body, 'utf8');
    const secrets = [current, ...(keys?.previous ? [keys.previous] : [])];
    const startedAt = clock();
    const headers = signedHeaders({
      deliveryId: claimed.id,
      eventType: claimed.eventType,
      body,
      secrets,
      timestampSeconds: Math.floor(startedAt.getTime() / 1000),
      signatureHeader: this.options.signatureHeader,
      userAgent: this.options.userAgent,
      customHeaders: { ...prefs.webhookHeaders },
    });
    const result = await this.sender.send({ url, body, headers, timeoutMs, ...(signal ? { signal } : {}) });

    if (result.kind === 'error' && result.errorClass === 'aborted') {
      // Our own shutdown cut the send short: give the attempt back so that
      // it does not use up a retry. The receiver may still have seen it; the
      // stable delivery id lets it de-duplicate.
      const now = clock();
      const released = await this.store.write((r) => r.deliveries.release(claimed.id, owner, now));
      this.log.info({ deliveryId: claimed.id, released }, 'send aborted by shutdown; delivery released');
      return { delivery: null, attempt: null };
    }

    const attempt: DeliveryAttempt = {
      number: claimed.attemptCount,
      startedAt,
      durationMs: Math.max(0, Math.round(result.durationMs)),
      statusCode: result.kind === 'response' ? result.statusCode : null,
      errorClass: result.kind === 'error' ? result.errorClass : result.statusCode >= 200 && result.statusCode < 300 ? null : 'http_status',
      errorMessage: result.kind === 'error' ? result.message : result.statusCode >= 200 && result.statusCode < 300 ? null : `HTTP ${result.statusCode}`,
      responseExcerpt: result.kind === 'response' ? result.bodyExcerpt : null,
      trigger,
      url,
    };
    const verdict = classifyResult(result);
    const settlement = this.settlementFor(claimed, result, verdict, onRetryable);
    const outcome = await this.settle(claimed, owner, attempt, settlement, verdict.verdict === 'gone' ? verdict.reason : null);
    this.log.info(
      { deliveryId: claimed.id, agentId: claimed.agentId, attempt: attempt.number, trigger, result: describe(result), status: settlement.status, ms: attempt.durationMs },
      'webhook attempt',
    );
    return outcome;
  }

  private settlementFor(claimed: ClaimedDelivery, result: SendResult, verdict: DeliveryVerdict, onRetryable: OnRetryable): Settlement {
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
        if (claimed.attemptCount >= 1 + retryPolicy.maxRetries) {
          return { status: 'FAILED', lastStatusCode, lastError: `retries exhausted after ${claimed.attemptCount} attempts; last: ${describe(result)}` };
        }
        const now = clock();
        const delay = nextRetryDelayMs(claimed.attemptCount, retryPolicy, verdict.retryAfter, now, random);
        // A manual retry of a delivery due later (deferred by quiet hours)
        // must not pull its next attempt forward.
        const next = Math.max(now.getTime() + delay, claimed.nextAttemptAt.getTime());
        return { status: 'PENDING', nextAttemptAt: new Date(next), lastStatusCode, lastError: describe(result) };
      }
    }
  }

  private async settle(claimed: ClaimedDelivery, owner: string, attempt: DeliveryAttempt | null, s: Settlement, disableReason: string | null = null): Promise<AttemptOutcome> {
    const now = this.options.clock();
    const { delivery, cancelled } = await this.store.write(async (r) => {
      // The agent's lock first, as every transaction that takes it does, so
      // that the switch-off below cannot deadlock with a preferences update.
      if (disableReason !== null) await r.lockAgent(claimed.agentId);
      // The attempt happened whether or not this worker still holds the
      // lease, so it is recorded either way; only the state change is fenced.
      if (attempt !== null) await r.deliveries.recordAttempt({ ...attempt, id: newAttemptId(now.getTime()), deliveryId: claimed.id });
      const settled = await r.deliveries.settle(claimed.id, owner, s, now, attempt !== null);
      if (disableReason === null || attempt === null) return { delivery: settled, cancelled: [] };
      // The receiver says the endpoint is gone: stop sending to it at all.
      const disabled = await r.preferences.disableWebhook(claimed.agentId, attempt.url, `receiver answered ${disableReason}`, now);
      const others = disabled ? await r.deliveries.cancelPending(claimed.agentId, `cancelled: the receiver answered ${disableReason}`, now) : [];
      return { delivery: settled, cancelled: others };
    });
    if (delivery === null) {
      this.log.warn({ deliveryId: claimed.id, owner }, 'lease lost before the attempt was settled; another worker owns the delivery');
    } else {
      this.events.changed({ delivery, attempt, at: now });
    }
    for (const other of cancelled) this.events.changed({ delivery: other, attempt: null, at: now });
    return { delivery, attempt };
  }
}
