/**
 * Read-only figures the operator console shows beside what the gRPC
 * services answer: a tenant's queue, an agent's use of its hourly limit, the
 * agents Herald turned off, its attempts hour by hour. Everything is scoped to one tenant.
 */
import { hourlySeries, seriesWindow, type HourPoint } from '../domain/attempt-series.js';
import { RATE_WINDOW_MS } from '../domain/decision.js';
import type { AgentPreferences } from '../domain/types.js';
import { checkAgentId, LIMITS } from '../domain/validation.js';
import type { Store } from '../storage/database.js';
import type { QueueSnapshot } from '../storage/queue-stats-repository.js';

/** How many agents {@link OverviewService.disabledAgents} looks at, at most: the page says when it stopped there. */
export const DISABLED_SCAN_LIMIT = 2_000;

export class OverviewService {
  constructor(
    private readonly store: Store,
    private readonly clock: () => Date,
  ) {}

  /** The tenant's deliveries by status, how many are due now and since when the oldest has waited. */
  queue(tenant: string): Promise<QueueSnapshot> {
    const now = this.clock();
    return this.store.read((r) => r.queueStats.snapshot(now, tenant));
  }

  /**
   * The tenant's webhook attempts in each of the last 24 UTC hours (the
   * current one included), oldest first: counts, success rate and p50/p95
   * duration; an hour without attempts has null rates.
   */
  async attemptsByHour(tenant: string): Promise<HourPoint[]> {
    const now = this.clock();
    const { from, until } = seriesWindow(now);
    const figures = await this.store.read((r) => r.attemptSeries.hourly(tenant, from, until));
    return hourlySeries(figures, now);
  }

  /**
   * Notifications of the agent that count toward its hourly limit in the
   * rolling hour before now (a notification deferred for the limit counts
   * from when it is sent).
   */
  hourlyUsage(tenant: string, agentId: string): Promise<number> {
    checkAgentId('agent_id', agentId);
    const now = this.clock();
    return this.store.read((r) => r.rate.countedBetween(tenant, agentId, new Date(now.getTime() - RATE_WINDOW_MS), now));
  }

  /** Agents whose webhook Herald turned off (endpoint health), among the first {@link DISABLED_SCAN_LIMIT} by id. */
  async disabledAgents(tenant: string): Promise<{ agents: AgentPreferences[]; complete: boolean }> {
    const agents: AgentPreferences[] = [];
    let after: string | null = null;
    for (let seen = 0; seen < DISABLED_SCAN_LIMIT; ) {
      const cursor: string | null = after;
      const page: AgentPreferences[] = await this.store.read((r) => r.preferences.list(tenant, LIMITS.pageSizeMax, cursor));
      agents.push(...page.filter((p) => p.webhookDisabledReason !== null));
      seen += page.length;
      const last = page.at(-1);
      if (page.length < LIMITS.pageSizeMax || last === undefined) return { agents, complete: true };
      after = last.agentId;
    }
    return { agents, complete: false };
  }
}
