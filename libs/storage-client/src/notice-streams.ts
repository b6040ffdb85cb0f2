// What a writer knows of the `applied` notices it gets from each storage node (ADR 0020): for
// each node and volume, since when its stream of notices has reached this writer whole. A stream
// is whole from the connection's start while every notice arrives in order (`n` = 1, 2, 3, ...)
// and the node's marks (`noticeMark`, every NOTICE_MARK_INTERVAL_MS) repeat the last number seen;
// a missing number, a new stream or a disconnection starts it again from the moment it is seen.
// A stream not heard from for STREAM_SILENT_MS counts as broken until it is heard again: a node
// that stopped (SIGSTOP, a partition TCP has not noticed) sends no notices either.
//
// A cache entry stored at `t` can be served past the cache's age bound while the streams of a
// read quorum have been whole since before `t` (`coveredSinceMs`): every commit has 4 YES voters,
// any 3 nodes include one, and a voter notices the commit whenever it applies it.
// Pure: time comes in as `nowMs`.
import { QUORUM } from '../../quorum/src/index.js';

/** A stream not heard from for this long (no notice, no mark) no longer covers anything. */
export const STREAM_SILENT_MS = 1_500;

interface StreamState {
  /** The node's id for this subscription. */
  stream: number;
  /** The last notice number received. */
  n: number;
  /** Since when the stream has been whole. */
  wholeSinceMs: number;
  heardAtMs: number;
}

interface NodeState {
  /** When the current connection came up; null while down. */
  connectedAtMs: number | null;
  /** volume → its stream on this connection. */
  streams: Map<string, StreamState>;
}

export class NoticeStreams {
  private readonly nodes = new Map<string, NodeState>();
  /** Streams restarted (a gap, a new stream, a reconnection) since the start: health counters. */
  restarts = 0;

  /**
   * @param nodeIds the protection group
   * @param connectedAtMs nodes connected from the start (links that are always up), at this time
   */
  constructor(
    nodeIds: readonly string[],
    private readonly streamsNeeded = QUORUM.reads,
    connectedAtMs: number | null = null,
  ) {
    for (const id of nodeIds) this.nodes.set(id, { connectedAtMs, streams: new Map() });
  }

  connected(node: string, nowMs: number): void {
    const state = this.nodes.get(node);
    if (state === undefined) return;
    state.connectedAtMs = nowMs;
    state.streams.clear();
  }

  disconnected(node: string): void {
    const state = this.nodes.get(node);
    if (state === undefined) return;
    if (state.connectedAtMs !== null) this.restarts++;
    state.connectedAtMs = null;
    state.streams.clear();
  }

  /** An `applied` notice: whole when it is the stream's next number. */
  notice(node: string, volume: string, stream: number, n: number, nowMs: number): void {
    this.heard(node, volume, stream, n, n - 1, nowMs);
  }

  /** A `noticeMark`: whole when it repeats the last number received. */
  mark(node: string, volume: string, stream: number, n: number, nowMs: number): void {
    this.heard(node, volume, stream, n, n, nowMs);
  }

  /**
   * Since when the streams of `streamsNeeded` nodes for `volume` have been whole and heard from
   * within STREAM_SILENT_MS: an entry stored after this time has heard of every commit a voter
   * applied since. +Infinity when fewer streams than that are whole.
   */
  coveredSinceMs(volume: string, nowMs: number): number {
    const since: number[] = [];
    for (const state of this.nodes.values()) {
      if (state.connectedAtMs === null) continue;
      const stream = state.streams.get(volume);
      if (stream === undefined) {
        // Nothing heard yet on this connection: whole from its start until the first mark is due.
        if (nowMs - state.connectedAtMs <= STREAM_SILENT_MS) since.push(state.connectedAtMs);
      } else if (nowMs - stream.heardAtMs <= STREAM_SILENT_MS) since.push(stream.wholeSinceMs);
    }
    if (since.length < this.streamsNeeded) return Number.POSITIVE_INFINITY;
    since.sort((a, b) => a - b);
    return since[this.streamsNeeded - 1] as number;
  }

  /** Whole streams per volume right now (health). */
  wholeStreams(volume: string, nowMs: number): number {
    let count = 0;
    for (const state of this.nodes.values()) {
      const stream = state.connectedAtMs === null ? undefined : state.streams.get(volume);
      if (stream !== undefined && nowMs - stream.heardAtMs <= STREAM_SILENT_MS) count++;
    }
    return count;
  }

  /**
   * `previous` is the number the stream must have reached for this message to continue it. The
   * first message of a connection continues it when nothing came before it (`previous` is 0):
   * the node numbers each new subscription from 1.
   */
  private heard(
    node: string,
    volume: string,
    stream: number,
    n: number,
    previous: number,
    nowMs: number,
  ): void {
    const state = this.nodes.get(node);
    if (state === undefined || state.connectedAtMs === null) return;
    const current = state.streams.get(volume);
    if (current === undefined) {
      const whole = previous === 0;
      if (!whole) this.restarts++;
      state.streams.set(volume, {
        stream,
        n,
        wholeSinceMs: whole ? state.connectedAtMs : nowMs,
        heardAtMs: nowMs,
      });
      return;
    }
    if (current.stream !== stream || current.n !== previous) {
      this.restarts++;
      current.stream = stream;
      current.wholeSinceMs = nowMs;
    }
    current.n = n;
    current.heardAtMs = nowMs;
  }
}
