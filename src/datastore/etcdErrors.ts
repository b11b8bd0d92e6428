import { DatastoreError, isDatastoreError } from './errors.js';

/** Maps etcd3/grpc failures to one DatastoreError kind with a message an operator can act on. */
export function classifyEtcdError(error: unknown): DatastoreError {
  if (isDatastoreError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  const name = error instanceof Error ? error.constructor.name : '';
  if (/authentication failed|invalid auth token|user name is empty|permission denied|EtcdAuthenticationFailed|EtcdPermissionDenied/i.test(`${name} ${message}`)) {
    return new DatastoreError(`etcd refused the credentials: ${message}`, 'auth', { cause: error });
  }
  if (/certificate|ssl|tls|handshake|self.signed/i.test(message)) {
    return new DatastoreError(`etcd TLS failed: ${message}`, 'tls', { cause: error });
  }
  if (/compacted/i.test(message)) return new DatastoreError(`etcd revision compacted: ${message}`, 'compacted', { cause: error });
  return new DatastoreError(`etcd unreachable: ${message}`, 'unreachable', { cause: error });
}
