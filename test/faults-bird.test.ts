import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { loopbackKeyspace } from './support/keyspaces.js';
import { keys } from '../src/model/keys.js';
import { canCreateNamespaces } from './harness/netns.js';
import { fileTimeoutMs, size } from './reliability/size.js';
import { recordRow } from './reliability/summary.js';
import { createWorld, sleep, waitFor } from './support/world.js';
import { changeStream } from './reliability/changeStream.js';
import { escapeRegExp, linesOf } from './support/logLines.js';

/**
 * BIRD faults against an in-process birdwatch with real etcd and real BIRD/BIRD6 in a namespace: BIRD killed
 * while changes flow, its control socket removed, a configuration BIRD rejects. Each ends when BIRD runs exactly
 * what etcd says.
 */
t.setTimeout(fileTimeoutMs(170_000, 900_000));
const FLOW_MS = size(1_500, 10_000);

const baseKeyspace = (): Map<string, string> =>
  loopbackKeyspace([keys.globalPeer(6, '::2'), JSON.stringify({ ip: '::2', as_num: '65002' })]);

if (!(await canCreateNamespaces())) {
  t.test('BIRD faults', { skip: 'needs network namespaces (ip netns add failed)' }, () => undefined);
} else {
  t.test('BIRD faults: the live configuration stays valid and birdwatch converges by itself', async (t) => {
    const w = await createWorld(t, { keyspace: baseKeyspace() });
    const controller = await w.startController();
    await w.startBirds();
    await w.waitConverged('initial');

    await t.test('BIRD killed (SIGKILL) and restarted while changes keep coming', async (t) => {
      const stream = changeStream(w.client, { rate: 25, prefix: 'flow-', hosts: 40 });
      await sleep(FLOW_MS / 2);
      const bird = w.birds.bird!;
      bird.kill('SIGKILL');
      await bird.exited;
      await waitFor(
        'bird unreachable',
        () => controller.status.birdReachable.bird,
        (r) => r === false,
        10_000,
      );
      await sleep(FLOW_MS / 2);
      await w.startBird('bird');
      await sleep(FLOW_MS / 2);
      const changes = await stream.stop();
      const stopped = performance.now();
      await w.waitConverged('after BIRD restart', 30_000);
      const total = performance.now() - stopped;
      t.same(stream.errors, [], 'every change was written');
      t.ok(linesOf(w.logLines(), 'bird-unreachable', { daemon: 'bird' }).length > 0, 'the unreachable BIRD was logged');
      // A BIRD restarted on files that are already current converges before the reload it is owed (with backoff),
      // and that reload is where its return is noticed: wait for the line, bounded.
      t.ok(
        await waitFor(
          'bird answers again',
          () => linesOf(w.logLines(), 'bird-reachable', { daemon: 'bird' }).length > 0,
          (seen) => seen,
          15_000,
        ).catch(() => false),
        'its return was logged',
      );
      recordRow(t, {
        scenario: 'BIRD: SIGKILL + restart while changes flow',
        result: 'pass',
        convergenceMs: total,
        detail: `${changes} changes at 25/s over ${((FLOW_MS * 1.5) / 1000).toFixed(1)} s; from the last change`,
      });
      await w.client.delete().prefix('/calico/bgp/v1/host/flow-');
      await w.waitConverged('cleanup', 30_000);
    });

    await t.test(
      'control socket removed: files still applied, reload retried; BIRD restarted → converged',
      async (t) => {
        rmSync(w.sockets.bird);
        await w.client.put(keys.hostAddress('sock-a', 4)).value('127.0.0.51');
        await waitFor(
          'live files updated',
          () => readFileSync(join(w.configDir, 'bird.cfg'), 'utf8'),
          (c) => c.includes('Mesh_127_0_0_51'),
          10_000,
        );
        await waitFor(
          'bird unreachable',
          () => controller.status.birdReachable.bird,
          (r) => r === false,
          10_000,
        );
        const warning = linesOf(w.logLines(), 'bird-unreachable', { daemon: 'bird', level: 40 }).at(-1);
        t.match(
          String(warning?.['msg']),
          new RegExp(escapeRegExp(w.sockets.bird)),
          'a warning names the control socket',
        );
        t.match(String(warning?.['msg']), /ENOENT|no such file|not found|connect/i);
        const cyclesBefore = controller.cycles;
        // Retried by itself (no etcd change comes): a retry cycle starts within the backoff, however busy the machine.
        const cycles = await waitFor(
          'a retry cycle',
          () => controller.cycles,
          (n) => n > cyclesBefore,
          10_000,
        ).catch(() => controller.cycles);
        t.ok(cycles > cyclesBefore, `the reload is retried (${cycles - cyclesBefore} cycles)`);
        t.ok(w.birds.bird?.running(), 'BIRD itself still runs (the old configuration)');
        const restart = performance.now();
        await w.startBird('bird');
        await w.waitConverged('after the socket came back', 30_000);
        const total = performance.now() - restart;
        recordRow(t, {
          scenario: 'BIRD: control socket removed',
          result: 'pass',
          convergenceMs: total,
          detail: 'files applied, reload retried with backoff; from BIRD restart',
        });
        await w.client.delete().prefix(keys.hostDir('sock-a'));
        await w.waitConverged('cleanup', 30_000);
      },
    );

    await t.test(
      'a broken custom filter: quarantined, the key named once; the rest (a change made meanwhile) applies; fixed → applied',
      async (t) => {
        const key = keys.customFilter(4, 'broken');
        const liveBefore = readFileSync(join(w.configDir, 'custom_filters.cfg'), 'utf8');
        await w.client.put(key).value('  if net ~ then reject;');
        await waitFor(
          'quarantined',
          () => controller.status.quarantined,
          (q) => q.some((e) => e.key === key),
          10_000,
        );
        // Another change while the filter is broken: applied without it (one entry never blocks the rest) …
        await w.client.put(keys.hostAddress('while-broken', 4)).value('127.0.0.61');
        await waitFor(
          'the other change reached BIRD',
          () => w.protocols('bird'),
          (p) => p.includes('Mesh_127_0_0_61'),
          10_000,
        );
        // BIRD takes the staged set before the swap: the cycle (files, status, log) finishes a moment later.
        await controller.idle();
        t.equal(
          readFileSync(join(w.configDir, 'custom_filters.cfg'), 'utf8'),
          liveBefore,
          'live custom_filters.cfg has no refused line',
        );
        t.equal(controller.status.failure, undefined, 'not a failure: the entry is skipped, like any bad entry');
        const warnings = linesOf(w.logLines(), 'quarantined', { key, level: 40 });
        t.equal(warnings.length, 1, 'the quarantine is logged once');
        // … and as soon as the filter is fixed, it applies too.
        const fixed = performance.now();
        await w.client.put(key).value('  if net ~ 10.99.0.0/16 then reject;');
        await waitFor(
          'fixed filter applied',
          () => readFileSync(join(w.configDir, 'custom_filters.cfg'), 'utf8'),
          (c) => c.includes('10.99.0.0/16'),
          15_000,
        );
        await w.waitConverged('after the fix', 15_000);
        const total = performance.now() - fixed;
        t.same(
          await waitFor(
            'released',
            () => controller.status.quarantined,
            (q) => q.length === 0,
            5_000,
          ),
          [],
          'released when the entry changed',
        );
        recordRow(t, {
          scenario: 'BIRD rejects an entry (broken custom filter)',
          result: 'pass',
          convergenceMs: total,
          detail: 'entry quarantined, the rest applied, key named once; from the fix',
        });
        await w.client.delete().key(keys.hostAddress('while-broken', 4));
        await w.client.delete().key(key);
        await w.waitConverged('cleanup', 15_000);
      },
    );

    await t.test(
      'a custom filter whose last statement is incomplete: quarantined by its key (BIRD reports the line after it)',
      async (t) => {
        const key = keys.customFilter(4, 'dangling');
        await w.client.put(key).value('  if net ~ 10.0.0.0/8 then');
        await waitFor(
          'quarantined',
          () => controller.status.quarantined,
          (q) => q.some((e) => e.key === key),
          10_000,
        );
        await w.client.put(keys.hostAddress('while-dangling', 4)).value('127.0.0.62');
        await waitFor(
          'the other change reached BIRD',
          () => w.protocols('bird'),
          (p) => p.includes('Mesh_127_0_0_62'),
          10_000,
        );
        const removed = performance.now();
        await w.client.delete().key(key);
        await w.waitConverged('after removing the filter', 15_000);
        const total = performance.now() - removed;
        recordRow(t, {
          scenario: 'BIRD rejects an entry (dangling `if … then`)',
          result: 'pass',
          convergenceMs: total,
          detail: 'quarantined by key; from the removal',
        });
        await w.client.delete().key(keys.hostAddress('while-dangling', 4));
        await w.waitConverged('cleanup', 15_000);
      },
    );
    await controller.close();
  });
}
