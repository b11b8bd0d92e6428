// put → onChange latency of the keyspace mirror on loopback: a node's scope (mesh on: 6 ranges on one stream)
// against a 1-member etcd, one write at a time. Two kinds of change: one key (a host's address) and one
// transaction over two ranges (the global AS and a host's address), timed until the mirror holds both.
//
//   node --import tsx scripts/benchmarks/probes/watch-latency.ts [tree]  # tree: the checkout measured (default .)
//
// Measuring another checkout (say main) with the same etcd and load gives the before/after of a change to the
// mirror: it uses only what both have (etcdKeyspaceSource, createEtcdClient).
import { resolve } from 'node:path';
import { Etcd3 } from 'etcd3';
import { startEtcd } from '../lib/harness.js';

const tree = resolve(process.argv[2] ?? '.');
const ROUNDS = Number(process.env['ROUNDS'] ?? 300);
const { etcdKeyspaceSource } = (await import(`${tree}/src/datastore/keyspaceSource.ts`)) as {
  etcdKeyspaceSource: (o: { client: Etcd3 }) => {
    open(
      scope: unknown,
      listener: { onChange: (keys: readonly string[]) => void },
    ): { start(): Promise<void>; close(): Promise<void>; entries: ReadonlyMap<string, string> };
  };
};
const { createEtcdClient } = (await import(`${tree}/src/datastore/etcdConnection.ts`)) as {
  createEtcdClient: (o: { endpoints: readonly string[] }) => Etcd3;
};
const { nodeKeyScope } = await import(`${tree}/src/model/keyScope.ts`);

const AS = '/calico/bgp/v1/global/as_num';
const hostAddress = (node: string) => `/calico/bgp/v1/host/${node}/ip_addr_v4`;

const etcd = await startEtcd();
const writer = new Etcd3({ hosts: [...etcd.endpoints] });
const client = createEtcdClient({ endpoints: etcd.endpoints });
try {
  await writer.put(hostAddress('n1')).value('10.0.0.1');
  await writer.put(AS).value('64512');
  let waiting: { done: () => boolean; resolve: () => void } | undefined;
  let onChanges = 0;
  const mirror = etcdKeyspaceSource({ client }).open(nodeKeyScope('n1'), {
    onChange: () => {
      onChanges++;
      if (waiting?.done()) waiting.resolve();
    },
  });
  await mirror.start();
  const until = (done: () => boolean): Promise<void> =>
    new Promise((resolve) => {
      waiting = { done, resolve };
    });

  const single: number[] = [];
  const txn: number[] = [];
  let txnOnChanges = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const ip = `10.1.${(i >> 8) & 255}.${i & 255}`;
    let seen = until(() => mirror.entries.get(hostAddress('n2')) === ip);
    let started = performance.now();
    await writer.put(hostAddress('n2')).value(ip);
    await seen;
    single.push(performance.now() - started);

    const as = String(65000 + (i % 500));
    const peer = `10.2.${(i >> 8) & 255}.${i & 255}`;
    seen = until(() => mirror.entries.get(AS) === as && mirror.entries.get(hostAddress('n3')) === peer);
    const before = onChanges;
    started = performance.now();
    await writer
      .if(AS, 'Create', '>', -1)
      .then(writer.put(AS).value(as), writer.put(hostAddress('n3')).value(peer))
      .commit();
    await seen;
    txn.push(performance.now() - started);
    txnOnChanges += onChanges - before;
  }
  const stats = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!.toFixed(2);
    return `median ${at(0.5)} ms, p90 ${at(0.9)} ms, p99 ${at(0.99)} ms`;
  };
  console.log(`tree ${tree}: ${ROUNDS} rounds`);
  console.log(`  one key (put → onChange):            ${stats(single)}`);
  console.log(
    `  two ranges in one txn (→ both held):  ${stats(txn)}; onChange calls per txn ${(txnOnChanges / ROUNDS).toFixed(2)}`,
  );
  await mirror.close();
} finally {
  client.close();
  writer.close();
  await etcd.stop();
}
