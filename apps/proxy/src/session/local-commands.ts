// The commands the proxy answers itself, with the replies and errors the data node (and Redis
// 7.0) gives for them: AUTH and HELLO (checked against the cluster's password, not a writer's),
// and CLIENT SETNAME, GETNAME, ID and SETINFO (settings it replays on every writer the session
// uses, and an id that stays the same when the session moves). Pure: the password check itself
// is the caller's.

import { array, bulk, error, integer, NULL, OK, type Reply } from '../../../../libs/resp/src/index.js';
import { REDIS_COMPATIBLE_VERSION } from '../../../data-node/src/server/session.js';
import type { CommandClass } from './command-class.js';
import type { SessionState } from './session-state.js';

export const NOAUTH = error('NOAUTH Authentication required.');
export const WRONGPASS = error('WRONGPASS invalid username-password pair or user is disabled.');
export const SYNTAX_ERROR = error('ERR syntax error');
/** Redis 7.0's answer to HELLO, with or without a protocol version, before authentication. */
export const HELLO_NOAUTH = error(
  'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
);
const CLIENT_NAME_PATTERN = /^[!-~]*$/;
const BAD_CLIENT_NAME = error('ERR Client names cannot contain spaces, newlines or special characters.');

export interface Credentials {
  /** null: AUTH <password>, the default user. */
  user: Buffer | null;
  password: Buffer;
}

/** AUTH [user] password. */
export function authCredentials(args: readonly Buffer[]): Credentials | { error: Reply } {
  if (args.length > 3) return { error: SYNTAX_ERROR };
  return { user: args.length === 3 ? (args[1] as Buffer) : null, password: args[args.length - 1] as Buffer };
}

export function isDefaultUser(user: Buffer | null): boolean {
  return user === null || user.toString('latin1') === 'default';
}

export type HelloStep = { auth: Credentials } | { setname: string };

/** HELLO [protover [AUTH user pass] [SETNAME name]], read as the data node reads it. */
export interface HelloPlan {
  /** null: HELLO without arguments. */
  version: 2 | 3 | null;
  /** In order; each AUTH is checked before the next step. */
  steps: HelloStep[];
  /** The error at the option where reading stopped, answered after the steps before it ran. */
  error: Reply | null;
}

export function planHello(args: readonly Buffer[]): HelloPlan | { error: Reply } {
  if (args.length === 1) return { version: null, steps: [], error: null };
  const versionText = (args[1] as Buffer).toString('latin1');
  if (!/^\d+$/.test(versionText))
    return { error: error('ERR Protocol version is not an integer or out of range') };
  if (versionText !== '2' && versionText !== '3')
    return { error: error('NOPROTO unsupported protocol version') };
  const plan: HelloPlan = { version: versionText === '3' ? 3 : 2, steps: [], error: null };
  for (let index = 2; index < args.length; ) {
    const option = (args[index] as Buffer).toString('latin1').toLowerCase();
    if (option === 'auth' && index + 2 < args.length) {
      plan.steps.push({ auth: { user: args[index + 1] as Buffer, password: args[index + 2] as Buffer } });
      index += 3;
    } else if (option === 'setname' && index + 1 < args.length) {
      const name = (args[index + 1] as Buffer).toString('latin1');
      if (!CLIENT_NAME_PATTERN.test(name)) return { ...plan, error: BAD_CLIENT_NAME };
      plan.steps.push({ setname: name });
      index += 2;
    } else {
      return { ...plan, error: error(`ERR Syntax error in HELLO option '${option}'`) };
    }
  }
  return plan;
}

/** HELLO's answer once its steps ran: the server's description, in the new protocol. */
export function helloReply(protocol: 2 | 3, clientId: number): Reply {
  return {
    kind: 'map',
    entries: [
      [bulk('server'), bulk('redis')],
      [bulk('version'), bulk(REDIS_COMPATIBLE_VERSION)],
      [bulk('proto'), integer(protocol)],
      [bulk('id'), integer(clientId)],
      [bulk('mode'), bulk('standalone')],
      [bulk('role'), bulk('master')],
      [bulk('modules'), array([])],
    ],
  };
}

/** Applies HELLO's version and name to the session (after its AUTH steps succeeded). */
export function applyHello(state: SessionState, plan: HelloPlan): void {
  let name = state.settings.name;
  for (const step of plan.steps) if ('setname' in step) name = step.setname === '' ? null : step.setname;
  const protocol = plan.version ?? state.settings.protocol;
  if (protocol !== state.settings.protocol || name !== state.settings.name)
    state.settings = { protocol, name };
}

/** CLIENT SETNAME, GETNAME, ID or SETINFO (the command table has checked the argument count). */
export function clientCommand(
  commandClass: CommandClass,
  args: readonly Buffer[],
  state: SessionState,
  clientId: number,
): Reply {
  switch (commandClass) {
    case 'client-setname': {
      const name = (args[2] as Buffer).toString('latin1');
      if (!CLIENT_NAME_PATTERN.test(name)) return BAD_CLIENT_NAME;
      const newName = name === '' ? null : name;
      if (newName !== state.settings.name)
        state.settings = { protocol: state.settings.protocol, name: newName };
      return OK;
    }
    case 'client-getname':
      return state.settings.name === null ? NULL : bulk(state.settings.name);
    case 'client-id':
      return integer(clientId);
    default:
      return clientSetinfo(args, state);
  }
}

function clientSetinfo(args: readonly Buffer[], state: SessionState): Reply {
  const attribute = (args[2] as Buffer).toString('latin1').toLowerCase();
  const value = (args[3] as Buffer).toString('latin1');
  if (attribute !== 'lib-name' && attribute !== 'lib-ver')
    return error(`ERR Unrecognized option '${(args[2] as Buffer).toString('latin1')}'`);
  // As Redis 7.2 (and the data node): the same characters as a client name.
  if (!CLIENT_NAME_PATTERN.test(value))
    return error(
      `ERR ${(args[2] as Buffer).toString('latin1')} cannot contain spaces, newlines or special characters.`,
    );
  if (attribute === 'lib-name') state.libraryName = value;
  else state.libraryVersion = value;
  return OK;
}

/**
 * MONITOR through the endpoint: a writer's MONITOR stream would be read as the replies to later
 * requests, and one writer sees only its own sessions, so it is refused with the reason.
 */
export const MONITOR_NOT_PROXIED = error(
  "ERR MONITOR is not available through a Borealis endpoint: the endpoint spreads sessions over several writers and pairs each request with one reply; run MONITOR on a data node's own port",
);

/** A command the proxy answers itself, sent inside MULTI: it cannot be queued on a writer. */
export function notQueueableError(commandName: string): Reply {
  return error(
    `ERR ${commandName.replace('|', ' ').toUpperCase()} cannot be queued in MULTI on a Borealis endpoint; send it outside the transaction`,
  );
}

export function throttledError(address: string, retryAfterMs: number): Reply {
  return error(
    `ERR too many failed authentication attempts from ${address}; retry in ${Math.max(1, Math.ceil(retryAfterMs / 1000))} s`,
  );
}

export const PASSWORD_CHECKS_BUSY = error(
  'TRYAGAIN too many password checks are waiting on this endpoint; retry in a moment',
);
