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

/** The covered time of one volume as last computed, and until when it holds without an event. */
interface CoveredMemo {
  sinceMs: number;
  /** The first silence deadline among the streams counted: past it one of them drops out. */
  validUntilMs: number;
}

/** Volumes whose covered time is remembered at once; a writer asks about its own volumes only. */
const COVERED_MEMOS_MAX = 64;

export class NoticeStreams {
  private readonly nodes = new Map<string, NodeState>();
  /**
   * A cached read asks for the covered time on every hit of an entry past the age bound. It
   * changes only when a stream event adds, drops or restarts a stream, or when time passes a
   * counted stream's silence deadline, so it is computed once per such change.
   */
  private readonly coveredMemos = new Map<string, CoveredMemo>();
  /** Streams restarted (a gap, a new stream, a reconnection) since the start: health counters. */
  restarts = 0;

  /** @param nodeIds the protection group */
  constructor(
    nodeIds: readonly string[],
    private readonly streamsNeeded = QUORUM.reads,
  ) {
    for (const id of nodeIds) this.nodes.set(id, { connectedAtMs: null, streams: new Map() });
  }

  connected(node: string, nowMs: number): void {
    const state = this.nodes.get(node);
    if (state === undefined) return;
    state.connectedAtMs = nowMs;
    state.streams.clear();
    this.coveredMemos.clear();
  }

  disconnected(node: string): void {
    const state = this.nodes.get(node);
    if (state === undefined) return;
    if (state.connectedAtMs !== null) this.restarts++;
    state.connectedAtMs = null;
    state.streams.clear();
    this.coveredMemos.clear();
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
    const memo = this.coveredMemos.get(volume);
    if (memo !== undefined && nowMs <= memo.validUntilMs) return memo.sinceMs;
    let validUntilMs = Number.POSITIVE_INFINITY;
    const since = this.liveStreams(volume, nowMs, (wholeSinceMs, deadlineMs) => {
      if (deadlineMs < validUntilMs) validUntilMs = deadlineMs;
      return wholeSinceMs;
    });
    let sinceMs = Number.POSITIVE_INFINITY;
    if (since.length >= this.streamsNeeded) {
      since.sort((a, b) => a - b);
      sinceMs = since[this.streamsNeeded - 1] as number;
    }
    if (this.coveredMemos.size >= COVERED_MEMOS_MAX) this.coveredMemos.clear();
    this.coveredMemos.set(volume, { sinceMs, validUntilMs });
    return sinceMs;
  }

  /** Streams of `volume` that count right now, the ones `coveredSinceMs` counts (health). */
  wholeStreams(volume: string, nowMs: number): number {
    return this.liveStreams(volume, nowMs, () => 0).length;
  }

  /**
   * `visit(wholeSinceMs, silenceDeadlineMs)` of each stream of `volume` that counts at `nowMs`:
   * heard within STREAM_SILENT_MS, or, before its first message, connected within it (whole from
   * the connection's start until its first mark is due).
   */
  private liveStreams<T>(
    volume: string,
    nowMs: number,
    visit: (wholeSinceMs: number, silenceDeadlineMs: number) => T,
  ): T[] {
    const visited: T[] = [];
    for (const state of this.nodes.values()) {
      if (state.connectedAtMs === null) continue;
      const stream = state.streams.get(volume);
      const since = stream === undefined ? state.connectedAtMs : stream.wholeSinceMs;
      const deadlineMs = (stream === undefined ? state.connectedAtMs : stream.heardAtMs) + STREAM_SILENT_MS;
      if (nowMs <= deadlineMs) visited.push(visit(since, deadlineMs));
    }
    return visited;
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
      this.coveredMemos.delete(volume);
      return;
    }
    if (current.stream !== stream || current.n !== previous) {
      this.restarts++;
      current.stream = stream;
      current.wholeSinceMs = nowMs;
      this.coveredMemos.delete(volume);
    } else if (nowMs - current.heardAtMs > STREAM_SILENT_MS) {
      // A silent stream heard again counts again. A stream that was counted and continues only
      // moves its deadline later, so a memo that expires at the earlier one stays right.
      this.coveredMemos.delete(volume);
    }
    current.n = n;
    current.heardAtMs = nowMs;
  }
}
