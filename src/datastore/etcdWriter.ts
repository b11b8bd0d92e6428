import type { Etcd3, ICompare, IRequestOp } from 'etcd3';
import { CompareResult, CompareTarget } from './etcd3.js';
import { classifyEtcdError } from './etcdErrors.js';

/**
 * One etcd transaction of string keys and values. The writer knows nothing of their meaning: the operator
 * layer decides which keys belong together, this only makes them land at one revision (or not at all).
 */
export interface KeyspaceTxn {
  /** Keys to set, in order. */
  readonly puts?: readonly (readonly [key: string, value: string])[];
  /** Exact keys to delete. */
  readonly deleteKeys?: readonly string[];
  /** Every key starting with one of these is deleted. */
  readonly deletePrefixes?: readonly string[];
  /**
   * Optimistic guard: commit only if no key under these prefixes, and none of these exact keys, was created
   * or modified after `revision` (the revision the caller read its decision from). A guard sees puts, not
   * deletions (a deleted key has no revision left to compare).
   */
  readonly unchangedSince?: Readonly<{ revision: bigint; prefixes?: readonly string[]; keys?: readonly string[] }>;
}

export interface TxnResult {
  /** False only when the guard failed: nothing was written, the caller should re-read and decide again. */
  readonly committed: boolean;
  /** The store's revision after the transaction (the revision of every write when committed). */
  readonly revision: bigint;
}

/**
 * The first key after every key that starts with `prefix` (etcd's range_end for a prefix).
 * @internal test/operator-guarded-write.test.ts checks the range.
 */
export function prefixRangeEnd(prefix: string): Buffer {
  const bytes = Buffer.from(prefix, 'utf8');
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i] = end[i]! + 1;
      return end;
    }
  }
  return Buffer.from([0]);
}

/** Puts and deletes of string keys in single etcd transactions. */
export class EtcdWriter {
  constructor(private readonly client: Etcd3) {}

  /**
   * Runs `txn` as one etcd transaction. Rejects with a DatastoreError when etcd cannot be reached or
   * refuses; resolves `{committed: false}` when the guard failed.
   */
  async commit(txn: KeyspaceTxn): Promise<TxnResult> {
    const success: IRequestOp[] = [
      ...(txn.deleteKeys ?? []).map((key) => ({ request_delete_range: { key: Buffer.from(key, 'utf8') } })),
      ...(txn.deletePrefixes ?? []).map((prefix) => ({
        request_delete_range: { key: Buffer.from(prefix, 'utf8'), range_end: prefixRangeEnd(prefix) },
      })),
      ...(txn.puts ?? []).map(([key, value]) => ({
        request_put: { key: Buffer.from(key, 'utf8'), value: Buffer.from(value, 'utf8') },
      })),
    ];
    const compare: ICompare[] = [];
    const guard = txn.unchangedSince;
    if (guard !== undefined) {
      // "Mod < revision + 1" over a range holds for every key in it (and for an empty range).
      const bound = String(guard.revision + 1n);
      const modBefore = (key: string, rangeEnd?: Buffer): ICompare => ({
        key: Buffer.from(key, 'utf8'),
        target: CompareTarget.Mod,
        result: CompareResult.Less,
        mod_revision: bound,
        ...(rangeEnd === undefined ? {} : { range_end: rangeEnd }),
      });
      for (const prefix of guard.prefixes ?? []) compare.push(modBefore(prefix, prefixRangeEnd(prefix)));
      for (const key of guard.keys ?? []) compare.push(modBefore(key));
    }
    try {
      const response = await this.client.kv.txn({ compare, success, failure: [] });
      return { committed: response.succeeded, revision: BigInt(response.header.revision) };
    } catch (error) {
      throw classifyEtcdError(error);
    }
  }
}
