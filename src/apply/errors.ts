/** The config dir (or its staging dir) could not be written; the live files are left as they were. */
export class ApplyError extends Error {
  override readonly name = 'ApplyError';
  constructor(
    message: string,
    readonly path: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export const isApplyError = (error: unknown): error is ApplyError => error instanceof ApplyError;

/**
 * A filesystem error without its path (`ENOSPC: no space left on device`): our message names the directory,
 * and a temporary file's random name would make every retry look like a new failure.
 */
export const describeFsError = (error: unknown): string => (error instanceof Error ? error.message : String(error)).replace(/, \w+ '[^']*'(?: -> '[^']*')?$/, '');
