/**
 * Typed errors raised when talking to BIRD (control socket, `bird -p`).
 *
 * Every class carries the underlying error as the standard `cause` and has a
 * type guard (`isBird…Error`) for use in `catch` blocks.
 */

/** Options shared by the BIRD error constructors. */
export interface BirdErrorOptions {
  readonly cause?: unknown;
}

/** The control socket is missing, refuses connections, or the connection dropped. */
export class BirdUnreachableError extends Error {
  override readonly name = 'BirdUnreachableError';
  readonly socketPath: string;
  /** errno code of the cause when there is one (`ENOENT`, `ECONNREFUSED`, …). */
  readonly code: string | undefined;

  constructor(socketPath: string, message: string, options: BirdErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.socketPath = socketPath;
    this.code = errnoCode(options.cause);
  }
}

/** BIRD answered with something that does not follow its reply framing. */
export class BirdProtocolError extends Error {
  override readonly name = 'BirdProtocolError';
  /** The offending line (or greeting), when one is known. */
  readonly line: string | undefined;

  constructor(message: string, options: BirdErrorOptions & { readonly line?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.line = options.line;
  }
}

/** BIRD did not complete a reply (or the greeting) within the allowed time. */
export class BirdTimeoutError extends Error {
  override readonly name = 'BirdTimeoutError';
  readonly socketPath: string;
  readonly timeoutMs: number;

  constructor(socketPath: string, timeoutMs: number, message: string, options: BirdErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.socketPath = socketPath;
    this.timeoutMs = timeoutMs;
  }
}

/** The `bird`/`bird6` executable could not be started (not found or not executable). */
export class BirdBinaryMissingError extends Error {
  override readonly name = 'BirdBinaryMissingError';
  readonly binary: string;
  readonly code: string | undefined;

  constructor(binary: string, message: string, options: BirdErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.binary = binary;
    this.code = errnoCode(options.cause);
  }
}

/** `bird -p` did not finish in time (it was killed). */
export class BirdValidationTimeoutError extends Error {
  override readonly name = 'BirdValidationTimeoutError';
  constructor(
    readonly binary: string,
    readonly timeoutMs: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * `bird --version` failed, or answered with something that is not a BIRD version birdwatch speaks.
 */
export class BirdVersionError extends Error {
  override readonly name = 'BirdVersionError';
  readonly binary: string;

  constructor(binary: string, message: string, options: BirdErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.binary = binary;
  }
}

function errnoCode(cause: unknown): string | undefined {
  if (typeof cause === 'object' && cause !== null && 'code' in cause) {
    const code: unknown = cause.code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
