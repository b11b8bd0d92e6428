/**
 * The installed etcd3 against a real etcd: its client passes the start-up check of the connection-pool members
 * watchStream.ts uses (README "Dependencies"), and what the check cannot see without a connection works too — the
 * callback's `resource`, `client.watch` and `metadata`, watch ids kept per range, and the endpoint order handed to
 * `withConnection` honoured.
 */
import type { Etcd3 } from 'etcd3';
import t from 'tap';
import { createEtcdClient } from '../src/datastore/etcdConnection.js';
import { ETCD3_VERSION, installedEtcd3Version, missingEtcd3Internals } from '../src/datastore/etcd3Internals.js';
import type { StreamEnd, WatchEvent } from '../src/datastore/keyspaceFeed.js';
import type { EtcdHeader } from '../src/datastore/snapshot.js';
import { EtcdWatchStream } from '../src/datastore/watchStream.js';
import { prefixEnd } from '../src/model/keyScope.js';
import { startEtcdForTest } from './harness/etcd.js';

/** Endpoints nothing listens on (privileged ports unused on a test machine). */
const DEAD = ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'];

/** Opens a watch stream on `ranges` and records what it reports; `until` waits for a recorded condition. */
function watch(client: Etcd3, prefixes: readonly string[], options: { firstEndpoint?: number; avoid?: string[] } = {}) {
  const seen = {
    created: undefined as EtcdHeader | undefined,
    events: [] as { index: number; events: readonly WatchEvent[] }[],
    end: undefined as StreamEnd | undefined,
  };
  const stream = new EtcdWatchStream(
    {
      client,
      ranges: prefixes.map((p) => ({ start: p, end: prefixEnd(p), fromRevision: 1n })),
      staleAfterMs: 10_000,
      avoid: new Set(options.avoid ?? []),
      ...(options.firstEndpoint === undefined ? {} : { firstEndpoint: options.firstEndpoint }),
    },
    {
      onCreated: (header) => {
        seen.created = header;
      },
      onEvents: (index, events) => seen.events.push({ index, events }),
      onHeader: () => undefined,
      onEnd: (end) => {
        seen.end = end;
      },
    },
  );
  stream.open();
  const until = async (what: string, check: () => boolean): Promise<void> => {
    const deadline = Date.now() + 15_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (${JSON.stringify(seen.end)})`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { stream, seen, until };
}

t.test('the installed etcd3 is the pinned one, and its client passes the check', async (t) => {
  t.equal(installedEtcd3Version(), ETCD3_VERSION);
  const etcd = await startEtcdForTest(t);
  // createEtcdClient runs the check; it would throw an Etcd3InternalsError here.
  const client = createEtcdClient({ endpoints: etcd.endpoints });
  t.teardown(() => client.close());
  t.same(missingEtcd3Internals(client), []);

  await client.put('/w/a/1').value('one');
  await client.put('/w/b/1').value('two');
  const { stream, seen, until } = watch(client, ['/w/a/', '/w/b/']);
  t.teardown(() => stream.close());
  await until('both watches created', () => seen.created !== undefined);
  t.equal(stream.endpoint, new URL(etcd.endpoints[0]!).host, 'the pool hands over the member it dialled');
  await until('the history from revision 1', () => seen.events.length >= 2);
  // Watch ids are ours (one per range): each range's events come back under its own index (in whichever order
  // etcd sends the two watches' history).
  t.same(
    seen.events
      .map(({ index, events }) => [index, events.map((e) => `${e.key}=${e.value ?? ''}`)] as const)
      .sort((a, b) => a[0] - b[0]),
    [
      [0, ['/w/a/1=one']],
      [1, ['/w/b/1=two']],
    ],
  );
  await client.delete().key('/w/b/1');
  await until('the delete', () => seen.events.length >= 3);
  t.same(seen.events[2], { index: 1, events: [{ key: '/w/b/1', value: undefined, modRevision: 4n }] });
  t.equal(seen.end, undefined, 'the stream is still open');
});

t.test('withConnection takes the endpoint order the watch stream gives it', async (t) => {
  const etcd = await startEtcdForTest(t);
  const live = new URL(etcd.endpoints[0]!).host;
  const hosts = [live, ...DEAD];
  const client = createEtcdClient({ endpoints: hosts.map((h) => `http://${h}`) });
  t.teardown(() => client.close());

  // Each endpoint in turn first (a pool that shuffled instead would pass this by chance once in 256).
  const chosen: (string | undefined)[] = [];
  for (let first = 0; first < hosts.length; first++) {
    const opened = watch(client, ['/w/'], { firstEndpoint: first });
    t.teardown(() => opened.stream.close());
    await opened.until(
      'an endpoint chosen',
      () => opened.stream.endpoint !== undefined || opened.seen.end !== undefined,
    );
    chosen.push(opened.stream.endpoint);
    opened.stream.close();
  }
  t.same(chosen, hosts, 'firstEndpoint i: endpoint i, whether anything answers there or not');

  const avoiding = watch(client, ['/w/'], { firstEndpoint: 1, avoid: DEAD });
  t.teardown(() => avoiding.stream.close());
  await avoiding.until('the watch created', () => avoiding.seen.created !== undefined);
  t.equal(avoiding.stream.endpoint, live, 'avoided endpoints go last');
});
