/**
 * Each tenant's share of the process: while the process is shared (another
 * tenant made a call within the last SHARED_WINDOW_MS), a tenant may have
 * at most `maxInFlight` unary calls in progress at once
 * (HERALD_TENANT_MAX_IN_FLIGHT). A tenant flooding Herald then gets
 * RESOURCE_EXHAUSTED for the excess at once, for the cost of an
 * authentication, instead of queueing in front of every other tenant's
 * calls; the answer carries a retry hint (`grpc-retry-pushback-ms`, which
 * grpc clients with a retry policy obey).
 *
 * A bound on calls in flight rather than a rate: it needs no tuning to the
 * machine (a faster server lets a tenant make more calls per second within
 * the same bound) and frees itself as calls end, so a crashed client never
 * holds a share. It applies only while another tenant is active: a process
 * serving one tenant has nobody to be fair to, and a burst that 0.2 served
 * (a hundred creates at once) is served as before.
 */
import { TenantBusyError } from './status.js';

/** How recently another tenant must have been active for the process to count as shared, ms. */
export const SHARED_WINDOW_MS = 1_000;
/** Weight of the newest call in a tenant's mean call duration (an exponential moving average). */
const DURATION_WEIGHT = 0.1;
/** Bounds of the retry hint, ms. */
const MIN_HINT_MS = 10;
const MAX_HINT_MS = 1_000;
/** Calls admitted between two sweeps of tenants idle for longer than the window. */
const SWEEP_EVERY = 1_024;

interface TenantState {
  inFlight: number;
  /** When its last call ended (performance.now() ms); while calls are in flight it is active anyway. */
  lastEndedAt: number;
  /** Mean duration of its recent calls, ms. */
  meanMs: number;
}

export class TenantAdmission {
  private readonly tenants = new Map<string, TenantState>();
  private admitted = 0;

  /**
   * @param maxInFlight calls of one tenant in progress at once while the process is shared.
   * @param now a monotonic clock, ms (tests may pass their own).
   */
  constructor(
    readonly maxInFlight: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Admits one call of `tenant` and returns the function that ends it (safe
   * to call more than once); throws TenantBusyError when the tenant already
   * has `maxInFlight` calls in progress and another tenant is active.
   */
  enter(tenant: string): () => void {
    const now = this.now();
    let state = this.tenants.get(tenant);
    if (state === undefined) {
      state = { inFlight: 0, lastEndedAt: now, meanMs: MIN_HINT_MS };
      this.tenants.set(tenant, state);
    }
    if (state.inFlight >= this.maxInFlight && this.othersActive(tenant, now)) {
      // One slot frees, on average, every mean duration / calls in flight; a little later a retry finds one.
      const hintMs = Math.round(Math.min(MAX_HINT_MS, Math.max(MIN_HINT_MS, (2 * state.meanMs) / this.maxInFlight)));
      throw new TenantBusyError(
        `tenant "${tenant}" already has ${state.inFlight} calls in progress on this server, which other tenants share (HERALD_TENANT_MAX_IN_FLIGHT); retry in about ${hintMs} ms`,
        hintMs,
      );
    }
    if (++this.admitted % SWEEP_EVERY === 0) this.sweep(now);
    state.inFlight += 1;
    const entered = state;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const end = this.now();
      entered.inFlight -= 1;
      entered.lastEndedAt = end;
      entered.meanMs += DURATION_WEIGHT * (end - now - entered.meanMs);
    };
  }

  /** Calls of `tenant` in progress now. */
  inFlight(tenant: string): number {
    return this.tenants.get(tenant)?.inFlight ?? 0;
  }

  private othersActive(tenant: string, now: number): boolean {
    for (const [other, state] of this.tenants) {
      if (other !== tenant && (state.inFlight > 0 || now - state.lastEndedAt < SHARED_WINDOW_MS)) return true;
    }
    return false;
  }

  /** Forgets tenants idle for longer than the window, so that the map holds only recent ones. */
  private sweep(now: number): void {
    for (const [tenant, state] of this.tenants) {
      if (state.inFlight === 0 && now - state.lastEndedAt >= SHARED_WINDOW_MS) this.tenants.delete(tenant);
    }
  }
}
