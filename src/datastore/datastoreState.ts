import type { DatastoreError } from './errors.js';

/**
 * Where the keyspace mirror stands with etcd (also what `/readyz`, the status and the metrics report).
 * syncing: before the first complete read. synced: reading is done and the watch answers. disconnected: the
 * watch or a read failed (etcd down or unreachable). stale: the member stopped answering without failing
 * (frozen, black-holed). resyncing: a full re-read is under way (rollback, new cluster, compaction, re-scope).
 */
export type DatastoreState = 'syncing' | 'synced' | 'disconnected' | 'stale' | 'resyncing';

export const DATASTORE_STATES: readonly DatastoreState[] = ['syncing', 'synced', 'disconnected', 'stale', 'resyncing'];

export interface DatastoreStateInfo {
  /** Wall-clock ms: since when the mirror is in this state (stale: since the member last answered). */
  readonly since: number;
  /** Why, in words (stale, resyncing, disconnected). */
  readonly reason?: string | undefined;
  readonly error?: DatastoreError | undefined;
}
