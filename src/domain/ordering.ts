/**
 * Ordered delivery (issue #21). An endpoint whose `ordering` is PER_KEY sends
 * the webhooks of one ordering key one at a time, in the order Herald
 * acknowledged their creates: a delivery with key K waits while an
 * earlier-numbered delivery of the same endpoint and K is unfinished
 * (PENDING, due or not, deferred or waiting for a retry, or DELIVERING).
 * SUCCEEDED, FAILED and CANCELLED release the next: a delivery that failed
 * for good must not stop its key forever, and it stays visible and replayable.
 *
 * The numbers are taken when the delivery is created, under the agent's lock,
 * so the decision is data on the delivery like every other decision: changing
 * an endpoint's ordering applies to deliveries created afterwards.
 *
 * A digest carries the key and number of the notification that opened it;
 * the notifications it gathers share its place. On a PER_KEY endpoint a
 * notification joins only an open digest of its own key (or, without a key,
 * one without a key), and only while that digest is still the key's latest
 * delivery: once a later delivery of the key exists (an URGENT notification
 * that bypassed quiet hours), a further notification of the key opens a new
 * digest behind it rather than jumping ahead of it inside the older one.
 */
import type { DeliveryOrdering } from './types.js';

/** How an endpoint orders its webhooks; NONE is 0.2's behaviour. */
export const ORDERINGS = ['NONE', 'PER_KEY'] as const;
export type Ordering = (typeof ORDERINGS)[number];

/** The key a delivery to an endpoint of `ordering` is ordered under: only PER_KEY endpoints order, and only keyed notifications. */
export function orderedKey(ordering: Ordering, key: string | null): string | null {
  return ordering === 'PER_KEY' ? key : null;
}

/** The key a digest is gathered under on an endpoint: its notifications' key on a PER_KEY endpoint, none elsewhere. */
export const digestKey = orderedKey;

/** The X-Herald-Ordering-Key and X-Herald-Sequence headers of a delivery that has a place in an order. */
export function orderingHeaders(o: DeliveryOrdering | null): Record<string, string> {
  return o === null ? {} : { 'X-Herald-Ordering-Key': o.key, 'X-Herald-Sequence': String(o.seq) };
}

/**
 * The sentence EvaluateNotification and a create add to a PER_KEY endpoint's
 * explanation when the notification has a key; `unfinished` is how many of
 * the key's deliveries to the endpoint are unfinished now, or null when not read.
 */
export function orderingNote(key: string, unfinished: number | null): string {
  const quoted = JSON.stringify(key.length > 60 ? `${key.slice(0, 60)}…` : key);
  const base = `sent in order of ordering_key ${quoted}`;
  if (unfinished === null) return `${base} (after the earlier webhooks of that key to this endpoint finish)`;
  if (unfinished === 0) return `${base} (no earlier webhook of that key is unfinished now)`;
  return `${base} (waits behind ${unfinished} unfinished earlier webhook${unfinished === 1 ? '' : 's'} of that key)`;
}
