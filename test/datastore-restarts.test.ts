import { getEventListeners } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Etcd3 } from 'etcd3';
import t from 'tap';
import type { Clock } from '../src/controller/clock.js';
import { createEtcdClient } from '../src/datastore/etcdConnection.js';
import { etcdFeed } from '../src/datastore/etcdFeed.js';
import { KeyspaceMirror } from '../src/datastore/keyspaceMirror.js';
import { nodeKeyScope } from '../src/model/keyScope.js';
import { keys } from '../src/model/keys.js';
import { startEtcdForTest } from './harness/etcd.js';
import { canCreateNamespaces } from './harness/netns.js';
import { spawnBirdwatch } from './support/birdwatchProcess.js';
import { loopbackKeyspace } from './support/keyspaces.js';
import { createWorld, waitFor } from './support/world.js';
import { linesOf } from './support/logLines.js';

/**
 * etcd restarted 20 times under a running birdwatch: every reconnect's waits and timers are let go (README
 * "The datastore": partitions and restarts). Before, each reconnect left an `abort` listener on the mirror's
 * signal for the life of the process, and the twelfth restart printed MaxListenersExceededWarning.
 */
const RESTARTS = 20;

t.test(`the mirror through ${RESTARTS} etcd restarts: the listeners on its signal do not grow`, async (t) => {
  const etcd = await startEtcdForTest(t);
  const writer = new Etcd3({ hosts: [...etcd.endpoints] });
  t.teardown(() => writer.close());
  await writer.put(keys.hostAddress('n1', 4)).value('10.0.0.1');
  const client = createEtcdClient({ endpoints: etcd.endpoints });
  t.teardown(() => client.close());
  // The injected clock sees every wait the mirror makes and the signal it waits on: count what is already there.
  const listenersAtSleep: number[] = [];
  let lifetime: AbortSignal | undefined;
  const clock: Clock = {
    now: () => performance.now(),
    sleep: async (ms, signal) => {
      lifetime = signal;
      listenersAtSleep.push(signal ? getEventListeners(signal, 'abort').length : 0);
      await sleep(ms, undefined, { signal }).catch(() => undefined);
    },
  };
  const states: string[] = [];
  const mirror = new KeyspaceMirror({
    feed: etcdFeed({ client, staleAfterMs: 5_000 }),
    scope: nodeKeyScope('n1'),
    onChange: () => undefined,
    onStateChange: (state) => states.push(state),
    maxRetryDelayMs: 300,
    clock,
  });
  const run = new AbortController();
  t.teardown(() => mirror.close());
  await mirror.start(run.signal);
  const perRestart: number[] = [];
  for (let i = 1; i <= RESTARTS; i++) {
    const lost = states.length;
    await etcd.kill(0, 'SIGTERM');
    await waitFor(
      `restart ${i}: the loss noticed`,
      () => states.slice(lost),
      (s) => s.includes('disconnected'),
    );
    await etcd.restart(0);
    await waitFor(
      `restart ${i}: synced again`,
      () => mirror.state,
      (s) => s === 'synced',
    );
    perRestart.push(lifetime ? getEventListeners(lifetime, 'abort').length : 0);
  }
  await writer.put(keys.hostAddress('n1', 4)).value('10.0.0.2');
  await waitFor(
    'a change after the last restart',
    () => mirror.entries.get(keys.hostAddress('n1', 4)),
    (v) => v === '10.0.0.2',
  );
  t.ok(listenersAtSleep.length >= RESTARTS, `the mirror waited ${listenersAtSleep.length} times`);
  t.ok(
    Math.max(...listenersAtSleep) <= 1,
    `at most one other wait pending at each wait (${Math.max(...listenersAtSleep)})`,
  );
  t.same(new Set(perRestart), new Set([0]), 'after each reconnect no listener is left on the mirror signal');
  t.equal(getEventListeners(run.signal, 'abort').length, 0, 'none on the signal given to start()');
  t.comment(`listeners at each wait: max ${Math.max(...listenersAtSleep)} over ${listenersAtSleep.length} waits`);
});

if (!(await canCreateNamespaces())) {
  t.test(
    'birdwatch run through etcd restarts',
    { skip: 'needs network namespaces (ip netns add failed)' },
    () => undefined,
  );
} else {
  t.test(
    `birdwatch run (a child process) through ${RESTARTS} etcd restarts: no MaxListenersExceededWarning`,
    async (t) => {
      const w = await createWorld(t, { keyspace: loopbackKeyspace() });
      const child = spawnBirdwatch(t, [...w.runArgv(), '--min-reload-interval', '0']);
      await waitFor(
        'the first configuration written',
        () => existsSync(join(w.configDir, 'bird.cfg')),
        (written) => written,
        30_000,
      );
      await w.startBirds();
      await w.waitConverged('initial', 30_000);
      const datastore = (state: string): number => linesOf(child.lines, 'datastore-state', { state }).length;
      for (let i = 1; i <= RESTARTS; i++) {
        const lost = datastore('disconnected');
        const synced = datastore('synced');
        await w.etcd.kill(0, 'SIGTERM');
        await waitFor(
          `restart ${i}: the loss logged`,
          () => datastore('disconnected'),
          (n) => n > lost,
        );
        await w.etcd.restart(0);
        await waitFor(
          `restart ${i}: synced again`,
          () => datastore('synced'),
          (n) => n > synced,
          20_000,
        );
      }
      await w.client.put(keys.hostAddress('n3', 4)).value('127.0.0.3');
      await w.waitConverged('a change after the last restart', 30_000);
      t.ok(datastore('disconnected') >= RESTARTS, 'every restart was noticed');
      t.notMatch(child.stderr(), /MaxListenersExceededWarning/, 'no listener leak warning');
      t.notMatch(child.stderr(), /Warning/, `nothing else warned: ${child.stderr().slice(0, 500)}`);
      child.kill('SIGTERM');
      t.match(await child.exited, { code: 0 });
    },
  );
}
