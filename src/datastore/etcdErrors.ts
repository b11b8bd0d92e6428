import {
  castGrpcError,
  EtcdAuthenticationFailedError,
  EtcdInvalidAuthTokenError,
  EtcdPermissionDeniedError,
  GRPCInvalidArgumentError,
  GRPCOutOfRangeError,
  GRPCResourceExhastedError,
} from './etcd3.js';
import { errorMessage } from '../errorMessage.js';
import { DatastoreError } from './errors.js';

const CLIENT_CERT_HINT =
  'give a certificate signed by a CA etcd trusts with --etcd-cert and --etcd-key (or ETCD_CERT_FILE and ETCD_KEY_FILE)';
/** OpenSSL's alerts when the server refuses our certificate (TLS 1.2 names, TLS 1.3 numbers), or sent none. */
const CLIENT_CERT_REFUSED =
  /alert (?:bad certificate|certificate required|unknown ca|handshake failure)|alert number (?:40|42|48|116)|peer did not return a certificate/i;
/** Node's and OpenSSL's words for a server certificate we cannot verify. */
const SERVER_CERT_UNVERIFIED =
  /unable to verify|self.signed|unable to get (?:local )?issuer|certificate has expired|not yet valid|Hostname\/IP does not match|ERR_TLS_CERT/i;
const SERVER_CERT_HINT =
  'give the CA that signed it with --etcd-ca or ETCD_CA_CERT_FILE (without one, the system trust store is used)';

/**
 * The useful part of a grpc/etcd3 message: `3 INVALID_ARGUMENT: etcdserver: authentication failed, …` →
 * `authentication failed, …`; `14 UNAVAILABLE: No connection established. Last error: <e>. Resolution note: …`
 * → `<e>`; OpenSSL's `…:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../deps/…` → `sslv3 alert bad
 * certificate`.
 */
function etcdErrorDetail(message: string): string {
  let detail = message;
  const last = /Last error: ([\s\S]*?)(?:\s*\(\d{4}-\d\d-\d\dT[^)]*\))?\.?\s*(?:Resolution note:[\s\S]*)?$/.exec(
    detail,
  );
  if (last?.[1]) detail = last[1];
  detail = detail
    .replace(/^\d+ [A-Z_]+: /, '')
    .replace(/^etcdserver: /, '')
    .replace(/^Error: /, '');
  const openssl = /SSL routines:[^:]*:([^:]+):/.exec(detail);
  if (openssl?.[1]) detail = openssl[1];
  return detail.replace(/\s+/g, ' ').trim();
}

/** gRPC's errors are plain Errors with a status code; etcd3 types them (its calls do, a raw stream's may not). */
const typed = (error: unknown): unknown =>
  error instanceof Error && error.constructor === Error ? castGrpcError(error) : error;

/**
 * Maps etcd3/grpc failures to one DatastoreError kind with a message an operator can act on: by etcd3's error
 * classes, except where gRPC has no class to tell — a TLS failure is UNAVAILABLE whatever went wrong, so its text
 * says which side's certificate was refused.
 */
export function classifyEtcdError(error: unknown): DatastoreError {
  if (error instanceof DatastoreError) return error;
  const failure = typed(error);
  const message = errorMessage(failure);
  const detail = etcdErrorDetail(message);
  const auth = (text: string): DatastoreError => new DatastoreError(text, 'auth', { cause: error });
  const tls = (text: string): DatastoreError => new DatastoreError(text, 'tls', { cause: error });
  if (failure instanceof EtcdAuthenticationFailedError)
    return auth(`etcd refused the credentials of ETCD_USERNAME/ETCD_PASSWORD: ${detail}`);
  if (failure instanceof EtcdPermissionDeniedError) {
    return auth(
      `etcd denied access (${detail}): the etcd user needs read access to the /calico/ prefixes (and write access for operator commands)`,
    );
  }
  if (failure instanceof EtcdInvalidAuthTokenError) return auth(`etcd refused the auth token: ${detail}`);
  // etcd3 has no class of its own for this one: an INVALID_ARGUMENT whose text etcd fixes.
  if (failure instanceof GRPCInvalidArgumentError && message.includes('user name is empty')) {
    return auth(`etcd requires authentication and no user was given: set ETCD_USERNAME and ETCD_PASSWORD (${detail})`);
  }
  if (failure instanceof GRPCResourceExhastedError) {
    return new DatastoreError(
      `etcd response too large for the client (${detail}): a value under a watched prefix is bigger than the receive limit`,
      'too-large',
      { cause: error },
    );
  }
  if (failure instanceof GRPCOutOfRangeError)
    return new DatastoreError(`etcd revision compacted: ${detail}`, 'compacted', { cause: error });
  // The connection closed before TLS finished: etcd restarting, or an https:// URL for a plain-HTTP port. Retry.
  if (message.includes('disconnected before secure TLS connection was established')) {
    return new DatastoreError(
      `etcd unreachable: the connection closed during the TLS handshake (${detail}; is the endpoint really https?)`,
      'unreachable',
      { cause: error },
    );
  }
  if (CLIENT_CERT_REFUSED.test(message))
    return tls(`etcd refused the TLS client certificate (${detail}): ${CLIENT_CERT_HINT}`);
  if (SERVER_CERT_UNVERIFIED.test(message))
    return tls(`cannot verify etcd's TLS certificate (${detail}): ${SERVER_CERT_HINT}`);
  if (/certificate|ssl|tls|handshake/i.test(message)) return tls(`etcd TLS failed: ${detail}`);
  return new DatastoreError(`etcd unreachable: ${message}`, 'unreachable', { cause: error });
}
