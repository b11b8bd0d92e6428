import type { KeyspaceTxn, TxnResult } from '../datastore/etcdWriter.js';
import type { KeyspaceSnapshot } from '../datastore/snapshot.js';

/** What the operator commands need of a datastore: a consistent read and one-transaction writes. */
export interface OperatorStore {
  /** Every key under `prefixes`, read at one revision. */
  read(prefixes: readonly string[]): Promise<KeyspaceSnapshot>;
  commit(txn: KeyspaceTxn): Promise<TxnResult>;
}
