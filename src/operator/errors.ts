/**
 * Failures of operator commands that depend on what the datastore holds (argument syntax is checked before,
 * by the CLI). Each carries the offending value so the CLI can name the argument.
 */

/** The request contradicts the datastore (an overlapping pool, an address another node has …): nothing written. */
export class OperatorConflictError extends Error {
  override readonly name = 'OperatorConflictError';
  constructor(
    readonly value: string,
    readonly reason: string,
  ) {
    super(`${value}: ${reason}`);
  }
}

/** The thing to remove or change does not exist: nothing written. */
export class OperatorNotFoundError extends Error {
  override readonly name = 'OperatorNotFoundError';
}

/** Other writers kept changing the keys this write depends on; it gave up without writing. */
export class ConcurrentChangeError extends Error {
  override readonly name = 'ConcurrentChangeError';
}
