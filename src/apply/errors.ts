import { errorMessage } from '../errorMessage.js';

/** The config dir (or its staging dir) could not be written. */
export class ApplyError extends Error {
  override readonly name = 'ApplyError';
  constructor(
    message: string,
    readonly path: string,
    options?: ErrorOptions & {
      /** Files already renamed into place when a swap failed part-way (their daemon must be reloaded). */
      readonly replaced?: readonly string[];
    },
  ) {
    super(message, options);
    this.replaced = options?.replaced ?? [];
  }

  readonly replaced: readonly string[];
}

/** Who holds a config dir's lock, as it wrote itself into the lock file. */
export interface LockHolder {
  /** Its pid as it sees it (in its own PID namespace). */
  readonly pid: number;
  readonly hostname: string;
  /** The inode number of its PID namespace (/proc/self/ns/pid); undefined where /proc is not mounted. */
  readonly pidNamespace: string | undefined;
  /** When the process started (ISO 8601). */
  readonly started: string | undefined;
  readonly command: string;
}

/** Another birdwatch owns the config dir (it holds the flock on its lock file). */
export class ConfigDirLockedError extends Error {
  override readonly name = 'ConfigDirLockedError';
  constructor(
    message: string,
    readonly lockPath: string,
    /** undefined: the holder had not written its identity yet. */
    readonly holder: LockHolder | undefined,
  ) {
    super(message);
  }
}

/**
 * A filesystem error without its path (`ENOSPC: no space left on device`): our message names the directory,
 * and a temporary file's random name would make every retry look like a new failure.
 */
export const describeFsError = (error: unknown): string =>
  errorMessage(error).replace(/, \w+ '[^']*'(?: -> '[^']*')?$/, '');
