import { Etcd3 } from 'etcd3';
import fc from 'fast-check';
import t from 'tap';
import { createEtcdClient } from '../src/datastore/etcdConnection.js';
import { etcdFeed } from '../src/datastore/etcdFeed.js';
import { KeyspaceMirror } from '../src/datastore/keyspaceMirror.js';
import { DEFAULT_STALE_AFTER_MS } from '../src/datastore/mirrorOptions.js';
import { encodeNodeMesh } from '../src/model/encodings.js';
import { nodeKeyScope, type KeyScope } from '../src/model/keyScope.js';
import { keys } from '../src/model/keys.js';
import { startEtcdForTest } from './harness/etcd.js';
import { waitFor } from './support/world.js';

/**
 * One revision per change (README "The datastore"), against a real etcd: random transactions over the node
 * scope's ranges — kept keys, keys a range holds but the node does not keep, keys outside every range, the mesh
 * switch — written one after another or all at once; every keyspace the mirror exposed at an `onChange` must be
 * what etcd held at the revision the mirror claimed, read back with a range read at that revision.
 */
const NODE = 'n1';
const SEED = Number(process.env['BIRDWATCH_SEED'] ?? Date.now() % 100_000);
const RUNS = Number(process.env['BIRDWATCH_RUNS'] ?? 40);

const KEYS = [
  keys.globalAsNumber,
  keys.globalLogLevel,
  keys.globalPeer(4, '10.9.0.1'),
  keys.hostAddress(NODE, 4),
  keys.hostAsNumber(NODE),
  keys.hostPeer(NODE, 4, '10.9.0.2'),
  keys.hostAddress('n2', 4),
  keys.hostAsNumber('n2'),
  keys.hostPeer('n2', 4, '10.9.0.3'), // in the host range, not kept by n1
  keys.hostAddress('n3', 6),
  keys.routeReflector(4, '10.9.0.4'),
  keys.pool(4, '10.8.0.0/16'),
  keys.pool(6, 'fd00::/64'),
  keys.block(NODE, 4, '10.8.1.0/26'),
  keys.block('n2', 4, '10.8.2.0/26'), // outside every range
  '/calico/felix/v1/host/n1/status', // between the ranges
];
const VALUES = ['a', 'b', 'c'];

type Write = readonly [key: string, value: string | undefined];
const writeArb: fc.Arbitrary<Write> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.tuple(fc.constantFrom(...KEYS), fc.option(fc.constantFrom(...VALUES), { nil: undefined })),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.constant(keys.nodeMesh), fc.constantFrom(encodeNodeMesh(false), encodeNodeMesh(true))),
  },
);
const txnArb = fc.uniqueArray(writeArb, { minLength: 1, maxLength: 6, selector: ([key]) => key });

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

t.test(
  `random multi-range transactions: every keyspace exposed is etcd's at one revision (seed ${SEED})`,
  async (t) => {
    const etcd = await startEtcdForTest(t);
    const writer = new Etcd3({ hosts: [...etcd.endpoints] });
    t.teardown(() => writer.close());
    await writer.put(keys.hostAddress(NODE, 4)).value('10.0.0.1');
    const client = createEtcdClient({ endpoints: etcd.endpoints });
    t.teardown(() => client.close());
    const scope = nodeKeyScope(NODE);
    const exposed: { revision: bigint; entries: Map<string, string> }[] = [];
    const mirror: KeyspaceMirror = new KeyspaceMirror({
      feed: etcdFeed({ client, staleAfterMs: DEFAULT_STALE_AFTER_MS }),
      scope,
      onChange: () => exposed.push({ revision: mirror.revision, entries: new Map(mirror.entries) }),
    });
    t.teardown(() => mirror.close());
    await mirror.start();

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
    let multiRange = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(txnArb, { minLength: 1, maxLength: 12 }), fc.boolean(), async (txns, together) => {
        exposed.length = 0;
        const revisions = together ? await Promise.all(txns.map(commit)) : [];
        if (!together) for (const txn of txns) revisions.push(await commit(txn));
        // Writes outside the scope send the node nothing: wait for what the scope holds at the last revision.
        const last = revisions.reduce((a, b) => (a > b ? a : b));
        const final = JSON.stringify(sorted(await scopeAt(writer, scope, last)));
        await waitFor(
          `the mirror holding what etcd held at revision ${last}`,
          () => JSON.stringify(sorted(mirror.entries)) === final && mirror.state === 'synced',
          (done) => done,
        );
        for (const { revision, entries } of exposed) {
          const expected = await scopeAt(writer, scope, revision);
          if (JSON.stringify(sorted(entries)) !== JSON.stringify(sorted(expected)))
            throw new Error(
              `the mirror exposed at revision ${revision} ${JSON.stringify(sorted(entries))}, etcd held ${JSON.stringify(sorted(expected))}`,
            );
          checked++;
        }
        const plan = scope.plan((key) => mirror.entries.get(key));
        multiRange += txns.filter(
          (txn) => new Set(txn.map(([key]) => plan.ranges.findIndex((r) => key >= r.start && key < r.end))).size > 1,
        ).length;
      }),
      { seed: SEED, numRuns: RUNS },
    );
    t.ok(checked > RUNS, `${checked} exposed keyspaces checked against etcd`);
    t.ok(multiRange > RUNS, `${multiRange} transactions touched more than one range`);
    t.equal(mirror.lateEvents, 0, 'no event arrived after its revision was released');
  },
);
