// A storage node whose newest log segment is damaged in the middle (a flipped byte, as bit rot or a
// misdirected write leaves it), on six real processes (docs/adr/0009-replica-repair.md): restarted,
// it keeps the records before the damage, answers no quorum message until it has repaired from its
// peers, says so on its health endpoint, and ends holding every acknowledged write.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { QuorumClient } from '../../libs/storage-client/src/index.js';
import { type StorageFleet, startStorageFleet } from '../support/storage-fleet.js';
import { waitUntil } from '../support/wait.js';

const VOLUME = 'repair';
const encode = (text: string) => Buffer.from(text, 'utf8');
const decode = (value: Uint8Array | null) => (value === null ? null : Buffer.from(value).toString('utf8'));
/** Quiet period of a repair: proposal age 6 s + 4 × pending timeout 0.5 s + 1 s = 9 s. */
const TIMING_ENV = { STORAGE_PROPOSAL_MAX_AGE_MS: '6000', STORAGE_PENDING_TIMEOUT_MS: '500' };

interface RepairHealth {
  state: 'whole' | 'repairing' | 'repaired';
  reason?: string;
  messagesNotAnswered?: number;
}

describe('a storage node restarted with a damaged log', { timeout: 180_000 }, () => {
  let dataRoot: string;
  let fleet: StorageFleet;
  let writer: QuorumClient;
  /** Every acknowledged write: key → value. */
  const acknowledged = new Map<string, string>();

  const write = async (key: string, value: string) => {
    const outcome = await writer.commit(VOLUME, [{ key, seq: 0 }], [{ key, value: encode(value) }]);
    assert.equal(outcome.outcome, 'committed', `${key}: ${JSON.stringify(outcome)}`);
    acknowledged.set(key, value);
  };
  const repairOf = async (index: number) => (await fleet.health(index)).repair as RepairHealth;

  before(async () => {
    dataRoot = await mkdtemp(join(tmpdir(), 'borealis-repair-'));
    fleet = await startStorageFleet({ dataRoot, env: TIMING_ENV });
    writer = new QuorumClient({ writerId: `repair-${process.pid}`, coordinatorId: 7, nodes: fleet.nodes });
    await writer.waitForNodes(6, 10_000);
  });

  after(async () => {
    await writer?.close();
    await fleet?.stop();
    await rm(dataRoot, { recursive: true, force: true });
  });

  it('repairs from its peers before serving, says so on /health, and loses no acknowledged write', async () => {
    for (let index = 0; index < 300; index++) await write(`before-${index}`, `value-${index}`);
    assert.equal((await repairOf(0)).state, 'whole');
    await fleet.kill(0);

    // A byte in the middle of the records of s1's newest segment flips: records after it are
    // valid and may have been acknowledged. (The killed node's segment ends in the zeros it wrote
    // ahead of its records; should the last record end in zero bytes too, the middle moves a little.)
    const dir = join(dataRoot, 's1');
    const segments = (await readdir(dir)).filter((name) => name.endsWith('.wal')).sort();
    const newest = join(dir, segments[segments.length - 1] as string);
    const bytes = await readFile(newest);
    let recordsEnd = bytes.length;
    while (recordsEnd > 0 && bytes[recordsEnd - 1] === 0) recordsEnd--;
    assert.ok(recordsEnd > 10_000, `the newest segment holds records (${recordsEnd} bytes)`);
    bytes[Math.floor(recordsEnd / 2)] ^= 0x5a;
    await writeFile(newest, bytes);

    // Writes go on without s1 (five replicas answer).
    for (let index = 0; index < 50; index++) await write(`while-down-${index}`, `down-${index}`);

    await fleet.restart(0);
    assert.match(
      fleet.process(0).output(),
      /log damaged: .*damaged at byte \d+ [\s\S]*Repairing from its peers/,
    );
    const repairing = await repairOf(0);
    assert.equal(repairing.state, 'repairing');
    assert.match(repairing.reason ?? '', /corruption, not a torn tail/);
    const setAside = (await readdir(dir)).filter((name) => name.startsWith('damaged-'));
    assert.equal(setAside.length, 1, 'the damaged segment is kept for inspection');
    assert.ok(existsSync(join(dir, 'repair-needed.json')));

    // While it repairs, s1 alone answers no read (the quiet period alone lasts 9 s), and the
    // cluster keeps taking writes.
    const probe = fleet.readFrom(0, VOLUME, ['before-0']);
    for (let index = 0; index < 20; index++) await write(`during-${index}`, `during-${index}`);
    await assert.rejects(probe, /no READ reply from s1 within 5 s/);
    const stillRepairing = await repairOf(0);
    assert.equal(stillRepairing.state, 'repairing');
    assert.ok((stillRepairing.messagesNotAnswered ?? 0) >= 1, JSON.stringify(stillRepairing));

    await waitUntil('s1 to finish its repair', 90_000, async () => (await repairOf(0)).state === 'repaired');
    // The node takes part again at once; the marker goes once what the repair wrote is durable.
    await waitUntil('s1 to record the end of its repair', 10_000, () =>
      /repair complete after [\d.]+ s/.test(fleet.process(0).output()),
    );
    assert.equal(existsSync(join(dir, 'repair-needed.json')), false);

    // s1 alone now holds every acknowledged write, including those after the damage.
    const keys = [...acknowledged.keys()];
    const results = await fleet.readFrom(0, VOLUME, keys);
    const missing = results.filter((result) => decode(result.value) !== acknowledged.get(result.key));
    assert.deepEqual(
      missing.map((result) => result.key),
      [],
      'every acknowledged write is on the repaired replica',
    );
    const values = await writer.read(VOLUME, keys);
    for (const value of values) assert.equal(decode(value.value), acknowledged.get(value.key));

    // Once repaired, a restart finds a whole log.
    await fleet.kill(0);
    await fleet.restart(0);
    assert.equal((await repairOf(0)).state, 'whole');
    assert.ok((await stat(newest)).size > 0);
  });
});
