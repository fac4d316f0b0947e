/**
 * In-process bus of delivery changes. The worker listens for `enqueued` to
 * wake at once instead of waiting for its next poll; WatchDeliveries streams
 * `changed` and `agentDisabled`; the dispatcher's target cache drops an agent on
 * `preferencesChanged`. Events from other replicas are not seen here (the
 * target cache hears of theirs through PostgreSQL, see Store.listenForPreferenceChanges).
 */
import { EventEmitter } from 'node:events';
import type { Delivery, DeliveryAttempt } from '../domain/types.js';

export interface DeliveryChange {
  readonly delivery: Delivery;
  readonly attempt: DeliveryAttempt | null;
  readonly at: Date;
}

/** Herald turned an agent's webhook off on its own initiative (410 Gone, or too many failures in a row). */
export interface AgentDisabled {
  readonly tenantId: string;
  readonly agentId: string;
  /** The delivery whose ending turned the webhook off. */
  readonly deliveryId: string;
  /** As recorded in the preferences' `webhookDisabledReason`. */
  readonly reason: string;
  /** Deliveries that had ended FAILED in a row. */
  readonly consecutiveFailures: number;
  readonly at: Date;
}

export class DeliveryEvents {
  private readonly emitter = new EventEmitter();

  constructor() {
    // Every WatchDeliveries stream is a listener; the default warning at 10 would be noise.
    this.emitter.setMaxListeners(0);
  }

  /** A delivery was enqueued and is due at `dueAt`. */
  enqueued(dueAt: Date): void {
    this.emitter.emit('enqueued', dueAt);
  }

  changed(change: DeliveryChange): void {
    this.emitter.emit('changed', change);
  }

  agentDisabled(event: AgentDisabled): void {
    this.emitter.emit('agentDisabled', event);
  }

  /** An agent's webhook target (URL, secrets, headers, on/off) changed in this process, after commit. */
  preferencesChanged(tenantId: string, agentId: string): void {
    this.emitter.emit('preferencesChanged', tenantId, agentId);
  }

  onPreferencesChanged(listener: (tenantId: string, agentId: string) => void): () => void {
    this.emitter.on('preferencesChanged', listener);
    return () => this.emitter.off('preferencesChanged', listener);
  }

  onAgentDisabled(listener: (event: AgentDisabled) => void): () => void {
    this.emitter.on('agentDisabled', listener);
    return () => this.emitter.off('agentDisabled', listener);
  }

  onEnqueued(listener: (dueAt: Date) => void): () => void {
    this.emitter.on('enqueued', listener);
    return () => this.emitter.off('enqueued', listener);
  }

  onChanged(listener: (change: DeliveryChange) => void): () => void {
    this.emitter.on('changed', listener);
    return () => this.emitter.off('changed', listener);
  }
}
