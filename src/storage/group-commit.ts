/**
 * Group commit: the work of concurrent callers runs in one transaction, so
 * that many creates pay for one BEGIN, one COMMIT and one fsync between
 * them. A group starts as soon as no other is running (no added wait when
 * the service is idle) and takes every caller that arrived meanwhile, so
 * groups grow with the load by themselves. A group holds at most one member
 * per agent (a later one waits for the next group, in order), so no member
 * needs to read rows another member of the same group has yet to write.
 */
import { agentLockKey } from './repositories.js';

/** The agent whose lock a member's work needs. */
export interface GroupAgent {
  readonly tenantId: string;
  readonly agentId: string;
}

/** One caller's work, and how to answer it. */
export interface GroupMember<R> {
  readonly agent: GroupAgent;
  /** `agentLockKey` of the agent: a group takes all of its members' locks in one sorted pass. */
  readonly lockKey: string;
  readonly work: (repos: R) => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (reason: unknown) => void;
}

/** Runs a whole group; Store implements it (see Store.writeGrouped). */
export type GroupRunner<R> = (members: ReadonlyArray<GroupMember<R>>) => Promise<void>;

export interface GroupCommitOptions {
  /** Members per transaction at most: bounds how long one transaction holds its locks. */
  readonly maxMembers: number;
  /** Groups running at once (their transactions on separate connections). */
  readonly maxGroups: number;
}

export class GroupCommit<R> {
  private waiting: Array<GroupMember<R>> = [];
  private running = 0;
  private scheduled = false;

  constructor(
    private readonly runGroup: GroupRunner<R>,
    private readonly options: GroupCommitOptions,
  ) {}

  submit<T>(agent: GroupAgent, work: (repos: R) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const lockKey = agentLockKey(agent.tenantId, agent.agentId);
      this.waiting.push({ agent, lockKey, work, resolve: resolve as (value: unknown) => void, reject });
      this.schedule();
    });
  }

  /**
   * Starts groups on the next turn of the event loop rather than at once:
   * the callers a finished group answered come back within the same turn,
   * and would otherwise trickle into a group of one or two.
   */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.startGroups();
    });
  }

  private startGroups(): void {
    while (this.running < this.options.maxGroups && this.waiting.length > 0) {
      const members = this.takeGroup();
      this.running++;
      void this.runGroup(members)
        .catch((err: unknown) => {
          // The runner answers every member itself; this only keeps a bug in it from leaving callers waiting.
          for (const m of members) m.reject(err);
        })
        .finally(() => {
          this.running--;
          this.schedule();
        });
    }
  }

  /** The oldest waiting members, one per agent, up to maxMembers; the rest keep their order. */
  private takeGroup(): Array<GroupMember<R>> {
    const members: Array<GroupMember<R>> = [];
    const agents = new Set<string>();
    const left: Array<GroupMember<R>> = [];
    for (const m of this.waiting) {
      if (members.length < this.options.maxMembers && !agents.has(m.lockKey)) {
        agents.add(m.lockKey);
        members.push(m);
      } else {
        left.push(m);
      }
    }
    this.waiting = left;
    return members;
  }
}
