import type { EtcdConnectionOptions } from '../datastore/etcdConnection.js';
import { readKeyspaceFile } from '../datastore/fileSource.js';
import type { KeyspaceSnapshot } from '../datastore/snapshot.js';
import type { KeyScope } from '../model/keyScope.js';
import type { DatastoreChoice } from './commonOptions.js';

/** One consistent read of what the role needs (its scope; a file is read whole) from the chosen datastore. */
export async function loadSnapshot(
  choice: DatastoreChoice,
  etcd: () => EtcdConnectionOptions,
  scope: KeyScope,
): Promise<KeyspaceSnapshot> {
  if (choice.kind === 'file') return readKeyspaceFile(choice.path);
  const options = etcd();
  // etcd3 is loaded only when etcd is the datastore (it costs most of the start-up).
  const [{ createEtcdClient }, { readScopedSnapshot }] = await Promise.all([
    import('../datastore/etcdConnection.js'),
    import('../datastore/etcdSource.js'),
  ]);
  const client = createEtcdClient(options);
  try {
    return await readScopedSnapshot(client, scope);
  } finally {
    client.close();
  }
}
