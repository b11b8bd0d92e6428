import { Etcd3 } from 'etcd3';

export interface StoredValue {
  readonly value: string;
  readonly modRevision: string;
  readonly createRevision: string;
}

/** Every key in etcd with its value and revisions (for "nothing else was written" and atomicity checks). */
export async function dumpKeyspace(endpoints: readonly string[]): Promise<Map<string, StoredValue>> {
  const client = new Etcd3({ hosts: [...endpoints] });
  try {
    const response = await client.getAll().exec();
    return new Map(
      response.kvs.map((kv) => [
        kv.key.toString('utf8'),
        {
          value: kv.value.toString('utf8'),
          modRevision: String(kv.mod_revision),
          createRevision: String(kv.create_revision),
        },
      ]),
    );
  } finally {
    client.close();
  }
}

/** The keyspace as plain key → value (what the reference tables describe). */
export async function keyValues(endpoints: readonly string[]): Promise<Record<string, string>> {
  const dump = await dumpKeyspace(endpoints);
  return Object.fromEntries([...dump].map(([key, stored]) => [key, stored.value]));
}

/** Deletes every key, so subtests sharing one etcd start empty. */
export async function clearKeyspace(endpoints: readonly string[]): Promise<void> {
  const client = new Etcd3({ hosts: [...endpoints] });
  try {
    await client.delete().all().exec();
  } finally {
    client.close();
  }
}

/** The current revision of the store (changes with every write, even one that writes the same value). */
export async function currentRevision(endpoints: readonly string[]): Promise<string> {
  const client = new Etcd3({ hosts: [...endpoints] });
  try {
    const response = await client.getAll().limit(1).exec();
    return String(response.header.revision);
  } finally {
    client.close();
  }
}
