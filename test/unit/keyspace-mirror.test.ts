import t from 'tap';
import type { DatastoreState } from '../../src/datastore/datastoreState.js';
import { DatastoreError } from '../../src/datastore/errors.js';
import { KeyspaceMirror } from '../../src/datastore/keyspaceMirror.js';
import type { KeyspaceMirrorOptions } from '../../src/datastore/mirrorOptions.js';
import { encodeNodeMesh } from '../../src/model/encodings.js';
import { nodeKeyScope, prefixKeyScope } from '../../src/model/keyScope.js';
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

t.test("start: the scope read at one revision, then every range watched from etcd's revision on", async (t) => {
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
  t.same(new Set(Object.values(feed.lastWatch.from)), new Set([0n]), 'every range from now');
  t.equal(feed.lastWatch.options.ranges.length, 6, 'global, hosts, reflectors, two pools, own blocks');
  await feed.lastWatch.created();
  t.equal(feed.reads, 1, 'etcd did not move since the read: nothing more to read');
  await mirror.close();
});

t.test('etcd moved between the read and the watch: the scope is read once more', async (t) => {
  const { feed, mirror, changes } = setup();
  await mirror.start();
  feed.txn([[OWN, '10.0.0.2']]); // written before the watches exist: no watch will send it
  await feed.lastWatch.created();
  t.equal(feed.reads, 2);
  t.equal(mirror.entries.get(OWN), '10.0.0.2');
  t.same(changes.at(-1), [OWN]);
  t.equal(mirror.revision, feed.revision);
  t.equal(mirror.state, 'synced');
  await mirror.close();
});

t.test(
  'a lost stream: reconnects after a jittered backoff to another member, reading again only if etcd moved',
  async (t) => {
    const { feed, clock, mirror, changes, states, retries } = setup({
      initialRetryDelayMs: 100,
      maxRetryDelayMs: 1_000,
    });
    await mirror.start();
    const first = feed.lastWatch;
    await first.created();
    await first.commit(feed.txn([[OWN, '10.0.0.5']]));
    t.equal(mirror.entries.get(OWN), '10.0.0.5');
    changes.length = 0;
    await clock.advance(100); // the progress request's overdue check lapses

    await first.end({ kind: 'error', error: unreachable() });
    t.equal(mirror.state, 'disconnected');
    t.equal(retries.length, 1, 'reported once');
    t.equal(clock.pending.length, 1, `one sleep: the backoff (${clock.pending.join()})`);
    const wait = clock.pending[0]!;
    t.ok(wait >= 0 && wait <= 1.4 * 100, `the first wait is about the initial delay (${wait.toFixed(1)} ms)`);
    t.equal(feed.watches.length, 1, 'nothing is opened before the backoff ends');
    await clock.advance(wait);
    t.equal(feed.watches.length, 2, 'reconnected');
    const second = feed.lastWatch;
    t.same(second.options.avoid, new Set([first.endpoint]), 'the failed member is tried last');
    t.same(new Set(Object.values(second.from)), new Set([0n]), 'every range from now');

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
    // Connected again, after a write during the outage: read once more; the backoff starts over.
    feed.txn([[OTHER, '10.0.0.20']]);
    const reads = feed.reads;
    await feed.lastWatch.created();
    t.equal(feed.reads, reads + 1, 'etcd moved during the outage: read again');
    t.equal(mirror.entries.get(OTHER), '10.0.0.20');
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

t.test(
  'a watch etcd cancels (permissions, compaction): a failure, retried with backoff, then a full read',
  async (t) => {
    const { feed, clock, mirror, retries, states } = setup();
    await mirror.start();
    await feed.lastWatch.created();
    await feed.lastWatch.end({ kind: 'canceled', reason: 'etcdserver: permission denied' });
    t.match(retries, [{ message: 'etcd canceled the watch (etcdserver: permission denied)' }]);
    t.equal(mirror.state, 'disconnected');
    await feed.lastWatch.end({ kind: 'compacted', compactRevision: 9n }).catch(() => undefined);
    await clock.advance(1_000);
    const reads = feed.reads;
    await feed.lastWatch.created();
    t.equal(feed.reads, reads + 1, 'read again even though etcd did not move');
    t.equal(mirror.state, 'synced');
    t.equal(retries.length, 1, 'reported once');
    t.notOk(states.some((s) => s.state === 'resyncing'));
    await mirror.close();
  },
);

t.test('rollback and identity: checked on every header', async (t) => {
  const { feed, mirror, resyncs } = setup();
  await mirror.start();
  await feed.lastWatch.created();
  await feed.lastWatch.commit(feed.txn([[OWN, '10.0.0.5']]));

  await t.test('a member a moment behind (the linearizable read says all is well): no re-read', async (t) => {
    await feed.lastWatch.progress(5n);
    t.equal(feed.headerReads, 1, 'confirmed by a linearizable read');
    t.same(resyncs, []);
  });
  await t.test('a revision below the mirror, confirmed: etcd was restored from an older copy', async (t) => {
    feed.headerRevision = 3n;
    await feed.lastWatch.progress(3n);
    t.match(resyncs, [/^etcd revision went backwards: the mirror is at 11, etcd answers at 3/]);
    t.equal(mirror.state, 'resyncing');
    feed.headerRevision = undefined;
    const reads = feed.reads;
    await feed.lastWatch.created();
    t.equal(feed.reads, reads + 1, 'on a fresh stream, everything read again');
    t.equal(mirror.state, 'synced');
  });
  await t.test('a new cluster id: re-read at once', async (t) => {
    feed.clusterId = 'cluster-2';
    await feed.lastWatch.progress();
    t.match(resyncs[1], /^etcd cluster id changed from cluster-1 to cluster-2/);
    await feed.lastWatch.created();
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
  await feed.lastWatch.commit(feed.txn([[keys.nodeMesh, encodeNodeMesh(false)]]));
  t.match(resyncs, [/^re-scoping the watch: mesh on → mesh off/]);
  t.equal(mirror.scopeLabel, 'mesh off');
  t.ok(mirror.entries.has(OTHER), 'the switch is not applied under the old plan: the keyspace stays whole …');
  t.same(changes, []);
  await feed.lastWatch.created();
  t.notOk(mirror.entries.has(OTHER), '… until the read under the new one');
  t.ok(
    feed.lastWatch.options.ranges.some((r) => r.start === keys.hostDir(NODE)),
    'only the own host directory is watched',
  );
  t.same(changes, [[keys.nodeMesh, OTHER].sort()], 'one change: the switch and what left with it, read at once');
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
  await watch.commit(feed.txn([[OWN, '10.0.0.9']]));
  t.same(changes, []);
  t.equal(mirror.entries.get(OWN), '10.0.0.1');
  await clock.advance(10_000);
  t.equal(feed.watches.length, 1);
});

t.test('one revision per change: a transaction over several ranges is applied whole, with one onChange', async (t) => {
  const { feed, mirror, changes } = setup();
  await mirror.start();
  const watch = feed.lastWatch;
  await watch.created();
  changes.length = 0;
  const events = feed.txn([
    [keys.globalAsNumber, '65008'],
    [OTHER, '10.0.0.22'],
  ]);
  await watch.respond([events[0]!]);
  t.equal(watch.progressRequests, 1, 'a progress request after the first part');
  t.notOk(mirror.entries.has(keys.globalAsNumber), 'the first part is held');
  await watch.respond([events[1]!]);
  t.equal(watch.progressRequests, 1, 'one request at a time');
  await watch.progress();
  t.equal(watch.progressRequests, 2, 'a second round');
  t.same(changes, [], 'still held');
  await watch.progress();
  t.same(changes, [[keys.globalAsNumber, OTHER].sort()], 'both ranges in one change');
  t.equal(mirror.entries.get(keys.globalAsNumber), '65008');
  t.equal(mirror.entries.get(OTHER), '10.0.0.22');
  t.equal(mirror.revision, feed.revision);
  await mirror.close();
});

t.test('the whole-prefix delete is one change: never global settings gone with the hosts still there', async (t) => {
  const { feed, mirror, changes } = setup();
  feed.store.set(keys.globalAsNumber, '65008');
  await mirror.start();
  const watch = feed.lastWatch;
  await watch.created();
  changes.length = 0;
  const seen: number[] = [];
  const events = feed.txn([...feed.store.keys()].map((key) => [key, undefined] as const));
  for (const part of [[events[3]!], [events[0]!, events[1]!, events[2]!]]) {
    await watch.respond(part);
    seen.push(mirror.entries.size);
  }
  await watch.settle();
  t.same(seen, [3, 3], 'nothing applied while parts were outstanding');
  t.equal(changes.length, 1);
  t.equal(mirror.entries.size, 0, 'then everything at once');
  await mirror.close();
});

t.test('what progress answers release', async (t) => {
  const { feed, clock, mirror, changes } = setup();
  await mirror.start();
  const watch = feed.lastWatch;
  await watch.created();
  changes.length = 0;
  const r1 = feed.txn([[OWN, '10.0.0.11']]);
  await watch.respond(r1);
  await watch.progress(r1[0]!.modRevision - 1n);
  t.equal(watch.progressRequests, 2, 'an answer below the target (etcd not there yet when it answered): asked again');
  t.same(changes, [], 'and nothing released');
  const r2 = feed.txn([[OTHER, '10.0.0.12']]);
  await watch.respond(r2);
  await watch.progress();
  await watch.progress();
  t.same(changes, [[OWN]], 'released up to what was held when the request went out; r2 waits');
  t.equal(mirror.revision, r1[0]!.modRevision);
  t.equal(watch.progressRequests, 4, 'and a request goes out for it');
  await watch.settle();
  t.same(changes, [[OWN], [OTHER]]);

  const r3 = feed.txn([[OWN, '10.0.0.13']]);
  await watch.respond(r3);
  const sent = watch.progressRequests;
  await clock.advance(99);
  t.equal(watch.progressRequests, sent, 'an answer is awaited …');
  await clock.advance(1);
  t.equal(watch.progressRequests, sent + 1, '… and asked again after 100 ms without one');
  await watch.settle();
  t.equal(mirror.entries.get(OWN), '10.0.0.13');
  await mirror.close();
});

t.test('a lost stream drops what it held; the next one catches up by a read', async (t) => {
  const { feed, clock, mirror, changes } = setup();
  await mirror.start();
  const first = feed.lastWatch;
  await first.created();
  changes.length = 0;
  const events = feed.txn([
    [keys.globalAsNumber, '65009'],
    [OWN, '10.0.0.31'],
  ]);
  await first.respond([events[0]!]);
  await first.end({ kind: 'error', error: unreachable() });
  t.same(changes, [], 'half a transaction is never applied');
  await clock.advance(1_000);
  const second = feed.lastWatch;
  t.not(second, first);
  await second.created();
  t.same(changes, [[keys.globalAsNumber, OWN].sort()], 'the whole transaction, from the read');
  t.equal(mirror.revision, feed.revision);
  await mirror.close();
});

t.test(
  'an event for a revision already released: etcd answered too early; counted, and everything read again',
  async (t) => {
    const { feed, mirror, resyncs } = setup();
    await mirror.start();
    const watch = feed.lastWatch;
    await watch.created();
    const events = feed.txn([
      [keys.globalAsNumber, '65010'],
      [OWN, '10.0.0.41'],
    ]);
    await watch.respond([events[0]!]);
    await watch.settle(); // an etcd before 3.4.25 may answer before the other part is sent
    t.equal(mirror.entries.get(keys.globalAsNumber), '65010');
    await watch.respond([events[1]!]);
    t.equal(mirror.lateEvents, 1);
    t.match(resyncs, [/^etcd sent an event of revision \d+ after answering that revision \d+ was complete/]);
    await feed.lastWatch.created();
    t.equal(mirror.entries.get(OWN), '10.0.0.41', 'the read has it');
    t.equal(mirror.state, 'synced');
    await mirror.close();
  },
);

t.test('a single range needs no progress round: a watch never splits a revision', async (t) => {
  const feed = new FakeFeed();
  const changes: string[][] = [];
  const mirror = new KeyspaceMirror({
    feed,
    scope: prefixKeyScope(['/p/']),
    onChange: (changed) => changes.push([...changed]),
    clock: new FakeClock(),
  });
  await mirror.start();
  await feed.lastWatch.created();
  await feed.lastWatch.deliver(
    feed.txn([
      ['/p/a', '1'],
      ['/p/b', '2'],
    ]),
  );
  t.same(changes, [[], ['/p/a', '/p/b']]);
  t.equal(feed.lastWatch.progressRequests, 0);
  await mirror.close();
});

t.test('a write landed while the watches were created: the stream is opened again (5 times at most)', async (t) => {
  const { feed, mirror } = setup();
  await mirror.start();
  for (let i = 0; i < 5; i++) await feed.lastWatch.created(false);
  t.equal(feed.watches.length, 6, 'five more streams');
  t.ok(
    feed.watches.slice(0, 5).every((w) => w.closed),
    'each unsteady one closed',
  );
  await feed.lastWatch.created(false);
  t.equal(feed.watches.length, 6, 'then the last one is kept');
  t.equal(mirror.state, 'synced');
  await feed.lastWatch.end({ kind: 'error', error: unreachable() });
  await mirror.close();
});

t.test('a re-read asked for during a backoff connects at once; the old wait then opens nothing', async (t) => {
  const { feed, clock, mirror } = setup({ initialRetryDelayMs: 500, maxRetryDelayMs: 500 });
  await mirror.start();
  await feed.lastWatch.created();
  await feed.lastWatch.end({ kind: 'error', error: unreachable() });
  const resynced = mirror.resync();
  t.equal(feed.watches.length, 2, 'a stream at once');
  await feed.lastWatch.created();
  await resynced;
  t.equal(mirror.state, 'synced');
  await clock.advance(1_000);
  t.equal(feed.watches.length, 2, 'the backoff that was running opens no second stream');
  await mirror.close();
});

/** Whether `promise` has settled once every queued promise chain ran (false: it still waits). */
const settles = (promise: Promise<unknown>): Promise<boolean> =>
  Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    flush().then(() => false),
  ]);

t.test(
  'stopping (the signal given to start) ends a re-read in flight: its waiters settle, nothing stays open',
  async (t) => {
    await t.test('while the fresh stream is being created', async (t) => {
      const { feed, clock, mirror } = setup();
      const stop = new AbortController();
      await mirror.start(stop.signal);
      await feed.lastWatch.created();
      const resynced = mirror.resync(); // SIGHUP: a fresh stream, then a read
      t.equal(feed.watches.length, 2);
      stop.abort();
      t.ok(await settles(resynced), 'the re-read is settled');
      t.ok(
        feed.watches.every((w) => w.closed),
        'every stream closed',
      );
      await feed.watches[1]!.created(); // a late creation answer of the stream given up
      t.equal(feed.reads, 1, 'reads nothing more');
      t.ok(await settles(mirror.resync()), 'a re-read asked for after the stop settles at once …');
      await clock.advance(10_000);
      t.equal(feed.watches.length, 2, '… and opens nothing');
    });
    await t.test("during the re-read's read", async (t) => {
      const { feed, mirror } = setup();
      const stop = new AbortController();
      await mirror.start(stop.signal);
      await feed.lastWatch.created();
      const resynced = mirror.resync();
      const created = feed.lastWatch.created(); // the read starts …
      stop.abort(); // … and the stop cuts it short
      await created;
      t.equal(feed.reads, 2);
      t.ok(await settles(resynced), 'the re-read is settled');
      t.ok(feed.lastWatch.closed, 'the stream is closed');
    });
    await t.test('stopped before start: start rejects, reads nothing', async (t) => {
      const { feed, mirror } = setup();
      const stop = new AbortController();
      stop.abort();
      await t.rejects(mirror.start(stop.signal), { name: 'AbortError' });
      t.equal(feed.reads, 0);
      t.equal(feed.watches.length, 0);
    });
  },
);
