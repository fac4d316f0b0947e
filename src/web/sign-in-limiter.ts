/**
 * A limit on failed console sign-ins per client address, so a token cannot
 * be guessed at the speed of the network: after {@link SIGN_IN_FAILURES}
 * failures within {@link SIGN_IN_WINDOW_MS}, sign-ins from that address are
 * refused (429, Retry-After) until the oldest of them leaves the window.
 * Successful sign-ins do not reset the count: a holder of any valid token
 * could otherwise clear it between guesses.
 *
 * In memory, per process, and bounded: at most {@link SIGN_IN_ADDRESSES}
 * addresses are tracked; beyond that the one whose last failure is oldest is
 * forgotten first (expired ones come first by construction). An attacker
 * with more addresses than that is slowed less, never the memory unbounded.
 */

/** Failed sign-ins allowed per address within the window. */
export const SIGN_IN_FAILURES = 10;
/** The sliding window of the limit, in milliseconds (one minute). */
export const SIGN_IN_WINDOW_MS = 60_000;
/** Addresses tracked at most. */
export const SIGN_IN_ADDRESSES = 10_000;

export interface SignInLimits {
  readonly failures: number;
  readonly windowMs: number;
  readonly addresses: number;
}

const DEFAULT_LIMITS: SignInLimits = { failures: SIGN_IN_FAILURES, windowMs: SIGN_IN_WINDOW_MS, addresses: SIGN_IN_ADDRESSES };

/**
 * The key an address is limited by: IPv4 (also IPv4-mapped IPv6) as it is,
 * IPv6 by its /64, since one host usually holds a whole /64.
 */
export function clientKey(address: string | undefined): string {
  if (address === undefined || address === '') return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (!address.includes(':')) return address;
  const bare = address.split('%')[0] ?? address;
  const [head = '', tail] = bare.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => (g === '' ? '0' : g.toLowerCase().replace(/^0+(?=.)/, '')))
    .join(':')}::/64`;
}

export class SignInLimiter {
  /** Per key, the instants of its failures within the window, oldest first, at most `failures` of them; keys in order of their last failure. */
  private readonly recent = new Map<string, number[]>();
  private readonly limits: SignInLimits;

  constructor(
    private readonly now: () => number,
    limits: Partial<SignInLimits> = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** Milliseconds until `key` may try again; 0 when it may now. */
  retryAfterMs(key: string): number {
    const times = this.live(key);
    if (times.length < this.limits.failures) return 0;
    return (times[times.length - this.limits.failures] ?? 0) + this.limits.windowMs - this.now();
  }

  recordFailure(key: string): void {
    const times = this.live(key);
    times.push(this.now());
    if (times.length > this.limits.failures) times.shift();
    // Re-inserted, so the map stays in order of last failure.
    this.recent.delete(key);
    while (this.recent.size >= this.limits.addresses) {
      const oldest = this.recent.keys().next().value;
      if (oldest === undefined) break;
      this.recent.delete(oldest);
    }
    this.recent.set(key, times);
  }

  /** Addresses tracked now. */
  get size(): number {
    return this.recent.size;
  }

  private live(key: string): number[] {
    const times = this.recent.get(key);
    if (times === undefined) return [];
    const since = this.now() - this.limits.windowMs;
    while (times.length > 0 && (times[0] ?? 0) <= since) times.shift();
    if (times.length === 0) this.recent.delete(key);
    return times;
  }
}
