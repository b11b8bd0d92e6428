import { readFileSync } from 'node:fs';
import { ExponentialBackoff } from 'cockatiel';
import { Etcd3, type IOptions } from 'etcd3';
import { DatastoreError } from './errors.js';

/** How to reach etcd; normalised once at the boundary (the CLI) from flags and ETCD_* variables. */
export interface EtcdConnectionOptions {
  readonly endpoints: readonly string[];
  readonly caFile?: string | undefined;
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  /** Per-call deadline for unary calls (not watches). */
  readonly callTimeoutMs?: number;
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new DatastoreError(`cannot read etcd ${what} file ${path}: ${(error as Error).message}`, 'tls', { cause: error });
  }
}

/** Creates an etcd3 client; TLS material is read here so a missing file fails before any connection. */
export function createEtcdClient(options: EtcdConnectionOptions): Etcd3 {
  const timeout = options.callTimeoutMs ?? 5000;
  const config: IOptions = {
    hosts: [...options.endpoints],
    dialTimeout: timeout,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeout }),
    // etcd3's default watch backoff grows to 30 s with jitter: after an outage the watch came back up to
    // 13 s late. Capped at 1 s, reconnecting costs one cheap attempt a second while etcd is down.
    faultHandling: { watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1000 }).next() },
  };
  const https = options.endpoints.some((e) => e.startsWith('https://'));
  if (options.caFile || options.certFile || options.keyFile || https) {
    if ((options.certFile === undefined) !== (options.keyFile === undefined)) {
      throw new DatastoreError('etcd client certificate and key must be given together (--etcd-cert and --etcd-key)', 'tls');
    }
    config.credentials = {
      // Without a CA file, grpc uses the system trust store.
      rootCertificate: options.caFile ? readPem(options.caFile, 'CA') : (undefined as unknown as Buffer),
      ...(options.certFile ? { certChain: readPem(options.certFile, 'certificate') } : {}),
      ...(options.keyFile ? { privateKey: readPem(options.keyFile, 'key') } : {}),
    };
  }
  if (options.username !== undefined) {
    config.auth = { username: options.username, password: options.password ?? '' };
  }
  try {
    return new Etcd3(config);
  } catch (error) {
    // grpc builds the TLS context here: a key that does not match its certificate, or a file that is not PEM.
    const message = (error as Error).message;
    if (/key values mismatch/i.test(message)) {
      throw new DatastoreError(`the etcd client key ${options.keyFile ?? ''} does not belong to the certificate ${options.certFile ?? ''}`, 'tls', { cause: error });
    }
    throw new DatastoreError(`cannot use the etcd TLS files (${[options.caFile, options.certFile, options.keyFile].filter(Boolean).join(', ')}): ${message}`, 'tls', { cause: error });
  }
}
