// One client connection's state and the commands about the connection itself (DESIGN §4,
// Redis semantics): protocol version, authentication, name, MULTI queue, WATCHed versions and
// the read-consistency override, and whether the endpoint moved the session here lately. Data
// commands go to the transaction engine.
import { performance } from 'node:perf_hooks';
import { present } from '../../../../libs/invariant/src/index.js';
import {
  array,
  bulk,
  error,
  integer,
  NULL,
  OK,
  type Reply,
  simple,
} from '../../../../libs/resp/src/reply.js';
import { CACHE_ENTRY_AGE_MAX_MS } from '../cache/versioned-cache.js';
import {
  arityError,
  type CommandResolution,
  type CommandSpec,
  keysOf,
  topLevelName,
  unknownCommandError,
} from '../commands/command-table.js';
import { commandReply, lookupCommand, resolveCommand } from '../commands/served-commands.js';
import type { Keyspace, ScanFilter } from '../engine/keyspace.js';
import {
  type QueuedCommand,
  type ReadConsistency,
  storageErrorReply,
  type TransactionEngine,
  type WatchVersion,
} from '../engine/transaction-engine.js';
import { adminCommand } from './admin-commands.js';
import { type ClientFacts, formatClientLine } from './client-info.js';
import { ClientRegistry, type RegisteredClient } from './client-registry.js';
import { memoryCommandReply } from './memory-report.js';
import type { ServerConfig } from './server-config.js';
import type { CommandOutcome, ServerStats } from './server-stats.js';

/** What a session needs from the node it runs on. */
export interface SessionHost {
  readonly engine: TransactionEngine;
  readonly keyspace: Keyspace;
  readonly password: string | null;
  readonly defaultConsistency: ReadConsistency;
  /** CONFIG GET/SET: this node process's parameters. */
  readonly config: ServerConfig;
  /** INFO commandstats/errorstats, reset by CONFIG RESETSTAT. */
  readonly stats: ServerStats;
  info(sections: string[]): Promise<string>;
  /** LASTSAVE's answer, in Unix seconds. */
  lastSaveSeconds(): number;
}

/** The socket side of a session: what CLIENT LIST reports and what CLIENT KILL and MONITOR use. */
export interface ConnectionHandle {
  readonly remoteAddress: string;
  readonly localAddress: string;
  readonly fd: number;
  /** Bytes received but not parsed yet (qbuf), and bytes of parsed requests not answered yet (argv-mem). */
  inputBytes(): { qbuf: number; argvMem: number };
  /** Reply bytes gathered but not written (obl, in oll pieces) and held by the socket unsent (omem). */
  outputBytes(): { obl: number; oll: number; omem: number };
  /** `r` while the socket is read, `w` while replies wait to be written. */
  events(): string;
  /** CLIENT KILL: this connection closes after its current reply (itself) or at once (another). */
  kill(afterReply: boolean): void;
  /** Writes one MONITOR line; a monitor whose unsent output passes a bound is disconnected. */
  sendMonitorLine(line: string): void;
}

/** A session with no socket (unit tests, tools): nothing to report, kill or send. */
export const DETACHED_CONNECTION: ConnectionHandle = {
  remoteAddress: '',
  localAddress: '',
  fd: -1,
  inputBytes: () => ({ qbuf: 0, argvMem: 0 }),
  outputBytes: () => ({ obl: 0, oll: 0, omem: 0 }),
  events: () => '',
  kill: () => undefined,
  sendMonitorLine: () => undefined,
};

export interface SessionReply {
  reply: Reply;
  /** Close the connection once the reply is written (QUIT). */
  close?: boolean;
  /** Send no reply at all (CLIENT REPLY OFF and SKIP answer nothing). */
  silent?: boolean;
  /** Sent even if replies were off when the request came (CLIENT REPLY ON's OK). */
  alwaysSent?: boolean;
}

/** What handling a request gives: the reply, and the command Redis would count it under. */
interface Handled extends SessionReply {
  /** The full name of the command for INFO commandstats, or null (unknown command, QUEUED). */
  counted: { name: string; outcome: CommandOutcome } | null;
}

/** Commands allowed before AUTH when a password is set. */
const BEFORE_AUTH = new Set(['auth', 'hello', 'quit', 'reset']);
/** Commands that act at once inside MULTI instead of being queued. */
const NOT_QUEUED = new Set(['exec', 'discard', 'multi', 'watch', 'quit', 'reset']);
const SCAN_COUNT_DEFAULT = 10;
const SCAN_COUNT_MAX = 10_000;
const CLIENT_NAME_PATTERN = /^[!-~]*$/;
const BOREALIS_HELP = [
  'BOREALIS <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'CONSISTENCY [INSTANCE|CLUSTER|DEFAULT]',
  "    Return or set this connection's read consistency: INSTANCE reads the writer's cache,",
  "    CLUSTER reads the replicas (linearizable), DEFAULT follows the cluster's setting.",
  'SESSION MOVED',
  '    Sent by the endpoint on the writer it moves a session to.',
  'HELP',
  '    Print this help.',
];
/** Redis 7.0's answer to HELLO, with or without a protocol version, before authentication. */
const HELLO_NOAUTH =
  'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time';

interface QueuedRequest {
  spec: CommandSpec;
  args: Buffer[];
}

export class Session implements RegisteredClient {
  protocol: 2 | 3 = 2;
  name: string | null = null;
  libraryName: string | null = null;
  libraryVersion: string | null = null;
  readonly connectedAtMs = Date.now();
  /** When the connection last sent something or was answered (CLIENT LIST's idle, CONFIG timeout). */
  lastInteractionMs = Date.now();
  /** The last command looked up, as CLIENT LIST's `cmd` shows it (`NULL` before any). */
  private lastCommand = 'NULL';
  private authenticated: boolean;
  private queue: QueuedRequest[] | null = null;
  private queueFailed = false;
  private watched = new Map<string, WatchVersion>();
  private consistencyOverride: ReadConsistency | null = null;
  /** CLIENT REPLY OFF: no replies until ON. */
  private repliesOff = false;
  /** CLIENT REPLY SKIP: the next command's reply is not sent. */
  private skipNextReply = false;
  private noEvict = false;
  private noTouch = false;
  /** Waiting for a CLIENT PAUSE to end (CLIENT LIST's `b` flag). */
  private heldByPause = false;
  /**
   * When the endpoint moved this session here from another writer (BOREALIS SESSION MOVED): until
   * a cache entry stored before then has expired, one could miss a write the session made on its
   * old writer, so reads go to the replicas.
   */
  private movedAtMs: number | null = null;

  constructor(
    readonly id: number,
    private readonly host: SessionHost,
    readonly connection: ConnectionHandle = DETACHED_CONNECTION,
    private readonly clients: ClientRegistry<Session> = new ClientRegistry<Session>(),
  ) {
    this.authenticated = host.password === null;
  }

  get remoteAddress(): string {
    return this.connection.remoteAddress;
  }

  get isMonitor(): boolean {
    return this.clients.isMonitor(this);
  }

  sendMonitorLine(line: string): void {
    this.connection.sendMonitorLine(line);
  }

  /** In MULTI or holding a WATCH: the cluster must not pause under this session. */
  get inTransaction(): boolean {
    return this.queue !== null || this.watched.size > 0;
  }

  /** The connection's setting (BOREALIS CONSISTENCY). */
  get consistency(): ReadConsistency {
    return this.consistencyOverride ?? this.host.defaultConsistency;
  }

  /** What its reads use: the setting, or `cluster` for a while after a move. */
  get readConsistency(): ReadConsistency {
    if (this.movedAtMs !== null) {
      if (Date.now() - this.movedAtMs < CACHE_ENTRY_AGE_MAX_MS) return 'cluster';
      this.movedAtMs = null;
    }
    return this.consistency;
  }

  /** Whether a request resolved as `resolution` would run now as a data command (not queued in MULTI, not refused). */
  runsAsPlainData(resolution: CommandResolution): boolean {
    return (
      this.queue === null && this.authenticated && 'spec' in resolution && resolution.spec.kind === 'data'
    );
  }

  /**
   * Whether a command of this connection is held by a CLIENT PAUSE: the connection's later
   * requests wait for it, as in Redis (a read behind a held write of its key would not see it).
   */
  get holdsForPause(): boolean {
    return this.heldByPause;
  }

  /**
   * Called as each request starts, in request order: whether its reply is to be sent (CLIENT
   * REPLY OFF and SKIP). A SKIP applies to the request after it only.
   */
  replyWanted(): boolean {
    const wanted = !this.repliesOff && !this.skipNextReply;
    this.skipNextReply = false;
    return wanted;
  }

  /**
   * The reply to one request: at once (not a promise) when nothing had to wait, as for a read
   * the writer's cache answers; else once the command has run. `resolution` is the request's
   * command as `resolveCommand` finds it, for a caller that has resolved it already; `startedAt`
   * (`performance.now()`) when the caller has read the clock already.
   */
  handle(
    args: Buffer[],
    resolution: CommandResolution = resolveCommand(args),
    startedAt: number = performance.now(),
  ): SessionReply | Promise<SessionReply> {
    let atOnce: Handled | null = null;
    // A plain data command, with its keys found once: for the cache, and for `dispatch` if the
    // cache cannot answer it (every write, and a read of a key not cached).
    let plain: QueuedCommand | null = null;
    try {
      if ('spec' in resolution && this.runsAsPlainData(resolution)) {
        plain = this.queued(resolution.spec, args);
        atOnce = this.answeredFromCache(plain);
      }
    } catch (cause) {
      // A bug: it reaches the caller as any failed command does, not as a throw.
      return Promise.reject(cause);
    }
    if (atOnce !== null) return this.finish(atOnce, startedAt);
    if (plain !== null) return this.runPlain(plain, startedAt);
    return this.dispatch(resolution, args).then((handled) => this.finish(handled, startedAt));
  }

  /**
   * Runs a plain data command the cache cannot answer (every write, a read of a key not cached):
   * after the CLIENT PAUSE that holds it, if one does, then in one step of promises from the
   * engine's reply to the counted answer.
   */
  private runPlain(command: QueuedCommand, startedAt: number): Promise<SessionReply> {
    try {
      // Set before any hold: CLIENT LIST shows a held command as the connection's last.
      this.lastCommand = command.spec.name;
      const pause = this.pauseHolding(command.spec);
      if (pause !== null) return this.holdWhilePaused(pause).then(() => this.runUnpaused(command, startedAt));
      return this.runUnpaused(command, startedAt);
    } catch (cause) {
      // A bug: it reaches the caller as any failed command does, not as a throw.
      return Promise.reject(cause);
    }
  }

  private runUnpaused(command: QueuedCommand, startedAt: number): Promise<SessionReply> {
    const { spec, args } = command;
    this.feedMonitors(spec, args);
    return this.host.engine.run([command], this.readConsistency).then((replies) => {
      const reply = replies?.[0] ?? error('ERR no reply');
      return this.finish({ reply, counted: { name: spec.name, outcome: outcomeOf(reply) } }, startedAt);
    });
  }

  /**
   * Counts the command and hands its reply on (a `Handled` is a `SessionReply`: not copied, one
   * object less per command). The connection's last interaction is the answer; the request's
   * arrival was one already (the connection's read).
   */
  private finish(handled: Handled, startedAt: number): SessionReply {
    const micros = (performance.now() - startedAt) * 1000;
    if (handled.counted !== null)
      this.host.stats.commandDone(handled.counted.name, micros, handled.counted.outcome);
    if (!handled.silent) this.countErrors(handled.reply);
    this.lastInteractionMs = Date.now();
    return handled;
  }

  /** Every error reply counts in INFO errorstats, those inside an EXEC's reply too. */
  private countErrors(reply: Reply): void {
    if (reply.kind === 'error') this.host.stats.errorReplied(reply.message);
    else if (reply.kind === 'array') {
      for (const item of reply.items) if (item.kind === 'error') this.host.stats.errorReplied(item.message);
    }
  }

  /**
   * A plain data command (`runsAsPlainData`) the writer's cache answers whole
   * (`TransactionEngine.readFromCache`), handled as `dispatch` would handle it; null when the
   * cache cannot answer it, and `dispatch` then runs it.
   */
  private answeredFromCache(command: QueuedCommand): Handled | null {
    const { spec, args } = command;
    if (this.pauseHolding(spec) !== null) return null;
    const reply = this.host.engine.readFromCache(command, this.readConsistency);
    if (reply === null) return null;
    this.lastCommand = spec.name;
    this.feedMonitors(spec, args);
    return { reply, counted: { name: spec.name, outcome: outcomeOf(reply) } };
  }

  /**
   * Runs a request other than a plain data command (`runPlain` runs those): data commands come
   * here only to be refused before authentication or queued inside MULTI.
   */
  private async dispatch(resolution: CommandResolution, args: Buffer[]): Promise<Handled> {
    // As in Redis, an unknown command or a wrong arity is answered before authentication is checked.
    if ('error' in resolution) {
      const known = knownSpec(args);
      this.lastCommand = known?.name ?? 'NULL';
      return {
        ...this.refuseInQueue(resolution.error),
        counted: known === undefined ? null : { name: known.name, outcome: 'rejected' },
      };
    }
    const { spec } = resolution;
    this.lastCommand = spec.name;
    if (!this.authenticated && !BEFORE_AUTH.has(topLevelName(spec))) {
      return {
        reply: error('NOAUTH Authentication required.'),
        counted: { name: spec.name, outcome: 'rejected' },
      };
    }
    if (this.queue !== null && !NOT_QUEUED.has(spec.name)) {
      this.queue.push({ spec, args });
      return { reply: simple('QUEUED'), counted: null };
    }
    const pause = this.pauseHolding(spec);
    if (pause !== null) await this.holdWhilePaused(pause);
    if (spec.name !== 'exec') this.feedMonitors(spec, args);
    return counted(spec, await this.sessionCommand(spec, args));
  }

  /**
   * The CLIENT PAUSE that holds the command (and so the connection's later ones) until it ends,
   * or null when none does (without a promise, as for nearly every command). As in Redis, a
   * command being queued is not held, and EXEC is held as a write if it holds one. CLIENT
   * UNPAUSE is never held, so that a pause of every command can be ended early.
   */
  private pauseHolding(spec: CommandSpec): Promise<void> | null {
    if (spec.name === 'client|unpause') return null;
    const isWrite =
      spec.name === 'exec'
        ? (this.queue ?? []).some((request) => isWriteCommand(request.spec))
        : isWriteCommand(spec);
    return this.clients.pausedUntilEnd(isWrite);
  }

  private async holdWhilePaused(pause: Promise<void>): Promise<void> {
    this.heldByPause = true;
    await pause;
    this.heldByPause = false;
  }

  /** MONITOR shows what runs, but not admin commands (CONFIG, CLIENT LIST…), as Redis. */
  private feedMonitors(spec: CommandSpec, args: Buffer[]): void {
    if (spec.flags.includes('admin') || spec.flags.includes('skip_monitor')) return;
    this.clients.feedMonitors(this, args);
  }

  /** Inside MULTI, a command that cannot be queued also dooms the EXEC (as in Redis). */
  private refuseInQueue(reply: Reply): SessionReply {
    if (this.queue !== null) this.queueFailed = true;
    return { reply };
  }

  private queued(spec: CommandSpec, args: Buffer[]): QueuedCommand {
    return { spec, args, keys: keysOf(spec, args) };
  }

  private async sessionCommand(spec: CommandSpec, args: Buffer[]): Promise<SessionReply> {
    switch (topLevelName(spec)) {
      case 'multi':
        if (this.queue !== null) return { reply: error('ERR MULTI calls can not be nested') };
        this.queue = [];
        this.queueFailed = false;
        return { reply: OK };
      case 'exec':
        return { reply: await this.exec(spec, args) };
      case 'discard':
        if (this.queue === null) return { reply: error('ERR DISCARD without MULTI') };
        this.queue = null;
        this.watched.clear();
        return { reply: OK };
      case 'watch':
        return { reply: await this.watch(args) };
      case 'unwatch':
        this.watched.clear();
        return { reply: OK };
      case 'quit':
        return { reply: OK, close: true };
      case 'reset':
        // As Redis: out of MULTI, nothing watched, RESP2, no name, replies on, not a monitor,
        // and authenticated again only where no password is set.
        this.queue = null;
        this.watched.clear();
        this.protocol = 2;
        this.name = null;
        this.consistencyOverride = null;
        this.repliesOff = false;
        this.skipNextReply = false;
        this.noEvict = false;
        this.noTouch = false;
        this.clients.stopMonitor(this);
        this.authenticated = this.host.password === null;
        return { reply: simple('RESET') };
      case 'client':
        return this.client(args);
      default:
        return { reply: await this.connectionCommand(spec, args) };
    }
  }

  private async exec(spec: CommandSpec, args: Buffer[]): Promise<Reply> {
    const queue = this.queue;
    if (queue === null) {
      this.feedMonitors(spec, args);
      return error('ERR EXEC without MULTI');
    }
    this.queue = null;
    const watched = this.watched;
    this.watched = new Map();
    if (this.queueFailed) {
      this.feedMonitors(spec, args);
      return error('EXECABORT Transaction discarded because of previous errors.');
    }
    // As in Redis, a monitor sees the queued commands when they run, then EXEC.
    for (const request of queue) this.feedMonitors(request.spec, request.args);
    this.feedMonitors(spec, args);
    const data = queue.filter((request) => request.spec.kind === 'data');
    // Commands about the connection or the whole keyspace answer outside the transaction.
    const outside = new Map<number, Reply>();
    for (const [index, request] of queue.entries()) {
      if (request.spec.kind !== 'data') {
        const { reply } = await this.sessionCommandInExec(request.spec, request.args);
        outside.set(index, reply);
      }
    }
    let replies: Reply[] = [];
    if (data.length > 0 || watched.size > 0) {
      const result = await this.host.engine.run(
        data.map((request) => this.queued(request.spec, request.args)),
        this.readConsistency,
        watched.size > 0 ? watched : null,
      );
      if (result === null) return { kind: 'nullArray' };
      replies = result;
    }
    let next = 0;
    const results = queue.map((_request, index) => outside.get(index) ?? replies[next++] ?? NULL);
    // Each queued command is a call of its own in INFO commandstats; its time is EXEC's.
    for (const [index, request] of queue.entries()) {
      const reply = results[index] as Reply;
      this.host.stats.commandDone(request.spec.name, 0, outcomeOf(reply));
    }
    return array(results);
  }

  /** A queued non-data command at EXEC: commands that block or change the connection's mode are refused there, as in Redis. */
  private async sessionCommandInExec(spec: CommandSpec, args: Buffer[]): Promise<SessionReply> {
    if (spec.name === 'monitor')
      return { reply: error("ERR MONITOR isn't allowed for DENY BLOCKING client") };
    return this.sessionCommand(spec, args);
  }

  private async watch(args: Buffer[]): Promise<Reply> {
    if (this.queue !== null) return error('ERR WATCH inside MULTI is not allowed');
    const keys = args.slice(1).map((arg) => arg.toString('latin1'));
    const fresh = keys.filter((key) => !this.watched.has(key));
    // The WATCH-time version comes from 3 replicas: a stale cached one would fail the EXEC.
    let reads: Awaited<ReturnType<TransactionEngine['readFresh']>>;
    try {
      reads = await this.host.engine.readFresh(fresh);
    } catch (cause) {
      // Nothing new is watched; the client may WATCH again. (Thrown, this would end the
      // connection's request loop and leave pipelined requests unanswered.)
      return storageErrorReply(cause);
    }
    for (const key of fresh)
      this.watched.set(key, present(reads.get(key), 'the watch version of a key read for WATCH'));
    return OK;
  }

  private async connectionCommand(spec: CommandSpec, args: Buffer[]): Promise<Reply> {
    try {
      return await this.connectionCommandUnsafe(spec, args);
    } catch (cause) {
      return storageErrorReply(cause);
    }
  }

  private async connectionCommandUnsafe(spec: CommandSpec, args: Buffer[]): Promise<Reply> {
    const text = (index: number): string => (args[index] as Buffer).toString('latin1');
    switch (topLevelName(spec)) {
      case 'ping':
        if (args.length > 2) return arityError('ping');
        return args.length === 2 ? bulk(args[1] as Buffer) : simple('PONG');
      case 'echo':
        return bulk(args[1] as Buffer);
      case 'select': {
        const index = text(1);
        if (!/^-?\d+$/.test(index)) return error('ERR value is not an integer or out of range');
        return Number(index) === 0 ? OK : error('ERR DB index is out of range');
      }
      case 'auth':
        if (args.length > 3) return error('ERR syntax error');
        return this.auth(args.length === 3 ? text(1) : 'default', text(args.length - 1));
      case 'hello':
        return this.hello(args);
      case 'info':
        return {
          kind: 'verbatim',
          format: 'txt',
          value: await this.host.info(args.slice(1).map((arg) => arg.toString('latin1').toLowerCase())),
        };
      case 'monitor':
        this.clients.startMonitor(this);
        return OK;
      case 'command':
        return commandReply(args);
      case 'dbsize':
        return integer(await this.host.keyspace.size(this.readConsistency));
      case 'keys':
        return array(
          (await this.host.keyspace.keys({ pattern: text(1), type: null })).map((key) =>
            bulk(Buffer.from(key, 'latin1')),
          ),
        );
      case 'scan':
        return this.scan(args);
      case 'randomkey': {
        const key = await this.host.keyspace.randomKey();
        return key === null ? NULL : bulk(Buffer.from(key, 'latin1'));
      }
      case 'memory':
        return memoryCommandReply(spec.name.slice('memory|'.length), args[0] as Buffer);
      case 'borealis':
        return this.borealis(args);
      default:
        return adminCommand(this.host, args) ?? unknownCommandError(args);
    }
  }

  private auth(user: string, password: string): Reply {
    if (this.host.password === null) {
      return error(
        'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
      );
    }
    if (user !== 'default' || password !== this.host.password) {
      return error('WRONGPASS invalid username-password pair or user is disabled.');
    }
    this.authenticated = true;
    return OK;
  }

  private hello(args: Buffer[]): Reply {
    let index = 1;
    if (args.length > 1) {
      const version = (args[1] as Buffer).toString('latin1');
      if (!/^\d+$/.test(version)) return error('ERR Protocol version is not an integer or out of range');
      if (version !== '2' && version !== '3') return error('NOPROTO unsupported protocol version');
      index = 2;
      const requested: 2 | 3 = version === '3' ? 3 : 2;
      let name: string | null = null;
      while (index < args.length) {
        const option = (args[index] as Buffer).toString('latin1').toLowerCase();
        if (option === 'auth' && index + 2 < args.length) {
          const reply = this.auth(
            (args[index + 1] as Buffer).toString('latin1'),
            (args[index + 2] as Buffer).toString('latin1'),
          );
          if (reply.kind === 'error') return reply;
          index += 3;
        } else if (option === 'setname' && index + 1 < args.length) {
          name = (args[index + 1] as Buffer).toString('latin1');
          if (!CLIENT_NAME_PATTERN.test(name)) {
            return error('ERR Client names cannot contain spaces, newlines or special characters.');
          }
          index += 2;
        } else {
          return error(`ERR Syntax error in HELLO option '${option}'`);
        }
      }
      if (!this.authenticated) return error(HELLO_NOAUTH);
      this.protocol = requested;
      if (name !== null) this.name = name === '' ? null : name;
    } else if (!this.authenticated) {
      return error(HELLO_NOAUTH);
    }
    return {
      kind: 'map',
      entries: [
        [bulk('server'), bulk('redis')],
        [bulk('version'), bulk(REDIS_COMPATIBLE_VERSION)],
        [bulk('proto'), integer(this.protocol)],
        [bulk('id'), integer(this.id)],
        [bulk('mode'), bulk('standalone')],
        [bulk('role'), bulk('master')],
        [bulk('modules'), array([])],
      ],
    };
  }

  private client(args: Buffer[]): SessionReply {
    const sub = (args[1] as Buffer).toString('latin1').toLowerCase();
    const text = (index: number): string => (args[index] as Buffer).toString('latin1');
    switch (sub) {
      case 'setname': {
        const name = text(2);
        if (!CLIENT_NAME_PATTERN.test(name)) {
          return { reply: error('ERR Client names cannot contain spaces, newlines or special characters.') };
        }
        this.name = name === '' ? null : name;
        return { reply: OK };
      }
      case 'getname':
        return { reply: this.name === null ? NULL : bulk(this.name) };
      case 'id':
        return { reply: integer(this.id) };
      case 'setinfo':
        return { reply: this.setInfo(text(2), text(3)) };
      case 'info':
        return { reply: { kind: 'verbatim', format: 'txt', value: `${this.describe()}\n` } };
      case 'list':
        return { reply: this.clientList(args.slice(2)) };
      case 'kill':
        return this.kill(args.slice(2));
      case 'reply': {
        const mode = text(2).toLowerCase();
        if (mode === 'on') {
          this.repliesOff = false;
          this.skipNextReply = false;
          return { reply: OK, alwaysSent: true };
        }
        if (mode === 'off') {
          this.repliesOff = true;
          return { reply: OK, silent: true };
        }
        if (mode === 'skip') {
          if (!this.repliesOff) this.skipNextReply = true;
          return { reply: OK, silent: true };
        }
        return { reply: error('ERR syntax error') };
      }
      case 'no-evict':
      case 'no-touch': {
        const mode = text(2).toLowerCase();
        if (mode !== 'on' && mode !== 'off') return { reply: error('ERR syntax error') };
        // Accepted and shown in CLIENT LIST: connections are never evicted here, and no command
        // keeps a key's access time (OBJECT IDLETIME), so neither changes what a command does.
        if (sub === 'no-evict') this.noEvict = mode === 'on';
        else this.noTouch = mode === 'on';
        return { reply: OK };
      }
      case 'pause':
        return { reply: this.pause(args.slice(2)) };
      case 'unpause':
        this.clients.unpause();
        return { reply: OK };
      case 'help':
        return { reply: array(CLIENT_HELP.map((line) => simple(line))) };
      default:
        return { reply: error(`ERR unknown subcommand '${text(1)}'. Try CLIENT HELP.`) };
    }
  }

  /** CLIENT SETINFO LIB-NAME|LIB-VER value, checked as Redis 7.2 checks it (as CLIENT SETNAME). */
  private setInfo(attribute: string, value: string): Reply {
    const lower = attribute.toLowerCase();
    if (lower !== 'lib-name' && lower !== 'lib-ver') return error(`ERR Unrecognized option '${attribute}'`);
    if (!CLIENT_NAME_PATTERN.test(value)) {
      return error(`ERR ${attribute} cannot contain spaces, newlines or special characters.`);
    }
    if (lower === 'lib-name') this.libraryName = value === '' ? null : value;
    else this.libraryVersion = value === '' ? null : value;
    return OK;
  }

  /** CLIENT LIST [TYPE normal|master|replica|pubsub] | [ID id …]: one line per connection here. */
  private clientList(options: Buffer[]): Reply {
    let sessions = this.clients.all;
    if (options.length > 0) {
      const option = (options[0] as Buffer).toString('latin1').toLowerCase();
      if (option === 'type' && options.length === 2) {
        const type = clientType((options[1] as Buffer).toString('latin1'));
        if (type === null)
          return error(`ERR Unknown client type '${(options[1] as Buffer).toString('latin1')}'`);
        // Every connection here is a normal one: no replicas, masters or pub/sub clients.
        if (type !== 'normal') sessions = [];
      } else if (option === 'id' && options.length >= 2) {
        const ids = new Set<number>();
        for (const each of options.slice(1)) {
          const id = parseClientId(each.toString('latin1'));
          if (id === null) return error('ERR Invalid client ID');
          ids.add(id);
        }
        sessions = sessions.filter((session) => ids.has(session.id));
      } else {
        return error('ERR syntax error');
      }
    }
    return {
      kind: 'verbatim',
      format: 'txt',
      value: sessions.map((session) => `${session.describe()}\n`).join(''),
    };
  }

  /**
   * CLIENT KILL addr:port (the old form: OK or an error), or CLIENT KILL with filters (ID, TYPE,
   * USER, ADDR, LADDR, SKIPME): how many connections of this writer it closed.
   */
  private kill(options: Buffer[]): SessionReply {
    const text = (index: number): string => (options[index] as Buffer).toString('latin1');
    if (options.length === 1) {
      const target = this.clients.all.find((session) => session.remoteAddress === text(0));
      if (target === undefined) return { reply: error('ERR No such client') };
      target.connection.kill(target === this);
      return { reply: OK };
    }
    if (options.length % 2 !== 0) return { reply: error('ERR syntax error') };
    const filters: ((session: Session) => boolean)[] = [];
    let skipMe = true;
    for (let index = 0; index < options.length; index += 2) {
      const option = text(index).toLowerCase();
      const value = text(index + 1);
      switch (option) {
        case 'id': {
          const id = parseClientId(value);
          if (id === null || id < 1) return { reply: error('ERR client-id should be greater than 0') };
          filters.push((session) => session.id === id);
          break;
        }
        case 'type': {
          const type = clientType(value);
          if (type === null) return { reply: error(`ERR Unknown client type '${value}'`) };
          filters.push(() => type === 'normal');
          break;
        }
        case 'user':
          // One user exists: `default`, the one every connection is.
          if (value !== 'default') return { reply: error(`ERR No such user '${value}'`) };
          break;
        case 'addr':
          filters.push((session) => session.remoteAddress === value);
          break;
        case 'laddr':
          filters.push((session) => session.connection.localAddress === value);
          break;
        case 'skipme': {
          const lower = value.toLowerCase();
          if (lower !== 'yes' && lower !== 'no') return { reply: error('ERR syntax error') };
          skipMe = lower === 'yes';
          break;
        }
        default:
          return { reply: error('ERR syntax error') };
      }
    }
    let killed = 0;
    for (const session of this.clients.all) {
      if (session === this && skipMe) continue;
      if (!filters.every((filter) => filter(session))) continue;
      session.connection.kill(session === this);
      killed++;
    }
    return { reply: integer(killed) };
  }

  /** CLIENT PAUSE timeout [WRITE|ALL]: holds this writer's clients only (ARCHITECTURE.md). */
  private pause(options: Buffer[]): Reply {
    const timeoutText = (options[0] as Buffer).toString('latin1');
    if (!/^(0|-?[1-9]\d{0,17})$/.test(timeoutText)) {
      return error('ERR timeout is not an integer or out of range');
    }
    const timeoutMs = Number(timeoutText);
    if (timeoutMs < 0) return error('ERR timeout is negative');
    let mode: 'write' | 'all' = 'all';
    if (options.length === 2) {
      const wanted = (options[1] as Buffer).toString('latin1').toLowerCase();
      if (wanted !== 'write' && wanted !== 'all') return error('ERR CLIENT PAUSE mode must be WRITE or ALL');
      mode = wanted;
    } else if (options.length > 2) {
      return error('ERR syntax error');
    }
    this.clients.pauseFor(timeoutMs, mode, Date.now());
    return OK;
  }

  /** CLIENT INFO's line for this connection (CLIENT LIST has one per connection). */
  describe(): string {
    const nowMs = Date.now();
    const input = this.connection.inputBytes();
    const output = this.connection.outputBytes();
    let multiMem = 0;
    for (const request of this.queue ?? []) for (const arg of request.args) multiMem += arg.length;
    const facts: ClientFacts = {
      id: this.id,
      addr: this.connection.remoteAddress,
      laddr: this.connection.localAddress,
      fd: this.connection.fd,
      name: this.name ?? '',
      ageSeconds: Math.floor((nowMs - this.connectedAtMs) / 1000),
      idleSeconds: Math.max(0, Math.floor((nowMs - this.lastInteractionMs) / 1000)),
      flags: this.flags(),
      multi: this.queue === null ? -1 : this.queue.length,
      watch: this.watched.size,
      qbuf: input.qbuf,
      // Node grows a socket's buffers as needed: no free room is reserved ahead.
      qbufFree: 0,
      argvMem: input.argvMem,
      multiMem,
      obl: output.obl,
      oll: output.oll,
      omem: output.omem,
      totMem: input.qbuf + input.argvMem + multiMem + output.obl + output.omem,
      events: this.connection.events(),
      cmd: this.lastCommand,
      user: 'default',
      resp: this.protocol,
      libName: this.libraryName ?? '',
      libVer: this.libraryVersion ?? '',
      extra: [['consistency', this.consistency]],
    };
    return formatClientLine(facts);
  }

  /** CLIENT LIST's flags, in Redis's order of letters. */
  private flags(): string {
    let flags = '';
    if (this.isMonitor) flags += 'O';
    if (this.queue !== null) flags += 'x';
    if (this.heldByPause) flags += 'b';
    if (this.noEvict) flags += 'e';
    if (this.noTouch) flags += 'T';
    return flags === '' ? 'N' : flags;
  }

  private async scan(args: Buffer[]): Promise<Reply> {
    const cursorText = (args[1] as Buffer).toString('latin1');
    if (!/^\d+$/.test(cursorText) || Number(cursorText) > 0xffff_ffff) return error('ERR invalid cursor');
    const filter: ScanFilter = { pattern: null, type: null };
    let count = SCAN_COUNT_DEFAULT;
    for (let index = 2; index < args.length; index += 2) {
      const option = (args[index] as Buffer).toString('latin1').toLowerCase();
      const value = args[index + 1];
      if (value === undefined) return error('ERR syntax error');
      if (option === 'match') filter.pattern = value.toString('latin1');
      else if (option === 'type') filter.type = value.toString('latin1').toLowerCase();
      else if (option === 'count') {
        const text = value.toString('latin1');
        if (!/^-?\d+$/.test(text)) return error('ERR value is not an integer or out of range');
        count = Number(text);
        if (count < 1) return error('ERR syntax error');
        count = Math.min(count, SCAN_COUNT_MAX);
      } else return error('ERR syntax error');
    }
    const page = await this.host.keyspace.scanPage(Number(cursorText), count, filter);
    return array([
      bulk(String(page.cursor)),
      array(page.keys.map((key) => bulk(Buffer.from(key, 'latin1')))),
    ]);
  }

  /**
   * BOREALIS CONSISTENCY [INSTANCE|CLUSTER|DEFAULT]: this connection's read consistency.
   * BOREALIS SESSION MOVED: sent by the endpoint first when it moves a session here.
   */
  private borealis(args: Buffer[]): Reply {
    const sub = (args[1] as Buffer).toString('latin1').toLowerCase();
    if (sub === 'session') return this.sessionMoved(args);
    if (sub === 'help') return array(BOREALIS_HELP.map((line) => simple(line)));
    if (sub === 'consistency') {
      if (args.length === 2) return bulk(this.consistency);
      if (args.length !== 3) return error("ERR wrong number of arguments for 'borealis|consistency' command");
      const wanted = (args[2] as Buffer).toString('latin1').toLowerCase();
      if (wanted === 'instance' || wanted === 'cluster') this.consistencyOverride = wanted;
      else if (wanted === 'default') this.consistencyOverride = null;
      else return error("ERR read consistency must be INSTANCE, CLUSTER or DEFAULT (the cluster's setting)");
      return OK;
    }
    // The command table lets only BOREALIS's subcommands through.
    return error(`ERR unknown subcommand '${(args[1] as Buffer).toString('latin1')}'. Try BOREALIS HELP.`);
  }

  private sessionMoved(args: Buffer[]): Reply {
    if (args.length !== 3) return error("ERR wrong number of arguments for 'borealis|session' command");
    if ((args[2] as Buffer).toString('latin1').toLowerCase() !== 'moved') {
      return error('ERR BOREALIS SESSION takes MOVED (sent by the endpoint when it moves a session here)');
    }
    this.movedAtMs = Date.now();
    this.host.engine.sessionMovedHere();
    return OK;
  }
}

export const REDIS_COMPATIBLE_VERSION = '7.0.15';

const CLIENT_HELP = [
  'CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'ID',
  '    Return the ID of the current connection.',
  'INFO',
  '    Return information about the current client connection.',
  'KILL <ip:port>',
  '    Kill connection made from <ip:port>.',
  'KILL <option> <value> [<option> <value> [...]]',
  '    Kill connections. Options are:',
  '    * ADDR (<ip:port>|<unixsocket>:0)',
  '      Kill connections made from the specified address',
  '    * LADDR (<ip:port>|<unixsocket>:0)',
  '      Kill connections made to specified local address',
  '    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)',
  '      Kill connections by type.',
  '    * USER <username>',
  '      Kill connections authenticated by <username>.',
  '    * SKIPME (YES|NO)',
  '      Skip killing current connection (default: yes).',
  '    * ID <client-id>',
  '      Kill connections by client id.',
  'LIST [options ...]',
  '    Return information about client connections. Options:',
  '    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)',
  '      Return clients of specified type.',
  'UNPAUSE',
  '    Stop the current client pause, resuming traffic.',
  'PAUSE <timeout> [WRITE|ALL]',
  "    Suspend all, or just write, clients for <timeout> milliseconds (this writer's clients only).",
  'REPLY (ON|OFF|SKIP)',
  '    Control the replies sent to the current connection.',
  'SETNAME <name>',
  '    Assign the name <name> to the current connection.',
  'GETNAME',
  '    Get the name of the current connection.',
  'SETINFO <LIB-NAME|LIB-VER> <value>',
  '    Set the client library name or version of the current connection.',
  'NO-EVICT (ON|OFF)',
  '    Accepted for compatibility; connections are never evicted.',
  'NO-TOUCH (ON|OFF)',
  '    Accepted for compatibility; commands keep no access time of keys.',
  'HELP',
  '    Print this help.',
];

/** The command a request names, when it names one (for counting a refused call against it). */
function knownSpec(args: readonly Buffer[]): CommandSpec | undefined {
  const command = args[0] === undefined ? undefined : lookupCommand(args[0]);
  if (command === undefined || command.subcommands === null || args[1] === undefined) return command;
  return command.subcommands.get(args[1].toString('latin1').toLowerCase());
}

function counted(spec: CommandSpec, reply: SessionReply): Handled {
  return { ...reply, counted: { name: spec.name, outcome: outcomeOf(reply.reply) } };
}

/** How INFO commandstats counts a call that ran: failed when it answered an error. */
function outcomeOf(reply: Reply): CommandOutcome {
  return reply.kind === 'error' ? 'failed' : 'ok';
}

/** What CLIENT PAUSE WRITE holds: commands that may change data. */
function isWriteCommand(spec: CommandSpec): boolean {
  return spec.flags.includes('write') || spec.flags.includes('may_replicate');
}

function clientType(name: string): 'normal' | 'master' | 'replica' | 'pubsub' | null {
  const lower = name.toLowerCase();
  if (lower === 'normal' || lower === 'master' || lower === 'pubsub') return lower;
  if (lower === 'replica' || lower === 'slave') return 'replica';
  return null;
}

/** A client id as Redis reads it (string2ll); null when not an integer. */
function parseClientId(text: string): number | null {
  if (!/^(0|-?[1-9]\d{0,18})$/.test(text)) return null;
  const id = Number(text);
  return Number.isSafeInteger(id) ? id : null;
}
