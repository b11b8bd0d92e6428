import t from 'tap';
import type { DatastoreState } from '../../src/datastore/datastoreState.js';
import { DatastoreError } from '../../src/datastore/errors.js';
import { KeyspaceMirror, type KeyspaceMirrorOptions } from '../../src/datastore/keyspaceMirror.js';
import { encodeNodeMesh } from '../../src/model/encodings.js';
import { nodeKeyScope } from '../../src/model/keyScope.js';
import { keys } from '../../src/model/keys.js';
import { FakeClock, flush } from '../support/fakeClock.js';
import { FakeFeed, unreachable } from './fakeFeed.js';

/**
 * KeyspaceMirror's state machine through a fake feed and fake time (the real-etcd proofs of the same behaviours
 * are test/datastore-scale.test.ts and test/faults-etcd.test.ts).
 */
const NODE = 'n1';
const OWN = keys.hostAddress(NODE, 4);
const OTHER = keys.hostAddress('n2', 4);

function setup(options: Partial<KeyspaceMirrorOptions> = {}) {
  const feed = new FakeFeed();
  feed.store.set(OWN, '10.0.0.1');
  feed.store.set(OTHER, '10.0.0.2');
  feed.store.set(keys.hostPeer('n2', 4, '10.0.0.9'), '{"ip":"10.0.0.9","as_num":"64512"}');
  feed.revision = 10n;
  const clock = new FakeClock();
  const changes: string[][] = [];
  const states: { state: DatastoreState; reason: string | undefined; since: number }[] = [];
  const resyncs: string[] = [];
  const retries: DatastoreError[] = [];
  const mirror = new KeyspaceMirror({
    feed,
    scope: nodeKeyScope(NODE),
    onChange: (changed) => changes.push([...changed].sort()),
    onStateChange: (state, info) => states.push({ state, reason: info.reason, since: info.since }),
    onResync: (reason) => resyncs.push(reason),
    onRetry: (error) => retries.push(error),
    clock,
    now: () => clock.time,
    firstEndpoint: 0,
    ...options,
  });
  return { feed, clock, mirror, changes, states, resyncs, retries };
}

t.test('start: the scope read at one revision, then every range watched from the next', async (t) => {
  const { feed, mirror, changes, states } = setup();
  await mirror.start();
  t.same([...mirror.entries.keys()].sort(), [OTHER, OWN].sort(), "another host's peers are not kept");
  t.equal(mirror.revision, 10n);
  t.equal(mirror.state, 'synced');
  t.same(changes, [[OTHER, OWN].sort()], 'the first read is one change');
  t.same(
    states.map((s) => s.state),
    ['synced'],
  );
  t.equal(feed.watches.length, 1);
  t.same(new Set(Object.values(feed.lastWatch.from)), new Set([11n]), 'every range from revision + 1');
  t.equal(feed.lastWatch.options.ranges.length, 6, 'global, hosts, reflectors, two pools, own blocks');
  await mirror.close();
});

t.test(
  'a lost stream: reconnects after a jittered backoff to another member, resuming after its last event',
  async (t) => {
    const { feed, clock, mirror, changes, states, retries } = setup({
      initialRetryDelayMs: 100,
      maxRetryDelayMs: 1_000,
    });
    await mirror.start();
    const first = feed.lastWatch;
    await first.created();
    await first.deliver(feed.txn([[OWN, '10.0.0.5']]));
    t.equal(mirror.entries.get(OWN), '10.0.0.5');
    changes.length = 0;

    await first.end({ kind: 'error', error: unreachable() });
    t.equal(mirror.state, 'disconnected');
    t.equal(retries.length, 1, 'reported once');
    t.equal(clock.pending.length, 1, 'one sleep: the backoff');
    const wait = clock.pending[0]!;
    t.ok(wait >= 0 && wait <= 1.4 * 100, `the first wait is about the initial delay (${wait.toFixed(1)} ms)`);
    t.equal(feed.watches.length, 1, 'nothing is opened before the backoff ends');
    await clock.advance(wait);
    t.equal(feed.watches.length, 2, 'reconnected');
    const second = feed.lastWatch;
    t.same(second.options.avoid, new Set([first.endpoint]), 'the failed member is tried last');
    t.equal(second.from[keys.hostDir(NODE).replace(`${NODE}/`, '')], 12n, 'the host range resumes after its event');

    // The second stream fails before its watches are created, twice: the waits grow (with jitter).
    await second.end({ kind: 'error', error: unreachable() });
    t.equal(retries.length, 1, 'still reported once while the outage lasts');
    const waits = [clock.pending[0]!];
    await clock.advance(waits[0]!);
    await feed.lastWatch.end({ kind: 'error', error: unreachable() });
    waits.push(clock.pending[0]!);
    await clock.advance(waits[1]!);
    t.ok(
      waits.every((w) => w <= 1_000),
      `bounded by maxRetryDelayMs (${waits.map((w) => w.toFixed(0)).join(', ')})`,
    );
    // Connected again: the backoff starts over.
    await feed.lastWatch.created();
    t.equal(mirror.state, 'synced');
    t.match(states.at(-2), { state: 'disconnected' });
    await feed.lastWatch.end({ kind: 'error', error: unreachable() });
    t.ok(clock.pending[0]! <= 1.4 * 100, `after a connect the backoff is fresh (${clock.pending[0]!.toFixed(1)} ms)`);
    t.equal(retries.length, 2, 'a new outage is reported again');
    const opened = feed.watches.length;
    await mirror.close();
    await clock.advance(10_000);
    t.equal(feed.watches.length, opened, 'closed during the backoff: no reconnect');
  },
);

t.test('the reconnect backoff has jitter: a fleet that lost etcd together does not come back in step', async (t) => {
  const firstWaits: number[] = [];
  for (let i = 0; i < 20; i++) {
    const { feed, clock, mirror } = setup({ initialRetryDelayMs: 100 });
    await mirror.start();
    await feed.lastWatch.created();
    await feed.lastWatch.end({ kind: 'error', error: unreachable() });
    firstWaits.push(clock.pending[0]!);
    await mirror.close();
  }
  t.ok(new Set(firstWaits.map((w) => Math.round(w))).size > 10, `spread: ${firstWaits.map((w) => w.toFixed(0))}`);
});

t.test('a watch that keeps failing: after 6 failures in a row, a full re-read', async (t) => {
  const { feed, clock, mirror, resyncs } = setup({ maxRetryDelayMs: 50 });
  await mirror.start();
  for (let i = 0; i < 6; i++) {
    await feed.lastWatch.end({ kind: 'error', error: unreachable(`attempt ${i}`) });
    await clock.advance(50);
  }
  t.equal(resyncs.length, 1);
  t.match(resyncs[0], /^the watch failed 6 times in a row \(last: etcd unreachable: attempt 5\)/);
  t.equal(feed.reads, 2, 'read again');
  t.equal(feed.watches.length, 7, 'and watched again');
  await mirror.close();
});

t.test('compaction past the watch, or a canceled watch: one full re-read', async (t) => {
  const { feed, mirror, resyncs, states } = setup();
  await mirror.start();
  await feed.lastWatch.created();
  feed.txn([[OWN, '10.0.0.7']]); // written while the watch was away, then compacted
  await feed.lastWatch.end({ kind: 'compacted', compactRevision: 11n });
  t.match(resyncs, [/^etcd compacted the history past the watch \(compacted at revision 11\)/]);
  t.ok(states.some((s) => s.state === 'resyncing'));
  t.equal(mirror.entries.get(OWN), '10.0.0.7', 'the re-read has what the watch missed');
  t.equal(mirror.state, 'synced');
  await feed.lastWatch.end({ kind: 'canceled', reason: 'permission denied' });
  t.match(resyncs[1], /^etcd canceled the watch \(permission denied\)/);
  t.equal(feed.reads, 3);
  await mirror.close();
});

t.test('rollback and identity: checked on every header', async (t) => {
  const { feed, mirror, resyncs } = setup();
  await mirror.start();
  await feed.lastWatch.created();
  await feed.lastWatch.deliver(feed.txn([[OWN, '10.0.0.5']]));

  await t.test('a member a moment behind (the linearizable read says all is well): no re-read', async (t) => {
    await feed.lastWatch.progress(5n);
    t.equal(feed.headerReads, 1, 'confirmed by a linearizable read');
    t.same(resyncs, []);
  });
  await t.test('a revision below the mirror, confirmed: etcd was restored from an older copy', async (t) => {
    feed.headerRevision = 3n;
    await feed.lastWatch.progress(3n);
    t.match(resyncs, [/^etcd revision went backwards: the mirror is at 11, etcd answers at 3/]);
    feed.headerRevision = undefined;
  });
  await t.test('a new cluster id: re-read at once', async (t) => {
    feed.clusterId = 'cluster-2';
    await feed.lastWatch.created();
    t.match(resyncs[1], /^etcd cluster id changed from cluster-1 to cluster-2/);
    t.equal(mirror.state, 'synced');
  });
  await mirror.close();
});

t.test('a stale member: readiness says so, the watch moves to another member at once', async (t) => {
  const { feed, clock, mirror, states } = setup();
  await mirror.start();
  await feed.lastWatch.created();
  const frozen = feed.lastWatch;
  clock.time = 7_000;
  await frozen.end({ kind: 'stale', lastHeardAt: 1_000 });
  t.match(states.at(-1), {
    state: 'stale',
    since: 1_000,
    reason: `etcd member ${frozen.endpoint} did not answer for 6000 ms; watching through another member`,
  });
  t.same(clock.pending, [0], 'no backoff for a stale member');
  await clock.advance(0);
  t.same(feed.lastWatch.options.avoid, new Set([frozen.endpoint]));
  await feed.lastWatch.created();
  t.equal(mirror.state, 'synced');
  await mirror.close();
});

t.test('the mesh switch re-scopes: a re-read with the new plan, and its ranges watched', async (t) => {
  const { feed, mirror, resyncs, changes } = setup();
  await mirror.start();
  await feed.lastWatch.created();
  changes.length = 0;
  await feed.lastWatch.deliver(feed.txn([[keys.nodeMesh, encodeNodeMesh(false)]]));
  t.match(resyncs, [/^re-scoping the watch: mesh on → mesh off/]);
  t.equal(mirror.scopeLabel, 'mesh off');
  t.notOk(mirror.entries.has(OTHER), 'the other hosts left the mirror');
  t.ok(
    feed.lastWatch.options.ranges.some((r) => r.start === keys.hostDir(NODE)),
    'only the own host directory is watched',
  );
  t.same(changes.at(-1), [OTHER], 'the re-read reports what left');
  await mirror.close();
});

t.test('the first read: retried with backoff while etcd is down; refused credentials end it at once', async (t) => {
  await t.test('unreachable, then up', async (t) => {
    const { feed, clock, mirror, states, retries } = setup({ initialRetryDelayMs: 100 });
    feed.readFailures.push(unreachable(), unreachable());
    let done = false;
    const started = mirror.start().then(() => (done = true));
    await flush();
    t.equal(mirror.state, 'disconnected');
    await clock.advance(5_000);
    await started;
    t.ok(done);
    t.equal(feed.reads, 3);
    t.equal(retries.length, 1, 'reported once');
    t.same(
      states.map((s) => s.state),
      ['disconnected', 'synced'],
    );
    await mirror.close();
  });
  await t.test('auth refused before the first sync', async (t) => {
    const { feed, mirror } = setup();
    feed.readFailures.push(new DatastoreError('etcd refused the credentials', 'auth'));
    await t.rejects(mirror.start(), { name: 'DatastoreError', kind: 'auth' });
    t.equal(feed.watches.length, 0);
  });
  await t.test('closed while waiting: start rejects (the caller must not go on as if synced)', async (t) => {
    const { feed, mirror } = setup();
    feed.readFailures.push(unreachable());
    const started = mirror.start();
    await flush();
    await mirror.close();
    await t.rejects(started, { name: 'AbortError' });
  });
});

t.test('after close: nothing is opened, late answers of the old stream are ignored', async (t) => {
  const { feed, clock, mirror, changes } = setup();
  await mirror.start();
  const watch = feed.lastWatch;
  await watch.created();
  await mirror.close();
  t.ok(watch.closed, 'the stream is closed');
  changes.length = 0;
  await watch.deliver(feed.txn([[OWN, '10.0.0.9']]));
  t.same(changes, []);
  t.equal(mirror.entries.get(OWN), '10.0.0.1');
  await clock.advance(10_000);
  t.equal(feed.watches.length, 1);
});
