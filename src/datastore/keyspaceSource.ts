import type { Etcd3 } from 'etcd3';
import type { KeyScope } from '../model/keyScope.js';
import type { DatastoreError } from './errors.js';
import type { DatastoreState, DatastoreStateInfo } from './datastoreState.js';
import { etcdFeed } from './etcdFeed.js';
import { KeyspaceMirror } from './keyspaceMirror.js';
import { DEFAULT_STALE_AFTER_MS } from './mirrorOptions.js';

/**
 * What a live keyspace tells its reader while it keeps its copy current.
 * @internal MemoryKeyspaceSource (the unit tier's keyspace) implements it.
 */
export interface KeyspaceListener {
  /** Called after each batch of changes is applied to `entries` (and after every full read). */
  readonly onChange: (changedKeys: readonly string[]) => void;
  readonly onStateChange?: (state: DatastoreState, info: DatastoreStateInfo) => void;
  /** A read or watch failed and will be retried (once per failure, not per attempt). */
  readonly onRetry?: (error: DatastoreError, attempt: number) => void;
  /** A full re-read starts for a reason other than SIGHUP. */
  readonly onResync?: (reason: string) => void;
  /** An endpoint answers reads but no progress requests (etcd's gRPC proxy): said once per endpoint. */
  readonly onProgressByReads?: (endpoint: string | undefined) => void;
}

/** An in-memory copy of one scope of the keyspace: read at one revision, then kept current from the next. */
export interface LiveKeyspace {
  /** Kept current in place: readers may hold on to this map. */
  readonly entries: ReadonlyMap<string, string>;
  readonly revision: bigint;
  readonly state: DatastoreState;
  /** The scope plan's label ('mesh on', …), once read. */
  readonly scopeLabel: string | undefined;
  /** The first complete read (retried until it succeeds or `signal` aborts), then the watch. */
  start(signal?: AbortSignal): Promise<void>;
  /** Reads everything again (SIGHUP). */
  resync(reason?: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Where the run loop's keyspace comes from: etcd in production, memory or a file in unit tests. The run loop
 * opens one live copy of its role's scope and never sees a client.
 */
export interface KeyspaceSource {
  open(scope: KeyScope, listener: KeyspaceListener): LiveKeyspace;
}

interface EtcdKeyspaceSourceOptions {
  readonly client: Etcd3;
  /** A watch silent this long is left for another etcd member (default DEFAULT_STALE_AFTER_MS). */
  readonly staleAfterMs?: number | undefined;
}

/** The etcd source: a KeyspaceMirror (paged read at one revision, one watch stream, whole revisions applied). */
export function etcdKeyspaceSource(options: EtcdKeyspaceSourceOptions): KeyspaceSource {
  return {
    open: (scope, listener) =>
      new KeyspaceMirror({
        feed: etcdFeed({ client: options.client, staleAfterMs: options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS }),
        scope,
        ...listener,
      }),
  };
}
