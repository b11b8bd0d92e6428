export type Daemon = 'bird' | 'bird6';
/** Mirrors the keyspace mirror's state (src/datastore/keyspaceMirror.ts MirrorState). */
export type DatastoreState = 'syncing' | 'synced' | 'disconnected' | 'stale' | 'resyncing';

export interface ApplyFailure {
  readonly kind: 'node' | 'template' | 'validation' | 'write' | 'reload';
  readonly message: string;
  readonly at: number;
}

/**
 * What `run` knows about itself, in one place: the control loop writes it, the health endpoint, metrics and
 * logs read it. Plain data; no I/O.
 */
export class RunStatus {
  datastore: DatastoreState = 'syncing';
  revision = 0n;
  /** Wall-clock ms since when `datastore` holds (lost, stale: since etcd last answered). */
  datastoreSince: number | undefined;
  /** Why the datastore is not synced (stale, resyncing, disconnected), in words. */
  datastoreDetail: string | undefined;
  /** Wall-clock ms of the last cycle that ended with BIRD running the rendered configuration. */
  lastAppliedAt: number | undefined;
  /** The current failure, until a cycle succeeds. */
  failure: ApplyFailure | undefined;
  readonly birdReachable: Record<Daemon, boolean | undefined> = { bird: undefined, bird6: undefined };
  /** Heartbeat of the control loop (monotonic ms), for liveness. */
  heartbeatAt = 0;
  cycles = 0;
  reloads: Record<Daemon, number> = { bird: 0, bird6: 0 };
}
