// Child process for the durable log's crash test: appends numbered batches until it is killed
// (or reaches its batch limit), printing `ack <id>` on stdout once a batch's append resolves.
// Every ROTATE_EVERY_BATCHES it rotates and snapshots the ids appended so far, so a kill can land
// in the middle of a rotation or a snapshot too.
//
// usage: node log-writer-child.js <dir> <batchesMax>
import { pathToFileURL } from 'node:url';
import { DurableLog } from '../../apps/storage-node/src/storage/durable-log.js';

export const RECORDS_PER_BATCH = 5;
const IN_FLIGHT_MAX = 8;
const ROTATE_EVERY_BATCHES = 100;
// The test kills this process long before; the limit only stops an orphan.
const LIFETIME_MS_MAX = 60_000;

/** Record `index` of batch `id`: its ids as text, padded to about 100 bytes. */
export function batchRecord(id: number, index: number): Buffer {
  return Buffer.from(`${id}:${index}:`.padEnd(100, '.'), 'ascii');
}

async function main(dir: string, batchesMax: number): Promise<void> {
  setTimeout(() => process.exit(3), LIFETIME_MS_MAX).unref();
  const { log } = await DurableLog.open(dir, { onRecord: () => undefined });
  // The in-memory state a snapshot serializes: every batch id appended so far.
  const appendedIds: number[] = [];
  let nextId = 0;

  const appendBatches = async (): Promise<void> => {
    while (nextId < batchesMax) {
      const id = nextId++;
      const records = Array.from({ length: RECORDS_PER_BATCH }, (_, index) => batchRecord(id, index));
      appendedIds.push(id);
      const appended = log.append(records);
      if (id > 0 && id % ROTATE_EVERY_BATCHES === 0) {
        const segment = log.rotate();
        const state = Buffer.from(JSON.stringify(appendedIds));
        log.writeSnapshot(state, segment).catch((error: unknown) => {
          process.stderr.write(`snapshot failed: ${String(error)}\n`);
          process.exit(1);
        });
      }
      await appended;
      process.stdout.write(`ack ${id}\n`);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT_MAX }, appendBatches));
  await log.close();
}

// Only when run as a script: the test imports this module for RECORDS_PER_BATCH and batchRecord.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [dir, batchesMaxText] = process.argv.slice(2);
  if (dir === undefined || batchesMaxText === undefined) {
    process.stderr.write('usage: log-writer-child.js <dir> <batchesMax>\n');
    process.exit(2);
  }
  main(dir, Number(batchesMaxText)).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
