/**
 * One delivery attempt from start to finish, in three phases as svix's
 * worker has them: **prepare** (the attempt budget, where the agent's webhook
 * goes, the lease), **send** (sign the stored body and POST it) and
 * **record** (the settlement, computed by domain/settlement.ts, written by
 * storage in one transaction with its neighbours). The worker calls it for
 * scheduled attempts; RetryDelivery and SendTestWebhook call it directly.
 */
import { budgetExhausted, describeResult, settleAttempt, unsent, type OnRetryable, type Settlement } from '../domain/settlement.js';
import { DEFAULT_ENDPOINT_RETRY_POLICY, endpointRetryPolicy, type RetryPolicy } from '../domain/backoff.js';
import type { SendResult } from '../domain/delivery-outcome.js';
import type { AttemptTrigger, Delivery, DeliveryAttempt } from '../domain/types.js';
import { agentKey, distinctAgents } from '../domain/agent-key.js';
import type { ChangeFeed } from '../events/change-feed.js';
import { newAttemptId } from '../ids.js';
import type { Logger } from '../logger.js';
import type { Store } from '../storage/database.js';
import type { ClaimedDelivery } from '../storage/delivery-queue.js';
import { startAttemptSpan } from '../telemetry/tracing.js';
import { SealedValueError } from '../storage/secret-box.js';
import type { WebhookSender } from './sender.js';
import { signedHeaders } from './signer.js';
import { DeliveryTargetCache, type DeliveryTarget } from './target-cache.js';

export type { OnRetryable } from '../domain/settlement.js';

export interface DispatcherOptions {
  readonly retryPolicy: RetryPolicy;
  /** Timeout for agents that set none, ms. */
  readonly defaultTimeoutMs: number;
  readonly signatureHeader: string;
  readonly userAgent: string;
  /** Deliveries of one agent ending FAILED in a row that turn its webhook off; 0: never. */
  readonly disableAfterFailures: number;
  readonly clock: () => Date;
  readonly random: () => number;
}

export interface AttemptOutcome {
  /** The delivery after the attempt, or null when the lease was lost and nothing but the attempt was recorded. */
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

/** What a request is made of, once prepared. */
interface Request {
  /** The endpoint sent to, or null for a delivery of an agent that had none. */
  readonly endpointId: string | null;
  /** The endpoint's retry policy over the service's. */
  readonly retryPolicy: RetryPolicy;
  readonly url: string;
  readonly timeoutMs: number;
  readonly secrets: readonly string[];
  readonly customHeaders: Readonly<Record<string, string>>;
}

/** Phase 1's answer: send, settle without sending, or stop (the lease is another worker's now). */
type Prepared = { readonly kind: 'send'; readonly request: Request } | { readonly kind: 'settle'; readonly settlement: Settlement } | { readonly kind: 'lost' };

/** Phase 2's answer: a result to settle, or our own shutdown aborted the send. */
type Sent = { readonly kind: 'result'; readonly result: SendResult; readonly startedAt: Date } | { readonly kind: 'aborted' };

/** Time a worker is given after a send to record its result before its lease may run out. */
const LEASE_MARGIN_MS = 2_000;

export class Dispatcher {
  private readonly targets = new DeliveryTargetCache();

  constructor(
    private readonly store: Store,
    private readonly sender: WebhookSender,
    feed: ChangeFeed,
    private readonly log: Logger,
    private readonly options: DispatcherOptions,
  ) {
    // Writes here and in other replicas drop the agent's cached target. Lives as long as the app.
    feed.on('targetChanged', (f) => this.targets.invalidate(f.tenantId, f.agentId));
    feed.on('targetsMissed', () => this.targets.clear());
  }

  /**
   * Makes the attempt that `claimed` (leased by `owner`) was claimed for.
   * Never throws for a receiver's behaviour; a database failure propagates
   * (storage retried recording first), and the lease then runs out so that
   * another worker retries the row. `sendDone` is called once the request
   * is over (answered, failed or aborted), before its result is recorded.
   */
  async attempt(
    claimed: ClaimedDelivery,
    owner: string,
    trigger: AttemptTrigger,
    onRetryable: OnRetryable,
    signal?: AbortSignal,
    claimedAtMs: number = this.options.clock().getTime(),
    sendDone?: () => void,
  ): Promise<AttemptOutcome> {
    const job: Job = { claimed, owner, trigger, onRetryable, claimedAtMs };
    const prepared = await this.prepare(job);
    switch (prepared.kind) {
      case 'lost':
        return { delivery: null, attempt: null };
      case 'settle':
        return this.record(job, prepared.settlement);
      case 'send': {
        const sent = await this.send(job, prepared.request, signal);
        sendDone?.();
        if (sent.kind === 'aborted') return this.release(job);
        const { clock, random, disableAfterFailures } = this.options;
        const settlement = settleAttempt({
          claimed, trigger, onRetryable, url: prepared.request.url, result: sent.result, startedAt: sent.startedAt,
          retryPolicy: prepared.request.retryPolicy, disableAfter: disableAfterFailures, now: clock(), random,
        });
        this.log.info(
          { deliveryId: claimed.id, tenantId: claimed.tenantId, agentId: claimed.agentId, attempt: claimed.attemptCount, trigger, result: describeResult(sent.result), status: settlement.next.status, ms: settlement.attempt?.durationMs },
          'webhook attempt',
        );
        return this.record(job, settlement);
      }
    }
  }

  /** Phase 1: whether to send at all, and where; makes sure the lease outlives the send. */
  private async prepare(job: Job): Promise<Prepared> {
    const { claimed, trigger } = job;
    let target: DeliveryTarget;
    try {
      target = await this.target(claimed.tenantId, claimed.agentId, job.claimedAtMs);
    } catch (err) {
      if (!(err instanceof SealedValueError)) throw err;
      // A secret or header this process cannot decrypt (a missing key): what
      // would be sent is garbage, so the delivery fails with the reason. No
      // attempt was made, so it does not count toward HERALD_DISABLE_AFTER_FAILURES.
      this.log.error({ deliveryId: claimed.id, agentId: claimed.agentId, reason: err.message }, 'webhook not sent: a stored secret cannot be decrypted');
      return { kind: 'settle', settlement: unsent({ status: 'FAILED', lastStatusCode: null, lastError: `not sent: ${err.message}` }) };
    }
    const prefs = target?.prefs ?? null;
    // The delivery's endpoint; one made before endpoints existed went to the agent's first.
    const endpointId = claimed.endpointId ?? prefs?.webhookEndpointId ?? null;
    const endpoint = endpointId === null ? undefined : target?.endpoints.get(endpointId);
    const retryPolicy = endpointRetryPolicy(this.options.retryPolicy, endpoint?.endpoint.retryPolicy ?? DEFAULT_ENDPOINT_RETRY_POLICY);
    const exhausted = budgetExhausted(claimed, trigger, retryPolicy);
    if (exhausted !== null) return { kind: 'settle', settlement: exhausted };
    const isFirst = endpointId !== null && endpointId === prefs?.webhookEndpointId;
    const url = endpoint?.endpoint.url ?? null;
    const current = endpoint?.secrets.current ?? null;
    // A test webhook checks the endpoint, so it goes out even while webhooks are off.
    // The owner's master switch stops every endpoint; Herald's switch-off of one endpoint stops only that one.
    const off = target !== null && !target.masterSwitch && trigger !== 'TEST';
    const endpointOff = endpoint !== undefined && !endpoint.endpoint.enabled && trigger !== 'TEST';
    if (prefs === null || endpoint === undefined || url === null || current === null || off || endpointOff) {
      const reason =
        prefs === null ? "the agent's preferences were deleted"
        : endpoint === undefined ? (isFirst || endpointId === null ? 'the agent has no webhook_url' : `the endpoint ${endpointId} was deleted`)
        : off ? `the agent's webhook is turned off${prefs.webhookDisabledReason && isFirst ? ` (${prefs.webhookDisabledReason})` : ''}`
        // The first endpoint is 0.2's webhook: said in 0.2's words.
        : endpointOff ? `${isFirst ? "the agent's webhook" : 'the endpoint'} is turned off${endpoint.endpoint.disabledReason ? ` (${endpoint.endpoint.disabledReason})` : ''}`
        : 'the agent has no signing secret';
      // Scheduled deliveries are cancelled (nothing is wrong with them); a
      // manual retry or a test reports a failure to the caller who asked.
      return { kind: 'settle', settlement: unsent({ status: trigger === 'SCHEDULED' ? 'CANCELLED' : 'FAILED', lastStatusCode: null, lastError: `not sent: ${reason}` }) };
    }
    const timeoutMs = endpoint.endpoint.timeoutMs ?? this.options.defaultTimeoutMs;
    // The lease must outlive the send: extend it when what is left of it
    // (claims wait their turn on a busy process) is shorter than the timeout
    // plus the time to record the result. Otherwise another worker could take
    // the delivery over while this one is still sending it. Both sides of the
    // comparison are on this process's clock (see ClaimedDelivery).
    const neededMs = timeoutMs + LEASE_MARGIN_MS;
    const clock = this.options.clock;
    if (claimed.leaseExpiresAt.getTime() - clock().getTime() < neededMs && !(await this.store.queue.extendLease(claimed.id, job.owner, neededMs, clock()))) {
      this.log.warn({ deliveryId: claimed.id, owner: job.owner }, 'lease lost before sending; another worker owns the delivery');
      return { kind: 'lost' };
    }
    const previous = endpoint.secrets.previous;
    return {
      kind: 'send',
      request: { endpointId, retryPolicy, url, timeoutMs, secrets: previous === null ? [current] : [current, previous], customHeaders: endpoint.endpoint.headers },
    };
  }

  /** Phase 2: signs the stored bytes and sends them. */
  private async send(job: Job, request: Request, signal: AbortSignal | undefined): Promise<Sent> {
    const { claimed } = job;
    const body = Buffer.from(claimed.body, 'utf8');
    const startedAt = this.options.clock();
    const headers = signedHeaders({
      deliveryId: claimed.id,
      eventType: claimed.eventType,
      body,
      secrets: request.secrets,
      timestampSeconds: Math.floor(startedAt.getTime() / 1000),
      signatureHeader: this.options.signatureHeader,
      userAgent: this.options.userAgent,
      customHeaders: { ...request.customHeaders },
      ...(request.endpointId === null ? {} : { endpointId: request.endpointId }),
      ...(claimed.ordering === null ? {} : { ordering: claimed.ordering }),
    });
    // With tracing on, the attempt is a span in the trace stored with the delivery, and the receiver gets its context.
    const span = startAttemptSpan(claimed.traceParent, request.url, claimed.id, claimed.attemptCount);
    if (span !== null) headers.traceparent = span.traceParent;
    const result = await this.sender.send({ url: request.url, body, headers, timeoutMs: request.timeoutMs, ...(signal ? { signal } : {}) });
    span?.end(result);
    // The receiver may still have seen an aborted send; the stable delivery id lets it de-duplicate.
    if (result.kind === 'error' && result.errorClass === 'aborted') return { kind: 'aborted' };
    return { kind: 'result', result, startedAt };
  }

  /** Phase 3: storage records the settlement (the attempt, the next state, the agent's health) and publishes it. */
  private async record(job: Job, settlement: Settlement): Promise<AttemptOutcome> {
    const { claimed, owner } = job;
    const now = this.options.clock();
    const recorded = await this.store.queue.record({
      delivery: claimed,
      owner,
      attemptId: settlement.attempt === null ? null : newAttemptId(now.getTime()),
      settlement,
      now,
    });
    if (recorded.delivery === null) this.log.warn({ deliveryId: claimed.id, owner }, 'lease lost before the attempt was settled; another worker owns the delivery');
    return { delivery: recorded.delivery, attempt: settlement.attempt };
  }

  /** Our shutdown aborted the send: the claim goes back as it was, its attempt returned. */
  private async release(job: Job): Promise<AttemptOutcome> {
    const released = await this.store.queue.release(job.claimed.id, job.owner, this.options.clock());
    this.log.info({ deliveryId: job.claimed.id, released }, 'send aborted by shutdown; delivery released');
    return { delivery: null, attempt: null };
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
   * its attempt, which reports what went wrong. A batch of one agent is
   * read too: its attempts start together, so each would miss the cache and
   * read the same row.
   */
  async prefetchTargets(claimed: readonly ClaimedDelivery[]): Promise<void> {
    const agents = distinctAgents(claimed);
    if (agents.length === 0) return;
    const token = this.targets.token();
    const now = this.options.clock();
    const found = await this.store.read((r) => r.preferences.deliveryTargets(agents, now));
    for (const agent of agents) {
      const target = found.get(agentKey(agent.tenantId, agent.agentId));
      if (target !== undefined) this.targets.set(agent.tenantId, agent.agentId, target, token, now.getTime());
    }
  }
}
