// Invariants are asserted in the code itself (TigerBeetle style): a broken invariant is a bug,
// never a condition to recover from, so it throws an AssertionError that names what broke.

export class InvariantError extends Error {
  override name = 'InvariantError';
}

export function invariant(cond: unknown, message: string | (() => string)): asserts cond {
  if (!cond) throw new InvariantError(typeof message === 'function' ? message() : message);
}

export function unreachable(x: never, what = 'value'): never {
  throw new InvariantError(`unreachable: unexpected ${what} ${JSON.stringify(x)}`);
}
