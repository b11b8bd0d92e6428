// How far apart one revision's parts arrive on the watches of one stream, directly from etcd and through etcd's
// gRPC proxy (docs/scale.md "Behind etcd's gRPC proxy"): transactions over 3 ranges, 8 at a time, on one
// EtcdWatchStream; per revision, the time between its first and its last range's part.
//
//   node --import tsx scripts/benchmarks/probes/grpc-proxy-order.ts   # ROUNDS=50
import { setTimeout as sleep } from 'node:timers/promises';
import { Etcd3 } from 'etcd3';
import { EtcdWatchStream } from '../../../src/datastore/watchStream.js';
import { startEtcdProxy } from '../../../test/harness/etcdProxy.js';
import { startEtcd } from '../lib/harness.js';

const ROUNDS = Number(process.env['ROUNDS'] ?? 50);
const RANGES = ['/order/a/', '/order/b/', '/order/c/'];
const AT_ONCE = 8;

const teardowns: (() => unknown)[] = [];
try {
  const etcd = await startEtcd();
  teardowns.push(() => etcd.stop());
  const proxy = await startEtcdProxy({ teardown: (fn) => teardowns.push(fn) }, etcd);
  const writer = new Etcd3({ hosts: [...etcd.endpoints] });
  teardowns.push(() => writer.close());
  for (const [mode, endpoint] of [
    ['direct', etcd.endpoints[0]!],
    ['proxy', proxy.endpoint],
  ] as const) {
    const client = new Etcd3({ hosts: [endpoint] });
    const arrived = new Map<string, number>();
    const stream = new EtcdWatchStream(
      {
        client,
        staleAfterMs: 5_000,
        ranges: RANGES.map((start) => ({ start, end: `${start.slice(0, -1)}0`, fromRevision: 0n })),
        avoid: new Set(),
        firstEndpoint: 0,
      },
      {
        onHeader: () => undefined,
        onCreated: () => undefined,
        onEvents: (index, events) => {
          for (const e of events) arrived.set(`${index}@${e.modRevision}`, performance.now());
        },
        onEnd: (end) => console.log(`${mode}: stream ended (${end.kind})`),
      },
    );
    stream.open();
    await sleep(1_500);
    const spreads: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const revisions = await Promise.all(
        Array.from({ length: AT_ONCE }, (_, k) =>
          writer
            .if(`${RANGES[0]}k0`, 'Create', '>', -1)
            .then(...RANGES.map((r) => writer.put(`${r}k${k}`).value(String(round))))
            .commit()
            .then((c) => BigInt(c.header.revision)),
        ),
      );
      await sleep(200);
      for (const revision of revisions) {
        const times = RANGES.map((_, i) => arrived.get(`${i}@${revision}`));
        if (times.every((t) => t !== undefined)) spreads.push(Math.max(...times) - Math.min(...times));
      }
    }
    stream.close();
    client.close();
    spreads.sort((a, b) => a - b);
    const at = (q: number) => spreads[Math.min(spreads.length - 1, Math.floor(q * spreads.length))]!.toFixed(2);
    console.log(
      `${mode}: ${spreads.length} revisions over ${RANGES.length} ranges: first → last part median ${at(0.5)} ms, ` +
        `p99 ${at(0.99)} ms, max ${spreads.at(-1)!.toFixed(2)} ms`,
    );
  }
} finally {
  for (const teardown of teardowns.reverse()) await teardown();
}
