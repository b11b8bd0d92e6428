import { DatastoreError, isDatastoreError } from './errors.js';

const CLIENT_CERT_HINT =
  'give a certificate signed by a CA etcd trusts with --etcd-cert and --etcd-key (or ETCD_CERT_FILE and ETCD_KEY_FILE)';
const SERVER_CERT_HINT =
  'give the CA that signed it with --etcd-ca or ETCD_CA_CERT_FILE (without one, the system trust store is used)';

/**
 * The useful part of a grpc/etcd3 message: `3 INVALID_ARGUMENT: etcdserver: authentication failed, …` →
 * `authentication failed, …`; `14 UNAVAILABLE: No connection established. Last error: <e>. Resolution note: …`
 * → `<e>`; OpenSSL's `…:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../deps/…` → `sslv3 alert bad
 * certificate`.
 */
export function etcdErrorDetail(message: string): string {
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

/** Maps etcd3/grpc failures to one DatastoreError kind with a message an operator can act on. */
export function classifyEtcdError(error: unknown): DatastoreError {
  if (isDatastoreError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  const name = error instanceof Error ? error.constructor.name : '';
  const detail = etcdErrorDetail(message);
  const auth = (text: string): DatastoreError => new DatastoreError(text, 'auth', { cause: error });
  const tls = (text: string): DatastoreError => new DatastoreError(text, 'tls', { cause: error });
  if (/user name is empty/i.test(message)) {
    return auth(`etcd requires authentication and no user was given: set ETCD_USERNAME and ETCD_PASSWORD (${detail})`);
  }
  if (/authentication failed|invalid user ID or password|EtcdAuthenticationFailed/i.test(`${name} ${message}`)) {
    return auth(`etcd refused the credentials of ETCD_USERNAME/ETCD_PASSWORD: ${detail}`);
  }
  if (/permission denied|EtcdPermissionDenied/i.test(`${name} ${message}`)) {
    return auth(
      `etcd denied access (${detail}): the etcd user needs read access to the /calico/ prefixes (and write access for operator commands)`,
    );
  }
  if (/invalid auth token|EtcdInvalidAuthToken/i.test(`${name} ${message}`))
    return auth(`etcd refused the auth token: ${detail}`);
  // The connection closed before TLS finished: etcd restarting, or an https:// URL for a plain-HTTP port. Retry.
  if (/disconnected before secure TLS connection was established/i.test(message)) {
    return new DatastoreError(
      `etcd unreachable: the connection closed during the TLS handshake (${detail}; is the endpoint really https?)`,
      'unreachable',
      { cause: error },
    );
  }
  if (
    /alert (?:bad certificate|certificate required|unknown ca|handshake failure)|alert number (?:40|42|48|116)|peer did not return a certificate/i.test(
      message,
    )
  ) {
    return tls(`etcd refused the TLS client certificate (${detail}): ${CLIENT_CERT_HINT}`);
  }
  if (
    /unable to verify|self.signed|unable to get (?:local )?issuer|certificate has expired|not yet valid|Hostname\/IP does not match|ERR_TLS_CERT/i.test(
      message,
    )
  ) {
    return tls(`cannot verify etcd's TLS certificate (${detail}): ${SERVER_CERT_HINT}`);
  }
  if (/certificate|ssl|tls|handshake/i.test(message)) return tls(`etcd TLS failed: ${detail}`);
  if (/RESOURCE_EXHAUSTED|ResourceExhast|larger than max/i.test(`${name} ${message}`)) {
    return new DatastoreError(
      `etcd response too large for the client (${detail}): a value under a watched prefix is bigger than the receive limit`,
      'too-large',
      { cause: error },
    );
  }
  if (/compacted/i.test(message))
    return new DatastoreError(`etcd revision compacted: ${message}`, 'compacted', { cause: error });
  return new DatastoreError(`etcd unreachable: ${message}`, 'unreachable', { cause: error });
}
