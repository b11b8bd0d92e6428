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
