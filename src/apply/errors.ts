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

export const isApplyError = (error: unknown): error is ApplyError => error instanceof ApplyError;

/** Another birdwatch owns the config dir (its lock file names a live process). */
export class ConfigDirLockedError extends Error {
  override readonly name = 'ConfigDirLockedError';
  constructor(
    message: string,
    readonly lockPath: string,
    readonly ownerPid: number,
  ) {
    super(message);
  }
}

export const isConfigDirLockedError = (error: unknown): error is ConfigDirLockedError =>
  error instanceof ConfigDirLockedError;

/**
 * A filesystem error without its path (`ENOSPC: no space left on device`): our message names the directory,
 * and a temporary file's random name would make every retry look like a new failure.
 */
export const describeFsError = (error: unknown): string =>
  errorMessage(error).replace(/, \w+ '[^']*'(?: -> '[^']*')?$/, '');
