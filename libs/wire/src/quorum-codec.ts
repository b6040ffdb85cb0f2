// A compact encoding of the messages and log records every commit makes (ADR 0023): PROPOSE, VOTE,
// DECIDED, ACCEPT and ACCEPTED on the wire, and the vote, decide, accept and forget records of a
// storage node's log.
//
// Each is one msgpack extension value (type `QUORUM_EXT_TYPE`) whose data lays the fields out in a
// fixed order, so a frame or a log payload is still one msgpack value that any msgpack library
// can walk, and everything else (reads, repairs, snapshots, ...) stays a plain msgpack map. A map
// costs msgpackr a key string per field and a generic walk of every object: a PROPOSE of four
// keys took 2.7 us to pack and 4.0 us to unpack with copies, about a quarter of a commit's CPU
// in one process (docs/performance.md, "A compact encoding of every commit's messages").
// Written by hand because msgpackr's own record extension keeps per-connection state (a message
// is encoded once for six peers) and was slower than plain maps for one message at a time.
//
// Decoding gives the objects msgpack would give for the same message, with byte strings copied
// into Node's pooled memory, as the wire and the log copy msgpack's (`withPooledCopies`). A
// message with a field outside what the layout holds (a blind guard's byte over 255, an unknown
// `vote`) is simply encoded as a map: `writeCompact` says so by returning false.
import { addExtension } from 'msgpackr';
import type {
  AcceptedMessage,
  AcceptMessage,
  BlindGuard,
  DecidedMessage,
  Decision,
  Proposal,
  ProposeMessage,
  ReadEntry,
  TxId,
  VoteMessage,
  VoteValue,
  WriteEntry,
} from '../../quorum/src/messages.js';
import type { ReplicaRecord } from '../../quorum/src/replica.js';
import { withPooledCopies } from './pooled-copies.js';

/** The msgpack extension type of a compact value; msgpackr's own types are 0, 0x42 and up. */
export const QUORUM_EXT_TYPE = 0x10;

// What a compact value holds: its first byte.
const PROPOSE = 1;
const VOTE = 2;
const DECIDED = 3;
const VOTE_RECORD = 4;
const DECIDE_RECORD = 5;
const FORGET_RECORD = 6;
const ACCEPT = 7;
const ACCEPTED = 8;
const ACCEPT_RECORD = 9;

// Presence of an optional or nullable field.
const ABSENT = 0;
const NULL = 1;
const PRESENT = 2;

// A read entry's flags.
const SHARED = 1;
const BLIND = 2;

/** ext32's header: 0xc9, a u32 length, the type. Always this form: the length is known only at the end. */
const EXT_HEADER_BYTES = 6;
/** A string's length takes one byte below `SAME_KEY`; `LONG_STRING` and a u32 announce a longer one. */
const LONG_STRING = 0xff;
/**
 * In place of a written key's length: the key is the read entry's at the same index (a blind
 * write's, a read-modify-write's).
 */
const SAME_KEY = 0xfe;
/** Strings this short and ASCII are written by a loop: cheaper than a call into Buffer's UTF-8 writer. */
const SHORT_STRING = 16;

type CompactRecord = Extract<ReplicaRecord, { kind: 'vote' | 'decide' | 'forget' | 'accept' }>;

/**
 * True when `T`'s fields are exactly `K`. The layouts below write named fields, so a field added
 * to one of these types would be dropped on the way: the build fails here instead, until the
 * layout (and ADR 0023) learn it.
 */
type FieldsAre<T, K extends PropertyKey> = [Exclude<keyof T, K>] extends [never]
  ? [Exclude<K, keyof T>] extends [never]
    ? true
    : false
  : false;
type Holds<T extends true> = T;
export type LayoutsHoldEveryField = [
  Holds<FieldsAre<ProposeMessage, 'type' | 'volume' | 'proposal' | 'heldByAll'>>,
  Holds<FieldsAre<VoteMessage, 'type' | 'volume' | 'txid' | 'vote' | 'reason' | 'held'>>,
  Holds<FieldsAre<DecidedMessage, 'type' | 'volume' | 'txid' | 'decision' | 'proposal'>>,
  Holds<FieldsAre<AcceptMessage, 'type' | 'volume' | 'txid' | 'ballot' | 'decision' | 'proposal'>>,
  Holds<FieldsAre<AcceptedMessage, 'type' | 'volume' | 'txid' | 'ballot' | 'ok' | 'promisedBallot'>>,
  Holds<FieldsAre<Proposal, 'txid' | 'reads' | 'writes' | 'proposedAtMs'>>,
  Holds<FieldsAre<ReadEntry, 'key' | 'seq' | 'shared' | 'blind'>>,
  Holds<FieldsAre<BlindGuard, 'mask' | 'firstBytes'>>,
  Holds<FieldsAre<WriteEntry, 'key' | 'value'>>,
  Holds<
    FieldsAre<
      Extract<ReplicaRecord, { kind: 'vote' }>,
      'kind' | 'volume' | 'txid' | 'vote' | 'proposal' | 'atMs'
    >
  >,
  Holds<
    FieldsAre<
      Extract<ReplicaRecord, { kind: 'decide' }>,
      'kind' | 'volume' | 'txid' | 'decision' | 'proposal' | 'atMs'
    >
  >,
  Holds<
    FieldsAre<Extract<ReplicaRecord, { kind: 'forget' }>, 'kind' | 'volume' | 'txids' | 'atMs' | 'repaired'>
  >,
  Holds<
    FieldsAre<
      Extract<ReplicaRecord, { kind: 'accept' }>,
      'kind' | 'volume' | 'txid' | 'ballot' | 'decision' | 'proposal' | 'atMs'
    >
  >,
];

/** The writer's scratch memory: most values fit; it grows for one that does not, and shrinks back after. */
const SCRATCH_BYTES = 64 * 1024;
const SCRATCH_BYTES_KEPT_MAX = 1024 * 1024;

/** Signals a field the layout cannot hold; the value is then encoded as a map instead. */
class NotCompact extends Error {}
const NOT_COMPACT = new NotCompact();

/**
 * Writes compact values into one growing buffer; `take` copies out what was written. One writer
 * serves the whole process: encoding is synchronous, so no two values interleave.
 */
export class CompactWriter {
  private bytes = Buffer.allocUnsafeSlow(SCRATCH_BYTES);
  private position = 0;

  /** Starts a new output with `reserve` bytes left free in front (a frame header). */
  reset(reserve = 0): void {
    // One large message (up to a frame's 16 MiB) must not keep its scratch memory for good.
    if (this.bytes.length > SCRATCH_BYTES_KEPT_MAX) this.bytes = Buffer.allocUnsafeSlow(SCRATCH_BYTES);
    this.position = reserve;
  }

  /** The scratch memory held now: bounded between values (`reset`). */
  get scratchBytes(): number {
    return this.bytes.length;
  }

  /** A copy of what was written since `reset`, the reserved bytes included. */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.position);
    this.bytes.copy(out, 0, 0, this.position);
    return out;
  }

  /** Bytes encoded some other way (a msgpack map), appended as they are. */
  raw(encoded: Uint8Array): void {
    this.ensure(encoded.length);
    this.bytes.set(encoded, this.position);
    this.position += encoded.length;
  }

  /** A msgpack array32 header: `count` values follow. */
  arrayHeader(count: number): void {
    this.ensure(5);
    this.bytes[this.position] = 0xdd;
    this.bytes.writeUInt32BE(count, this.position + 1);
    this.position += 5;
  }

  /**
   * Appends `value` as a compact extension value when it is a message or record this encoding
   * holds, and returns true; otherwise writes nothing and returns false.
   */
  writeCompact(value: unknown): boolean {
    const kind = compactKind(value);
    if (kind === 0) return false;
    const start = this.position;
    this.ensure(EXT_HEADER_BYTES + 1);
    this.bytes[start] = 0xc9;
    this.bytes[start + 5] = QUORUM_EXT_TYPE;
    this.position = start + EXT_HEADER_BYTES;
    this.u8(kind);
    try {
      this.body(kind, value);
    } catch (error) {
      if (error !== NOT_COMPACT) throw error;
      this.position = start;
      return false;
    }
    this.bytes.writeUInt32BE(this.position - start - EXT_HEADER_BYTES, start + 1);
    return true;
  }

  private body(kind: number, value: unknown): void {
    switch (kind) {
      case PROPOSE: {
        const message = value as ProposeMessage;
        this.string(message.volume);
        this.proposal(message.proposal);
        this.optionalTxids(message.heldByAll);
        return;
      }
      case VOTE: {
        const message = value as VoteMessage;
        this.string(message.volume);
        this.string(message.txid);
        this.u8(voteByte(message.vote));
        if (message.reason === undefined) this.u8(ABSENT);
        else {
          this.u8(PRESENT);
          this.string(message.reason);
        }
        this.optionalTxids(message.held);
        return;
      }
      case DECIDED: {
        const message = value as DecidedMessage;
        this.string(message.volume);
        this.string(message.txid);
        this.u8(decisionByte(message.decision));
        if (message.proposal === undefined) this.u8(ABSENT);
        else {
          this.u8(PRESENT);
          this.proposal(message.proposal);
        }
        return;
      }
      case VOTE_RECORD:
      case DECIDE_RECORD: {
        const record = value as Extract<ReplicaRecord, { kind: 'vote' | 'decide' }>;
        this.string(record.volume);
        this.string(record.txid);
        this.u8(record.kind === 'vote' ? voteByte(record.vote) : decisionByte(record.decision));
        this.nullableProposal(record.proposal);
        this.f64(record.atMs);
        return;
      }
      case FORGET_RECORD: {
        const record = value as Extract<ReplicaRecord, { kind: 'forget' }>;
        this.string(record.volume);
        this.txids(record.txids);
        this.f64(record.atMs);
        if (record.repaired === undefined) this.u8(ABSENT);
        else if (record.repaired === true) this.u8(PRESENT);
        else throw NOT_COMPACT;
        return;
      }
      case ACCEPT:
      case ACCEPT_RECORD: {
        const accept = value as AcceptMessage | Extract<ReplicaRecord, { kind: 'accept' }>;
        this.string(accept.volume);
        this.string(accept.txid);
        this.f64(accept.ballot);
        this.u8(decisionByte(accept.decision));
        this.nullableProposal(accept.proposal);
        if (kind === ACCEPT_RECORD) this.f64((accept as Extract<ReplicaRecord, { kind: 'accept' }>).atMs);
        return;
      }
      case ACCEPTED: {
        const message = value as AcceptedMessage;
        this.string(message.volume);
        this.string(message.txid);
        this.f64(message.ballot);
        if (typeof message.ok !== 'boolean') throw NOT_COMPACT;
        this.u8(message.ok ? 1 : 0);
        this.f64(message.promisedBallot);
        return;
      }
    }
  }

  private nullableProposal(proposal: Proposal | null): void {
    if (proposal === null) this.u8(NULL);
    else {
      this.u8(PRESENT);
      this.proposal(proposal);
    }
  }

  private proposal(proposal: Proposal): void {
    this.string(proposal.txid);
    this.f64(proposal.proposedAtMs);
    this.u32(proposal.reads.length);
    for (const read of proposal.reads) this.read(read);
    this.u32(proposal.writes.length);
    const { reads, writes } = proposal;
    for (let index = 0; index < writes.length; index++) {
      const write = writes[index] as WriteEntry;
      // Both strings are usually the very same one, which makes this comparison a pointer's.
      if (index < reads.length && (reads[index] as ReadEntry).key === write.key) this.u8(SAME_KEY);
      else this.string(write.key);
      this.writeValue(write.value);
    }
  }

  private read(read: ReadEntry): void {
    this.string(read.key);
    this.f64(read.seq);
    const { shared, blind } = read;
    if (shared !== undefined && shared !== true) throw NOT_COMPACT;
    this.u8((shared === true ? SHARED : 0) | (blind === undefined ? 0 : BLIND));
    if (blind === undefined) return;
    const { mask, firstBytes } = blind;
    if (!isByte(mask) || firstBytes.length > 0xff) throw NOT_COMPACT;
    this.u8(mask);
    this.u8(firstBytes.length);
    for (const byte of firstBytes) {
      if (!isByte(byte)) throw NOT_COMPACT;
      this.u8(byte);
    }
  }

  private writeValue(value: Uint8Array | null): void {
    if (value === null) {
      this.u8(NULL);
      return;
    }
    if (!(value instanceof Uint8Array)) throw NOT_COMPACT;
    this.u8(PRESENT);
    this.u32(value.length);
    this.raw(value);
  }

  private optionalTxids(txids: readonly TxId[] | undefined): void {
    if (txids === undefined) this.u8(ABSENT);
    else {
      this.u8(PRESENT);
      this.txids(txids);
    }
  }

  private txids(txids: readonly TxId[]): void {
    this.u32(txids.length);
    for (const txid of txids) this.string(txid);
  }

  private string(text: string): void {
    if (typeof text !== 'string') throw NOT_COMPACT;
    const length = text.length;
    // UTF-8 takes at most 3 bytes per UTF-16 unit, so a short string's length fits its one byte.
    const most = length * 3;
    this.ensure(5 + most);
    const bytes = this.bytes;
    if (length <= SHORT_STRING) {
      const start = this.position + 1;
      let index = 0;
      for (; index < length; index++) {
        const unit = text.charCodeAt(index);
        if (unit >= 0x80) break;
        bytes[start + index] = unit;
      }
      if (index === length) {
        bytes[this.position] = length;
        this.position = start + length;
        return;
      }
    }
    if (most < SAME_KEY) {
      const written = bytes.write(text, this.position + 1, 'utf8');
      bytes[this.position] = written;
      this.position += 1 + written;
    } else {
      const written = bytes.write(text, this.position + 5, 'utf8');
      bytes[this.position] = LONG_STRING;
      bytes.writeUInt32LE(written, this.position + 1);
      this.position += 5 + written;
    }
  }

  private u8(value: number): void {
    this.ensure(1);
    this.bytes[this.position++] = value;
  }

  private u32(value: number): void {
    this.ensure(4);
    this.bytes.writeUInt32LE(value, this.position);
    this.position += 4;
  }

  private f64(value: number): void {
    if (typeof value !== 'number') throw NOT_COMPACT;
    this.ensure(8);
    this.bytes.writeDoubleLE(value, this.position);
    this.position += 8;
  }

  private ensure(bytes: number): void {
    if (this.position + bytes <= this.bytes.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(this.bytes.length * 2, this.position + bytes));
    this.bytes.copy(grown, 0, 0, this.position);
    this.bytes = grown;
  }
}

function compactKind(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  const { type, kind } = value as { type?: unknown; kind?: unknown };
  if (type === 'propose') return PROPOSE;
  if (type === 'vote') return VOTE;
  if (type === 'decided') return DECIDED;
  if (kind === 'vote') return VOTE_RECORD;
  if (kind === 'decide') return DECIDE_RECORD;
  if (kind === 'forget') return FORGET_RECORD;
  if (type === 'accept') return ACCEPT;
  if (type === 'accepted') return ACCEPTED;
  if (kind === 'accept') return ACCEPT_RECORD;
  return 0;
}

function isByte(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xff;
}

function voteByte(vote: VoteValue): number {
  if (vote === 'yes') return 1;
  if (vote === 'no') return 0;
  throw NOT_COMPACT;
}

function decisionByte(decision: Decision): number {
  if (decision === 'commit') return 1;
  if (decision === 'abort') return 0;
  throw NOT_COMPACT;
}

/** The process's one writer (see `CompactWriter`). */
export const compactWriter = new CompactWriter();

/** `value`'s compact encoding (a whole msgpack extension value), or null when it has none. */
export function encodeCompact(value: unknown, reserve = 0): Buffer | null {
  compactWriter.reset(reserve);
  return compactWriter.writeCompact(value) ? compactWriter.take() : null;
}

// ---- decoding -----------------------------------------------------------------------------------

/** A compact value that does not parse: the bytes are damaged, or not this encoding. */
export class CompactDecodeError extends Error {
  override readonly name = 'CompactDecodeError';
}

let lastGuard: BlindGuard = { mask: -1, firstBytes: [] };

/** Reads one compact value's data (the extension's bytes, after its type). */
class CompactReader {
  private position = 0;

  constructor(private readonly data: Buffer) {}

  value(): CompactValue {
    const kind = this.u8();
    let value: CompactValue;
    switch (kind) {
      case PROPOSE: {
        const volume = this.string();
        const proposal = this.proposal();
        const heldByAll = this.optionalTxids();
        const message: ProposeMessage = { type: 'propose', volume, proposal };
        if (heldByAll !== undefined) message.heldByAll = heldByAll;
        value = message;
        break;
      }
      case VOTE: {
        const volume = this.string();
        const txid = this.string();
        const vote = this.vote();
        const message: VoteMessage = { type: 'vote', volume, txid, vote };
        if (this.presence(false) === PRESENT) message.reason = this.string();
        const held = this.optionalTxids();
        if (held !== undefined) message.held = held;
        value = message;
        break;
      }
      case DECIDED: {
        const volume = this.string();
        const txid = this.string();
        const decision = this.decision();
        const message: DecidedMessage = { type: 'decided', volume, txid, decision };
        if (this.presence(false) === PRESENT) message.proposal = this.proposal();
        value = message;
        break;
      }
      case VOTE_RECORD: {
        const volume = this.string();
        const txid = this.string();
        const vote = this.vote();
        const proposal = this.nullableProposal();
        value = { kind: 'vote', volume, txid, vote, proposal, atMs: this.f64() };
        break;
      }
      case DECIDE_RECORD: {
        const volume = this.string();
        const txid = this.string();
        const decision = this.decision();
        const proposal = this.nullableProposal();
        value = { kind: 'decide', volume, txid, decision, proposal, atMs: this.f64() };
        break;
      }
      case FORGET_RECORD: {
        const volume = this.string();
        const txids = this.txids();
        const atMs = this.f64();
        const record: Extract<ReplicaRecord, { kind: 'forget' }> = { kind: 'forget', volume, txids, atMs };
        if (this.presence(false) === PRESENT) record.repaired = true;
        value = record;
        break;
      }
      case ACCEPT:
      case ACCEPT_RECORD: {
        const volume = this.string();
        const txid = this.string();
        const ballot = this.f64();
        const decision = this.decision();
        const proposal = this.nullableProposal();
        value =
          kind === ACCEPT
            ? { type: 'accept', volume, txid, ballot, decision, proposal }
            : { kind: 'accept', volume, txid, ballot, decision, proposal, atMs: this.f64() };
        break;
      }
      case ACCEPTED: {
        const volume = this.string();
        const txid = this.string();
        const ballot = this.f64();
        const ok = this.u8();
        if (ok > 1) throw new CompactDecodeError(`ok byte ${ok}`);
        value = { type: 'accepted', volume, txid, ballot, ok: ok === 1, promisedBallot: this.f64() };
        break;
      }
      default:
        throw new CompactDecodeError(`unknown compact value kind ${kind}`);
    }
    if (this.position !== this.data.length) {
      throw new CompactDecodeError(
        `compact value of kind ${kind} ends at byte ${this.position} of ${this.data.length}`,
      );
    }
    return value;
  }

  private proposal(): Proposal {
    const txid = this.string();
    const proposedAtMs = this.f64();
    const reads: ReadEntry[] = new Array(this.count(10));
    for (let index = 0; index < reads.length; index++) reads[index] = this.read();
    const writes: WriteEntry[] = new Array(this.count(2));
    for (let index = 0; index < writes.length; index++) {
      let key: string;
      if (this.data[this.position] === SAME_KEY && index < reads.length) {
        this.position++;
        key = (reads[index] as ReadEntry).key;
      } else key = this.string();
      writes[index] = { key, value: this.presence(true) === PRESENT ? this.bytes(this.u32()) : null };
    }
    return { txid, reads, writes, proposedAtMs };
  }

  private nullableProposal(): Proposal | null {
    return this.presence(true) === PRESENT ? this.proposal() : null;
  }

  private read(): ReadEntry {
    const key = this.string();
    const seq = this.f64();
    const flags = this.u8();
    if (flags > (SHARED | BLIND)) throw new CompactDecodeError(`read entry flags ${flags}`);
    const read: ReadEntry = { key, seq };
    if ((flags & SHARED) !== 0) read.shared = true;
    if ((flags & BLIND) !== 0) read.blind = this.guard();
    return read;
  }

  /**
   * A blind write's guard. A writer sends the same guard with every blind write, so the last one
   * decoded is given again when it is equal: guards are read, never changed, and sharing one saves
   * two objects per key (the guard and its array).
   */
  private guard(): BlindGuard {
    const mask = this.u8();
    const count = this.u8();
    const start = this.position;
    this.need(count);
    const last = lastGuard;
    if (last.mask === mask && last.firstBytes.length === count) {
      let same = true;
      for (let index = 0; index < count && same; index++)
        same = last.firstBytes[index] === this.data[start + index];
      if (same) return last;
    }
    const firstBytes: number[] = new Array(count);
    for (let index = 0; index < count; index++) firstBytes[index] = this.data[start + index] as number;
    lastGuard = { mask, firstBytes };
    return lastGuard;
  }

  private optionalTxids(): TxId[] | undefined {
    return this.presence(false) === PRESENT ? this.txids() : undefined;
  }

  private txids(): TxId[] {
    const txids: TxId[] = new Array(this.count(1));
    for (let index = 0; index < txids.length; index++) txids[index] = this.string();
    return txids;
  }

  private vote(): VoteValue {
    const byte = this.u8();
    if (byte > 1) throw new CompactDecodeError(`vote byte ${byte}`);
    return byte === 1 ? 'yes' : 'no';
  }

  private decision(): Decision {
    const byte = this.u8();
    if (byte > 1) throw new CompactDecodeError(`decision byte ${byte}`);
    return byte === 1 ? 'commit' : 'abort';
  }

  /** ABSENT or PRESENT for an optional field, NULL or PRESENT for a nullable one. */
  private presence(nullable: boolean): number {
    const byte = this.u8();
    if (byte !== PRESENT && byte !== (nullable ? NULL : ABSENT)) {
      throw new CompactDecodeError(`presence byte ${byte} at byte ${this.position - 1}`);
    }
    return byte;
  }

  /**
   * A count of entries each at least `leastBytes` long: one the remaining bytes cannot hold is
   * refused before anything is allocated for it.
   */
  private count(leastBytes: number): number {
    const count = this.u32();
    if (count * leastBytes > this.data.length - this.position) {
      throw new CompactDecodeError(`count ${count} at byte ${this.position - 4} exceeds the value`);
    }
    return count;
  }

  private string(): string {
    let length = this.u8();
    if (length === LONG_STRING) length = this.u32();
    else if (length === SAME_KEY)
      throw new CompactDecodeError(`a key's back-reference at byte ${this.position - 1}`);
    const start = this.position;
    const end = this.need(length);
    return this.data.toString('utf8', start, end);
  }

  /** A copy in Node's pooled memory (libs/wire/src/pooled-copies.ts), not a view of the decoded bytes. */
  private bytes(length: number): Buffer {
    const start = this.position;
    const end = this.need(length);
    const copy = Buffer.allocUnsafe(length);
    this.data.copy(copy, 0, start, end);
    return copy;
  }

  private u8(): number {
    const at = this.position;
    this.need(1);
    return this.data[at] as number;
  }

  private u32(): number {
    const at = this.position;
    this.need(4);
    return this.data.readUInt32LE(at);
  }

  private f64(): number {
    const at = this.position;
    this.need(8);
    return this.data.readDoubleLE(at);
  }

  /** Moves past `length` bytes and returns where they end; refuses to move past the value's end. */
  private need(length: number): number {
    const end = this.position + length;
    if (end > this.data.length) {
      throw new CompactDecodeError(`compact value cut at byte ${this.position}: ${length} more bytes wanted`);
    }
    this.position = end;
    return end;
  }
}

type CompactValue =
  | ProposeMessage
  | VoteMessage
  | DecidedMessage
  | AcceptMessage
  | AcceptedMessage
  | CompactRecord;

/** More compact values than one frame or log payload holds in practice; past it the list starts over. */
const DECODED_KEPT_MAX = 65_536;
let decodedSinceTaken: CompactValue[] = [];

/** The compact values decoded since the last call, in the order decoded. */
function takeCompactDecoded(): readonly object[] {
  const taken = decodedSinceTaken;
  if (taken.length > 0) decodedSinceTaken = [];
  return taken;
}

/**
 * What `unpack` decodes, with every byte string copied out of the decoded bytes into pooled memory
 * (`withPooledCopies`), for the wire's frames and the log's payloads alike. The compact values in
 * it copied theirs as they were decoded, so they are not walked again; what a failed unpack
 * decoded of them is dropped with it.
 */
export function unpackWithPooledCopies(unpack: () => unknown): unknown {
  let decoded: unknown;
  let copied: readonly object[];
  try {
    decoded = unpack();
  } finally {
    copied = takeCompactDecoded();
  }
  return withPooledCopies(decoded, copied);
}

/** Decodes one compact value from its extension data (the bytes after the extension's type). */
export function decodeCompact(data: Uint8Array): CompactValue {
  // msgpackr hands over a view of what it decodes: a plain Uint8Array when that was one (a log's
  // replay buffer).
  const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const value = new CompactReader(bytes).value();
  // A decoder that never takes them (a tool reading a log) must not grow this list for good.
  if (decodedSinceTaken.length >= DECODED_KEPT_MAX) decodedSinceTaken = [];
  decodedSinceTaken.push(value);
  return value;
}

// Every msgpackr Unpackr in the process decodes the extension from here on.
addExtension({ type: QUORUM_EXT_TYPE, unpack: decodeCompact });
