// Node tokens without processes: the control plane's derivation (pinned by vectors: a control
// plane of a later version must recompute the tokens of processes an earlier one started), its
// key file (mode 600, made once, refused when others may read it), what a node accepts as its
// token at start, and how it judges an Authorization header.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  makeNodeTokenKey,
  nodeToken,
  readNodeTokenKey,
} from '../../apps/control-plane/src/fleet/node-tokens.service.js';
import {
  NODE_TOKEN_MISSING,
  NODE_TOKEN_WRONG,
  NodeTokenGuard,
  readNodeToken,
} from '../../libs/health/src/index.js';

describe('node tokens: the control plane derives one per process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'borealis-node-token-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is HMAC-SHA256(key, "<role>:<id>") in hex, pinned by vectors', () => {
    const key = Buffer.alloc(32, 1);
    assert.equal(
      nodeToken(key, 'data-node', 'd7'),
      '3ee6d3b384a706b37dd61d05b9bd214903fe71429a20e2eb49657f949e7eeae2',
    );
    assert.equal(
      nodeToken(key, 'storage-node', 's1'),
      '3a4c3da36af0439b5b7cc49b7fc33bebb8b33bceecb3a6a3cbcb3ddc50e6ac0e',
    );
  });

  it('differs by role, by id and by key, and is the same every time', () => {
    const key = Buffer.alloc(32, 7);
    const tokens = new Set([
      nodeToken(key, 'data-node', 'd7'),
      nodeToken(key, 'data-node', 'd8'),
      nodeToken(key, 'storage-node', 'd7'),
      nodeToken(Buffer.alloc(32, 8), 'data-node', 'd7'),
    ]);
    assert.equal(tokens.size, 4);
    assert.equal(nodeToken(key, 'data-node', 'd7'), nodeToken(Buffer.alloc(32, 7), 'data-node', 'd7'));
    for (const token of tokens) assert.match(token, /^[0-9a-f]{64}$/);
  });

  it('makes the key once with mode 600 and reads the same key after', () => {
    const file = join(dir, 'made', 'node-token-key');
    assert.equal(makeNodeTokenKey(file), true);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const key = readNodeTokenKey(file);
    assert.equal(key.length, 32);
    const text = readFileSync(file, 'utf8');
    assert.equal(makeNodeTokenKey(file), false, 'an existing key is kept');
    assert.equal(readFileSync(file, 'utf8'), text);
    assert.deepEqual(readNodeTokenKey(file), key);
  });

  it('refuses a key file others may read, or one that is not a key, saying what to do', () => {
    const file = join(dir, 'open-key');
    writeFileSync(file, `${'ab'.repeat(32)}\n`, { mode: 0o600 });
    chmodSync(file, 0o644);
    assert.throws(() => readNodeTokenKey(file), /may be read by others \(mode 644\): chmod 600 /);
    chmodSync(file, 0o600);
    assert.equal(readNodeTokenKey(file).toString('hex'), 'ab'.repeat(32));
    const garbage = join(dir, 'garbage-key');
    writeFileSync(garbage, 'not a key\n', { mode: 0o600 });
    assert.throws(() => readNodeTokenKey(garbage), /is not 64 hex digits: restore it, or delete it/);
    assert.throws(() => readNodeTokenKey(join(dir, 'absent')), /cannot read the node-token key/);
  });
});

describe('node tokens: what a node accepts', () => {
  it('refuses to start without BOREALIS_NODE_TOKEN, or with an unfit one, in one line saying what to set', () => {
    for (const env of [{}, { BOREALIS_NODE_TOKEN: '' }]) {
      assert.throws(
        () => readNodeToken(env),
        (error: Error) =>
          /^BOREALIS_NODE_TOKEN is not set: .*set BOREALIS_NODE_TOKEN to a secret of at least 16/.test(
            error.message,
          ) && !error.message.includes('\n'),
      );
    }
    assert.throws(() => readNodeToken({ BOREALIS_NODE_TOKEN: 'short' }), /is 5 characters long; set /);
    assert.throws(
      () => readNodeToken({ BOREALIS_NODE_TOKEN: 'has a space in it, long enough' }),
      /not printable ASCII without spaces/,
    );
    assert.throws(() => readNodeToken({ BOREALIS_NODE_TOKEN: 'x'.repeat(513) }), /longer than 512/);
    assert.equal(readNodeToken({ BOREALIS_NODE_TOKEN: 'a'.repeat(16) }), 'a'.repeat(16));
  });

  it('accepts only "Bearer <its token>", and tells a missing token from a wrong one', () => {
    const token = 'f00d'.repeat(16);
    const guard = new NodeTokenGuard(token);
    assert.equal(guard.check({ authorization: `Bearer ${token}` }), 'ok');
    assert.equal(guard.check({ authorization: `bearer ${token}` }), 'ok', 'the scheme is case-insensitive');
    assert.equal(guard.check({}), 'missing');
    assert.equal(guard.check({ authorization: '' }), 'missing');
    for (const wrong of [
      `Bearer ${token}x`,
      `Bearer ${token.slice(1)}`,
      `Bearer ${'e00d'.repeat(16)}`,
      `Basic ${token}`,
      token,
      'Bearer',
      `Bearer ${token} extra`,
    ]) {
      assert.equal(guard.check({ authorization: wrong }), 'wrong', wrong);
    }
    assert.equal(NodeTokenGuard.refusal('missing'), NODE_TOKEN_MISSING);
    assert.equal(NodeTokenGuard.refusal('wrong'), NODE_TOKEN_WRONG);
    for (const message of [NODE_TOKEN_MISSING, NODE_TOKEN_WRONG]) {
      assert.match(message, /send Authorization: Bearer <BOREALIS_NODE_TOKEN>$/);
    }
  });
});
