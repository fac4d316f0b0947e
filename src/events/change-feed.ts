/**
 * The one in-process feed of what changed, after it is committed. Storage
 * is its only publisher: repositories record facts on their transaction
 * (`TxFacts` in src/storage/tx-facts.ts), and after COMMIT the store
 * publishes them here and, on PostgreSQL, has already sent their NOTIFY
 * inside the same transaction, so a write path cannot remember one half of a
 * signal and forget the other. Facts from other replicas (NOTIFY) arrive
 * here too, through the store's listeners.
 *
 * Subscribers: the worker (`enqueued`), the dispatcher's target cache
 * (`targetChanged`, `targetsMissed`), WatchDeliveries, metrics and the
 * operator's log (`deliveryChanged`, `agentDisabled`, `decided`), metrics
 * alone (`claimed`).
 */
import { EventEmitter } from 'node:events';
import type { Delivery, DeliveryAttempt, Notification } from '../domain/types.js';

export interface DeliveryChange {
  readonly delivery: Delivery;
  readonly attempt: DeliveryAttempt | null;
  readonly at: Date;
}

/** Herald turned an agent's webhook off on its own initiative (410 Gone, or too many failures in a row). */
export interface AgentDisabled {
  readonly tenantId: string;
  readonly agentId: string;
  /**
   * The endpoint turned off, and whether it is the agent's first (its 0.2
   * webhook, which `enable_webhook` turns on again; any other is turned on
   * with UpdateEndpoint). Null for an agent without endpoints, whose own switch went off.
   */
  readonly endpoint: { readonly id: string; readonly first: boolean } | null;
  /** The delivery whose ending turned the webhook off. */
  readonly deliveryId: string;
  /** As recorded in the preferences' `webhookDisabledReason`. */
  readonly reason: string;
  /** Deliveries that had ended FAILED in a row. */
  readonly consecutiveFailures: number;
  /** What turned it off: the receiver answered 410 Gone, or HERALD_DISABLE_AFTER_FAILURES deliveries failed in a row. */
  readonly cause: 'gone' | 'failures';
  readonly at: Date;
}

/** One committed change. */
export type Fact =
  /** A delivery became due at `dueAt`; null when another replica enqueued it (its due time is not known here). */
  | { readonly kind: 'enqueued'; readonly dueAt: Date | null }
  | { readonly kind: 'deliveryChanged'; readonly change: DeliveryChange }
  | { readonly kind: 'agentDisabled'; readonly disabled: AgentDisabled }
  /** An agent's webhook target (URL, secrets, headers, on/off) changed, here or in another replica. */
  | { readonly kind: 'targetChanged'; readonly tenantId: string; readonly agentId: string }
  /** Changes by other replicas may have been missed (their LISTEN connection came back): forget every target. */
  | { readonly kind: 'targetsMissed' }
  /** This process's worker claimed `count` deliveries (never published for a claim that found none). */
  | { readonly kind: 'claimed'; readonly count: number }
  /** A notification was stored with a fresh decision (a replay of an idempotency key is not one). */
  | { readonly kind: 'decided'; readonly notification: Notification };

export type FactKind = Fact['kind'];
type FactOf<K extends FactKind> = Extract<Fact, { kind: K }>;

export class ChangeFeed {
  private readonly emitter = new EventEmitter();

  /**
   * @param onListenerError - told of a listener that threw. A listener runs
   *   after the COMMIT, inside the publisher's call: its failure must neither
   *   reach the caller whose write succeeded nor keep the other listeners
   *   from hearing of it.
   */
  constructor(private readonly onListenerError: (err: unknown, kind: FactKind) => void = () => undefined) {
    // Every WatchDeliveries stream is a listener; the default warning at 10 would be noise.
    this.emitter.setMaxListeners(0);
  }

  /** Storage only: facts of a committed transaction, or of another replica. */
  publish(facts: readonly Fact[]): void {
    for (const fact of facts) this.emitter.emit(fact.kind, fact);
  }

  /** Calls `listener` with every fact of `kind`; returns the unsubscribe. */
  on<K extends FactKind>(kind: K, listener: (fact: FactOf<K>) => void): () => void {
    const wrapped = (fact: Fact): void => {
      try {
        listener(fact as FactOf<K>);
      } catch (err) {
        this.onListenerError(err, kind);
      }
    };
    this.emitter.on(kind, wrapped);
    return () => this.emitter.off(kind, wrapped);
  }
}
