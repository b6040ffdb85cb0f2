// Shape checks for messages that arrive from the network. The state machines trust their
// input, so a storage node or writer checks each decoded frame here first and drops (and
// counts) anything malformed instead of letting it reach, or half-change, the state.
// The key limit comes from libs/limits, which the data node uses too, so that a key the data node
// accepts (with its escape byte or internal prefix) is never one the storage nodes drop.
// Importing it keeps this library pure: libs/limits holds constants only, and the same purity
// lint covers it.
import { STORAGE_KEY_BYTES_MAX } from '../../limits/src/index.js';
import type { QuorumMessage } from './messages.js';

const KEYS_PER_MESSAGE_MAX = 100_000;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isName(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 256;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

function isKey(value: unknown): value is string {
  return typeof value === 'string' && value.length <= STORAGE_KEY_BYTES_MAX;
}

function isValue(value: unknown): boolean {
  return value === null || value instanceof Uint8Array;
}

function isDecision(value: unknown): boolean {
  return value === 'commit' || value === 'abort';
}

function isVote(value: unknown): boolean {
  return value === 'yes' || value === 'no';
}

function isVersion(value: unknown): boolean {
  return isObject(value) && isCount(value.seq) && typeof value.txid === 'string';
}

function isList(value: unknown, item: (entry: unknown) => boolean): boolean {
  return Array.isArray(value) && value.length <= KEYS_PER_MESSAGE_MAX && value.every(item);
}

function isProposal(value: unknown): boolean {
  return (
    isObject(value) &&
    isName(value.txid) &&
    typeof value.proposedAtMs === 'number' &&
    Number.isFinite(value.proposedAtMs) &&
    isList(
      value.reads,
      (read) =>
        isObject(read) &&
        isKey(read.key) &&
        isCount(read.seq) &&
        (read.shared === undefined || read.shared === true) &&
        (read.blind === undefined || isBlindGuard(read.blind)),
    ) &&
    isList(value.writes, (write) => isObject(write) && isKey(write.key) && isValue(write.value))
  );
}

function isByte(value: unknown): boolean {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 0xff;
}

function isBlindGuard(value: unknown): boolean {
  return (
    isObject(value) &&
    isByte(value.mask) &&
    Array.isArray(value.firstBytes) &&
    value.firstBytes.length <= 0x100 &&
    value.firstBytes.every(isByte)
  );
}

function isPendingInfo(value: unknown): boolean {
  return (
    value === null ||
    (isObject(value) &&
      isName(value.txid) &&
      isCount(value.readSeq) &&
      typeof value.writes === 'boolean' &&
      isValue(value.value))
  );
}

function isSyncEntry(entry: unknown): boolean {
  return isObject(entry) && isKey(entry.key) && isVersion(entry.version) && isValue(entry.value);
}

function isKnownDecision(entry: unknown): boolean {
  return (
    isObject(entry) &&
    isName(entry.txid) &&
    isDecision(entry.decision) &&
    (entry.proposal === null || isProposal(entry.proposal))
  );
}

const checks: Record<QuorumMessage['type'], (message: Json) => boolean> = {
  propose: (m) => isProposal(m.proposal) && (m.heldByAll === undefined || isList(m.heldByAll, isName)),
  accept: (m) =>
    isName(m.txid) &&
    isCount(m.ballot) &&
    isDecision(m.decision) &&
    (m.proposal === null || isProposal(m.proposal)),
  prepare: (m) => isName(m.txid) && isCount(m.ballot),
  decided: (m) =>
    isName(m.txid) && isDecision(m.decision) && (m.proposal === undefined || isProposal(m.proposal)),
  read: (m) =>
    isCount(m.requestId) && isList(m.keys, isKey) && (m.prefixBytes === undefined || isCount(m.prefixBytes)),
  scan: (m) => isCount(m.requestId) && isCount(m.fromHash) && isCount(m.limit),
  scanReply: (m) => isCount(m.requestId) && isList(m.keys, isKey) && isCount(m.nextHash),
  applied: (m) =>
    isName(m.txid) &&
    isList(m.changes, (change) => isObject(change) && isKey(change.key) && isCount(change.seq)) &&
    isCount(m.stream) &&
    isCount(m.n),
  noticeMark: (m) => isCount(m.stream) && isCount(m.n),
  syncRequest: (m) => isCount(m.fromIndex) && isCount(m.limit) && isList(m.pendingTxids, isName),
  syncReply: (m) =>
    isCount(m.nextIndex) && isList(m.entries, isSyncEntry) && isList(m.decisions, isKnownDecision),
  decisionQuery: (m) => isList(m.txids, isName),
  repairRequest: (m) =>
    isCount(m.pass) && isCount(m.fromIndex) && isCount(m.limit) && isList(m.decisionsOf, isName),
  repairReply: (m) =>
    isCount(m.pass) &&
    typeof m.repairing === 'boolean' &&
    typeof m.dropped === 'boolean' &&
    isList(m.volumes, isName) &&
    isList(m.droppedVolumes, isName) &&
    isList(m.entries, isSyncEntry) &&
    isCount(m.nextIndex) &&
    isList(
      m.transactions,
      (entry) =>
        isObject(entry) &&
        isName(entry.txid) &&
        (entry.decision === null || isDecision(entry.decision)) &&
        (entry.proposal === null || isProposal(entry.proposal)),
    ) &&
    typeof m.transactionsTruncated === 'boolean' &&
    isList(m.decisions, isKnownDecision) &&
    isList(m.notHeld, isName) &&
    (m.forgotten === undefined || isList(m.forgotten, isName)),
  decisionAck: (m) => isList(m.known, isName) && isList(m.unknown, isName),
  // A write-off is named by its record's time, which a simulated clock gives in fractions.
  writtenOff: (m) => isTime(m.since),
  rejoin: (m) => isTime(m.since),
  readmitted: (m) => isTime(m.since),
  vote: (m) =>
    isName(m.txid) &&
    isVote(m.vote) &&
    (m.reason === undefined || typeof m.reason === 'string') &&
    (m.held === undefined || isList(m.held, isName)),
  accepted: (m) =>
    isName(m.txid) && isCount(m.ballot) && typeof m.ok === 'boolean' && isCount(m.promisedBallot),
  promise: (m) =>
    isName(m.txid) &&
    isCount(m.ballot) &&
    typeof m.ok === 'boolean' &&
    isCount(m.promisedBallot) &&
    isVote(m.vote) &&
    (m.accepted === null ||
      (isObject(m.accepted) && isCount(m.accepted.ballot) && isDecision(m.accepted.decision))) &&
    (m.proposal === null || isProposal(m.proposal)) &&
    (m.decision === null || isDecision(m.decision)),
  readReply: (m) =>
    isCount(m.requestId) &&
    isList(
      m.results,
      (result) =>
        isObject(result) &&
        isKey(result.key) &&
        isVersion(result.version) &&
        isValue(result.value) &&
        isPendingInfo(result.pending),
    ),
};

/** True when `value` has the shape of a protocol message; anything else must be dropped. */
export function isQuorumMessage(value: unknown): value is QuorumMessage {
  if (!isObject(value) || typeof value.type !== 'string' || !isName(value.volume)) return false;
  const check = checks[value.type as QuorumMessage['type']];
  return check !== undefined && Object.hasOwn(checks, value.type) && check(value);
}
