import type { KeyspaceSnapshot } from '../datastore/snapshot.js';
import { ConcurrentChangeError } from './errors.js';
import type { OperatorStore } from './store.js';

/** What one operator command decided to write, from one read of the keyspace. */
export interface WritePlan {
  readonly puts: readonly (readonly [key: string, value: string])[];
  /** Keys to delete (each existed when read). */
  readonly deleteKeys?: readonly string[];
  /** Prefixes to delete as a whole; `deleteKeys` lists what they held when read. */
  readonly deletePrefixes?: readonly string[];
  /** Things the operator should know (defaults taken, values replaced, what was left alone). */
  readonly notes?: readonly string[];
}

/** What was written, at which revision: the CLI prints it as `set KEY = VALUE` / `deleted KEY`. */
export interface WriteReport {
  readonly puts: readonly (readonly [key: string, value: string])[];
  readonly deletedKeys: readonly string[];
  readonly revision: bigint;
  readonly notes: readonly string[];
}

export interface PlannedWriteOptions {
  /** Read these prefixes (an exact key is its own prefix), at one revision, to decide. */
  readonly read: readonly string[];
  /** The decision depends on these prefixes / keys: the write commits only if none changed since the read. */
  readonly guardPrefixes?: readonly string[];
  readonly guardKeys?: readonly string[];
  /** Re-read and decide again this many times when the guard fails. Default 5. */
  readonly attempts?: number;
}

/**
 * Read → decide → write in one transaction, guarded so that the decision still holds when the write lands
 * (optimistic concurrency: a concurrent writer makes us re-read and decide again, never write on stale data).
 * `plan` may throw (a refusal); then nothing is written.
 */
export async function plannedWrite(
  store: OperatorStore,
  options: PlannedWriteOptions,
  plan: (snapshot: KeyspaceSnapshot) => WritePlan,
): Promise<WriteReport> {
  const attempts = options.attempts ?? 5;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const snapshot = await store.read(options.read);
    const decided = plan(snapshot);
    const guarded = (options.guardPrefixes?.length ?? 0) + (options.guardKeys?.length ?? 0) > 0;
    const result = await store.commit({
      puts: decided.puts,
      deleteKeys: decided.deleteKeys ?? [],
      deletePrefixes: decided.deletePrefixes ?? [],
      ...(guarded
        ? {
            unchangedSince: {
              revision: snapshot.revision,
              prefixes: options.guardPrefixes ?? [],
              keys: options.guardKeys ?? [],
            },
          }
        : {}),
    });
    if (result.committed) {
      return {
        puts: decided.puts,
        deletedKeys: decided.deleteKeys ?? [],
        revision: result.revision,
        notes: decided.notes ?? [],
      };
    }
  }
  throw new ConcurrentChangeError(
    `the keys this change depends on kept changing (${attempts} attempts); nothing was written, try again`,
  );
}
