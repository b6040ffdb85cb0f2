// One client connection's state and the commands about the connection itself (DESIGN §4,
// Redis semantics): protocol version, authentication, name, MULTI queue, WATCHed versions and
// the read-consistency override. Data commands go to the transaction engine.
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
import {
  arityError,
  type CommandSpec,
  commandReply,
  keysOf,
  resolveCommand,
  unknownCommandError,
} from '../commands/command-table.js';
import type { Keyspace, ScanFilter } from '../engine/keyspace.js';
import {
  type QueuedCommand,
  type ReadConsistency,
  storageErrorReply,
  type TransactionEngine,
} from '../engine/transaction-engine.js';

/** What a session needs from the node it runs on. */
export interface SessionHost {
  readonly engine: TransactionEngine;
  readonly keyspace: Keyspace;
  readonly password: string | null;
  readonly defaultConsistency: ReadConsistency;
  info(sections: string[]): string;
  /** CLIENT LIST: one line per connection to this node. */
  clientList(): string;
}

export interface SessionReply {
  reply: Reply;
  /** Close the connection once the reply is written (QUIT). */
  close?: boolean;
}

/** Commands allowed before AUTH when a password is set. */
const BEFORE_AUTH = new Set(['auth', 'hello', 'quit', 'reset']);
/** Commands that act at once inside MULTI instead of being queued. */
const NOT_QUEUED = new Set(['exec', 'discard', 'multi', 'watch', 'quit', 'reset']);
const SCAN_COUNT_DEFAULT = 10;
const SCAN_COUNT_MAX = 10_000;
const CLIENT_NAME_PATTERN = /^[!-~]*$/;
/** Redis 7.0's answer to HELLO, with or without a protocol version, before authentication. */
const HELLO_NOAUTH =
  'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time';

interface QueuedRequest {
  spec: CommandSpec;
  args: Buffer[];
}

export class Session {
  protocol: 2 | 3 = 2;
  name: string | null = null;
  libraryName: string | null = null;
  libraryVersion: string | null = null;
  readonly connectedAtMs = Date.now();
  private authenticated: boolean;
  private queue: QueuedRequest[] | null = null;
  private queueFailed = false;
  private watched = new Map<string, number>();
  private consistencyOverride: ReadConsistency | null = null;

  constructor(
    readonly id: number,
    private readonly host: SessionHost,
  ) {
    this.authenticated = host.password === null;
  }

  /** In MULTI or holding a WATCH: the cluster must not pause under this session. */
  get inTransaction(): boolean {
    return this.queue !== null || this.watched.size > 0;
  }

  get consistency(): ReadConsistency {
    return this.consistencyOverride ?? this.host.defaultConsistency;
  }

  /** Whether `args` would run at once as a data command (not queued in MULTI, not refused). */
  isPlainDataCommand(args: Buffer[]): boolean {
    if (this.queue !== null || !this.authenticated) return false;
    const resolution = resolveCommand(args);
    return !('error' in resolution) && resolution.spec.kind === 'data';
  }

  async handle(args: Buffer[]): Promise<SessionReply> {
    // As in Redis, an unknown command or a wrong arity is answered before authentication is checked.
    const resolution = resolveCommand(args);
    if ('error' in resolution) return this.refuseInQueue(resolution.error);
    const { spec } = resolution;
    if (!this.authenticated && !BEFORE_AUTH.has(topLevelName(spec))) {
      return { reply: error('NOAUTH Authentication required.') };
    }
    if (this.queue !== null && !NOT_QUEUED.has(spec.name)) {
      this.queue.push({ spec, args });
      return { reply: simple('QUEUED') };
    }
    if (spec.kind === 'data') {
      const [reply] = (await this.host.engine.run([this.queued(spec, args)], this.consistency)) ?? [];
      return { reply: reply ?? error('ERR no reply') };
    }
    return this.sessionCommand(spec, args);
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
        return { reply: await this.exec() };
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
        // As Redis: out of MULTI, nothing watched, RESP2, no name, and authenticated again only
        // where no password is set.
        this.queue = null;
        this.watched.clear();
        this.protocol = 2;
        this.name = null;
        this.consistencyOverride = null;
        this.authenticated = this.host.password === null;
        return { reply: simple('RESET') };
      default:
        return { reply: await this.connectionCommand(spec, args) };
    }
  }

  private async exec(): Promise<Reply> {
    const queue = this.queue;
    if (queue === null) return error('ERR EXEC without MULTI');
    this.queue = null;
    const watched = this.watched;
    this.watched = new Map();
    if (this.queueFailed) return error('EXECABORT Transaction discarded because of previous errors.');
    const data = queue.filter((request) => request.spec.kind === 'data');
    // Commands about the connection or the whole keyspace answer outside the transaction.
    const outside = new Map<number, Reply>();
    for (const [index, request] of queue.entries()) {
      if (request.spec.kind !== 'data')
        outside.set(index, await this.connectionCommand(request.spec, request.args));
    }
    let replies: Reply[] = [];
    if (data.length > 0 || watched.size > 0) {
      const result = await this.host.engine.run(
        data.map((request) => this.queued(request.spec, request.args)),
        this.consistency,
        watched.size > 0 ? watched : null,
      );
      if (result === null) return { kind: 'nullArray' };
      replies = result;
    }
    let next = 0;
    return array(queue.map((_request, index) => outside.get(index) ?? replies[next++] ?? NULL));
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
    for (const key of fresh) this.watched.set(key, reads.get(key)?.seq ?? 0);
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
      case 'client':
        return this.client(args);
      case 'info':
        return {
          kind: 'verbatim',
          format: 'txt',
          value: this.host.info(args.slice(1).map((arg) => arg.toString('latin1').toLowerCase())),
        };
      case 'command':
        return commandReply(args);
      case 'dbsize':
        return integer(await this.host.keyspace.size());
      case 'keys':
        return array(
          (await this.host.keyspace.keys({ pattern: text(1), type: null })).map((key) =>
            bulk(Buffer.from(key, 'latin1')),
          ),
        );
      case 'scan':
        return this.scan(args);
      case 'borealis':
        return this.borealis(args);
      default:
        return unknownCommandError(args);
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

  private client(args: Buffer[]): Reply {
    const sub = (args[1] as Buffer).toString('latin1').toLowerCase();
    switch (sub) {
      case 'setname': {
        if (args.length !== 3) return error("ERR wrong number of arguments for 'client|setname' command");
        const name = (args[2] as Buffer).toString('latin1');
        if (!CLIENT_NAME_PATTERN.test(name)) {
          return error('ERR Client names cannot contain spaces, newlines or special characters.');
        }
        this.name = name === '' ? null : name;
        return OK;
      }
      case 'getname':
        return this.name === null ? NULL : bulk(this.name);
      case 'id':
        return integer(this.id);
      case 'setinfo': {
        if (args.length !== 4) return error("ERR wrong number of arguments for 'client|setinfo' command");
        const attribute = (args[2] as Buffer).toString('latin1').toLowerCase();
        const value = (args[3] as Buffer).toString('latin1');
        if (attribute === 'lib-name') this.libraryName = value;
        else if (attribute === 'lib-ver') this.libraryVersion = value;
        else return error(`ERR Unrecognized option '${(args[2] as Buffer).toString('latin1')}'`);
        return OK;
      }
      case 'info':
        return { kind: 'verbatim', format: 'txt', value: `${this.describe()}\n` };
      case 'list':
        return { kind: 'verbatim', format: 'txt', value: this.host.clientList() };
      case 'no-evict': {
        const mode = (args[2] as Buffer).toString('latin1').toLowerCase();
        return mode === 'on' || mode === 'off' ? OK : error('ERR syntax error');
      }
      case 'help':
        return array(
          [
            'CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
            'ID',
            '    Return the ID of the current connection.',
            'INFO',
            '    Return information about the current client connection.',
            'LIST',
            '    Return information about client connections.',
            'GETNAME',
            '    Return the name of the current connection.',
            'SETNAME <name>',
            '    Assign the name <name> to the current connection.',
            'SETINFO <LIB-NAME|LIB-VER> <value>',
            '    Set the client library name or version of the current connection.',
            'NO-EVICT (ON|OFF)',
            '    Accepted for compatibility; connections are never evicted.',
            'HELP',
            '    Print this help.',
          ].map((line) => simple(line)),
        );
      default:
        return error(`ERR unknown subcommand '${(args[1] as Buffer).toString('latin1')}'. Try CLIENT HELP.`);
    }
  }

  /** CLIENT INFO's line for this connection. */
  describe(): string {
    const ageSeconds = Math.floor((Date.now() - this.connectedAtMs) / 1000);
    return [
      `id=${this.id}`,
      `name=${this.name ?? ''}`,
      `age=${ageSeconds}`,
      'db=0',
      `multi=${this.queue === null ? -1 : this.queue.length}`,
      `watch=${this.watched.size}`,
      `resp=${this.protocol}`,
      `lib-name=${this.libraryName ?? ''}`,
      `lib-ver=${this.libraryVersion ?? ''}`,
      `consistency=${this.consistency}`,
    ].join(' ');
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

  /** BOREALIS CONSISTENCY [INSTANCE|CLUSTER|DEFAULT]: this connection's read consistency. */
  private borealis(args: Buffer[]): Reply {
    const sub = (args[1] as Buffer).toString('latin1').toLowerCase();
    if (sub === 'consistency') {
      if (args.length === 2) return bulk(this.consistency);
      if (args.length !== 3) return error("ERR wrong number of arguments for 'borealis|consistency' command");
      const wanted = (args[2] as Buffer).toString('latin1').toLowerCase();
      if (wanted === 'instance' || wanted === 'cluster') this.consistencyOverride = wanted;
      else if (wanted === 'default') this.consistencyOverride = null;
      else return error("ERR read consistency must be INSTANCE, CLUSTER or DEFAULT (the cluster's setting)");
      return OK;
    }
    return error(
      `ERR unknown subcommand '${(args[1] as Buffer).toString('latin1')}'. Try BOREALIS CONSISTENCY.`,
    );
  }
}

export const REDIS_COMPATIBLE_VERSION = '7.0.15';

/** `client` for `client|setname`. */
function topLevelName(spec: CommandSpec): string {
  const bar = spec.name.indexOf('|');
  return bar < 0 ? spec.name : spec.name.slice(0, bar);
}
