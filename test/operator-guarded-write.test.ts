import { Etcd3 } from 'etcd3';
import t from 'tap';
import { addPool } from '../src/operator/pools.js';
import { plannedWrite } from '../src/operator/plannedWrite.js';
import { ConcurrentChangeError } from '../src/operator/errors.js';
import type { OperatorStore } from '../src/operator/store.js';
import { readEtcdSnapshot } from '../src/datastore/etcdSource.js';
import { EtcdWriter, prefixRangeEnd } from '../src/datastore/etcdWriter.js';
import { parseCidr, type Cidr } from '../src/model/cidr.js';
import { startEtcdForTest } from './harness/etcd.js';
import { clearKeyspace, keyValues } from './support/etcdKeyspace.js';

// The optimistic guard, made deterministic: another writer is slipped in between the read and the commit.

const etcd = await startEtcdForTest(t);
const client = new Etcd3({ hosts: [...etcd.endpoints] });
t.teardown(() => client.close());
const writer = new EtcdWriter(client);
const cidr = (text: string): Cidr => {
  const parsed = parseCidr(text);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
};

/** A store whose first `commit` is preceded by `interloper` (a write by someone else). */
function racedStore(interloper: () => Promise<unknown>): OperatorStore & { commits: number } {
  const store = {
    commits: 0,
    read: (prefixes: readonly string[]) => readEtcdSnapshot(client, prefixes),
    commit: async (txn: Parameters<EtcdWriter['commit']>[0]) => {
      if (store.commits++ === 0) await interloper();
      return writer.commit(txn);
    },
  };
  return store;
}

t.beforeEach(() => clearKeyspace(etcd.endpoints));

t.test('prefixRangeEnd is the first key after the prefix', async (t) => {
  t.equal(prefixRangeEnd('/calico/v1/ipam/v4/pool/').toString(), '/calico/v1/ipam/v4/pool0');
  t.same([...prefixRangeEnd('a\u00ff')], [0x61, 0xc3, 0xc0], 'bytes, not characters, are incremented');
});

t.test('the guard refuses a commit when a key under the prefix changed after the read', async (t) => {
  const snapshot = await readEtcdSnapshot(client, ['/p/']);
  await client.put('/p/other').value('x');
  const guarded = await writer.commit({
    puts: [['/p/mine', 'y']],
    unchangedSince: { revision: snapshot.revision, prefixes: ['/p/'] },
  });
  t.equal(guarded.committed, false);
  t.same(await keyValues(etcd.endpoints), { '/p/other': 'x' }, 'nothing written');
  const outside = await readEtcdSnapshot(client, ['/p/']);
  await client.put('/q/unrelated').value('z');
  const ok = await writer.commit({
    puts: [['/p/mine', 'y']],
    unchangedSince: { revision: outside.revision, prefixes: ['/p/'], keys: ['/k'] },
  });
  t.equal(ok.committed, true, 'a write outside the guarded prefix does not block');
  const key = await readEtcdSnapshot(client, ['/k']);
  await client.put('/k').value('1');
  t.equal(
    (await writer.commit({ puts: [['/z', '1']], unchangedSince: { revision: key.revision, keys: ['/k'] } })).committed,
    false,
    'an exact key guard',
  );
});

t.test(
  'pool add: an overlapping pool written between our read and our commit makes it re-read and refuse',
  async (t) => {
    const store = racedStore(() =>
      client.put('/calico/v1/ipam/v4/pool/10.0.0.0-8').value('{"cidr":"10.0.0.0/8"}').exec(),
    );
    await t.rejects(addPool(store, { cidr: cidr('10.1.0.0/16'), ipip: false, natOutgoing: false }), {
      name: 'OperatorConflictError',
      reason: 'overlaps the existing pool 10.0.0.0/8 (/calico/v1/ipam/v4/pool/10.0.0.0-8)',
    });
    t.equal(store.commits, 1, 'the first commit failed its guard; the re-read refused before a second');
    t.same(await keyValues(etcd.endpoints), { '/calico/v1/ipam/v4/pool/10.0.0.0-8': '{"cidr":"10.0.0.0/8"}' });
  },
);

t.test('pool add: an unrelated pool written meanwhile only costs a retry', async (t) => {
  const store = racedStore(() =>
    client.put('/calico/v1/ipam/v4/pool/172.16.0.0-12').value('{"cidr":"172.16.0.0/12"}').exec(),
  );
  const report = await addPool(store, { cidr: cidr('10.1.0.0/16'), ipip: false, natOutgoing: false });
  t.equal(store.commits, 2);
  t.same(report.puts, [['/calico/v1/ipam/v4/pool/10.1.0.0-16', '{"cidr":"10.1.0.0/16"}']]);
  t.same(Object.keys(await keyValues(etcd.endpoints)).sort(), [
    '/calico/v1/ipam/v4/pool/10.1.0.0-16',
    '/calico/v1/ipam/v4/pool/172.16.0.0-12',
  ]);
});

t.test('a guard that never holds gives up with ConcurrentChangeError and writes nothing', async (t) => {
  let n = 0;
  const store: OperatorStore = {
    read: (prefixes) => readEtcdSnapshot(client, prefixes),
    commit: async (txn) => {
      await client.put(`/g/${n++}`).value('x');
      return writer.commit(txn);
    },
  };
  const attempt = plannedWrite(store, { read: ['/g/'], guardPrefixes: ['/g/'], attempts: 3 }, () => ({
    puts: [['/mine', '1']],
  }));
  const error: unknown = await attempt.then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(error instanceof ConcurrentChangeError, 'ConcurrentChangeError');
  t.equal(n, 3);
  t.notOk('/mine' in (await keyValues(etcd.endpoints)));
});
