/**
 * Identifiers: a prefix naming the kind ("ntf_", "dlv_") and a ULID, so ids
 * sort by creation time (useful in indexes and logs) and stay unguessable.
 */
import { randomBytes } from 'node:crypto';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A 26-character ULID: 48 bits of milliseconds, then 80 random bits, Crockford base32. */
export function ulid(now: number = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const random = randomBytes(16);
  let rest = '';
  for (let i = 0; i < 16; i++) rest += CROCKFORD[random[i]! % 32];
  return time + rest;
}

export const newNotificationId = (now?: number): string => `ntf_${ulid(now)}`;
export const newDeliveryId = (now?: number): string => `dlv_${ulid(now)}`;
export const newAttemptId = (now?: number): string => `att_${ulid(now)}`;
export const newEndpointId = (now?: number): string => `ep_${ulid(now)}`;
export const newPortalSessionId = (now?: number): string => `ps_${ulid(now)}`;
