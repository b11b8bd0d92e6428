import type { Etcd3 } from 'etcd3';
import { classifyEtcdError } from './etcdErrors.js';
import type { KeyspaceSnapshot } from './snapshot.js';

/**
 * Reads every key under `prefixes` at one revision: the first range fixes the revision, the rest are read
 * at it, so the snapshot is consistent even while other writers are busy.
 */
export async function readEtcdSnapshot(client: Etcd3, prefixes: readonly string[]): Promise<KeyspaceSnapshot> {
  const entries = new Map<string, string>();
  let revision: string | undefined;
  try {
    for (const prefix of prefixes) {
      const range = client.getAll().prefix(prefix);
      if (revision !== undefined) range.revision(revision);
      const response = await range.exec();
      revision ??= response.header.revision;
      for (const kv of response.kvs) entries.set(kv.key.toString('utf8'), kv.value.toString('utf8'));
    }
  } catch (error) {
    throw classifyEtcdError(error);
  }
  return { revision: BigInt(revision ?? '0'), entries };
}
