import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  DurableLog,
  DurableLogError,
  type DurableLogOptions,
  PREALLOCATE_BYTES_DEFAULT,
  RECORD_HEADER_BYTES,
  REPAIR_MARKER_NAME,
  SNAPSHOT_SYNC_BYTES,
  segmentFileName,
  snapshotFileName,
} from '../../apps/storage-node/src/storage/durable-log.js';
import { RECORDS_PER_BATCH } from '../support/log-writer-child.js';
import { mulberry32 } from '../support/prng.js';

const childScript = fileURLToPath(new URL('../support/log-writer-child.js', import.meta.url));
const tempDirs: string[] = [];

after(async () => {
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'borealis-durable-log-'));
  tempDirs.push(dir);
  return dir;
}

function text(payload: Uint8Array): string {
  return Buffer.from(payload).toString('utf8');
}

function records(...values: string[]): Buffer[] {
  return values.map((value) => Buffer.from(value, 'utf8'));
}

/** Opens the log and collects the snapshot and every replayed record as text. */
async function openCollecting(dir: string, options: Partial<DurableLogOptions> = {}) {
  const replayed: string[] = [];
  const opened = await DurableLog.open(dir, {
    ...options,
    onRecord: (payload) => replayed.push(text(payload)),
  });
  return { ...opened, replayed };
}

function isLogError(code: DurableLogError['code'], pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof DurableLogError, `expected a DurableLogError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (pattern !== undefined) assert.match(error.message, pattern);
    return true;
  };
}

describe('durable log', () => {
  it('replays appended records in order after reopening', async () => {
    const dir = await tempDir();
    const first = await openCollecting(dir);
    assert.equal(first.snapshot, null);
    assert.deepEqual(first.replayed, []);
    await first.log.append(records('a', 'b'));
    await first.log.append(records('c'));
    await Promise.all([first.log.append(records('d', 'e', 'f')), first.log.append(records('g'))]);
    const stats = first.log.stats();
    assert.equal(stats.recordsAppended, 7);
    assert.equal(stats.appendCalls, 4);
    assert.equal(stats.bytesAppended, 7 * (RECORD_HEADER_BYTES + 1));
    assert.equal(stats.pendingBytes, 0);
    await first.log.close();

    const second = await openCollecting(dir);
    assert.deepEqual(second.replayed, ['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    assert.equal(second.recovery.tornTail, null);
    assert.equal(second.recovery.recordsReplayed, 7);
    await second.log.append(records('h'));
    await second.log.close();
    const third = await openCollecting(dir);
    assert.equal(third.replayed.at(-1), 'h');
    await third.log.close();
  });

  it('creates its directory, parents included', async () => {
    const dir = join(await tempDir(), 'node-a', 'log');
    const { log } = await DurableLog.open(dir, { onRecord: () => undefined });
    await log.append(records('first'));
    await log.close();
    const reopened = await openCollecting(dir);
    assert.deepEqual(reopened.replayed, ['first']);
    await reopened.log.close();
  });

  it('replays records larger than the replay buffer', async () => {
    const dir = await tempDir();
    const { log } = await DurableLog.open(dir, { onRecord: () => undefined });
    const big = Buffer.alloc(100_000, 'x');
    await log.append([Buffer.from('small'), big, Buffer.from('tail')]);
    await log.close();
    const lengths: number[] = [];
    const reopened = await DurableLog.open(dir, {
      replayChunkBytes: 1024,
      onRecord: (payload) => lengths.push(payload.length),
    });
    assert.deepEqual(lengths, [5, 100_000, 4]);
    await reopened.log.close();
  });

  it('covers concurrent appends with fewer fsyncs than calls', async () => {
    const dir = await tempDir();
    const { log } = await DurableLog.open(dir, { onRecord: () => undefined });
    const calls = Array.from({ length: 100 }, (_, i) => log.append(records(`record ${i}`)));
    await Promise.all(calls);
    const stats = log.stats();
    assert.equal(stats.recordsAppended, 100);
    assert.ok(stats.fsyncs < 100, `expected fewer than 100 fsyncs, got ${stats.fsyncs}`);
    assert.ok(stats.averageCallsPerFsync > 1);
    assert.ok(stats.lastFsyncLatencyMs >= 0);
    assert.ok(stats.longestFsyncMs >= stats.lastFsyncLatencyMs, 'the longest sync is at least the last');
    const { atLeast10Ms, atLeast50Ms, atLeast200Ms } = stats.slowFsyncs;
    assert.ok(atLeast200Ms <= atLeast50Ms && atLeast50Ms <= atLeast10Ms && atLeast10Ms <= stats.fsyncs);
    await log.close();
    const reopened = await openCollecting(dir);
    assert.deepEqual(
      reopened.replayed,
      Array.from({ length: 100 }, (_, i) => `record ${i}`),
    );
    await reopened.log.close();
  });

  it('resolves an empty append once earlier appends are durable', async () => {
    const dir = await tempDir();
    const { log } = await DurableLog.open(dir, { onRecord: () => undefined });
    let firstDone = false;
    const first = log.append(records('x')).then(() => {
      firstDone = true;
    });
    await log.append([]);
    assert.equal(firstDone, true);
    await first;
    await log.close();
  });

  it('rejects appends over the pending bound, and invalid payloads', async () => {
    const dir = await tempDir();
    const { log } = await DurableLog.open(dir, { onRecord: () => undefined, pendingBytesMax: 1000 });
    const accepted = log.append([Buffer.alloc(600, 1)]);
    await assert.rejects(log.append([Buffer.alloc(600, 2)]), isLogError('QUEUE_FULL', /queue is full/));
    await assert.rejects(log.append([Buffer.alloc(2000)]), isLogError('INVALID_ARGUMENT', /can never fit/));
    await assert.rejects(log.append([new Uint8Array(0)]), isLogError('INVALID_ARGUMENT', /1 to \d+ bytes/));
    await accepted;
    // Once the first append is durable there is room again.
    await log.append([Buffer.alloc(600, 3)]);
    await log.close();
    await assert.rejects(log.append(records('late')), isLogError('CLOSED'));
    assert.throws(() => log.rotate(), isLogError('CLOSED'));
  });

  it('creates every rotated segment, even an empty one, so reopening finds no gap', async () => {
    const dir = await tempDir();
    const { log } = await DurableLog.open(dir, { onRecord: () => undefined });
    await log.append(records('in-1'));
    assert.equal(log.rotate(), 1);
    assert.equal(log.rotate(), 2);
    await log.append(records('in-3'));
    await log.close();
    assert.deepEqual((await readdir(dir)).sort(), [1, 2, 3].map(segmentFileName));
    const reopened = await openCollecting(dir);
    assert.deepEqual(reopened.replayed, ['in-1', 'in-3']);
    assert.equal(reopened.recovery.segmentsReplayed, 3);
    await reopened.log.close();
  });

  it('stops taking writes after a failed write', async () => {
    const dir = await tempDir();
    const { log } = await DurableLog.open(dir, { onRecord: () => undefined });
    await log.append(records('durable'));
    // Closing the segment file underneath the log makes its next write fail.
    await (log as any).handle.close();
    await assert.rejects(log.append(records('lost')), isLogError('FAILED', /restart to recover/));
    await assert.rejects(log.append(records('after')), isLogError('FAILED'));
    assert.throws(() => log.rotate(), isLogError('FAILED'));
    await log.close();
    const reopened = await openCollecting(dir);
    assert.deepEqual(reopened.replayed, ['durable']);
    await reopened.log.close();
  });

  it('cuts garbage appended after the last record', async () => {
    const dir = await tempDir();
    const { log } = await DurableLog.open(dir, { onRecord: () => undefined });
    await log.append(records('one', 'two'));
    await log.close();
    const segmentPath = join(dir, segmentFileName(1));
    const goodBytes = (await stat(segmentPath)).size;
    await appendFile(segmentPath, Buffer.from([0, 0, 0, 9, 1, 2, 3]));

    const reopened = await openCollecting(dir);
    assert.deepEqual(reopened.replayed, ['one', 'two']);
    assert.deepEqual(reopened.recovery.tornTail, {
      segment: 1,
      offset: goodBytes,
      bytesDropped: 7,
      reason: 'incomplete record header',
    });
    assert.equal((await stat(segmentPath)).size, goodBytes);
    await reopened.log.close();
  });

  it('cuts a record torn mid-write and appends cleanly after it', async () => {
    const dir = await tempDir();
    const { log } = await DurableLog.open(dir, { onRecord: () => undefined });
    await log.append(records('kept-1', 'kept-2'));
    await log.append(records('torn-record'));
    await log.close();
    const segmentPath = join(dir, segmentFileName(1));
    const fullBytes = (await stat(segmentPath)).size;
    await truncate(segmentPath, fullBytes - 4);

    const reopened = await openCollecting(dir);
    assert.deepEqual(reopened.replayed, ['kept-1', 'kept-2']);
    assert.equal(reopened.recovery.tornTail?.bytesDropped, RECORD_HEADER_BYTES + 'torn-record'.length - 4);
    await reopened.log.append(records('after-recovery'));
    await reopened.log.close();

    const again = await openCollecting(dir);
    assert.deepEqual(again.replayed, ['kept-1', 'kept-2', 'after-recovery']);
    assert.equal(again.recovery.tornTail, null);
    await again.log.close();
  });

  it('cuts a last record whose checksum does not match', async () => {
    const dir = await tempDir();
    const { log } = await DurableLog.open(dir, { onRecord: () => undefined });
    await log.append(records('first', 'second', 'third'));
    await log.close();
    const segmentPath = join(dir, segmentFileName(1));
    const bytes = await readFile(segmentPath);
    bytes[bytes.length - 1] ^= 0x01;
    await writeFile(segmentPath, bytes);

    const reopened = await openCollecting(dir);
    assert.deepEqual(reopened.replayed, ['first', 'second']);
    assert.equal(reopened.recovery.tornTail?.reason, 'record checksum mismatch');
    assert.equal(reopened.recovery.tornTail?.bytesDropped, RECORD_HEADER_BYTES + 'third'.length);
    await reopened.log.close();
  });

  it('takes a zero-filled tail of the newest segment as its end, not as a run of empty records', async () => {
    const dir = await tempDir();
    const { log } = await DurableLog.open(dir, { onRecord: () => undefined });
    await log.append(records('only'));
    await log.close();
    const segmentPath = join(dir, segmentFileName(1));
    const recordBytes = (await stat(segmentPath)).size;
    await appendFile(segmentPath, Buffer.alloc(4096));
    const reopened = await openCollecting(dir);
    assert.deepEqual(reopened.replayed, ['only']);
    assert.equal(reopened.recovery.tornTail, null);
    // Appends go on after the records, over the zeros.
    await reopened.log.append(records('after'));
    await reopened.log.close();
    assert.equal((await stat(segmentPath)).size, recordBytes + RECORD_HEADER_BYTES + 'after'.length);
    const again = await openCollecting(dir);
    assert.deepEqual(again.replayed, ['only', 'after']);
    await again.log.close();
  });

  it('cuts zeros followed by other bytes at the end of the newest segment as a torn tail', async () => {
    const dir = await tempDir();
    const { log } = await DurableLog.open(dir, { onRecord: () => undefined });
    await log.append(records('only'));
    await log.close();
    const tail = Buffer.alloc(4096);
    tail[4000] = 0x2a;
    await appendFile(join(dir, segmentFileName(1)), tail);
    const reopened = await openCollecting(dir);
    assert.deepEqual(reopened.replayed, ['only']);
    assert.equal(reopened.recovery.tornTail?.bytesDropped, 4096);
    await reopened.log.close();
  });

  it('writes zeros ahead of its records, so that most appends do not grow the segment file', async () => {
    const dir = await tempDir();
    const ahead = 64;
    const { log } = await DurableLog.open(dir, { onRecord: () => undefined, preallocateBytes: ahead });
    const segmentPath = join(dir, segmentFileName(1));
    await log.append(records('one'));
    const first = RECORD_HEADER_BYTES + 'one'.length;
    assert.equal((await stat(segmentPath)).size, first + ahead);
    // Within the zeros: the file keeps its length.
    await log.append(records('two'));
    assert.equal((await stat(segmentPath)).size, first + ahead);
    // Past them: the file grows to the new end and zeros ahead of it again.
    const long = 'x'.repeat(100);
    await log.append(records(long));
    const end = 2 * first + RECORD_HEADER_BYTES + long.length;
    assert.equal((await stat(segmentPath)).size, end + ahead);
    assert.equal(log.diskBytes(), end + ahead);

    // A crash leaves the zeros: a copy of the directory as it is now opens whole, nothing cut.
    const crashed = await tempDir();
    await writeFile(join(crashed, segmentFileName(1)), await readFile(segmentPath));
    const recovered = await openCollecting(crashed);
    assert.deepEqual(recovered.replayed, ['one', 'two', long]);
    assert.equal(recovered.recovery.tornTail, null);
    assert.equal(recovered.log.diskBytes(), end + ahead);
    await recovered.log.append(records('three'));
    await recovered.log.close();
    const again = await openCollecting(crashed);
    assert.deepEqual(again.replayed, ['one', 'two', long, 'three']);
    await again.log.close();

    // A rotation cuts the zeros off the segment it ends; so does closing.
    log.rotate();
    await log.append(records('four'));
    assert.equal((await stat(segmentPath)).size, end);
    await log.close();
    assert.equal((await stat(join(dir, segmentFileName(2)))).size, RECORD_HEADER_BYTES + 'four'.length);
  });

  it('writes no zeros ahead with preallocateBytes 0', async () => {
    const dir = await tempDir();
    const { log } = await DurableLog.open(dir, { onRecord: () => undefined, preallocateBytes: 0 });
    await log.append(records('one'));
    assert.equal((await stat(join(dir, segmentFileName(1)))).size, RECORD_HEADER_BYTES + 'one'.length);
    await log.close();
    await assert.rejects(
      DurableLog.open(dir, { onRecord: () => undefined, preallocateBytes: -1 }),
      isLogError('INVALID_ARGUMENT', /preallocateBytes must be a non-negative integer/),
    );
  });

  it('refuses to start when a segment other than the last ends in zeros', async () => {
    const dir = await tempDir();
    const { log } = await DurableLog.open(dir, { onRecord: () => undefined });
    await log.append(records('a'));
    log.rotate();
    await log.append(records('b'));
    await log.close();
    await appendFile(join(dir, segmentFileName(1)), Buffer.alloc(4096));
    await assert.rejects(
      DurableLog.open(dir, { onRecord: () => undefined }),
      isLogError('CORRUPT', /log-0000000000000001\.wal is damaged at byte 9 .*not the newest segment/),
    );
  });

  // Damage with valid records after it is corruption (bit rot, a misdirected write), not a torn
  // tail: the records after it may have been acknowledged, so they must not be cut.
  for (const [what, damage] of [
    ['a payload byte', (bytes: Buffer) => (bytes[RECORD_HEADER_BYTES + 2] ^= 0x10)],
    ['a checksum byte', (bytes: Buffer) => (bytes[5] ^= 0x01)],
    ['a length byte, so that the record boundaries after it are lost', (bytes: Buffer) => (bytes[2] ^= 0x40)],
  ] as const) {
    it(`refuses to cut acknowledged records after ${what} in the middle of the newest segment`, async () => {
      const dir = await tempDir();
      const { log } = await DurableLog.open(dir, { onRecord: () => undefined });
      await log.append(records('first-acknowledged'));
      await log.append(records('second-acknowledged'));
      await log.append(records('third-acknowledged'));
      await log.close();
      const segmentPath = join(dir, segmentFileName(1));
      const bytes = await readFile(segmentPath);
      damage(bytes);
      await writeFile(segmentPath, bytes);
      const secondRecordAt = RECORD_HEADER_BYTES + 'first-acknowledged'.length;
      await assert.rejects(
        DurableLog.open(dir, { onRecord: () => undefined }),
        isLogError(
          'CORRUPT',
          new RegExp(
            `damaged at byte 0 .*a valid record follows at byte ${secondRecordAt}: this is corruption, not a torn tail`,
          ),
        ),
      );
      // Nothing was cut: the file is as the damage left it.
      assert.deepEqual(await readFile(segmentPath), bytes);
    });
  }

  it('still cuts a torn tail of 6 MiB whose bytes hold no valid record', async () => {
    const dir = await tempDir();
    const { log } = await DurableLog.open(dir, { onRecord: () => undefined });
    await log.append(records('kept'));
    await log.close();
    // A header that claims a record longer than the rest, then 6 MiB of seeded random bytes (more
    // than one scan chunk): the rest of an unsynced write that a crash cut short.
    const random = mulberry32(11);
    const tail = Buffer.alloc(6 * 1024 * 1024 + 3);
    for (let index = 0; index < tail.length; index++) tail[index] = Math.floor(random() * 256);
    tail.writeUInt32BE(tail.length, 0);
    await appendFile(join(dir, segmentFileName(1)), tail);
    const reopened = await openCollecting(dir);
    assert.deepEqual(reopened.replayed, ['kept']);
    assert.equal(reopened.recovery.tornTail?.bytesDropped, tail.length);
    await reopened.log.close();
  });

  it('refuses to start when a segment other than the last is damaged', async () => {
    const dir = await tempDir();
    const { log } = await DurableLog.open(dir, { onRecord: () => undefined });
    await log.append(records('a', 'b', 'c'));
    log.rotate();
    await log.append(records('d'));
    await log.close();
    const firstSegment = join(dir, segmentFileName(1));
    const bytes = await readFile(firstSegment);
    bytes[RECORD_HEADER_BYTES] ^= 0xff;
    await writeFile(firstSegment, bytes);
    await assert.rejects(
      DurableLog.open(dir, { onRecord: () => undefined }),
      isLogError('CORRUPT', /log-0000000000000001\.wal is damaged at byte 0 .*not the newest segment/),
    );
  });

  it('loads a snapshot and replays only the records after it', async () => {
    const dir = await tempDir();
    const { log } = await DurableLog.open(dir, { onRecord: () => undefined });
    await log.append(records('before-1', 'before-2'));
    const segment = log.rotate();
    assert.equal(segment, 1);
    const state = Buffer.from('state through before-2');
    const snapshotWritten = log.writeSnapshot(state, segment);
    await log.append(records('after-1'));
    await snapshotWritten;
    await log.append(records('after-2'));
    assert.equal(log.stats().snapshotSegment, 1);
    assert.equal(log.stats().segment, 2);
    await log.close();
    assert.deepEqual((await readdir(dir)).sort(), [segmentFileName(2), snapshotFileName(1)]);

    const events: string[] = [];
    const reopened = await DurableLog.open(dir, {
      onSnapshot: (body, covers) => events.push(`snapshot ${covers}: ${text(body)}`),
      onRecord: (payload, recordSegment) => events.push(`record ${recordSegment}: ${text(payload)}`),
    });
    assert.deepEqual(events, [
      'snapshot 1: state through before-2',
      'record 2: after-1',
      'record 2: after-2',
    ]);
    assert.equal(text(reopened.snapshot ?? new Uint8Array()), 'state through before-2');
    assert.equal(reopened.recovery.snapshotSegment, 1);
    assert.equal(reopened.recovery.recordsReplayed, 2);

    // A second snapshot replaces the first and its segment.
    await reopened.log.append(records('after-3'));
    const second = reopened.log.rotate();
    await reopened.log.writeSnapshot(Buffer.from('state through after-3'), second);
    await assert.rejects(
      reopened.log.writeSnapshot(Buffer.from('stale'), 1),
      isLogError('INVALID_ARGUMENT', /already exists/),
    );
    await assert.rejects(
      reopened.log.writeSnapshot(Buffer.from('future'), reopened.log.stats().segment),
      isLogError('INVALID_ARGUMENT', /ended by rotate/),
    );
    await reopened.log.close();
    assert.deepEqual((await readdir(dir)).sort(), [segmentFileName(3), snapshotFileName(2)]);
    const third = await openCollecting(dir);
    assert.equal(text(third.snapshot ?? new Uint8Array()), 'state through after-3');
    assert.deepEqual(third.replayed, []);
    await third.log.close();
  });

  it('writes a snapshot from chunks taken one at a time, appends going on between them', async () => {
    const dir = await tempDir();
    const { log } = await DurableLog.open(dir, { onRecord: () => undefined });
    await log.append(records('before'));
    const segment = log.rotate();
    // Over SNAPSHOT_SYNC_BYTES in all, so that it is fsynced on the way as well as at the end.
    const chunkBytes = 1024 * 1024;
    const chunkCount = Math.ceil((SNAPSHOT_SYNC_BYTES * 1.5) / chunkBytes);
    const random = mulberry32(7);
    const expected: Buffer[] = [];
    const appendsBetween: Promise<void>[] = [];
    let taken = 0;
    function* chunks(): Generator<Uint8Array> {
      for (let index = 0; index < chunkCount; index++) {
        const chunk = Buffer.alloc(chunkBytes);
        for (let byte = 0; byte < chunk.length; byte += 4096) chunk[byte] = Math.floor(random() * 256);
        expected.push(chunk);
        taken++;
        // The log asks for the next chunk only once it wrote this one, in a later turn.
        appendsBetween.push(log.append(records(`during-${index}`)));
        yield chunk;
      }
      yield new Uint8Array(0);
    }
    await log.writeSnapshot(chunks(), segment);
    assert.equal(taken, chunkCount);
    await Promise.all(appendsBetween);
    await log.close();

    const reopened = await openCollecting(dir);
    assert.ok(reopened.snapshot !== null);
    assert.ok(
      Buffer.from(reopened.snapshot).equals(Buffer.concat(expected)),
      'the snapshot is its chunks in order',
    );
    assert.deepEqual(
      reopened.replayed,
      Array.from({ length: chunkCount }, (_, index) => `during-${index}`),
    );
    await reopened.log.close();
  });

  it('leaves the log as it was when a snapshot chunk fails', async () => {
    const dir = await tempDir();
    const { log } = await DurableLog.open(dir, { onRecord: () => undefined });
    await log.append(records('x'));
    await log.writeSnapshot(Buffer.from('covers x'), log.rotate());
    await log.append(records('y'));
    const segment = log.rotate();
    function* failing(): Generator<Uint8Array> {
      yield Buffer.from('half of a state');
      throw new Error('the state could not be read');
    }
    await assert.rejects(log.writeSnapshot(failing(), segment), isLogError('FAILED', /could not be read/));
    await assert.rejects(
      log.writeSnapshot([Buffer.from('ok'), 'not bytes' as unknown as Uint8Array], segment),
      isLogError('FAILED', /must be a Uint8Array/),
    );
    await log.close();
    assert.deepEqual((await readdir(dir)).sort(), [
      segmentFileName(2),
      segmentFileName(3),
      snapshotFileName(1),
    ]);
    const reopened = await openCollecting(dir);
    assert.equal(text(reopened.snapshot ?? new Uint8Array()), 'covers x');
    assert.deepEqual(reopened.replayed, ['y']);
    await reopened.log.close();
  });

  it('counts the bytes of its files on disk through appends, rotations, snapshots and a torn tail', async () => {
    const dir = await tempDir();
    const onDisk = async (): Promise<number> => {
      let bytes = 0;
      for (const name of await readdir(dir)) bytes += (await stat(join(dir, name))).size;
      return bytes;
    };
    const { log } = await DurableLog.open(dir, { onRecord: () => undefined });
    assert.equal(log.diskBytes(), 0);
    await log.append(records('one', 'two'));
    // The records, and the zeros written ahead of them.
    assert.equal(log.diskBytes(), 2 * RECORD_HEADER_BYTES + 6 + PREALLOCATE_BYTES_DEFAULT);
    assert.equal(log.diskBytes(), await onDisk());
    const segment = log.rotate();
    await log.append(records('three'));
    assert.equal(log.diskBytes(), await onDisk());
    await log.writeSnapshot(Buffer.from('a state of some length'), segment);
    assert.equal(log.stats().diskBytes, await onDisk());
    await log.append(records('four'));
    await log.close();
    const expected = await onDisk();

    // Reopened, it counts what it found, and a torn tail it cut is not counted.
    await appendFile(join(dir, segmentFileName(2)), Buffer.from([0, 0, 0, 9, 1, 2]));
    const reopened = await openCollecting(dir);
    assert.equal(reopened.recovery.tornTail?.bytesDropped, 6);
    assert.equal(reopened.log.diskBytes(), expected);
    assert.equal(reopened.log.diskBytes(), await onDisk());
    await reopened.log.close();
  });

  it('ignores an unfinished snapshot and refuses a damaged one whose segments are gone', async () => {
    const dir = await tempDir();
    const { log } = await DurableLog.open(dir, { onRecord: () => undefined });
    await log.append(records('x'));
    await log.writeSnapshot(Buffer.from('covers x'), log.rotate());
    await log.close();
    await writeFile(join(dir, `${snapshotFileName(7)}.tmp`), 'half-written');

    const reopened = await openCollecting(dir);
    assert.equal(text(reopened.snapshot ?? new Uint8Array()), 'covers x');
    assert.equal(existsSync(join(dir, `${snapshotFileName(7)}.tmp`)), false);
    await reopened.log.close();

    const snapshotPath = join(dir, snapshotFileName(1));
    const bytes = await readFile(snapshotPath);
    bytes[bytes.length - 1] ^= 0x01;
    await writeFile(snapshotPath, bytes);
    await assert.rejects(
      DurableLog.open(dir, { onRecord: () => undefined }),
      isLogError('CORRUPT', /records are missing.*failed verification: snapshot-0000000000000001\.snap/),
    );
  });

  it('keeps every acknowledged batch when the writer is killed mid-stream', async () => {
    const dir = await tempDir();
    const child = spawn(process.execPath, [childScript, dir, '100000'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const closed = new Promise<string>((resolve) => {
      child.once('close', (code, signal) => resolve(signal ?? `exit ${code}`));
    });
    const ackedCount = () => stdout.split('\n').filter((line) => line.startsWith('ack ')).length;

    // Kill once it is well into the stream: past a few rotations and snapshots.
    const deadlineMs = Date.now() + 30_000;
    while (ackedCount() < 350 && child.exitCode === null && Date.now() < deadlineMs) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    child.kill('SIGKILL');
    assert.equal(await closed, 'SIGKILL', `child ended on its own; stderr:\n${stderr}`);

    const acked = stdout
      .split('\n')
      .filter((line) => line.startsWith('ack '))
      .map((line) => Number(line.slice(4)));
    assert.ok(acked.length >= 350, `only ${acked.length} batches acknowledged; stderr:\n${stderr}`);

    const recordsByBatch = new Map<number, Set<number>>();
    const snapshotIds = new Set<number>();
    const reopened = await DurableLog.open(dir, {
      onSnapshot: (body) => {
        for (const id of JSON.parse(text(body)) as number[]) snapshotIds.add(id);
      },
      onRecord: (payload) => {
        const [id, index] = text(payload).split(':').map(Number);
        const indexes = recordsByBatch.get(id) ?? new Set<number>();
        indexes.add(index);
        recordsByBatch.set(id, indexes);
      },
    });
    assert.ok(reopened.snapshot !== null, 'expected the child to have written a snapshot');
    for (const id of acked) {
      if (snapshotIds.has(id)) continue;
      assert.equal(recordsByBatch.get(id)?.size, RECORDS_PER_BATCH, `acknowledged batch ${id} is incomplete`);
    }
    await reopened.log.close();
  });

  describe("with damage: 'keepPrefix' (a replica that repairs from its peers)", () => {
    it('keeps the records before damage in the middle of the newest segment, sets the rest aside and marks the log until repaired', async () => {
      const dir = await tempDir();
      const { log } = await DurableLog.open(dir, { onRecord: () => undefined });
      await log.append(records('first', 'second'));
      await log.append(records('third'));
      await log.close();
      const segmentPath = join(dir, segmentFileName(1));
      const original = await readFile(segmentPath);
      const damaged = Buffer.from(original);
      const secondAt = RECORD_HEADER_BYTES + 'first'.length;
      damaged[secondAt + RECORD_HEADER_BYTES + 1] ^= 0x20;
      await writeFile(segmentPath, damaged);

      const opened = await openCollecting(dir, { damage: 'keepPrefix' });
      assert.deepEqual(opened.replayed, ['first']);
      const damage = opened.recovery.damage;
      assert.ok(damage !== null);
      assert.equal(damage.earlier, false);
      assert.match(damage.reason, new RegExp(`damaged at byte ${secondAt} .*a valid record follows`));
      // The damaged file is kept, byte for byte, where the report says.
      assert.deepEqual(await readFile(join(damage.setAsideIn as string, segmentFileName(1))), damaged);
      assert.equal((await stat(segmentPath)).size, secondAt);
      await opened.log.append(records('after-repair-began'));
      await opened.log.close();

      // Until the repair is confirmed, every open says the state may lack records.
      const again = await openCollecting(dir, { damage: 'keepPrefix' });
      assert.deepEqual(again.replayed, ['first', 'after-repair-began']);
      assert.equal(again.recovery.damage?.earlier, true);
      assert.equal(again.recovery.damage?.reason, damage.reason);
      await again.log.clearRepairMarker();
      await again.log.close();
      assert.equal(existsSync(join(dir, REPAIR_MARKER_NAME)), false);
      const whole = await openCollecting(dir, { damage: 'keepPrefix' });
      assert.equal(whole.recovery.damage, null);
      await whole.log.close();
    });

    it('continues a damaged older segment from its verified prefix and sets the later ones aside', async () => {
      const dir = await tempDir();
      const { log } = await DurableLog.open(dir, { onRecord: () => undefined });
      await log.append(records('a', 'b'));
      log.rotate();
      await log.append(records('c'));
      log.rotate();
      await log.append(records('d'));
      await log.close();
      const secondSegment = join(dir, segmentFileName(2));
      const bytes = await readFile(secondSegment);
      bytes[RECORD_HEADER_BYTES] ^= 0xff;
      await writeFile(secondSegment, bytes);

      const opened = await openCollecting(dir, { damage: 'keepPrefix' });
      assert.deepEqual(opened.replayed, ['a', 'b']);
      assert.match(
        opened.recovery.damage?.reason ?? '',
        /log-0000000000000002\.wal is damaged at byte 0 .*not the newest/,
      );
      assert.deepEqual((await readdir(opened.recovery.damage?.setAsideIn as string)).sort(), [
        segmentFileName(2),
        segmentFileName(3),
        'reason.txt',
      ]);
      assert.equal(existsSync(join(dir, segmentFileName(3))), false);
      await opened.log.append(records('e'));
      await opened.log.close();
      const again = await openCollecting(dir, { damage: 'keepPrefix' });
      assert.deepEqual(again.replayed, ['a', 'b', 'e']);
      await again.log.close();
    });

    it('starts empty when a damaged snapshot leaves no whole prefix', async () => {
      const dir = await tempDir();
      const { log } = await DurableLog.open(dir, { onRecord: () => undefined });
      await log.append(records('x'));
      await log.writeSnapshot(Buffer.from('covers x'), log.rotate());
      await log.append(records('y'));
      await log.close();
      const snapshotPath = join(dir, snapshotFileName(1));
      const bytes = await readFile(snapshotPath);
      bytes[bytes.length - 1] ^= 0x01;
      await writeFile(snapshotPath, bytes);

      const opened = await openCollecting(dir, { damage: 'keepPrefix' });
      assert.equal(opened.snapshot, null);
      assert.deepEqual(opened.replayed, []);
      assert.match(opened.recovery.damage?.reason ?? '', /records are missing/);
      assert.ok(
        (await readdir(opened.recovery.damage?.setAsideIn as string)).includes(snapshotFileName(1)),
        'the damaged snapshot is kept for inspection',
      );
      await opened.log.append(records('z'));
      await opened.log.close();
      const again = await openCollecting(dir, { damage: 'keepPrefix' });
      assert.deepEqual(again.replayed, ['z']);
      assert.equal(again.recovery.damage?.earlier, true);
      await again.log.close();
    });
  });
});
