import type { Clock } from '../controller/clock.js';
import type { KeyScope } from '../model/keyScope.js';
import type { DatastoreState, DatastoreStateInfo } from './datastoreState.js';
import type { DatastoreError } from './errors.js';
import type { KeyspaceFeed } from './keyspaceFeed.js';

/** What a KeyspaceMirror (keyspaceMirror.ts) is given: its feed, its scope, whom it tells, and its clocks. */
export interface KeyspaceMirrorOptions {
  /** Where the keyspace comes from: `etcdFeed` (etcdFeed.ts), or a fake in unit tests. */
  readonly feed: KeyspaceFeed;
  /** What to read and watch; re-planned after every change (the mesh switch re-scopes). */
  readonly scope: KeyScope;
  /** Called after each batch of changes is applied to `entries` (and after every full re-read). */
  readonly onChange: (changedKeys: readonly string[]) => void;
  readonly onStateChange?: (state: DatastoreState, info: DatastoreStateInfo) => void;
  /** A read or watch failed and will be retried (called once per failure, not per retry attempt). */
  readonly onRetry?: (error: DatastoreError, attempt: number) => void;
  /** A full re-read starts for a reason other than SIGHUP (logged once per occurrence). */
  readonly onResync?: (reason: string) => void;
  /** An endpoint answers reads but no progress requests (etcd's gRPC proxy): once per endpoint. */
  readonly onProgressByReads?: (endpoint: string | undefined) => void;
  readonly initialRetryDelayMs?: number;
  readonly maxRetryDelayMs?: number;
  /** Sleeps between attempts (default: real time); its `now` is not used for the wall-clock times reported. */
  readonly clock?: Clock;
  /** Wall clock (ms): the `since` of each state, when members may be tried again. */
  readonly now?: () => number;
  /**
   * Which endpoint the watch tries first (index into the client's endpoints; default: one picked at random per
   * process, so a cluster's nodes spread their watches — etcd's fan-out work — over the members).
   */
  readonly firstEndpoint?: number;
}

/** Documented default of --etcd-stale-after: a frozen member is left at most 1.25 × this after its last answer. */
export const DEFAULT_STALE_AFTER_MS = 5_000;
