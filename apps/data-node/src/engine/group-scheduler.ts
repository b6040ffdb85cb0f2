// Orders work that touches the same keys and batches work into transactions (group commit).
//
// Two commands on one key from two clients of this writer would otherwise race at the storage
// replicas, where one loses and retries: a hot key would run one command per round trip.
// Instead, work whose keys are busy waits in a group behind the running one, and the whole
// group becomes one transaction when its turn comes. Likewise, once `groupsRunningMax`
// transactions are in flight, new work on free keys gathers in one open batch that starts when
// a transaction finishes: under load, each round trip to the replicas carries many commands.
// Running the commands of a group in arrival order inside one transaction is a serial order,
// so nothing is lost in consistency. Groups form a DAG in creation order, so they cannot wait
// on each other in a cycle. No I/O here: `runGroup` does it.

export interface ScheduledWork {
  /** Every key the work reads or writes. */
  keys: readonly string[];
  /** Work over the whole keyspace (FLUSHDB): after everything before it, before everything after. */
  barrier?: boolean;
}

interface Group<W> {
  works: W[];
  running: boolean;
  waitingOn: number;
  dependents: Group<W>[];
}

export interface GroupSchedulerLimits {
  worksPerGroupMax: number;
  /** Transactions in flight before new work on free keys waits in a batch. */
  groupsRunningMax: number;
}

const NO_GROUPS: readonly never[] = [];

/** `list` with `group` once: made on the first group, as most work comes after none. */
function withGroup<G>(list: G[] | null, group: G): G[] {
  if (list === null) return [group];
  if (!list.includes(group)) list.push(group);
  return list;
}

export class GroupScheduler<W extends ScheduledWork> {
  /** The newest group that touches each key. */
  private readonly tails = new Map<string, Group<W>>();
  /** Work on free keys gathering while the running limit is reached; no dependencies. */
  private openBatch: Group<W> | null = null;
  private groupsRunning = 0;
  private groupsWaiting = 0;
  /** The newest barrier group not finished yet: all later work waits for it. */
  private barrier: Group<W> | null = null;
  /** Every group not finished yet, which a barrier waits for. */
  private readonly live = new Set<Group<W>>();

  constructor(
    private readonly runGroup: (works: W[]) => Promise<void>,
    private readonly limits: GroupSchedulerLimits,
  ) {}

  get stats(): { groupsRunning: number; groupsWaiting: number } {
    return { groupsRunning: this.groupsRunning, groupsWaiting: this.groupsWaiting };
  }

  /**
   * No work submitted before touches any of `keys` and is still unfinished, and no barrier is
   * pending: work on them now would come after nothing.
   */
  isFree(keys: readonly string[]): boolean {
    if (this.barrier !== null) return false;
    for (const key of keys) if (this.tails.has(key)) return false;
    return true;
  }

  submit(work: W): void {
    // The groups this work comes after, each once. Most work (a SET of a key no unfinished work
    // touches) comes after none: no collection is made for it, one less allocation per command.
    let ahead: Group<W>[] | null = null;
    for (const key of work.keys) {
      const tail = this.tails.get(key);
      if (tail !== undefined) ahead = withGroup(ahead, tail);
    }
    if (this.barrier !== null) ahead = withGroup(ahead, this.barrier);
    if (work.barrier === true) {
      for (const group of this.live) ahead = withGroup(ahead, group);
      this.startGroup(work, ahead ?? NO_GROUPS);
      return;
    }
    const before: readonly Group<W>[] = ahead ?? NO_GROUPS;
    if (before.length === 1) {
      const only = before[0] as Group<W>;
      if (!only.running && only.works.length < this.limits.worksPerGroupMax) {
        this.join(only, work);
        return;
      }
    }
    if (before.length === 0 && this.groupsRunning >= this.limits.groupsRunningMax) {
      const batch = this.openBatch;
      if (batch !== null && batch.works.length < this.limits.worksPerGroupMax) {
        this.join(batch, work);
        return;
      }
    }
    this.startGroup(work, before);
  }

  /** A new group for `work`, after the groups `ahead`. */
  private startGroup(work: W, ahead: readonly Group<W>[]): void {
    const group: Group<W> = {
      works: [work],
      running: false,
      waitingOn: 0,
      dependents: [],
    };
    if (work.barrier === true) this.barrier = group;
    this.live.add(group);
    for (const before of ahead) {
      before.dependents.push(group);
      group.waitingOn++;
    }
    for (const key of work.keys) this.tails.set(key, group);
    if (group.waitingOn > 0) {
      this.groupsWaiting++;
    } else if (this.groupsRunning >= this.limits.groupsRunningMax) {
      // A full open batch runs as soon as a slot frees; this one becomes the open batch.
      if (this.openBatch !== null) this.start(this.openBatch);
      this.openBatch = group;
      this.groupsWaiting++;
    } else {
      this.start(group);
    }
  }

  private join(group: Group<W>, work: W): void {
    group.works.push(work);
    for (const key of work.keys) this.tails.set(key, group);
  }

  private start(group: Group<W>): void {
    if (group === this.openBatch) {
      this.openBatch = null;
      this.groupsWaiting--;
    }
    group.running = true;
    this.groupsRunning++;
    // runGroup settles every work itself; a rejection here would be a bug in it.
    void this.runGroup(group.works).finally(() => this.finish(group));
  }

  private finish(group: Group<W>): void {
    this.groupsRunning--;
    if (this.barrier === group) this.barrier = null;
    this.live.delete(group);
    // A group's keys are its works' keys: no set of them is kept, one less per group.
    for (const work of group.works)
      for (const key of work.keys) if (this.tails.get(key) === group) this.tails.delete(key);
    for (const dependent of group.dependents) {
      dependent.waitingOn--;
      if (dependent.waitingOn === 0) {
        this.groupsWaiting--;
        this.start(dependent);
      }
    }
    if (this.openBatch !== null && this.groupsRunning < this.limits.groupsRunningMax)
      this.start(this.openBatch);
  }
}
