// Stating what code relies on instead of casting it away: `invariant(condition, why)` and
// `present(value, what)` throw an `InvariantError` naming the broken assumption, where a cast
// (`map.get(key) as Entry`) would let an undefined travel on and fail somewhere unrelated.
// A tiny module of our own: the `tiny-invariant` package strips its message in production
// builds, and the message is the point here.

/** A broken assumption of the code itself (never bad input, which gets its own error). */
export class InvariantError extends Error {
  override readonly name = 'InvariantError';
}

/** Throws an `InvariantError` with `why` unless `condition` holds. */
export function invariant(condition: unknown, why: string | (() => string)): asserts condition {
  if (condition) return;
  throw new InvariantError(typeof why === 'string' ? why : why());
}

/** `value`, which the caller knows is there; an `InvariantError` naming `what` if it is not. */
export function present<T>(value: T | undefined, what: string | (() => string)): T {
  if (value !== undefined) return value;
  throw new InvariantError(`${typeof what === 'string' ? what : what()} is missing`);
}
