import { errorMessage } from '../errorMessage.js';

/**
 * The datastore could not be read: unreachable, refused our credentials, held something unreadable, or sent
 * an answer larger than the client accepts (`too-large`: etcd is up, the value is the problem); `client`: the
 * installed etcd3 is not the one birdwatch is built against.
 */
export class DatastoreError extends Error {
  override readonly name = 'DatastoreError';
  constructor(
    message: string,
    readonly kind: 'unreachable' | 'auth' | 'tls' | 'format' | 'compacted' | 'too-large' | 'client',
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A failure of the feed as a DatastoreError: one already is; anything else counts as etcd being unreachable. */
export const asDatastoreError = (error: unknown): DatastoreError =>
  error instanceof DatastoreError
    ? error
    : new DatastoreError(`etcd unreachable: ${errorMessage(error)}`, 'unreachable', { cause: error });
