// Replies as plain data, independent of the protocol version: the encoder turns each kind into
// its RESP3 type, or into the RESP2 type Redis itself falls back to (a map becomes a flat
// array, a double a bulk string, a verbatim string a bulk string, a null `_` becomes `$-1` or
// `*-1`).

export type Reply =
  | { kind: 'simple'; value: string }
  /** `message` is the whole error line without the leading '-', e.g. `ERR syntax error`. */
  | { kind: 'error'; message: string }
  | { kind: 'integer'; value: number | bigint }
  | { kind: 'bulk'; value: Buffer | string }
  /** A null bulk string: RESP2 `$-1`, RESP3 `_`. */
  | { kind: 'null' }
  /** A null array (EXEC after a WATCH conflict): RESP2 `*-1`, RESP3 `_`. */
  | { kind: 'nullArray' }
  | { kind: 'array'; items: Reply[] }
  /** RESP3 `%`; RESP2 a flat array key, value, key, value… */
  | { kind: 'map'; entries: [Reply, Reply][] }
  /** RESP3 `~`; RESP2 an array. */
  | { kind: 'set'; items: Reply[] }
  /**
   * RESP3 an array of two-element arrays; RESP2 one flat array, member, score, member, score…
   * (ZRANGE … WITHSCORES and the other sorted-set replies with scores).
   */
  | { kind: 'pairs'; entries: [Reply, Reply][] }
  /** RESP3 `,`; RESP2 a bulk string. */
  | { kind: 'double'; value: number }
  /** RESP3 `=` with a three-letter format (`txt`); RESP2 a bulk string. */
  | { kind: 'verbatim'; format: string; value: string };

export const OK: Reply = { kind: 'simple', value: 'OK' };
export const NULL: Reply = { kind: 'null' };

export function simple(value: string): Reply {
  return { kind: 'simple', value };
}
export function error(message: string): Reply {
  return { kind: 'error', message };
}
export function integer(value: number | bigint): Reply {
  return { kind: 'integer', value };
}
export function bulk(value: Buffer | string): Reply {
  return { kind: 'bulk', value };
}
export function array(items: Reply[]): Reply {
  return { kind: 'array', items };
}
