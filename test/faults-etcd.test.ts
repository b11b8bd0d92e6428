import t from 'tap';
import { loopbackKeyspace } from './support/keyspaces.js';
import { keys } from '../src/model/keys.js';
import { canCreateNamespaces } from './harness/netns.js';
import { startTcpProxy, type TcpProxy } from './harness/tcpProxy.js';
import { fileTimeoutMs, size } from './reliability/size.js';
import { recordRow } from './reliability/summary.js';
import { createWorld, sleep, waitFor, type World } from './support/world.js';
import { linesOf } from './support/logLines.js';

/**
 * etcd faults against an in-process birdwatch (the RunController `run` builds) talking to a 3-member etcd
 * through one TCP proxy per member, with real BIRD/BIRD6 in a namespace. Each scenario ends when BIRD runs
 * exactly what etcd says (show protocols = the model's protocols; live files = a fresh render).
 */
t.setTimeout(fileTimeoutMs(170_000, 900_000));
const OUTAGE_MS = size(3_000, 10_000);

const baseKeyspace = (): Map<string, string> => loopbackKeyspace([keys.hostAddress('n2', 6), '']);

const addHost = (w: World, name: string, ip: string) => w.client.put(keys.hostAddress(name, 4)).value(ip);
const removeHost = (w: World, name: string) => w.client.delete().prefix(keys.hostDir(name));

if (!(await canCreateNamespaces())) {
  t.test('etcd faults', { skip: 'needs network namespaces (ip netns add failed)' }, () => undefined);
} else {
  t.test('etcd faults: birdwatch keeps BIRD valid and converges by itself', async (t) => {
    const w = await createWorld(t, { members: 3, keyspace: baseKeyspace() });
    const proxies: TcpProxy[] = [];
    for (const endpoint of w.etcd.endpoints) {
      const proxy = await startTcpProxy(endpoint);
      t.teardown(() => proxy.close());
      proxies.push(proxy);
    }
    const controller = await w.startController({ endpoints: proxies.map((p) => p.url) });
    await w.startBirds();
    await w.waitConverged('initial');

    await t.test('connection cut by a proxy in the middle of a watch', async (t) => {
      for (const p of proxies) p.cut();
      await waitFor(
        'disconnected',
        () => controller.status.datastore,
        (s) => s === 'disconnected',
        20_000,
      );
      await addHost(w, 'cut-a', '127.0.0.11');
      await removeHost(w, 'n2');
      await sleep(300);
      t.ok(w.birds.bird?.running(), 'BIRD keeps running the live configuration');
      const restored = performance.now();
      for (const p of proxies) p.restore();
      const ms = await w.waitConverged('after the cut', 30_000);
      t.equal(controller.status.datastore, 'synced');
      const total = performance.now() - restored;
      t.comment(`converged ${total.toFixed(0)} ms after the connection came back`);
      recordRow(t, {
        scenario: 'etcd: connection cut mid-watch (TCP proxy)',
        result: 'pass',
        convergenceMs: total,
        detail: `2 changes while cut; check ${ms.toFixed(0)} ms`,
      });
      await addHost(w, 'n2', '127.0.0.2');
      await removeHost(w, 'cut-a');
      await w.waitConverged('cleanup');
    });

    await t.test('a compaction beyond the watch revision', async (t) => {
      for (const p of proxies) p.cut();
      await waitFor(
        'disconnected',
        () => controller.status.datastore,
        (s) => s === 'disconnected',
        20_000,
      );
      await addHost(w, 'compact-a', '127.0.0.21');
      await removeHost(w, 'n2');
      for (let i = 0; i < 5; i++) await w.client.put('/calico/bgp/v1/global/unrelated').value(String(i));
      const revision = (await w.client.get('/calico/bgp/v1/global/unrelated').exec()).header.revision;
      await w.client.kv.compact({ revision, physical: true });
      const restored = performance.now();
      for (const p of proxies) p.restore();
      await w.waitConverged('after the compaction', 30_000);
      const total = performance.now() - restored;
      // The watch comes back from etcd's revision and the scope is read at it: compacted history is never asked for.
      t.ok(
        linesOf(w.logLines(), 'datastore-state', { state: 'synced' }).some(
          (l) => BigInt(String(l['revision'])) >= BigInt(revision),
        ),
        'synced again at or after the compacted revision',
      );
      recordRow(t, {
        scenario: 'etcd: compaction beyond the watch revision',
        result: 'pass',
        convergenceMs: total,
        detail: `compacted to ${revision} while cut; read again at the new stream's revision`,
      });
      await addHost(w, 'n2', '127.0.0.2');
      await removeHost(w, 'compact-a');
      await w.waitConverged('cleanup');
    });

    await t.test('one member of three killed (the leader), changes keep coming', async (t) => {
      const leader = await w.etcd.waitForLeader();
      await w.etcd.kill(leader, 'SIGKILL');
      const killed = performance.now();
      await w.etcd.waitForLeader(15_000);
      for (let i = 0; i < 5; i++) await addHost(w, `one-down-${i}`, `127.0.0.${31 + i}`);
      await w.waitConverged('with one member down', 30_000);
      const total = performance.now() - killed;
      recordRow(t, {
        scenario: 'etcd: one member of three killed (leader)',
        result: 'pass',
        convergenceMs: total,
        detail: '5 changes after the kill; measured from the kill',
      });
      await w.etcd.restart(leader);
      await w.client.delete().prefix('/calico/bgp/v1/host/one-down-');
      await w.waitConverged('cleanup', 30_000);
    });

    await t.test(
      `all members stopped for ${OUTAGE_MS / 1000} s, then restarted; changes before and after`,
      async (t) => {
        await addHost(w, 'before-stop', '127.0.0.41');
        await Promise.all([0, 1, 2].map((i) => w.etcd.kill(i, 'SIGTERM')));
        await waitFor(
          'disconnected',
          () => controller.status.datastore,
          (s) => s === 'disconnected',
          20_000,
        );
        t.same(w.etcd.pids(), [], 'every member is down');
        await sleep(OUTAGE_MS);
        t.ok(w.birds.bird?.running() && w.birds.bird6?.running(), 'BIRD kept running through the outage');
        t.equal(controller.status.failure, undefined, 'no apply failure during the outage');
        await Promise.all([0, 1, 2].map((i) => w.etcd.restart(i)));
        const restarted = performance.now();
        await addHost(w, 'after-restart', '127.0.0.42');
        await removeHost(w, 'n2');
        // birdwatch notices etcd again when the mirror's reconnect backoff (jittered, up to 1 s) fires.
        await waitFor(
          'synced again',
          () => controller.status.datastore,
          (s) => s === 'synced',
          60_000,
        );
        const synced = performance.now() - restarted;
        await w.waitConverged('after the restart', 60_000);
        const total = performance.now() - restarted;
        t.comment(
          `etcd healthy again → birdwatch synced after ${synced.toFixed(0)} ms, converged after ${total.toFixed(0)} ms`,
        );
        recordRow(t, {
          scenario: `etcd: all 3 members down ${OUTAGE_MS / 1000} s, restarted`,
          result: 'pass',
          convergenceMs: total,
          detail: `1 change before the stop, 2 after the restart; from the restart (reconnect ${(synced / 1000).toFixed(1)} s)`,
        });
      },
    );
    await controller.close();
  });
}
