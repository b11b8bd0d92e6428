/** The datastore could not be read: unreachable, refused our credentials, or held something unreadable. */
export class DatastoreError extends Error {
  override readonly name = 'DatastoreError';
  constructor(
    message: string,
    readonly kind: 'unreachable' | 'auth' | 'tls' | 'format' | 'compacted',
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export const isDatastoreError = (error: unknown): error is DatastoreError => error instanceof DatastoreError;
