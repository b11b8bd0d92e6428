import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as Cockatiel from 'cockatiel';
import type { IOptions } from 'etcd3';
import { Etcd3, GRPCResourceExhastedError, isRecoverableError } from './etcd3.js';
import { checkEtcd3Internals } from './etcd3Internals.js';
import { DatastoreError } from './errors.js';
import { errorMessage } from '../errorMessage.js';

// cockatiel is CommonJS (etcd3 has loaded it already): required, not imported, so Node does not lex it and the
// dozen modules it re-exports for their export names (README "Benchmarks").
const { circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleWhen, retry } = createRequire(import.meta.url)(
  'cockatiel',
) as typeof Cockatiel;

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
  /** gRPC keepalive: ping an idle connection after this long (etcd refuses pings more often than every 5 s). */
  readonly keepaliveTimeMs?: number;
  /** gRPC keepalive: a ping unanswered this long closes the connection (a frozen or black-holed member). */
  readonly keepaliveTimeoutMs?: number;
  /** The receive limit (default MAX_RECEIVE_BYTES; tests and benchmarks lower it). */
  readonly maxReceiveBytes?: number;
}

/** Defaults documented in README (datastore): a dead connection is closed within time + timeout = 15 s. */
const DEFAULT_KEEPALIVE_TIME_MS = 10_000;
const DEFAULT_KEEPALIVE_TIMEOUT_MS = 5_000;
/**
 * The receive limit (grpc's default is 4 MiB). Reads are paged, so this only bounds one page or one watch
 * response; it is a second line for single large values (etcd's own request limit is 1.5 MiB by default).
 */
const MAX_RECEIVE_BYTES = 64 * 1024 * 1024;

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new DatastoreError(`cannot read etcd ${what} file ${path}: ${errorMessage(error)}`, 'tls', {
      cause: error,
    });
  }
}

/** Creates an etcd3 client; TLS material is read here so a missing file fails before any connection. */
/**
 * etcd3 counts every "recoverable" error against a host's circuit breaker and retries it; an answer too large
 * for the client is neither a sick host nor worth the same request again (the reader asks for a smaller page).
 */
const retryable = (error: Error): boolean => isRecoverableError(error) && !(error instanceof GRPCResourceExhastedError);

export function createEtcdClient(options: EtcdConnectionOptions): Etcd3 {
  const timeout = options.callTimeoutMs ?? 5000;
  const config: IOptions = {
    hosts: [...options.endpoints],
    dialTimeout: timeout,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeout }),
    // etcd3's default watch backoff grows to 30 s with jitter: after an outage the watch came back up to
    // 13 s late. Capped at 1 s, reconnecting costs one cheap attempt a second while etcd is down.
    faultHandling: {
      watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1000 }).next(),
      host: () => circuitBreaker(handleWhen(retryable), { halfOpenAfter: 5_000, breaker: new ConsecutiveBreaker(3) }),
      global: retry(handleWhen(retryable), { maxAttempts: 3 }),
    },
    grpcOptions: {
      'grpc.max_receive_message_length': options.maxReceiveBytes ?? MAX_RECEIVE_BYTES,
      'grpc.keepalive_time_ms': options.keepaliveTimeMs ?? DEFAULT_KEEPALIVE_TIME_MS,
      'grpc.keepalive_timeout_ms': options.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS,
      // Pings only while a call is open (the watch always is): etcd's default policy refuses them otherwise.
      'grpc.keepalive_permit_without_calls': 0,
    },
  };
  const https = options.endpoints.some((e) => e.startsWith('https://'));
  if (options.caFile || options.certFile || options.keyFile || https) {
    if ((options.certFile === undefined) !== (options.keyFile === undefined)) {
      throw new DatastoreError(
        'etcd client certificate and key must be given together (--etcd-cert and --etcd-key)',
        'tls',
      );
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
  let client: Etcd3;
  try {
    client = new Etcd3(config);
  } catch (error) {
    // grpc builds the TLS context here: a key that does not match its certificate, or a file that is not PEM.
    const message = errorMessage(error);
    if (/key values mismatch/i.test(message)) {
      throw new DatastoreError(
        `the etcd client key ${options.keyFile ?? ''} does not belong to the certificate ${options.certFile ?? ''}`,
        'tls',
        { cause: error },
      );
    }
    throw new DatastoreError(
      `cannot use the etcd TLS files (${[options.caFile, options.certFile, options.keyFile].filter(Boolean).join(', ')}): ${message}`,
      'tls',
      { cause: error },
    );
  }
  // watchStream.ts reaches into the client's connection pool: an etcd3 of another shape is refused here, at start.
  checkEtcd3Internals(client);
  return client;
}
