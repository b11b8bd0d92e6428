import { setTimeout as sleep } from 'node:timers/promises';
import { Etcd3 } from 'etcd3';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import type { DatastoreState } from '../src/datastore/datastoreState.js';
import { createEtcdClient } from '../src/datastore/etcdConnection.js';
import { etcdFeed } from '../src/datastore/etcdFeed.js';
import { KeyspaceMirror } from '../src/datastore/keyspaceMirror.js';
import { nodeKeyScope, type KeyScope } from '../src/model/keyScope.js';
import { keys } from '../src/model/keys.js';
import { startEtcdForTest, type EtcdCluster } from './harness/etcd.js';
import { startEtcdProxy, type EtcdProxy } from './harness/etcdProxy.js';
import { waitFor } from './support/world.js';

/**
 * The mirror behind etcd's own gRPC proxy (`etcd grpc-proxy start`, README "The datastore", docs/scale.md), which
 * numbers the watches itself and answers no progress request: quiet when idle (no stale verdict, no re-read),
 * every keyspace it exposes etcd's at one revision or caught as a late event and read again, a frozen proxy left
 * for the next endpoint, a restarted one followed. Real etcd, real proxy.
 */
const NODE = 'n1';
const SEED = Number(process.env['BIRDWATCH_SEED'] ?? Date.now() % 100_000);
const RUNS = Number(process.env['BIRDWATCH_RUNS'] ?? 20);
const STALE_AFTER_MS = 2_000;

interface Watched {
  readonly mirror: KeyspaceMirror;
  readonly states: DatastoreState[];
  readonly resyncs: string[];
  readonly byReads: (string | undefined)[];
  readonly exposed: { revision: bigint; entries: Map<string, string> }[];
}

async function mirrorThrough(
  t: Test,
  endpoints: readonly string[],
  scope: KeyScope = nodeKeyScope(NODE),
): Promise<Watched> {
  const client = createEtcdClient({ endpoints });
  t.teardown(() => client.close());
  const states: DatastoreState[] = [];
  const resyncs: string[] = [];
  const byReads: (string | undefined)[] = [];
  const exposed: Watched['exposed'] = [];
  const mirror: KeyspaceMirror = new KeyspaceMirror({
    feed: etcdFeed({ client, staleAfterMs: STALE_AFTER_MS }),
    scope,
    firstEndpoint: 0,
    initialRetryDelayMs: 50,
    maxRetryDelayMs: 200,
    onChange: () => exposed.push({ revision: mirror.revision, entries: new Map(mirror.entries) }),
    onStateChange: (state) => states.push(state),
    onResync: (reason) => resyncs.push(reason),
    onProgressByReads: (endpoint) => byReads.push(endpoint),
  });
  t.teardown(() => mirror.close());
  await mirror.start();
  return { mirror, states, resyncs, byReads, exposed };
}

async function etcdAndProxy(t: Test): Promise<{ etcd: EtcdCluster; proxy: EtcdProxy; writer: Etcd3 }> {
  const etcd = await startEtcdForTest(t);
  const proxy = await startEtcdProxy(t, etcd);
  const writer = new Etcd3({ hosts: [...etcd.endpoints] });
  t.teardown(() => writer.close());
  await writer.put(keys.hostAddress(NODE, 4)).value('10.0.0.1');
  return { etcd, proxy, writer };
}

t.test('idle behind the proxy: no stale verdict, no re-read; a change still arrives at once', async (t) => {
  const { proxy, writer } = await etcdAndProxy(t);
  const first = await mirrorThrough(t, [proxy.endpoint]);
  // A second one through the same proxy: the proxy joins its watches to the first one's (one etcd watch each).
  const second = await mirrorThrough(t, [proxy.endpoint]);
  const synced = [first.states.length, second.states.length];
  // Four stale-after periods with nothing written: the proxy answers no progress request in all that time.
  await sleep(4 * STALE_AFTER_MS);
  for (const [i, { mirror, states, resyncs, byReads }] of [first, second].entries()) {
    t.same(states.slice(synced[i]), [], `mirror ${i}: no state change while idle (no stale verdict)`);
    t.same(resyncs, [], `mirror ${i}: no re-read`);
    t.same(byReads, [new URL(proxy.endpoint).host], `mirror ${i}: found to answer by reads, said once`);
    t.equal(mirror.state, 'synced');
  }
  const before = [first.exposed.length, second.exposed.length];
  const at = Date.now();
  await writer.put(keys.hostAddress('n2', 4)).value('10.0.0.2');
  for (const [i, { mirror, exposed }] of [first, second].entries()) {
    await waitFor(
      `the change through the proxy (mirror ${i})`,
      () => exposed.length > before[i]!,
      (done) => done,
      5_000,
    );
    t.ok(Date.now() - at < 1_000, `mirror ${i}: applied ${Date.now() - at} ms after the put`);
    t.equal(mirror.entries.get(keys.hostAddress('n2', 4)), '10.0.0.2');
  }
});

/** What the node's scope holds at `revision`: every key read at that revision, then planned as the mirror plans. */
async function scopeAt(client: Etcd3, scope: KeyScope, revision: bigint): Promise<Map<string, string>> {
  const response = await client.kv.range({
    key: Buffer.from('/calico/'),
    range_end: Buffer.from('/calico0'),
    revision: String(revision),
  });
  const all = new Map(response.kvs.map((kv) => [kv.key.toString('utf8'), kv.value.toString('utf8')] as const));
  const plan = scope.plan((key) => all.get(key));
  const kept = new Map<string, string>();
  for (const [key, value] of all)
    if (plan.ranges.some((r) => key >= r.start && key < r.end) && plan.keep(key)) kept.set(key, value);
  return kept;
}

const sorted = (entries: ReadonlyMap<string, string>): [string, string][] =>
  [...entries].sort(([a], [b]) => (a < b ? -1 : 1));

const KEYS = [
  keys.globalAsNumber,
  keys.globalPeer(4, '10.9.0.1'),
  keys.hostAddress(NODE, 6),
  keys.hostPeer(NODE, 4, '10.9.0.2'),
  keys.hostAddress('n2', 4),
  keys.hostAsNumber('n3'),
  keys.routeReflector(4, '10.9.0.4'),
  keys.pool(4, '10.8.0.0/16'),
  keys.block(NODE, 4, '10.8.1.0/26'),
];
type Write = readonly [key: string, value: string | undefined];
const txnArb = fc.uniqueArray(
  fc.tuple(fc.constantFrom(...KEYS), fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined })),
  { minLength: 1, maxLength: 5, selector: ([key]) => key },
);

t.test(
  `behind the proxy, random multi-range transactions: each keyspace exposed is etcd's at one revision, or a late event re-reads it (seed ${SEED})`,
  async (t) => {
    const { proxy, writer } = await etcdAndProxy(t);
    const scope = nodeKeyScope(NODE);
    const { mirror, exposed, resyncs } = await mirrorThrough(t, [proxy.endpoint], scope);
    const commit = async (txn: readonly Write[]): Promise<bigint> => {
      const ops = txn.map(([key, value]) =>
        value === undefined ? writer.delete().key(key) : writer.put(key).value(value),
      );
      const result = await writer
        .if(keys.hostAddress(NODE, 4), 'Create', '>', -1)
        .then(...ops)
        .commit();
      return BigInt(result.header.revision);
    };
    let checked = 0;
    let partial = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(txnArb, { minLength: 1, maxLength: 8 }), fc.boolean(), async (txns, together) => {
        exposed.length = 0;
        const lateBefore = mirror.lateEvents;
        const revisions = together ? await Promise.all(txns.map(commit)) : [];
        if (!together) for (const txn of txns) revisions.push(await commit(txn));
        const last = revisions.reduce((a, b) => (a > b ? a : b));
        const final = JSON.stringify(sorted(await scopeAt(writer, scope, last)));
        await waitFor(
          `the mirror holding what etcd held at revision ${last}`,
          () => JSON.stringify(sorted(mirror.entries)) === final && mirror.state === 'synced',
          (done) => done,
        );
        for (const { revision, entries } of exposed) {
          checked++;
          const expected = await scopeAt(writer, scope, revision);
          if (JSON.stringify(sorted(entries)) === JSON.stringify(sorted(expected))) continue;
          // The proxy forwards each watch from its own goroutine: a part of a revision can come after both
          // progress reads (docs/scale.md). It must then be caught as a late event, and the scope read again.
          partial++;
          if (mirror.lateEvents === lateBefore)
            throw new Error(
              `the mirror exposed at revision ${revision} ${JSON.stringify(sorted(entries))}, etcd held ${JSON.stringify(sorted(expected))}, and no late event followed`,
            );
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
    t.ok(checked > RUNS, `${checked} exposed keyspaces checked against etcd`);
    t.ok(partial <= mirror.lateEvents, `${partial} partial keyspaces, each followed by a late event and a re-read`);
    t.ok(partial * 10 <= checked, `partial keyspaces are rare: ${partial} of ${checked}`);
    t.ok(
      resyncs.every((reason) => reason.includes('after answering that revision')),
      `re-reads only for late events: ${JSON.stringify(resyncs)}`,
    );
    t.equal(resyncs.length > 0, mirror.lateEvents > 0, 'a late event leads to a re-read');
  },
);

t.test('a frozen proxy is found stale and left for the next endpoint; a restarted one is followed', async (t) => {
  const { etcd, proxy, writer } = await etcdAndProxy(t);
  t.teardown(() => proxy.thaw());
  const { mirror, states } = await mirrorThrough(t, [proxy.endpoint, etcd.endpoints[0]!]);
  t.equal(mirror.watchEndpoint, new URL(proxy.endpoint).host, 'the watch starts at the proxy');
  await sleep(STALE_AFTER_MS); // found to answer by reads
  proxy.freeze();
  const frozenAt = Date.now();
  await waitFor(
    'a stale verdict',
    () => states.includes('stale'),
    (done) => done,
    4 * STALE_AFTER_MS,
  );
  const after = Date.now() - frozenAt;
  t.ok(after <= 1.25 * STALE_AFTER_MS + 1_000, `stale ${after} ms after the proxy froze`);
  await waitFor(
    'synced through etcd',
    () => mirror.state === 'synced',
    (done) => done,
    10_000,
  );
  t.equal(mirror.watchEndpoint, new URL(etcd.endpoints[0]!).host, 'watching through the other endpoint');
  await writer.put(keys.hostAddress('n2', 4)).value('10.0.0.2');
  await waitFor(
    'the change',
    () => mirror.entries.get(keys.hostAddress('n2', 4)),
    (v) => v === '10.0.0.2',
    5_000,
  );
  proxy.thaw();

  // A proxy restarted under a mirror watching through it alone: the stream ends, the mirror comes back through it.
  const alone = await mirrorThrough(t, [proxy.endpoint]);
  await proxy.restart();
  await writer.put(keys.hostAddress('n3', 4)).value('10.0.0.3');
  await waitFor(
    'the change after the restart',
    () => alone.mirror.entries.get(keys.hostAddress('n3', 4)),
    (v) => v === '10.0.0.3',
    15_000,
  );
  t.equal(alone.mirror.state, 'synced');
});
