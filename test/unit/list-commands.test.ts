// The list commands without a server: replies and error texts (Redis 7.0's, checked against a real
// server by the integration test redis-differential), the layout's bounds (single-element commands
// touch O(1) keys whatever the length, ranges are read in few rounds), and a property test of
// random command sequences against an array model, which also checks that no element key is
// left behind by a pop, trim, removal or insertion.
// The in-memory node (test/support/collection-node.ts) runs each command as the engine does, so
// the tests see how many rounds of reads a command takes and which keys it touches.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  decodeListMeta,
  encodeListMeta,
  listElementKey,
} from '../../apps/data-node/src/commands/list-layout.js';
import type { Reply } from '../../libs/resp/src/reply.js';
import { CollectionNode, type RunStats } from '../support/collection-node.js';

const START_MS = 1_700_000_000_000;
const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value';
/** The in-memory node with a fixed clock and replies in a compact form. */
class ListNode extends CollectionNode {
  constructor() {
    super(START_MS);
  }

  run(...words: (string | Buffer)[]): unknown {
    return simplify(this.reply(...words));
  }
}

function simplify(reply: Reply): unknown {
  switch (reply.kind) {
    case 'simple':
      return { simple: reply.value };
    case 'error':
      return { error: reply.message };
    case 'integer':
      return Number(reply.value);
    case 'bulk':
      return typeof reply.value === 'string' ? reply.value : reply.value.toString('latin1');
    case 'null':
      return null;
    case 'nullArray':
      return { nullArray: true };
    case 'array':
    case 'set':
      return reply.items.map(simplify);
    default:
      return { other: reply.kind };
  }
}

describe('list commands', () => {
  test('push, pop and length', () => {
    const node = new ListNode();
    assert.equal(node.run('RPUSH', 'l', 'a', 'b', 'c'), 3);
    assert.equal(node.run('LPUSH', 'l', 'x', 'y'), 5);
    assert.deepEqual(node.run('LRANGE', 'l', '0', '-1'), ['y', 'x', 'a', 'b', 'c']);
    assert.equal(node.run('LPUSHX', 'none', 'a'), 0);
    assert.equal(node.run('RPUSHX', 'l', 'z'), 6);
    assert.equal(node.run('EXISTS', 'none'), 0);
    assert.equal(node.run('LPOP', 'l'), 'y');
    assert.equal(node.run('RPOP', 'l'), 'z');
    assert.deepEqual(node.run('LPOP', 'l', '2'), ['x', 'a']);
    assert.deepEqual(node.run('RPOP', 'l', '5'), ['c', 'b']);
    assert.equal(node.run('EXISTS', 'l'), 0);
    assert.equal(node.run('LLEN', 'l'), 0);
    assert.equal(node.run('LPOP', 'l'), null);
    assert.deepEqual(node.run('LPOP', 'l', '1'), { nullArray: true });
    node.run('RPUSH', 'l', 'a');
    assert.deepEqual(node.run('LPOP', 'l', '0'), []);
    assert.deepEqual(node.run('LPOP', 'l', '-1'), { error: 'ERR value is out of range, must be positive' });
    assert.deepEqual(node.run('LPOP', 'l', 'x'), { error: 'ERR value is out of range, must be positive' });
    assert.deepEqual(node.run('LPOP', 'l', '1', '2'), {
      error: "ERR wrong number of arguments for 'lpop' command",
    });
    assert.deepEqual(node.strayElements(), []);
  });

  test('wrong types', () => {
    const node = new ListNode();
    node.run('SET', 's', 'v');
    for (const command of [
      ['LPUSH', 's', 'a'],
      ['RPUSHX', 's', 'a'],
      ['LPOP', 's'],
      ['LRANGE', 's', '0', '1'],
      ['LLEN', 's'],
      ['LINDEX', 's', '0'],
      ['LSET', 's', '0', 'a'],
      ['LREM', 's', '0', 'a'],
      ['LTRIM', 's', '0', '1'],
      ['LINSERT', 's', 'BEFORE', 'a', 'b'],
      ['LPOS', 's', 'a'],
      ['LMOVE', 's', 'd', 'LEFT', 'LEFT'],
      ['LMPOP', '1', 's', 'LEFT'],
    ]) {
      assert.deepEqual(node.run(...command), { error: WRONGTYPE }, command.join(' '));
    }
    node.run('RPUSH', 'l', 'a');
    assert.deepEqual(node.run('GET', 'l'), { error: WRONGTYPE });
    assert.deepEqual(node.run('TYPE', 'l'), { simple: 'list' });
    assert.deepEqual(node.run('RPOPLPUSH', 'l', 's'), { error: WRONGTYPE });
    assert.deepEqual(node.run('LRANGE', 'l', '0', '-1'), ['a']);
  });

  test('LRANGE, LINDEX and LSET by index', () => {
    const node = new ListNode();
    node.run('RPUSH', 'l', 'a', 'b', 'c', 'd');
    assert.deepEqual(node.run('LRANGE', 'l', '1', '2'), ['b', 'c']);
    assert.deepEqual(node.run('LRANGE', 'l', '-100', '100'), ['a', 'b', 'c', 'd']);
    assert.deepEqual(node.run('LRANGE', 'l', '-2', '-1'), ['c', 'd']);
    assert.deepEqual(node.run('LRANGE', 'l', '3', '1'), []);
    assert.deepEqual(node.run('LRANGE', 'l', '4', '10'), []);
    assert.deepEqual(node.run('LRANGE', 'l', '-9223372036854775808', '9223372036854775807'), [
      'a',
      'b',
      'c',
      'd',
    ]);
    assert.deepEqual(node.run('LRANGE', 'l', 'x', '1'), {
      error: 'ERR value is not an integer or out of range',
    });
    assert.deepEqual(node.run('LRANGE', 'none', 'x', '1'), {
      error: 'ERR value is not an integer or out of range',
    });
    assert.equal(node.run('LINDEX', 'l', '-1'), 'd');
    assert.equal(node.run('LINDEX', 'l', '4'), null);
    assert.equal(node.run('LINDEX', 'none', 'x'), null);
    assert.deepEqual(node.run('LINDEX', 'l', 'x'), { error: 'ERR value is not an integer or out of range' });
    assert.deepEqual(node.run('LSET', 'l', '-4', 'A'), { simple: 'OK' });
    assert.deepEqual(node.run('LSET', 'l', '4', 'A'), { error: 'ERR index out of range' });
    assert.deepEqual(node.run('LSET', 'none', 'x', 'A'), { error: 'ERR no such key' });
    assert.deepEqual(node.run('LSET', 'l', 'x', 'A'), {
      error: 'ERR value is not an integer or out of range',
    });
    assert.deepEqual(node.run('LRANGE', 'l', '0', '-1'), ['A', 'b', 'c', 'd']);
  });

  test('LREM, LTRIM and LINSERT', () => {
    const node = new ListNode();
    node.run('RPUSH', 'l', 'a', 'b', 'a', 'c', 'a', 'b');
    assert.equal(node.run('LREM', 'l', '-1', 'a'), 1);
    assert.deepEqual(node.run('LRANGE', 'l', '0', '-1'), ['a', 'b', 'a', 'c', 'b']);
    assert.equal(node.run('LREM', 'l', '1', 'b'), 1);
    assert.deepEqual(node.run('LRANGE', 'l', '0', '-1'), ['a', 'a', 'c', 'b']);
    assert.equal(node.run('LREM', 'l', '0', 'a'), 2);
    assert.equal(node.run('LREM', 'l', '0', 'zz'), 0);
    assert.equal(node.run('LREM', 'none', '0', 'a'), 0);
    assert.deepEqual(node.run('LREM', 'l', 'x', 'a'), {
      error: 'ERR value is not an integer or out of range',
    });
    assert.equal(node.run('LINSERT', 'l', 'BEFORE', 'c', 'x'), 3);
    assert.equal(node.run('LINSERT', 'l', 'after', 'b', 'y'), 4);
    assert.equal(node.run('LINSERT', 'l', 'AFTER', 'zz', 'y'), -1);
    assert.equal(node.run('LINSERT', 'none', 'AFTER', 'zz', 'y'), 0);
    assert.deepEqual(node.run('LINSERT', 'l', 'MIDDLE', 'c', 'y'), { error: 'ERR syntax error' });
    assert.deepEqual(node.run('LRANGE', 'l', '0', '-1'), ['x', 'c', 'b', 'y']);
    assert.deepEqual(node.run('LTRIM', 'l', '1', '-2'), { simple: 'OK' });
    assert.deepEqual(node.run('LRANGE', 'l', '0', '-1'), ['c', 'b']);
    assert.deepEqual(node.run('LTRIM', 'l', 'x', '1'), {
      error: 'ERR value is not an integer or out of range',
    });
    assert.deepEqual(node.run('LTRIM', 'l', '5', '10'), { simple: 'OK' });
    assert.equal(node.run('EXISTS', 'l'), 0);
    assert.deepEqual(node.strayElements(), []);
  });

  test('LPOS with RANK, COUNT and MAXLEN', () => {
    const node = new ListNode();
    node.run('RPUSH', 'l', 'a', 'b', 'c', 'a', 'b', 'c', 'a');
    assert.equal(node.run('LPOS', 'l', 'a'), 0);
    assert.equal(node.run('LPOS', 'l', 'a', 'RANK', '2'), 3);
    assert.equal(node.run('LPOS', 'l', 'a', 'RANK', '-1'), 6);
    assert.deepEqual(node.run('LPOS', 'l', 'a', 'RANK', '-1', 'COUNT', '0'), [6, 3, 0]);
    assert.deepEqual(node.run('LPOS', 'l', 'a', 'RANK', '2', 'COUNT', '2', 'MAXLEN', '5'), [3]);
    assert.equal(node.run('LPOS', 'l', 'zz'), null);
    assert.deepEqual(node.run('LPOS', 'l', 'zz', 'COUNT', '1'), []);
    assert.deepEqual(node.run('LPOS', 'none', 'a', 'COUNT', '1'), []);
    assert.equal(node.run('LPOS', 'none', 'a'), null);
    assert.equal(node.run('LPOS', 'l', 'a', 'RANK', '9223372036854775807'), null);
    assert.deepEqual(node.run('LPOS', 'none', 'a', 'RANK', '0'), {
      error:
        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
    });
    assert.deepEqual(node.run('LPOS', 'l', 'a', 'RANK', '-9223372036854775808'), {
      error: 'ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807',
    });
    assert.deepEqual(node.run('LPOS', 'l', 'a', 'RANK', 'x'), {
      error: 'ERR value is not an integer or out of range',
    });
    assert.deepEqual(node.run('LPOS', 'l', 'a', 'COUNT', 'x'), { error: "ERR COUNT can't be negative" });
    assert.deepEqual(node.run('LPOS', 'l', 'a', 'MAXLEN', '-1'), { error: "ERR MAXLEN can't be negative" });
    assert.deepEqual(node.run('LPOS', 'l', 'a', 'RANK'), { error: 'ERR syntax error' });
    assert.deepEqual(node.run('LPOS', 'l', 'a', 'FOO', '1'), { error: 'ERR syntax error' });
  });

  test('LMOVE, RPOPLPUSH and LMPOP', () => {
    const node = new ListNode();
    node.run('RPUSH', 'src', 'a', 'b', 'c');
    assert.equal(node.run('RPOPLPUSH', 'src', 'dst'), 'c');
    assert.equal(node.run('LMOVE', 'src', 'dst', 'LEFT', 'RIGHT'), 'a');
    assert.deepEqual(node.run('LRANGE', 'dst', '0', '-1'), ['c', 'a']);
    assert.equal(node.run('LMOVE', 'src', 'src', 'left', 'right'), 'b');
    assert.deepEqual(node.run('LRANGE', 'src', '0', '-1'), ['b']);
    assert.equal(node.run('LMOVE', 'dst', 'dst', 'LEFT', 'RIGHT'), 'c');
    assert.deepEqual(node.run('LRANGE', 'dst', '0', '-1'), ['a', 'c']);
    assert.equal(node.run('LMOVE', 'src', 'dst', 'RIGHT', 'LEFT'), 'b');
    assert.equal(node.run('EXISTS', 'src'), 0);
    assert.equal(node.run('LMOVE', 'src', 'dst', 'RIGHT', 'LEFT'), null);
    assert.deepEqual(node.run('LMOVE', 'src', 'dst', 'UP', 'LEFT'), { error: 'ERR syntax error' });
    assert.deepEqual(node.run('LMPOP', '2', 'none', 'dst', 'RIGHT', 'COUNT', '2'), ['dst', ['c', 'a']]);
    assert.deepEqual(node.run('LMPOP', '2', 'none', 'dst', 'LEFT'), ['dst', ['b']]);
    assert.deepEqual(node.run('LMPOP', '2', 'none', 'dst', 'LEFT'), { nullArray: true });
    assert.deepEqual(node.run('LMPOP', '0', 'l', 'LEFT'), { error: 'ERR numkeys should be greater than 0' });
    assert.deepEqual(node.run('LMPOP', 'x', 'l', 'LEFT'), { error: 'ERR numkeys should be greater than 0' });
    assert.deepEqual(node.run('LMPOP', '2', 'l', 'LEFT'), { error: 'ERR syntax error' });
    assert.deepEqual(node.run('LMPOP', '9223372036854775807', 'l', 'LEFT'), { error: 'ERR syntax error' });
    assert.deepEqual(node.run('LMPOP', '1', 'l', 'MIDDLE'), { error: 'ERR syntax error' });
    assert.deepEqual(node.run('LMPOP', '1', 'l', 'LEFT', 'COUNT', '0'), {
      error: 'ERR count should be greater than 0',
    });
    assert.deepEqual(node.run('LMPOP', '1', 'l', 'LEFT', 'COUNT', '1', 'COUNT', '1'), {
      error: 'ERR syntax error',
    });
    assert.deepEqual(node.run('LMPOP', '1', 'l'), {
      error: "ERR wrong number of arguments for 'lmpop' command",
    });
    assert.deepEqual(node.strayElements(), []);
  });

  test('COPY copies a list under a new id; the copies then change apart', () => {
    const node = new ListNode();
    node.run('RPUSH', 'l', 'a', 'b', 'c');
    node.run('LPOP', 'l');
    assert.equal(node.run('COPY', 'l', 'c'), 1);
    assert.equal(node.run('COPY', 'l', 'c'), 0);
    node.run('RPUSH', 'c', 'd');
    node.run('LSET', 'l', '0', 'B');
    assert.deepEqual(node.run('LRANGE', 'l', '0', '-1'), ['B', 'c']);
    assert.deepEqual(node.run('LRANGE', 'c', '0', '-1'), ['b', 'c', 'd']);
    assert.equal(typeof node.run('MEMORY', 'USAGE', 'c'), 'number');
    assert.deepEqual(node.strayElements(), []);
  });

  test('expired lists read as absent and a push starts a new one', () => {
    const node = new ListNode();
    node.run('RPUSH', 'l', 'a', 'b');
    assert.equal(node.run('PEXPIRE', 'l', '100'), 1);
    node.nowMs += 101;
    assert.equal(node.run('LLEN', 'l'), 0);
    assert.equal(node.run('RPUSHX', 'l', 'x'), 0);
    assert.equal(node.run('RPUSH', 'l', 'c'), 1);
    assert.deepEqual(node.run('LRANGE', 'l', '0', '-1'), ['c']);
    assert.equal(node.run('PTTL', 'l'), -1);
  });

  test('pushes and pops keep the list expiry', () => {
    const node = new ListNode();
    node.run('RPUSH', 'l', 'a', 'b');
    node.run('PEXPIRE', 'l', '5000');
    node.run('LPUSH', 'l', 'z');
    node.run('RPOP', 'l');
    assert.equal(node.run('PTTL', 'l'), 5000);
  });
});

describe('list layout', () => {
  test('element keys sort in list order and the head index round-trips', () => {
    const indices = [-(2 ** 53) + 1, -70000, -1, 0, 1, 255, 256, 2 ** 40, 2 ** 53 - 1];
    const keys = indices.map((index) => listElementKey('12345678', index));
    assert.deepEqual([...keys].sort(), keys);
    for (const index of indices) assert.equal(decodeListMeta(encodeListMeta(index)).head, index);
    assert.throws(() => decodeListMeta(Buffer.from([9, 0, 0, 0, 0, 0, 0, 0, 0])), /corrupt list header/);
  });

  test('single-element commands touch the same few keys on 1,000,000 elements as on 10', () => {
    const costs = (size: number): RunStats[] => {
      const node = new ListNode();
      node.seed('l', size);
      return [
        ['LPUSH', 'l', 'x'],
        ['RPUSH', 'l', 'y'],
        ['LPOP', 'l'],
        ['RPOP', 'l'],
        ['LINDEX', 'l', String(Math.floor(size / 2))],
        ['LSET', 'l', '-3', 'z'],
        ['LLEN', 'l'],
        ['RPOPLPUSH', 'l', 'other'],
        ['LMOVE', 'l', 'l', 'LEFT', 'RIGHT'],
      ].map((command) => {
        node.run(...command);
        return node.stats;
      });
    };
    const small = costs(10);
    const large = costs(1_000_000);
    // The header and the keys at hand: the element or slot, and the rest of its read window
    // (32 absent slots beyond an end for a push, 8 elements at an end for a pop).
    for (const stats of [...small, ...large]) {
      assert.ok(stats.rounds <= 1, JSON.stringify(stats));
      assert.ok(stats.elementsRead <= 40 && stats.elementsWritten <= 2, JSON.stringify(stats));
    }
    assert.deepEqual(
      large.map((stats) => stats.rounds),
      small.map((stats) => stats.rounds),
    );
  });

  test('pushes and pops batched on one list (a MULTI, a group) take few rounds of reads', () => {
    const node = new ListNode();
    node.seed('l', 1_000, 0);
    const pushes = Array.from({ length: 100 }, (_, index) => ['RPUSH', 'l', `p${index}`]);
    const pushReplies = node.replyAll(pushes).map(simplify);
    assert.deepEqual(
      pushReplies,
      pushes.map((_, index) => 1_001 + index),
    );
    assert.ok(node.stats.rounds <= 5, JSON.stringify(node.stats));
    const leftPushes = Array.from({ length: 100 }, (_, index) => ['LPUSH', 'l', `q${index}`]);
    node.replyAll(leftPushes);
    assert.ok(node.stats.rounds <= 5, JSON.stringify(node.stats));
    const pops = Array.from({ length: 40 }, (_, index) => [index % 2 === 0 ? 'LPOP' : 'RPOP', 'l']);
    const popReplies = node.replyAll(pops).map(simplify);
    assert.deepEqual(
      popReplies.filter((_, index) => index % 2 === 0),
      Array.from({ length: 20 }, (_, index) => `q${99 - index}`),
    );
    assert.deepEqual(
      popReplies.filter((_, index) => index % 2 === 1),
      Array.from({ length: 20 }, (_, index) => `p${99 - index}`),
    );
    assert.ok(node.stats.rounds <= 8, JSON.stringify(node.stats));
    const moves = Array.from({ length: 40 }, () => ['LMOVE', 'l', 'm', 'LEFT', 'RIGHT']);
    node.replyAll(moves);
    assert.ok(node.stats.rounds <= 8, JSON.stringify(node.stats));
    assert.deepEqual(node.run('LRANGE', 'm', '0', '2'), ['q79', 'q78', 'q77']);
    assert.deepEqual(node.strayElements(), []);
  });

  test('a torn read (an element missing inside the live range) writes nothing but the header', () => {
    const torn = {
      error:
        'ERR the list changed while the command read it, and the change did not show as a conflict; retry the command',
    };
    for (const command of [
      ['LRANGE', 'l', '0', '-1'],
      ['LPOP', 'l', '3'],
      ['RPOP', 'l'],
      ['LMOVE', 'l', 'other', 'RIGHT', 'LEFT'],
      ['LREM', 'l', '0', 'e0'],
      ['LINSERT', 'l', 'BEFORE', 'e2', 'x'],
      ['LSET', 'l', '1', 'x'],
      ['LINDEX', 'l', '1'],
    ]) {
      const node = new ListNode();
      node.seed('l', 3, 0);
      // The element in the middle (index 1) is gone: header and elements are from different moments.
      node.keyspace.entries.delete(listElementKey('seedl###', 1));
      const before = [...node.keyspace.entries.entries()];
      const reply = node.run(...command);
      if (command[0] === 'LSET') {
        // LSET reads nothing it relies on: it overwrites the element, as Redis would.
        assert.deepEqual(reply, { simple: 'OK' });
        continue;
      }
      if (command[0] === 'RPOP' || command[0] === 'LMOVE') {
        // The tail element is there: these never look at the missing one.
        assert.equal(reply, 'e2', command.join(' '));
        continue;
      }
      assert.deepEqual(reply, torn, command.join(' '));
      assert.deepEqual([...node.keyspace.entries.entries()], before, command.join(' '));
      assert.equal(node.keyspace.has('other'), false);
    }
  });

  test('trimming most of a large list moves what is kept to a new id; the old keys are reclaimed', () => {
    const node = new ListNode();
    node.seed('l', 100_000);
    node.run('PEXPIRE', 'l', '100000');
    assert.deepEqual(node.run('LTRIM', 'l', '500', '509'), { simple: 'OK' });
    // The ten kept elements (read, and written under the new id); nothing else.
    assert.ok(
      node.stats.elementsWritten === 10 && node.stats.elementsRead <= 10 + 32,
      JSON.stringify(node.stats),
    );
    assert.deepEqual(
      node.run('LRANGE', 'l', '0', '-1'),
      Array.from({ length: 10 }, (_, index) => `e${500 + index}`),
    );
    assert.equal(node.run('PTTL', 'l'), 100000);
    assert.deepEqual(node.strayElements(), []);
    node.seed('big', 100_000);
    assert.deepEqual(node.run('LTRIM', 'big', '1', '0'), { simple: 'OK' });
    assert.deepEqual(node.stats, { rounds: 0, elementsRead: 0, elementsWritten: 0 });
    assert.equal(node.run('EXISTS', 'big'), 0);
    assert.deepEqual(node.strayElements(), []);
    // A small trim deletes in place and keeps the id.
    node.run('RPUSH', 'l', 'x', 'y');
    assert.deepEqual(node.run('LTRIM', 'l', '1', '-2'), { simple: 'OK' });
    assert.equal(node.stats.elementsWritten, 2);
    assert.deepEqual(node.strayElements(), []);
  });

  test('LRANGE reads only its range, in one round', () => {
    const node = new ListNode();
    node.seed('l', 100_000);
    assert.deepEqual(node.run('LRANGE', 'l', '50000', '50002'), ['e50000', 'e50001', 'e50002']);
    assert.deepEqual(node.stats, { rounds: 1, elementsRead: 3, elementsWritten: 0 });
    assert.equal((node.run('LRANGE', 'l', '0', '-1') as unknown[]).length, 100_000);
    assert.equal(node.stats.rounds, 1);
  });

  test('scans take a logarithmic number of rounds and stop at the match', () => {
    const node = new ListNode();
    node.seed('l', 100_000);
    assert.equal(node.run('LPOS', 'l', 'e3'), 3);
    assert.equal(node.stats.rounds, 1);
    assert.equal(node.stats.elementsRead, 32);
    assert.equal(node.run('LPOS', 'l', 'e99990', 'RANK', '-1'), 99_990);
    assert.equal(node.stats.rounds, 1);
    assert.equal(node.run('LPOS', 'l', 'absent'), null);
    assert.ok(node.stats.rounds <= 8, JSON.stringify(node.stats));
    // An insertion near the tail shifts the tail side: few writes.
    assert.equal(node.run('LINSERT', 'l', 'AFTER', 'e99998', 'new'), 100_001);
    assert.ok(node.stats.elementsWritten <= 3, JSON.stringify(node.stats));
    assert.equal(node.run('LINSERT', 'l', 'BEFORE', 'e2', 'new2'), 100_002);
    assert.ok(node.stats.elementsWritten <= 4, JSON.stringify(node.stats));
    assert.equal(node.run('LREM', 'l', '-1', 'e99997'), 1);
    assert.ok(node.stats.elementsWritten <= 4, JSON.stringify(node.stats));
    assert.deepEqual(node.run('LRANGE', 'l', '0', '4'), ['e0', 'e1', 'new2', 'e2', 'e3']);
    assert.deepEqual(node.run('LRANGE', 'l', '-4', '-1'), ['e99996', 'e99998', 'new', 'e99999']);
    assert.deepEqual(node.strayElements(), []);
  });
});

// ---------------------------------------------------------------------------------------------
// A random sequence of list commands against an array model of Redis's semantics.

const KEYS = ['k1', 'k2', 'k3'];
const ELEMENTS = ['a', 'b', 'c', '', 'a\u0000b'];

type Lists = Map<string, string[]>;

const keyArb = fc.constantFrom(...KEYS);
const elementArb = fc.constantFrom(...ELEMENTS);
const indexArb = fc.integer({ min: -8, max: 8 }).map(String);
const endArb = fc.constantFrom('LEFT', 'RIGHT');
const commandArb: fc.Arbitrary<string[]> = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('LPUSH', 'RPUSH', 'LPUSHX', 'RPUSHX'),
      keyArb,
      fc.array(elementArb, { minLength: 1, maxLength: 4 }),
    )
    .map(([name, key, elements]) => [name, key, ...elements]),
  fc
    .tuple(fc.constantFrom('LPOP', 'RPOP'), keyArb, fc.option(fc.integer({ min: 0, max: 5 })))
    .map(([name, key, count]) => (count === null ? [name, key] : [name, key, String(count)])),
  fc.tuple(keyArb, indexArb, indexArb).map(([key, start, stop]) => ['LRANGE', key, start, stop]),
  fc.tuple(keyArb, indexArb).map(([key, index]) => ['LINDEX', key, index]),
  fc.tuple(keyArb, indexArb, elementArb).map(([key, index, element]) => ['LSET', key, index, element]),
  fc
    .tuple(keyArb, fc.integer({ min: -3, max: 3 }), elementArb)
    .map(([key, count, element]) => ['LREM', key, String(count), element]),
  fc.tuple(keyArb, indexArb, indexArb).map(([key, start, stop]) => ['LTRIM', key, start, stop]),
  fc
    .tuple(keyArb, fc.constantFrom('BEFORE', 'AFTER'), elementArb, elementArb)
    .map(([key, where, pivot, element]) => ['LINSERT', key, where, pivot, element]),
  fc
    .tuple(
      keyArb,
      elementArb,
      fc.option(fc.integer({ min: -3, max: 3 }).filter((rank) => rank !== 0)),
      fc.option(fc.nat(3)),
      fc.option(fc.nat(6)),
    )
    .map(([key, element, rank, count, maxlen]) => [
      'LPOS',
      key,
      element,
      ...(rank === null ? [] : ['RANK', String(rank)]),
      ...(count === null ? [] : ['COUNT', String(count)]),
      ...(maxlen === null ? [] : ['MAXLEN', String(maxlen)]),
    ]),
  fc
    .tuple(keyArb, keyArb, endArb, endArb)
    .map(([source, destination, from, to]) => ['LMOVE', source, destination, from, to]),
  fc.tuple(keyArb, keyArb).map(([source, destination]) => ['RPOPLPUSH', source, destination]),
  fc
    .tuple(
      fc.uniqueArray(keyArb, { minLength: 1, maxLength: 3 }),
      endArb,
      fc.option(fc.integer({ min: 1, max: 4 })),
    )
    .map(([keys, where, count]) => [
      'LMPOP',
      String(keys.length),
      ...keys,
      where,
      ...(count === null ? [] : ['COUNT', String(count)]),
    ]),
  keyArb.map((key) => ['LLEN', key]),
);

function normalize(start: number, stop: number, size: number): [number, number] | null {
  let first = start < 0 ? size + start : start;
  let last = stop < 0 ? size + stop : stop;
  if (first < 0) first = 0;
  if (first > last || first >= size) return null;
  if (last >= size) last = size - 1;
  return [first, last];
}

/** Redis's list semantics over arrays, for valid commands only. */
function modelReply(lists: Lists, command: string[]): unknown {
  const [name, key = '', ...rest] = command;
  const list = lists.get(key);
  const store = (target: string, items: string[]): void => {
    if (items.length === 0) lists.delete(target);
    else lists.set(target, items);
  };
  const popEnd = (items: string[], fromTail: boolean, count: number): string[] =>
    fromTail ? items.splice(items.length - count, count).reverse() : items.splice(0, count);
  switch (name) {
    case 'LPUSH':
    case 'RPUSH':
    case 'LPUSHX':
    case 'RPUSHX': {
      if (list === undefined && name.endsWith('X')) return 0;
      const items = [...(list ?? [])];
      for (const element of rest) name.startsWith('L') ? items.unshift(element) : items.push(element);
      store(key, items);
      return items.length;
    }
    case 'LPOP':
    case 'RPOP': {
      if (list === undefined) return rest.length === 0 ? null : { nullArray: true };
      const items = [...list];
      if (rest.length === 0) {
        const [element] = popEnd(items, name === 'RPOP', 1);
        store(key, items);
        return element;
      }
      const popped = popEnd(items, name === 'RPOP', Math.min(Number(rest[0]), items.length));
      store(key, items);
      return popped;
    }
    case 'LRANGE': {
      const span = normalize(Number(rest[0]), Number(rest[1]), list?.length ?? 0);
      return span === null ? [] : (list ?? []).slice(span[0], span[1] + 1);
    }
    case 'LINDEX': {
      if (list === undefined) return null;
      const index = Number(rest[0]);
      return list.at(index) ?? null;
    }
    case 'LSET': {
      if (list === undefined) return { error: 'ERR no such key' };
      const index = Number(rest[0]);
      const position = index < 0 ? list.length + index : index;
      if (position < 0 || position >= list.length) return { error: 'ERR index out of range' };
      const items = [...list];
      items[position] = rest[1] as string;
      store(key, items);
      return { simple: 'OK' };
    }
    case 'LREM': {
      if (list === undefined) return 0;
      const count = Number(rest[0]);
      const element = rest[1];
      const order = list.map((_, index) => (count < 0 ? list.length - 1 - index : index));
      const removed = new Set<number>();
      for (const position of order) {
        if (count !== 0 && removed.size === Math.abs(count)) break;
        if (list[position] === element) removed.add(position);
      }
      store(
        key,
        list.filter((_, index) => !removed.has(index)),
      );
      return removed.size;
    }
    case 'LTRIM': {
      if (list === undefined) return { simple: 'OK' };
      const span = normalize(Number(rest[0]), Number(rest[1]), list.length);
      store(key, span === null ? [] : list.slice(span[0], span[1] + 1));
      return { simple: 'OK' };
    }
    case 'LINSERT': {
      if (list === undefined) return 0;
      const [where, pivot, element] = rest as [string, string, string];
      const at = list.indexOf(pivot);
      if (at < 0) return -1;
      const items = [...list];
      items.splice(where === 'BEFORE' ? at : at + 1, 0, element);
      store(key, items);
      return items.length;
    }
    case 'LPOS': {
      const element = rest[0];
      let rank = 1;
      let count: number | null = null;
      let maxlen = 0;
      for (let index = 1; index < rest.length; index += 2) {
        const value = Number(rest[index + 1]);
        if (rest[index] === 'RANK') rank = value;
        else if (rest[index] === 'COUNT') count = value;
        else maxlen = value;
      }
      if (list === undefined) return count === null ? null : [];
      const order = list.map((_, index) => (rank < 0 ? list.length - 1 - index : index));
      const limited = maxlen === 0 ? order : order.slice(0, maxlen);
      const matches = limited.filter((position) => list[position] === element).slice(Math.abs(rank) - 1);
      if (count === null) return matches[0] ?? null;
      return count === 0 ? matches : matches.slice(0, count);
    }
    case 'LMOVE':
    case 'RPOPLPUSH': {
      const [destination, from, to] =
        name === 'RPOPLPUSH' ? [rest[0] as string, 'RIGHT', 'LEFT'] : (rest as [string, string, string]);
      if (list === undefined) return null;
      const items = [...list];
      const [element] = popEnd(items, from === 'RIGHT', 1) as [string];
      store(key, items);
      const target = [...(lists.get(destination) ?? [])];
      if (to === 'LEFT') target.unshift(element);
      else target.push(element);
      store(destination, target);
      return element;
    }
    case 'LMPOP': {
      const count = Number(key);
      const keys = rest.slice(0, count);
      const where = rest[count];
      const popCount = rest[count + 1] === 'COUNT' ? Number(rest[count + 2]) : 1;
      for (const candidate of keys) {
        const items = lists.get(candidate);
        if (items === undefined) continue;
        const copy = [...items];
        const popped = popEnd(copy, where === 'RIGHT', Math.min(popCount, copy.length));
        store(candidate, copy);
        return [candidate, popped];
      }
      return { nullArray: true };
    }
    case 'LLEN':
      return list?.length ?? 0;
    default:
      throw new Error(`no model for ${name}`);
  }
}

test('random list command sequences agree with an array model and leave no stray elements', () => {
  fc.assert(
    fc.property(fc.array(commandArb, { minLength: 1, maxLength: 60 }), (commands) => {
      const node = new ListNode();
      const model: Lists = new Map();
      for (const command of commands) {
        const expected = modelReply(model, command);
        assert.deepEqual(node.run(...command), expected, command.join(' '));
      }
      for (const key of KEYS) assert.deepEqual(node.run('LRANGE', key, '0', '-1'), model.get(key) ?? []);
      assert.deepEqual(node.strayElements(), []);
    }),
    { numRuns: 300, seed: 20261202 },
  );
});
