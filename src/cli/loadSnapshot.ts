import type { EtcdConnectionOptions } from '../datastore/etcdConnection.js';
import { readKeyspaceFile } from '../datastore/fileSource.js';
import type { KeyspaceSnapshot } from '../datastore/snapshot.js';
import { WATCHED_PREFIXES } from '../model/keys.js';
import type { DatastoreChoice } from './commonOptions.js';

/** One consistent read of the keyspace from the chosen datastore. */
export async function loadSnapshot(choice: DatastoreChoice, etcd: () => EtcdConnectionOptions): Promise<KeyspaceSnapshot> {
  if (choice.kind === 'file') return readKeyspaceFile(choice.path);
  const options = etcd();
  // etcd3 is loaded only when etcd is the datastore (it costs most of the start-up).
  const [{ createEtcdClient }, { readEtcdSnapshot }] = await Promise.all([import('../datastore/etcdConnection.js'), import('../datastore/etcdSource.js')]);
  const client = createEtcdClient(options);
  try {
    return await readEtcdSnapshot(client, WATCHED_PREFIXES);
  } finally {
    client.close();
  }
}
