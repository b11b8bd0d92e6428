/** The keyspaces the benchmarks load into etcd: the synthetic full mesh, and new hosts outside it. */
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import { execa } from 'execa';
import { ROOT } from './paths.js';

/** The node birdwatch configures in every benchmark (the fixture's first host; it owns the one IPAM block). */
export const BENCH_NODE = 'node-00001';

/** The synthetic N-node full-mesh keyspace of scripts/gen-mesh-fixture.mjs (IPv4 only: ip_addr_v6 is ""). */
export async function meshKeyspace(nodes: number): Promise<Map<string, string>> {
  const { stdout } = await execa(process.execPath, [join(ROOT, 'scripts', 'gen-mesh-fixture.mjs'), String(nodes)]);
  return new Map(Object.entries(JSON.parse(stdout) as Record<string, string>));
}

/** Puts every entry, 100 per transaction (etcd allows 128 operations per txn by default), 4 transactions at once. */
export async function loadKeyspace(client: Etcd3, keyspace: ReadonlyMap<string, string>): Promise<void> {
  const entries = [...keyspace];
  const batches: (typeof entries)[] = [];
  for (let i = 0; i < entries.length; i += 100) batches.push(entries.slice(i, i + 100));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < batches.length) {
      const batch = batches[next++]!;
      await client.kv.txn({
        compare: [],
        success: batch.map(([key, value]) => ({ request_put: { key: Buffer.from(key), value: Buffer.from(value) } })),
        failure: [],
      });
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
}

/** A new host's key and its mesh protocol name, at 10.<secondOctet>.x.y: outside the fixtures' 10.0.x.y range. */
export function extraHost(
  tag: string,
  secondOctet: number,
  index: number,
): { key: string; ip: string; protocol: string } {
  const ip = `10.${secondOctet}.${Math.floor(index / 250)}.${(index % 250) + 1}`;
  return { key: `/calico/bgp/v1/host/${tag}-${index}/ip_addr_v4`, ip, protocol: `Mesh_${ip.replace(/\./g, '_')}` };
}
