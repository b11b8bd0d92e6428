import { Etcd3 } from 'etcd3';

/** Writes a keyspace into etcd, in transactions of 100 puts. */
export async function putKeyspace(endpoints: readonly string[], keyspace: ReadonlyMap<string, string>): Promise<void> {
  const client = new Etcd3({ hosts: [...endpoints] });
  try {
    const entries = [...keyspace];
    for (let i = 0; i < entries.length; i += 100) {
      const batch = client.if(entries[0]![0], 'Create', '>', -1); // always true: a plain multi-put transaction
      await batch.then(...entries.slice(i, i + 100).map(([key, value]) => client.put(key).value(value))).commit();
    }
  } finally {
    client.close();
  }
}
