// The session core of the proxy (pure): how each forwarded request is classed and what it does to
// the session when sent and when answered; what a new writer is given (log-in, settings,
// consistency, SESSION MOVED, the MULTI queue); where a new writer differs from what the client
// believes; what happens to each command in flight on a failed writer; the commands the proxy
// answers itself; the pause decision; and the choice of writer.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QuiesceDecision } from '../../apps/proxy/src/cluster/quiesce-decision.js';
import { QUARANTINE_MS, WriterPool } from '../../apps/proxy/src/cluster/writer-pool.js';
import { encodeRequest } from '../../apps/proxy/src/resp/request-bytes.js';
import { classify } from '../../apps/proxy/src/session/command-class.js';
import { DEFAULT_SETTINGS, type Entry, newEntry } from '../../apps/proxy/src/session/entry.js';
import { applyHello, clientCommand, planHello } from '../../apps/proxy/src/session/local-commands.js';
import { MULTI_REPLAY_BYTES_MAX, SessionState } from '../../apps/proxy/src/session/session-state.js';
import { crashAction, divergenceOf, handshake } from '../../apps/proxy/src/session/writer-handshake.js';
import { ParseError, RequestParser } from '../../libs/resp/src/index.js';

const args = (line: string): Buffer[] => line.split(' ').map((word) => Buffer.from(word, 'latin1'));

/** Sends `line` through the session state as the connection does; returns its entry. */
function send(state: SessionState, line: string): Entry {
  const request = args(line);
  const classified = classify(request);
  const entry = newEntry('connection', state.settings);
  const bytes = encodeRequest(request);
  entry.memory = bytes.buffer;
  entry.offset = bytes.byteOffset;
  entry.length = bytes.length;
  state.forward('error' in classified ? null : classified.commandClass, request, entry);
  return entry;
}

function reply(state: SessionState, entry: Entry, outcome: 'ok' | 'error' | 'null' = 'ok'): void {
  state.confirmed(entry, outcome === 'error', outcome === 'null', () =>
    Buffer.from(entry.memory, entry.offset, entry.length),
  );
}

/** The requests in a list of entries, as words. */
function requestsOf(entries: Entry[]): string[] {
  const parser = new RequestParser();
  for (const entry of entries) parser.push(Buffer.from(entry.memory, entry.offset, entry.length));
  const lines: string[] = [];
  for (let request = parser.next(); request !== null; request = parser.next()) {
    assert.ok(!(request instanceof ParseError));
    lines.push(request.map((arg) => arg.toString('latin1')).join(' '));
  }
  return lines;
}

describe('session state: forwarded requests', () => {
  it('classes data commands as reads or writes, and the rest as connection commands', () => {
    const state = new SessionState();
    assert.equal(send(state, 'GET k').kind, 'read');
    assert.equal(send(state, 'MGET a b').kind, 'read');
    assert.equal(send(state, 'SET k v').kind, 'write');
    assert.equal(send(state, 'INCR k').kind, 'write');
    assert.equal(send(state, 'PING').kind, 'connection');
    assert.equal(send(state, 'EXEC').kind, 'connection', 'EXEC without MULTI');
    assert.equal(send(state, 'DISCARD').kind, 'connection');
    assert.equal(send(state, 'BOREALIS CONSISTENCY').kind, 'connection', 'a query');
    const set = send(state, 'BOREALIS CONSISTENCY cluster');
    assert.deepEqual([set.kind, set.consistency], ['consistency', 'cluster']);
  });

  it('queues everything inside MULTI but what acts at once', () => {
    const state = new SessionState();
    assert.equal(send(state, 'MULTI').kind, 'multi');
    assert.equal(state.inMulti, true);
    assert.equal(send(state, 'SET k v').kind, 'queued');
    assert.equal(send(state, 'GET k').kind, 'queued');
    assert.equal(send(state, 'UNWATCH').kind, 'queued');
    assert.equal(send(state, 'NOSUCH x').kind, 'queued');
    assert.equal(send(state, 'MULTI').kind, 'connection', 'nested: the writer answers an error');
    assert.equal(send(state, 'WATCH k').kind, 'connection', 'refused inside MULTI');
    const queuedConsistency = send(state, 'BOREALIS CONSISTENCY cluster');
    assert.deepEqual([queuedConsistency.kind, queuedConsistency.consistency], ['queued', 'cluster']);
    assert.equal(send(state, 'EXEC').kind, 'exec');
    assert.equal(state.inMulti, false);
  });

  it('tracks WATCH and MULTI for the autoscaler', () => {
    const state = new SessionState();
    send(state, 'WATCH k');
    assert.equal(state.inTransaction, true);
    send(state, 'UNWATCH');
    assert.equal(state.inTransaction, false);
    send(state, 'WATCH k');
    send(state, 'MULTI');
    send(state, 'EXEC');
    assert.equal(state.inTransaction, false);
  });
});

describe('session state: what writers confirm', () => {
  it('records the QUEUED commands of a MULTI, and its doom by a queueing error', () => {
    const state = new SessionState();
    reply(state, send(state, 'MULTI'));
    reply(state, send(state, 'SET k v'));
    reply(state, send(state, 'INCR n'));
    assert.deepEqual(requestsOf(handshake(state, 'pw', DEFAULT_SETTINGS, false)), [
      'AUTH pw',
      'MULTI',
      'SET k v',
      'INCR n',
    ]);
    reply(state, send(state, 'NOSUCH'), 'error');
    assert.equal(state.multiDirty, true);
    assert.deepEqual(divergenceOf(state), { brokenWatch: false, doomedTransaction: true });
    reply(state, send(state, 'EXEC'), 'error');
    assert.equal(state.multiQueue, null);
    assert.equal(state.multiDirty, false);
  });

  it('applies BOREALIS CONSISTENCY when answered OK, and one queued in MULTI when EXEC runs', () => {
    const state = new SessionState();
    reply(state, send(state, 'BOREALIS CONSISTENCY cluster'));
    assert.equal(state.consistency, 'cluster');
    reply(state, send(state, 'MULTI'));
    reply(state, send(state, 'BOREALIS CONSISTENCY instance'));
    assert.equal(state.consistency, 'cluster', 'not before EXEC');
    reply(state, send(state, 'EXEC'));
    assert.equal(state.consistency, 'instance');
    reply(state, send(state, 'BOREALIS CONSISTENCY default'));
    assert.equal(state.consistency, null);
  });

  it('holds a WATCH from its OK until EXEC, DISCARD, UNWATCH or RESET', () => {
    const state = new SessionState();
    reply(state, send(state, 'WATCH k'));
    assert.deepEqual(divergenceOf(state), { brokenWatch: true, doomedTransaction: false });
    reply(state, send(state, 'UNWATCH'));
    assert.equal(state.watchHeld, false);
    reply(state, send(state, 'WATCH k'));
    reply(state, send(state, 'MULTI'));
    reply(state, send(state, 'EXEC'), 'null');
    assert.equal(state.watchHeld, false);
    reply(state, send(state, 'WATCH k'), 'error');
    assert.equal(state.watchHeld, false, 'a WATCH that failed watches nothing');
  });

  it('stops keeping a MULTI queue past the replay bound, and says the transaction is doomed on a move', () => {
    const state = new SessionState();
    reply(state, send(state, 'MULTI'));
    const big = `SET k ${'v'.repeat(1024 * 1024)}`;
    for (let count = 0; count <= MULTI_REPLAY_BYTES_MAX / (1024 * 1024); count++)
      reply(state, send(state, big));
    assert.equal(state.replayLost, true);
    assert.deepEqual(divergenceOf(state).doomedTransaction, true);
  });

  it('forgets everything on RESET', () => {
    const state = new SessionState();
    state.authenticated = true;
    reply(state, send(state, 'BOREALIS CONSISTENCY cluster'));
    reply(state, send(state, 'WATCH k'));
    reply(state, send(state, 'MULTI'));
    state.resetSent();
    state.resetConfirmed();
    assert.equal(state.authenticated, false);
    assert.equal(state.inMulti, false);
    assert.deepEqual(requestsOf(handshake(state, 'pw', DEFAULT_SETTINGS, false)), ['AUTH pw']);
    assert.deepEqual(divergenceOf(state), { brokenWatch: false, doomedTransaction: false });
  });
});

describe('session state: a new writer', () => {
  it('logs in, applies the settings, the consistency, SESSION MOVED and the MULTI queue, in that order', () => {
    const state = new SessionState();
    reply(state, send(state, 'BOREALIS CONSISTENCY cluster'));
    reply(state, send(state, 'MULTI'));
    reply(state, send(state, 'GET k'));
    const settings = { protocol: 3 as const, name: 'worker-1' };
    const opening = handshake(state, 'writer pw', settings, true);
    assert.deepEqual(requestsOf(opening), [
      'AUTH writer pw',
      'HELLO 3',
      'CLIENT SETNAME worker-1',
      'BOREALIS CONSISTENCY cluster',
      'BOREALIS SESSION MOVED',
      'MULTI',
      'GET k',
    ]);
    assert.deepEqual(
      opening.map((entry) => entry.role),
      ['login', 'required', 'required', 'required', 'optional', 'required', 'queued-replay'],
    );
  });

  it('sends again what cannot have changed data, and answers UNKNOWN what may have', () => {
    const state = new SessionState();
    const read = send(state, 'GET k');
    const write = send(state, 'SET k v');
    const ping = send(state, 'PING');
    const multi = send(state, 'MULTI');
    const queued = send(state, 'SET k w');
    const exec = send(state, 'EXEC');
    assert.deepEqual(
      [read, write, ping, multi, queued, exec].map((entry) => crashAction(entry, false)),
      ['resend', 'unknown', 'resend', 'resend', 'resend', 'exec-unknown'],
    );
    assert.deepEqual(
      [write, exec].map((entry) => crashAction(entry, true)),
      ['resend', 'resend'],
      'a writer that refused the session ran nothing',
    );
  });
});

describe('commands the proxy answers', () => {
  it('reads HELLO as the data node does', () => {
    assert.deepEqual(planHello(args('HELLO')), { version: null, steps: [], error: null });
    assert.deepEqual(planHello(args('HELLO x')), {
      error: { kind: 'error', message: 'ERR Protocol version is not an integer or out of range' },
    });
    assert.deepEqual(planHello(args('HELLO 4')), {
      error: { kind: 'error', message: 'NOPROTO unsupported protocol version' },
    });
    const plan = planHello(args('HELLO 3 AUTH default pw SETNAME me'));
    assert.ok('version' in plan);
    assert.equal(plan.version, 3);
    assert.equal(plan.steps.length, 2);
    assert.equal(plan.error, null);
    const stopped = planHello(args('HELLO 3 AUTH default pw BOGUS'));
    assert.ok('version' in stopped);
    assert.equal(stopped.steps.length, 1, 'the AUTH before the bad option still runs');
    assert.deepEqual(stopped.error, { kind: 'error', message: "ERR Syntax error in HELLO option 'bogus'" });
  });

  it('keeps settings as new snapshots, so a writer can be brought to them', () => {
    const state = new SessionState();
    const before = state.settings;
    const plan = planHello(args('HELLO 3 SETNAME me'));
    assert.ok('version' in plan);
    applyHello(state, plan);
    assert.notEqual(state.settings, before);
    assert.deepEqual(state.settings, { protocol: 3, name: 'me' });
    assert.deepEqual(clientCommand('client-getname', args('CLIENT GETNAME'), state, 7), {
      kind: 'bulk',
      value: 'me',
    });
    assert.equal(clientCommand('client-setname', args('CLIENT SETNAME a\nb'), state, 7).kind, 'error');
    assert.deepEqual(clientCommand('client-id', args('CLIENT ID'), state, 7), { kind: 'integer', value: 7 });
  });
});

describe('pause decision', () => {
  it('waits for commands in flight, then says wake if one is held, else quiesced', () => {
    const decision = new QuiesceDecision();
    decision.routeApplied('pausing', 4);
    assert.equal(decision.awaiting, true);
    assert.equal(decision.decide(2, false), null);
    assert.deepEqual(decision.decide(0, false), { type: 'quiesced', version: 4 });
    assert.equal(decision.decide(0, false), null, 'answered once');
    decision.routeApplied('pausing', 5);
    assert.deepEqual(decision.decide(0, true), { type: 'wake' });
    decision.routeApplied('open', 6);
    assert.equal(decision.decide(0, true), null);
  });
});

describe('writer choice', () => {
  const writers = [
    { id: 'a', host: 'h', port: 1, cu: 1 },
    { id: 'b', host: 'h', port: 2, cu: 1 },
  ];

  it('picks the writer with the fewest links', () => {
    const pool = new WriterPool();
    pool.setWriters(writers);
    pool.linkOpened('a');
    pool.linkOpened('a');
    pool.linkOpened('b');
    assert.equal(pool.choose(0)?.id, 'b');
    pool.linkClosed('a');
    pool.linkClosed('a');
    assert.equal(pool.choose(0)?.id, 'a');
  });

  it('spreads links in proportion to CU: a writer of half the size gets half as many', () => {
    const pool = new WriterPool();
    pool.setWriters([
      { id: 'big', host: 'h', port: 1, cu: 1 },
      { id: 'small', host: 'h', port: 2, cu: 0.5 },
      { id: 'other', host: 'h', port: 3, cu: 1 },
    ]);
    for (let link = 0; link < 10; link++) pool.linkOpened((pool.choose(0) as { id: string }).id);
    assert.deepEqual(
      ['big', 'small', 'other'].map((id) => pool.linksTo(id)),
      [4, 2, 4],
    );
    assert.deepEqual(
      [...pool.shares(10)],
      [
        ['big', 4],
        ['small', 2],
        ['other', 4],
      ],
      'the shares a rebalance aims at',
    );
  });

  it('keeps a writer that fails again and again out longer each time, until a session logs in on it', () => {
    const pool = new WriterPool();
    pool.setWriters(writers);
    pool.markDown('a', 0);
    pool.markDown('a', QUARANTINE_MS);
    assert.equal(pool.choose(QUARANTINE_MS * 3 - 1)?.id, 'b', 'twice as long after a second failure');
    assert.equal(pool.expireQuarantines(QUARANTINE_MS * 3), true);
    pool.markUp('a');
    pool.markDown('a', 10_000);
    pool.markDown('b', 10_000);
    pool.markDown('b', 10_000);
    assert.equal(
      pool.choose(10_000 + QUARANTINE_MS)?.id,
      'a',
      'back after one quarantine: its failures were forgotten',
    );
  });

  it('keeps a failed writer out for a while', () => {
    const pool = new WriterPool();
    pool.setWriters(writers);
    pool.markDown('a', 1_000);
    pool.markDown('b', 1_000);
    assert.equal(pool.hasAvailable(1_000), false);
    assert.equal(pool.choose(1_000), null);
    assert.equal(pool.expireQuarantines(1_000 + QUARANTINE_MS), true);
    assert.equal(pool.hasAvailable(1_000 + QUARANTINE_MS), true);
  });
});
