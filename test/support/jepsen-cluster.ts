// What the Jepsen-style data-node tests share: six storage-node processes, writers on one volume
// in cluster read consistency, and ioredis clients that never retry (a command in flight on a
// lost connection is indeterminate, and the checkers must see it as such).
import type { Redis } from 'ioredis';
import { connectRedis } from './clients.js';
import { type RunningDataNode, startDataNode } from './data-nodes.js';
import { sleep } from './prng.js';
import { type StorageFleet, startStorageFleet } from './storage-fleet.js';

export interface NemesisOptions {
  random: () => number;
  /**
   * How many fault steps to take. The nemesis counts steps, not time: a slow machine takes
   * longer over them but sees the same faults, so a test's "at least N kills" cannot fail there.
   */
  steps: number;
  /** Indexes of the writers still running; one is SIGKILLed and leaves it, when given. */
  alive?: Set<number>;
}

/** The nemesis's storage actions, in turn: three kills in every five steps. */
const NEMESIS_CYCLE = ['kill', 'kill', 'restart-one', 'kill', 'restart-all'] as const;

export interface WorkloadEnd {
  /** The workload runs at least this long (ms since it started)… */
  workloadMs: number;
  /** …and at least this long after the nemesis has healed everything. */
  healedMs: number;
  /**
   * Then on until `enough` holds, for at most `workloadMaxMs − workloadMs` more. A slow nemesis
   * moves both ends on: the healed run is never shorter than a fast machine's.
   */
  workloadMaxMs: number;
  enough: () => boolean;
}

/** Waits, once the nemesis has healed everything (now), until the workload may stop. */
export async function untilWorkloadEnds(now: () => number, end: WorkloadEnd): Promise<void> {
  const earliest = Math.max(end.workloadMs, now() + end.healedMs);
  const latest = earliest + end.workloadMaxMs - end.workloadMs;
  while (now() < earliest || (now() < latest && !end.enough())) await sleep(100);
}

export interface JepsenClusterOptions {
  /** The cluster's name, which is its volume's too. */
  name: string;
  writers: number;
  /** Writer ids are `<idPrefix><n>`, n from 1. */
  idPrefix: string;
  commandTimeoutMs: number;
}

export class JepsenCluster {
  /** Filled by `start`, in order: writer i has coordinator id 7 + i. */
  readonly writers: RunningDataNode[] = [];
  private storage: StorageFleet | undefined;
  private readonly clients = new Set<Redis>();

  constructor(private readonly options: JepsenClusterOptions) {}

  get fleet(): StorageFleet {
    if (this.storage === undefined) throw new Error('the Jepsen cluster has not started');
    return this.storage;
  }

  async start(): Promise<void> {
    this.storage = await startStorageFleet();
    const storage = this.storage.nodes;
    const { name, idPrefix } = this.options;
    this.writers.push(
      ...(await Promise.all(
        Array.from({ length: this.options.writers }, (_, index) =>
          startDataNode({
            id: `${idPrefix}${index + 1}`,
            storage,
            coordinatorId: 7 + index,
            cluster: name,
            volume: name,
            cu: 8,
            readConsistency: 'cluster',
          }),
        ),
      )),
    );
  }

  /** A client of writer `index`, connected; it never reconnects or resends. */
  connect(index: number): Promise<Redis> {
    const writer = this.writers[index] as RunningDataNode;
    return connectRedis(
      writer.respPort,
      {
        enableOfflineQueue: false,
        autoResendUnfulfilledCommands: false,
        commandTimeout: this.options.commandTimeoutMs,
        connectTimeout: 5_000,
      },
      this.clients,
    );
  }

  /**
   * Storage faults in a fixed cycle with random victims (at most two down at once), 400–1,100 ms
   * apart, and, when `alive` is given, one writer SIGKILLed at a random step in the middle;
   * everything storage is restarted at the end.
   */
  async nemesis(
    options: NemesisOptions,
  ): Promise<{ kills: number; restarts: number; killedWriter: number | null }> {
    const { random, steps, alive } = options;
    const fleet = this.fleet;
    const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)] as T;
    const down = new Set<number>();
    const writerKillStep = alive === undefined ? -1 : Math.floor(steps * (0.3 + random() * 0.25));
    let kills = 0;
    let restarts = 0;
    let killedWriter: number | null = null;
    for (let step = 0; step < steps; step++) {
      await sleep(400 + random() * 700);
      if (alive !== undefined && step === writerKillStep) {
        killedWriter = Math.floor(random() * this.writers.length);
        alive.delete(killedWriter);
        (this.writers[killedWriter] as RunningDataNode).kill();
        continue;
      }
      const action = NEMESIS_CYCLE[step % NEMESIS_CYCLE.length];
      if (action === 'kill' && down.size < 2) {
        const victim = pick([0, 1, 2, 3, 4, 5].filter((index) => !down.has(index)));
        await fleet.kill(victim);
        down.add(victim);
        kills++;
      } else if (action === 'restart-one' && down.size > 0) {
        const back = pick([...down]);
        await fleet.restart(back);
        down.delete(back);
        restarts++;
      } else if (action === 'restart-all') {
        for (const index of down) await fleet.restart(index);
        restarts += down.size;
        down.clear();
      }
    }
    for (const index of down) await fleet.restart(index);
    restarts += down.size;
    return { kills, restarts, killedWriter };
  }

  drop(client: Redis): void {
    client.disconnect();
    this.clients.delete(client);
  }

  disconnectAll(): void {
    for (const client of this.clients) client.disconnect();
    this.clients.clear();
  }

  async stop(): Promise<void> {
    this.disconnectAll();
    await Promise.all(this.writers.map((writer) => writer.stop()));
    await this.storage?.stop();
  }
}
