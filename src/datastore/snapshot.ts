/** Every key/value under the watched prefixes, read at one etcd revision (0 for a file). */
export interface KeyspaceSnapshot {
  readonly revision: bigint;
  readonly entries: ReadonlyMap<string, string>;
}
