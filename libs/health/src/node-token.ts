// The node token (docs/security.md): every call to a data node's or a storage node's admin API
// but GET /health and GET /metrics carries `Authorization: Bearer <token>`. A node will not start
// without one, so no node ever serves that API open. The control plane gives each process it
// starts a token of its own, in the environment (never on the command line, which other users of
// the host can read).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** The variable a node reads its token from. */
export const NODE_TOKEN_ENV = 'BOREALIS_NODE_TOKEN';
/** Shorter tokens are refused: a guessable token is no better than none. */
export const NODE_TOKEN_CHARS_MIN = 16;
/** Tokens travel in an HTTP header: printable ASCII without spaces, and bounded. */
const NODE_TOKEN_PATTERN = /^[\x21-\x7e]{1,512}$/;

/** What a refused call is told: what to send, never what was expected. */
export const NODE_TOKEN_MISSING =
  'this call needs the node token: send Authorization: Bearer <BOREALIS_NODE_TOKEN>';
export const NODE_TOKEN_WRONG =
  "the token sent is not this node's: send Authorization: Bearer <BOREALIS_NODE_TOKEN>";
/** The header a 401 carries (RFC 6750). */
export const NODE_TOKEN_CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="borealis-node"' } as const;

/**
 * The node's token from BOREALIS_NODE_TOKEN. Throws one line that says what to set when it is
 * missing or unfit; the caller exits with it.
 */
export function readNodeToken(env: NodeJS.ProcessEnv): string {
  const token = env[NODE_TOKEN_ENV];
  const howTo =
    `set ${NODE_TOKEN_ENV} to a secret of at least ${NODE_TOKEN_CHARS_MIN} printable characters ` +
    `(the control plane sets it for the nodes it starts; by hand: ${NODE_TOKEN_ENV}=$(openssl rand -hex 32))`;
  if (token === undefined || token === '') {
    throw new Error(`${NODE_TOKEN_ENV} is not set: the admin API always needs a token; ${howTo}`);
  }
  if (token.length < NODE_TOKEN_CHARS_MIN || !NODE_TOKEN_PATTERN.test(token)) {
    throw new Error(
      `${NODE_TOKEN_ENV} is ${token.length < NODE_TOKEN_CHARS_MIN ? `${token.length} characters long` : 'not printable ASCII without spaces, or longer than 512 characters'}; ${howTo}`,
    );
  }
  return token;
}

export type NodeTokenCheck = 'ok' | 'missing' | 'wrong';

/**
 * Checks requests against one token. Both sides are compared as HMAC digests under a key of this
 * process: the buffers have equal lengths whatever was sent, timingSafeEqual does not exit at the
 * first difference, and the time taken says nothing about the token's length.
 */
export class NodeTokenGuard {
  private readonly key = randomBytes(32);
  private readonly expected: Buffer;

  constructor(token: string) {
    this.expected = this.digest(token);
  }

  check(headers: IncomingHttpHeaders): NodeTokenCheck {
    const header = headers.authorization;
    if (header === undefined || header === '') return 'missing';
    const match = /^Bearer +(\S+) *$/i.exec(header);
    if (match === null) return 'wrong';
    return timingSafeEqual(this.digest(match[1] as string), this.expected) ? 'ok' : 'wrong';
  }

  /** The message of a 401 for that outcome. */
  static refusal(outcome: Exclude<NodeTokenCheck, 'ok'>): string {
    return outcome === 'missing' ? NODE_TOKEN_MISSING : NODE_TOKEN_WRONG;
  }

  private digest(text: string): Buffer {
    return createHmac('sha256', this.key).update(text, 'utf8').digest();
  }
}
