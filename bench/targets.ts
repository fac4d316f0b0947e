/**
 * Every target the bench checks, with the issue that set it, in one place:
 * the rows of bench/scenarios.ts take theirs from here and the report names
 * the issue beside each (a target outlives the issue that set it until a
 * later one replaces it, as #22 replaced those of #11).
 */

/** A goal a row is checked against: its ratio to its ceiling, or its own value; `issue` set it. */
export interface Target {
  readonly of: 'ratio' | 'value';
  readonly op: '>=' | '<=';
  readonly value: number;
  readonly issue: number;
}

type Provider = 'sqlite' | 'postgresql';

const atLeast = (value: number, issue: number): Target => ({ of: 'ratio', op: '>=', value, issue });
const atMost = (value: number, issue: number, of: Target['of'] = 'value'): Target => ({ of, op: '<=', value, issue });

export const TARGETS = {
  /** CreateNotification → DELIVER over 1,000 agents, worker off: share of the bare echo. */
  createSpread: { sqlite: atLeast(0.4, 22), postgresql: atLeast(0.3, 22) } satisfies Record<Provider, Target>,
  /** The same for one agent (its creates share one agent's lock). */
  createOneAgent: { sqlite: atLeast(0.25, 22), postgresql: atLeast(0.15, 22) } satisfies Record<Provider, Target>,
  /** Three endpoints per agent, share of the one-endpoint row (first set by #18, kept by #22). */
  fanOut: atLeast(0.6, 22),
  /** One agent with 9,000 notifications in its hourly window, share of the one-agent row. */
  hourlyLimit: atLeast(0.95, 22),
  /** Webhook delivery from a backlog: share of bare got. */
  delivery: { sqlite: atLeast(0.7, 22), postgresql: atLeast(0.5, 22) } satisfies Record<Provider, Target>,
  /** p99 create → webhook received at 500/s offered, ms. */
  latencyP99: { sqlite: atMost(25, 22), postgresql: atMost(50, 22) } satisfies Record<Provider, Target>,
  /** Peak RSS of any Herald process, MB. */
  peakRss: atMost(250, 22),
  /** Delivery on an ORDERING_PER_KEY endpoint, share of the unordered row. */
  ordering: atLeast(0.8, 21),
  /** One tenant's p99 while another floods, times its p99 alone. */
  tenantIsolation: atMost(2, 19, 'ratio'),
} as const;
