/**
 * In-process bus of notification decisions: metrics count them and the debug
 * log shows them, without either living inside the create path.
 */
import { EventEmitter } from 'node:events';
import type { Notification } from '../domain/types.js';

export class NotificationEvents {
  private readonly emitter = new EventEmitter();

  /** A notification was stored with a fresh decision (replays of an idempotency key are not decisions). */
  decided(notification: Notification): void {
    this.emitter.emit('decided', notification);
  }

  onDecided(listener: (notification: Notification) => void): () => void {
    this.emitter.on('decided', listener);
    return () => this.emitter.off('decided', listener);
  }
}
