import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Etcd3 } from 'etcd3';
import t from 'tap';
import { createEtcdClient } from '../src/datastore/etcdConnection.js';
import { classifyEtcdError } from '../src/datastore/etcdErrors.js';
import { readScopedSnapshot } from '../src/datastore/etcdSource.js';
import { DatastoreError } from '../src/datastore/errors.js';
import type { DatastoreState } from '../src/datastore/datastoreState.js';
import { etcdFeed } from '../src/datastore/etcdFeed.js';
import { KeyspaceMirror } from '../src/datastore/keyspaceMirror.js';
import { DEFAULT_STALE_AFTER_MS } from '../src/datastore/mirrorOptions.js';
import { encodeNodeMesh } from '../src/model/encodings.js';
import { nodeKeyScope, prefixKeyScope } from '../src/model/keyScope.js';
import { keys } from '../src/model/keys.js';
import { startEtcdForTest } from './harness/etcd.js';
import { cli } from './support/cli.js';

const run = promisify(execFile);
const NODE = 'n1';

/** Polls `read` until `check` holds (event-driven tests poll state the mirror exposes; the bound is generous). */
async function waitFor<T>(what: string, read: () => T, check: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (check(value)) return value;
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${what} (last: ${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))})`,
      );
    await new Promise((r) => setTimeout(r, 25));
  }
}

function mirrorOf(client: Etcd3, options: { staleAfterMs?: number; firstEndpoint?: number } = {}) {
  const changes: string[][] = [];
  const states: { state: DatastoreState; reason: string | undefined }[] = [];
  const resyncs: string[] = [];
  const mirror = new KeyspaceMirror({
    feed: etcdFeed({ client, staleAfterMs: options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS }),
    scope: nodeKeyScope(NODE),
    onChange: (k) => changes.push([...k]),
    onStateChange: (state, info) => states.push({ state, reason: info.reason }),
    onResync: (reason) => resyncs.push(reason),
    maxRetryDelayMs: 300,
    ...(options.firstEndpoint !== undefined ? { firstEndpoint: options.firstEndpoint } : {}),
  });
  return { mirror, changes, states, resyncs };
}

t.test('a response too large is its own error kind and message, never "unreachable"', async (t) => {
  const error = classifyEtcdError(
    // As gRPC raises it: a plain Error with the status code (8 = RESOURCE_EXHAUSTED).
    Object.assign(new Error('8 RESOURCE_EXHAUSTED: Received message larger than max (5242880 vs. 4194304)'), {
      code: 8,
    }),
  );
  t.equal(error.kind, 'too-large');
  t.match(
    error.message,
    /^etcd response too large for the client \(Received message larger than max \(5242880 vs\. 4194304\)\)/,
  );
  t.notMatch(error.message, /unreachable/);
});

t.test(
  'a keyspace over 4 MiB syncs (pages at one revision), render included; a page too large for the client shrinks',
  async (t) => {
    const etcd = await startEtcdForTest(t);
    const writer = new Etcd3({ hosts: [...etcd.endpoints] });
    t.teardown(() => writer.close());
    await writer.put(keys.hostAddress(NODE, 4)).value('10.0.0.1');
    // Five 1 MB custom filters (comments: valid BIRD) and 2,000 hosts: ~5.1 MB under watched prefixes.
    const filler = `# ${'x'.repeat(1_000_000)}\n`;
    for (let i = 0; i < 5; i++) await writer.put(keys.customFilter(4, `big${i}`)).value(filler);
    const hosts = Array.from({ length: 2_000 }, (_, i) => i);
    for (let i = 0; i < hosts.length; i += 200) {
      await Promise.all(
        hosts.slice(i, i + 200).map((h) => writer.put(keys.hostAddress(`h${h}`, 4)).value(`10.1.${h >> 8}.${h & 255}`)),
      );
    }
    const client = createEtcdClient({ endpoints: etcd.endpoints });
    t.teardown(() => client.close());
    const snapshot = await readScopedSnapshot(client, nodeKeyScope(NODE));
    t.equal(snapshot.entries.size, 2_006, 'every kept key arrived');
    t.ok(snapshot.bytesRead > 4 * 1024 * 1024, `read ${snapshot.bytesRead} bytes`);

    // A client with grpc's default 4 MiB receive limit (what birdwatch had): pages shrink until they fit.
    const small = createEtcdClient({ endpoints: etcd.endpoints, maxReceiveBytes: 1_500_000 });
    t.teardown(() => small.close());
    const paged = await readScopedSnapshot(small, nodeKeyScope(NODE));
    t.equal(paged.entries.size, 2_006);
    t.equal(paged.revision, snapshot.revision);
    // One value larger than the limit: a too-large error that names where, not "unreachable".
    const tiny = createEtcdClient({ endpoints: etcd.endpoints, maxReceiveBytes: 500_000 });
    t.teardown(() => tiny.close());
    const failure = await readScopedSnapshot(tiny, nodeKeyScope(NODE)).catch((e: unknown) => e);
    t.ok(failure instanceof DatastoreError && failure.kind === 'too-large', 'too-large');
    t.match(
      (failure as Error).message,
      /^etcd response too large: the value of \/calico\/bgp\/v1\/global\/custom_filters\/v4\/big0 does not fit the client's receive limit/,
    );

    const { mirror } = mirrorOf(client);
    t.teardown(() => mirror.close());
    await mirror.start();
    t.equal(mirror.entries.size, 2_006);
    t.equal(mirror.state, 'synced');

    const dir = mkdtempSync(join(tmpdir(), 'birdwatch-big-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const rendered = await cli([
      'render',
      '--node',
      NODE,
      '--out',
      dir,
      '--etcd-endpoints',
      etcd.endpoints.join(','),
      '--ipip',
      'off',
      '--no-validate',
    ]);
    t.equal(rendered.code, 0, `render succeeds ${rendered.code === 0 ? '' : rendered.stderr.slice(0, 500)}`);
    t.match(rendered.stdout, /2000 mesh/);
  },
);

t.test('the node watches only its scope: unrelated writes start no work; mesh on → off → on re-scopes', async (t) => {
  const etcd = await startEtcdForTest(t);
  const writer = new Etcd3({ hosts: [...etcd.endpoints] });
  t.teardown(() => writer.close());
  await writer.put(keys.hostAddress(NODE, 4)).value('10.0.0.1');
  await writer.put(keys.hostAddress('n2', 4)).value('10.0.0.2');
  await writer.put(keys.hostPeer('n2', 4, '10.9.9.9')).value('{"ip":"10.9.9.9","as_num":"65001"}');
  await writer.put(keys.block(NODE, 4, '10.5.0.0/26')).value('{}');
  await writer.put(keys.block('n2', 4, '10.5.1.0/26')).value('{}');
  const client = createEtcdClient({ endpoints: etcd.endpoints });
  t.teardown(() => client.close());
  const { mirror, changes, resyncs } = mirrorOf(client);
  t.teardown(() => mirror.close());
  await mirror.start();
  t.equal(mirror.scopeLabel, 'mesh on');
  t.same(
    [...mirror.entries.keys()].sort(),
    [keys.hostAddress(NODE, 4), keys.hostAddress('n2', 4), keys.block(NODE, 4, '10.5.0.0/26')].sort(),
    "another host's peers and blocks are not kept",
  );

  await t.test('writes between and beside the watched ranges reach no node', async (t) => {
    const before = mirror.eventsReceived;
    const changesBefore = changes.length;
    // Between /calico/bgp/v1/ and /calico/v1/ipam/ (what the old covering range streamed), IPAM assignments,
    // other hosts' blocks, and a key after the last range; then one relevant write as a marker.
    for (let i = 0; i < 50; i++) {
      await writer.put(`/calico/felix/v1/host/h${i}/status`).value('{}');
      await writer.put(`/calico/v1/host/h${i}/workload/k8s/pod${i}/endpoint/eth0`).value('{}');
      await writer.put(`/calico/ipam/v2/assignment/ipv4/block/10.6.${i}.0-26`).value('{}');
      await writer.put(keys.block(`other${i}`, 4, `10.7.${i}.0/26`)).value('{}');
      await writer.put(`/calico/v1/policy/tier/default/policy/p${i}`).value('{}');
    }
    await writer.put(keys.globalAsNumber).value('64512');
    await waitFor(
      'the marker',
      () => mirror.entries.get(keys.globalAsNumber),
      (v) => v === '64512',
    );
    t.equal(mirror.eventsReceived - before, 1, 'etcd sent this node only the marker');
    t.same(changes.slice(changesBefore), [[keys.globalAsNumber]], 'one change reported');
    await writer.delete().key(keys.globalAsNumber);
    await waitFor(
      'a delete',
      () => mirror.entries.has(keys.globalAsNumber),
      (v) => !v,
    );
  });

  await t.test(
    'mesh off: other hosts leave the mirror and their writes are not streamed; on again: back',
    async (t) => {
      await writer.put(keys.nodeMesh).value(encodeNodeMesh(false));
      await waitFor(
        'mesh off scope',
        () => mirror.scopeLabel,
        (l) => l === 'mesh off',
      );
      await waitFor(
        'synced',
        () => mirror.state,
        (s) => s === 'synced',
      );
      t.notOk(mirror.entries.has(keys.hostAddress('n2', 4)), 'other hosts dropped');
      t.ok(mirror.entries.has(keys.hostAddress(NODE, 4)), 'own host kept');
      t.match(resyncs.at(-1), /re-scoping the watch: mesh on → mesh off/);
      const before = mirror.eventsReceived;
      for (let i = 0; i < 20; i++) await writer.put(keys.hostAddress(`late${i}`, 4)).value(`10.0.1.${i}`);
      await writer.put(keys.globalLogLevel).value('debug');
      await waitFor(
        'marker',
        () => mirror.entries.get(keys.globalLogLevel),
        (v) => v === 'debug',
      );
      t.equal(mirror.eventsReceived - before, 1, "other hosts' addresses are not streamed with the mesh off");
      await writer.put(keys.nodeMesh).value(encodeNodeMesh(true));
      await waitFor(
        'mesh on scope',
        () => mirror.scopeLabel,
        (l) => l === 'mesh on',
      );
      await waitFor(
        'late hosts back',
        () => mirror.entries.has(keys.hostAddress('late19', 4)) && mirror.state === 'synced',
        (v) => v,
      );
      t.ok(mirror.entries.has(keys.hostAddress('n2', 4)));
    },
  );
});

for (const sameCluster of [true, false])
  t.test(
    `etcd restored from an older snapshot${sameCluster ? ' (same cluster id: only the revision went backwards)' : ' (new cluster id)'}: the mirror re-reads by itself, once`,
    async (t) => {
      const etcd = await startEtcdForTest(t);
      const writer = new Etcd3({ hosts: [...etcd.endpoints] });
      t.teardown(() => writer.close());
      await writer.put(keys.hostAddress(NODE, 4)).value('10.0.0.1');
      await writer.put(keys.hostAddress('kept', 4)).value('10.0.0.2');
      const snapshotFile = join(etcd.rootDir, 'backup.db');
      await run('etcdctl', ['--endpoints', etcd.endpoints[0]!, 'snapshot', 'save', snapshotFile], {
        env: { ...process.env, ETCDCTL_API: '3' },
      });
      const client = createEtcdClient({ endpoints: etcd.endpoints });
      t.teardown(() => client.close());
      const { mirror, resyncs, states } = mirrorOf(client);
      t.teardown(() => mirror.close());
      await mirror.start();
      // Written after the backup: gone once etcd is restored.
      for (let i = 0; i < 10; i++) await writer.put(keys.hostAddress(`lost${i}`, 4)).value(`10.0.2.${i}`);
      await waitFor(
        'lost hosts mirrored',
        () => mirror.entries.has(keys.hostAddress('lost9', 4)),
        (v) => v,
      );
      const highRevision = mirror.revision;

      // The same --initial-cluster-token gives the restored cluster the same id: only the revision tells.
      const args = readFileSync(`/proc/${etcd.pid(0)!}/cmdline`, 'utf8').split('\0');
      const token = args[args.indexOf('--initial-cluster-token') + 1]!;
      await etcd.kill(0, 'SIGTERM');
      const member = etcd.members[0]!;
      rmSync(member.dataDir, { recursive: true, force: true });
      await run(
        'etcdctl',
        [
          'snapshot',
          'restore',
          snapshotFile,
          '--data-dir',
          member.dataDir,
          '--name',
          member.name,
          '--initial-cluster',
          `${member.name}=${member.peerUrl}`,
          '--initial-advertise-peer-urls',
          member.peerUrl,
          ...(sameCluster ? ['--initial-cluster-token', token] : []),
        ],
        { env: { ...process.env, ETCDCTL_API: '3' } },
      );
      await etcd.restart(0);
      await waitFor(
        'restored state mirrored',
        () => !mirror.entries.has(keys.hostAddress('lost0', 4)) && mirror.state === 'synced',
        (v) => v,
        30_000,
      );
      t.ok(mirror.revision < highRevision, `mirror follows etcd back (${highRevision} → ${mirror.revision})`);
      t.ok(mirror.entries.has(keys.hostAddress('kept', 4)));
      t.equal(resyncs.length, 1, `one re-read: ${resyncs.join(' | ')}`);
      t.match(
        resyncs[0],
        sameCluster
          ? /^etcd revision went backwards: the mirror is at \d+, etcd answers at \d+/
          : /^etcd cluster id changed from \d+ to \d+/,
      );
      t.ok(
        states.some((s) => s.state === 'resyncing'),
        'readiness said re-reading while it ran',
      );
      // Later writes are seen (the watch follows the restored history).
      await writer.put(keys.hostAddress('after', 4)).value('10.0.3.1');
      await waitFor(
        'a write after the restore',
        () => mirror.entries.has(keys.hostAddress('after', 4)),
        (v) => v,
      );
    },
  );

t.test('a healthy idle watch is never found stale: the progress request leaves in time', async (t) => {
  const etcd = await startEtcdForTest(t, { members: 1 });
  const writer = new Etcd3({ hosts: [...etcd.endpoints] });
  t.teardown(() => writer.close());
  await writer.put(keys.hostAddress(NODE, 4)).value('10.0.0.1');
  const staleAfterMs = 1_000;
  const client = createEtcdClient({ endpoints: etcd.endpoints });
  t.teardown(() => client.close());
  const { mirror, states, resyncs } = mirrorOf(client, { staleAfterMs });
  t.teardown(() => mirror.close());
  await mirror.start();
  await waitFor(
    'synced',
    () => mirror.state,
    (s) => s === 'synced',
  );
  // Eight stale-after periods with nothing written: a live member answers every progress request.
  await new Promise((r) => setTimeout(r, 8 * staleAfterMs));
  t.same(
    states.filter((s) => s.state !== 'synced'),
    [],
    'never stale, never lost',
  );
  t.same(resyncs, [], 'never re-read');
  t.equal(mirror.state, 'synced');
});

t.test(
  'a frozen member holding the watch (SIGSTOP) is left within 1.5 × stale-after; the change is applied',
  async (t) => {
    const etcd = await startEtcdForTest(t, { members: 3 });
    const writer = new Etcd3({ hosts: [...etcd.endpoints] });
    t.teardown(() => writer.close());
    await writer.put(keys.hostAddress(NODE, 4)).value('10.0.0.1');
    const staleAfterMs = 2_000;
    const client = createEtcdClient({ endpoints: etcd.endpoints });
    t.teardown(() => client.close());
    const { mirror, states } = mirrorOf(client, { staleAfterMs, firstEndpoint: 1 });
    t.teardown(() => mirror.close());
    await mirror.start();
    await waitFor(
      'watch endpoint',
      () => mirror.watchEndpoint,
      (e) => e !== undefined,
    );
    const holder = etcd.members.findIndex((m) => m.clientUrl.endsWith(mirror.watchEndpoint!));
    t.equal(holder, 1, 'the watch is on the endpoint it was told to try first');
    const pid = etcd.pid(holder)!;
    const others = new Etcd3({ hosts: etcd.endpoints.filter((_, i) => i !== holder) });
    t.teardown(() => others.close());
    t.teardown(() => {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        /* already gone */
      }
    });
    process.kill(pid, 'SIGSTOP');
    const stoppedAt = Date.now();
    await etcd.waitForLeader(15_000).catch(() => undefined);
    await others.put(keys.hostAddress('while-frozen', 4)).value('10.0.4.1');
    await waitFor(
      'change applied through another member',
      () => mirror.entries.has(keys.hostAddress('while-frozen', 4)),
      (v) => v,
      30_000,
    );
    const elapsed = Date.now() - stoppedAt;
    t.comment(`frozen member left and change applied ${elapsed} ms after SIGSTOP (stale-after ${staleAfterMs} ms)`);
    t.ok(
      states.some((s) => s.state === 'stale' && /did not answer/.test(s.reason ?? '')),
      'readiness said stale meanwhile',
    );
    // Bound: 1.5 × stale-after to notice, then one connection and one watch creation on a live member.
    t.ok(elapsed <= 1.5 * staleAfterMs + 2_500, `within the bound (${elapsed} ms)`);
    t.notOk(
      mirror.watchEndpoint && etcd.members[holder]!.clientUrl.endsWith(mirror.watchEndpoint),
      'watching through another member',
    );
    t.equal(mirror.state, 'synced');
    process.kill(pid, 'SIGCONT');
  },
);

t.test('the member holding the watch killed (SIGKILL): the watch moves to another member', async (t) => {
  const etcd = await startEtcdForTest(t, { members: 3 });
  const writer = new Etcd3({ hosts: etcd.endpoints.slice(1) });
  t.teardown(() => writer.close());
  await writer.put(keys.hostAddress(NODE, 4)).value('10.0.0.1');
  const client = createEtcdClient({ endpoints: etcd.endpoints });
  t.teardown(() => client.close());
  const { mirror, states } = mirrorOf(client, { firstEndpoint: 0 });
  t.teardown(() => mirror.close());
  await mirror.start();
  await waitFor(
    'watch endpoint',
    () => mirror.watchEndpoint,
    (e) => e !== undefined,
  );
  t.ok(etcd.members[0]!.clientUrl.endsWith(mirror.watchEndpoint!), 'on the endpoint it was told to try first');
  await etcd.kill(0, 'SIGKILL');
  await etcd.waitForLeader(15_000);
  await writer.put(keys.hostAddress('after-kill', 4)).value('10.0.5.1');
  await waitFor(
    'change applied through another member',
    () => mirror.entries.has(keys.hostAddress('after-kill', 4)),
    (v) => v,
    15_000,
  );
  t.ok(
    states.some((s) => s.state === 'disconnected'),
    'the loss was reported',
  );
  await waitFor(
    'synced',
    () => mirror.state,
    (s) => s === 'synced',
  );
});

t.test('prefix scopes still read whole prefixes (operator commands)', async (t) => {
  const etcd = await startEtcdForTest(t);
  const client = createEtcdClient({ endpoints: etcd.endpoints });
  t.teardown(() => client.close());
  await client.put('/p/a').value('1');
  await client.put('/p/b').value('2');
  await client.put('/q/c').value('3');
  const snapshot = await readScopedSnapshot(client, prefixKeyScope(['/p/']), { pageKeys: 1 });
  t.same(
    [...snapshot.entries],
    [
      ['/p/a', '1'],
      ['/p/b', '2'],
    ],
  );
});
