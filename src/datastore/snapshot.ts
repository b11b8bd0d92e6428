import type { ScopePlan } from '../model/keyScope.js';

/** Every key/value under the watched prefixes, read at one etcd revision (0 for a file). */
export interface KeyspaceSnapshot {
  readonly revision: bigint;
  readonly entries: ReadonlyMap<string, string>;
}

/** Which etcd answered, and at what revision: every response carries it (the mirror checks them all). */
export interface EtcdHeader {
  readonly revision: bigint;
  readonly clusterId: string;
  readonly memberId: string;
}

/** A snapshot of one scope: the plan it was read with and the header of its last answer. */
export interface ScopedSnapshot extends KeyspaceSnapshot {
  readonly plan: ScopePlan;
  readonly header: EtcdHeader;
  /** Keys etcd sent (kept or not) and the bytes of their keys and values. */
  readonly keysRead: number;
  readonly bytesRead: number;
}
