import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { loopbackKeyspace } from './support/keyspaces.js';
import { encodeNodeMesh, encodePeer } from '../src/model/encodings.js';
import { keys } from '../src/model/keys.js';
import { canCreateNamespaces } from './harness/netns.js';
import { startTcpProxy } from './harness/tcpProxy.js';
import { cli } from './support/cli.js';
import { createWorld, waitFor } from './support/world.js';
import { linesOf } from './support/logLines.js';

const baseKeyspace = (): Map<string, string> => loopbackKeyspace([keys.hostAddress('n2', 6), '']);

if (!(await canCreateNamespaces())) {
  t.test(
    'birdwatch run against real BIRD',
    { skip: 'needs network namespaces (ip netns add failed): BIRD must not touch this host’s routing table' },
    () => undefined,
  );
} else {
  t.test('birdwatch run keeps a real BIRD in step with etcd', async (t) => {
    const h = await createWorld(t, { keyspace: baseKeyspace() });
    const once = await cli([...h.runArgv(), '--once', '--log-level', 'silent']);
    t.equal(once.code, 0, `--once before BIRD runs succeeds: ${once.stderr}`);
    t.ok(existsSync(join(h.configDir, 'bird.cfg')), '--once wrote the configuration');
    await h.startBirds();
    const controller = await h.startController();
    await waitFor(
      'mesh peer n2',
      () => h.protocols(),
      (p) => p.join() === 'Mesh_127_0_0_2',
    );

    await t.test('a host added in etcd appears as a Mesh_ protocol; removed → gone', async (t) => {
      await h.client.put(keys.hostAddress('n3', 4)).value('127.0.0.3');
      t.same(
        await waitFor(
          'Mesh_127_0_0_3',
          () => h.protocols(),
          (p) => p.includes('Mesh_127_0_0_3'),
        ),
        ['Mesh_127_0_0_2', 'Mesh_127_0_0_3'],
      );
      await h.client.delete().prefix(keys.hostDir('n3'));
      t.same(
        await waitFor(
          'n3 gone',
          () => h.protocols(),
          (p) => !p.includes('Mesh_127_0_0_3'),
        ),
        ['Mesh_127_0_0_2'],
      );
    });

    await t.test('a global peer added → Global_ protocol; mesh off → mesh protocols gone', async (t) => {
      await h.client.put(keys.globalPeer(4, '127.0.0.9')).value(encodePeer('127.0.0.9', 65009));
      await waitFor(
        'Global_127_0_0_9',
        () => h.protocols(),
        (p) => p.includes('Global_127_0_0_9'),
      );
      await h.client.put(keys.nodeMesh).value(encodeNodeMesh(false));
      t.same(
        await waitFor(
          'mesh off',
          () => h.protocols(),
          (p) => !p.some((n) => n.startsWith('Mesh_')),
        ),
        ['Global_127_0_0_9'],
      );
      await h.client.put(keys.nodeMesh).value(encodeNodeMesh(true));
      await h.client.delete().key(keys.globalPeer(4, '127.0.0.9'));
      await waitFor(
        'back to the mesh',
        () => h.protocols(),
        (p) => p.join() === 'Mesh_127_0_0_2',
      );
    });

    await t.test('a pool added → bird_ipam.cfg has it and BIRD answered Reconfigured', async (t) => {
      const reloadsBefore = controller.status.reloads.bird!;
      await h.client.put(keys.pool(4, '192.168.0.0/16')).value('{"cidr":"192.168.0.0/16"}');
      await waitFor(
        'pool in bird_ipam.cfg',
        () => readFileSync(join(h.configDir, 'bird_ipam.cfg'), 'utf8'),
        (c) => c.includes('net ~ 192.168.0.0/16'),
      );
      await waitFor(
        'reload',
        () => controller.status.reloads.bird!,
        (n) => n > reloadsBefore,
      );
      // The apply is logged at the end of the cycle, after the reload is counted.
      await controller.idle();
      const applied = linesOf(h.logLines(), 'configuration-applied');
      t.match(JSON.stringify(applied.at(-1)?.['reload']), /Reconfigured|Reconfiguration in progress/);
      t.match(applied.at(-1), { files: ['bird_ipam.cfg'] }, 'only the changed file was written');
      t.notOk('bird6' in (applied.at(-1)?.['reload'] as object), 'bird6 was not reloaded: none of its files changed');
    });

    await t.test('a burst of 200 changes: final BIRD state exact, reloads bounded', async (t) => {
      const reloadsBefore = controller.status.reloads.bird!;
      const cyclesBefore = controller.cycles;
      const expected: string[] = ['Mesh_127_0_0_2'];
      await Promise.all(
        Array.from({ length: 200 }, (_, i) => {
          const ip = `127.0.1.${i + 1}`;
          expected.push(`Mesh_${ip.replace(/\./g, '_')}`);
          return h.client.put(keys.hostAddress(`burst-${i}`, 4)).value(ip);
        }),
      );
      const protocols = await waitFor(
        '200 new mesh peers',
        () => h.protocols(),
        (p) => p.length === 201,
        30_000,
      );
      t.same(protocols, expected.sort());
      await controller.idle();
      const reloads = controller.status.reloads.bird! - reloadsBefore;
      t.comment(`200 changes → ${controller.cycles - cyclesBefore} cycles, ${reloads} bird reloads`);
      t.ok(reloads >= 1 && reloads <= 20, `reloads bounded (${reloads})`);
      await h.client.delete().prefix('/calico/bgp/v1/host/burst-');
      await waitFor(
        'burst hosts gone',
        () => h.protocols(),
        (p) => p.join() === 'Mesh_127_0_0_2',
        30_000,
      );
    });

    await t.test('identical output → no write and no reload', async (t) => {
      await controller.idle();
      const reloadsBefore = controller.status.reloads.bird! + controller.status.reloads.bird6!;
      const cyclesBefore = controller.cycles;
      // A new key that renders the same (n2's AS spelled out as the default); a same-value put is not even a change.
      await h.client.put(keys.hostAsNumber('n2')).value('64511');
      await waitFor(
        'a cycle ran',
        () => controller.cycles,
        (c) => c > cyclesBefore,
      );
      await controller.idle();
      t.equal(controller.status.reloads.bird! + controller.status.reloads.bird6!, reloadsBefore);
      const beforeDelete = controller.cycles;
      await h.client.delete().key(keys.hostAsNumber('n2'));
      await waitFor(
        'the delete cycle',
        () => controller.cycles,
        (c) => c > beforeDelete,
      );
      await controller.idle();
      const other = controller.cycles;
      await h.client.put(keys.block('someone-else', 4, '192.168.7.0/26')).value('{}');
      await new Promise((r) => setTimeout(r, 300));
      t.equal(controller.cycles, other, "another host's block does not even start a cycle");
    });

    await t.test(
      'a custom filter BIRD refuses is quarantined: the rest applies, the key is named; fixed → applied',
      async (t) => {
        const before = readFileSync(join(h.configDir, 'custom_filters.cfg'), 'utf8');
        const key = keys.customFilter(4, 'broken');
        await h.client.put(key).value('if net ~ then reject;');
        await h.client.put(keys.hostAddress('while-broken', 4)).value('127.0.0.71');
        await waitFor(
          'quarantined',
          () => controller.status.quarantined,
          (q) => q.some((e) => e.key === key),
        );
        await waitFor(
          'the other change applied',
          () => h.protocols(),
          (p) => p.includes('Mesh_127_0_0_71'),
        );
        // BIRD takes the staged set before the swap: the cycle (files, status, log) finishes a moment later.
        await controller.idle();
        t.equal(controller.status.failure, undefined, 'no failure: everything else is applied');
        t.equal(
          readFileSync(join(h.configDir, 'custom_filters.cfg'), 'utf8'),
          before,
          'the refused filter never reached the live file',
        );
        t.match(
          controller.status.quarantined.find((e) => e.key === key)?.reason,
          /bird -p refused the lines rendered from it: custom_filters\.cfg:\d+ syntax error/,
        );
        t.ok(linesOf(h.logLines(), 'quarantined', { key, level: 40 }).length > 0, 'a warning names the key');
        await h.client.put(key).value('if net ~ 10.99.0.0/16 then reject;');
        await waitFor(
          'fixed filter applied',
          () => readFileSync(join(h.configDir, 'custom_filters.cfg'), 'utf8'),
          (c) => c.includes('10.99.0.0/16'),
        );
        t.same(
          await waitFor(
            'released',
            () => controller.status.quarantined,
            (q) => q.length === 0,
          ),
          [],
          'the quarantine is released when the entry changes',
        );
        await h.client.delete().key(key);
        await h.client.delete().prefix(keys.hostDir('while-broken'));
        await waitFor(
          'cleaned',
          () => h.protocols(),
          (p) => p.join() === 'Mesh_127_0_0_2',
        );
      },
    );

    await t.test('etcd stopped and restarted: changes after it are applied without restarting birdwatch', async (t) => {
      await h.etcd.kill(0, 'SIGKILL');
      await waitFor(
        'disconnected',
        () => controller.status.datastore,
        (s) => s === 'disconnected',
        20_000,
      );
      await new Promise((r) => setTimeout(r, 1000));
      await h.etcd.restart(0);
      await h.client.put(keys.hostAddress('after-restart', 4)).value('127.0.0.44');
      await waitFor(
        'Mesh_127_0_0_44',
        () => h.protocols(),
        (p) => p.includes('Mesh_127_0_0_44'),
        30_000,
      );
      t.equal(controller.status.datastore, 'synced');
      await h.client.delete().prefix(keys.hostDir('after-restart'));
      await waitFor(
        'cleaned',
        () => h.protocols(),
        (p) => p.join() === 'Mesh_127_0_0_2',
        30_000,
      );
    });
    await controller.close();
  });

  t.test('a compaction past the watch revision → re-read and converge', async (t) => {
    const h = await createWorld(t, { keyspace: baseKeyspace() });
    await cli([...h.runArgv(), '--once', '--log-level', 'silent']);
    await h.startBirds();
    const proxy = await startTcpProxy(h.etcd.endpoints[0]!);
    t.teardown(() => proxy.close());
    const controller = await h.startController({ endpoints: [proxy.url] });
    await waitFor(
      'synced',
      () => h.protocols(),
      (p) => p.join() === 'Mesh_127_0_0_2',
    );
    proxy.cut();
    await waitFor(
      'disconnected',
      () => controller.status.datastore,
      (s) => s === 'disconnected',
      20_000,
    );
    await h.client.put(keys.hostAddress('while-cut', 4)).value('127.0.0.55');
    await h.client.delete().key(keys.hostAddress('n2', 4));
    for (let i = 0; i < 5; i++) await h.client.put('/calico/bgp/v1/global/unrelated').value(String(i));
    const revision = (await h.client.get('/calico/bgp/v1/global/unrelated').exec()).header.revision;
    await h.client.kv.compact({ revision, physical: true });
    proxy.restore();
    t.same(
      await waitFor(
        'converged after compaction',
        () => h.protocols(),
        (p) => p.join() === 'Mesh_127_0_0_55',
        30_000,
      ),
      ['Mesh_127_0_0_55'],
    );
    // The watch comes back from etcd's revision and the scope is read at it: the compacted history is never asked for.
    t.ok(
      linesOf(h.logLines(), 'datastore-state', { state: 'synced' }).some(
        (l) => BigInt(String(l['revision'])) >= BigInt(revision),
      ),
      'synced again at or after the compacted revision',
    );
    await controller.close();
  });

  t.test('BIRD started after birdwatch → gets configured', async (t) => {
    const h = await createWorld(t, { keyspace: baseKeyspace() });
    const controller = await h.startController();
    t.equal(controller.status.birdReachable.bird, false, 'BIRD is not running yet');
    t.ok(existsSync(join(h.configDir, 'bird.cfg')), 'files are in place anyway');
    await h.startBirds();
    await waitFor(
      'reload retried',
      () => controller.status.reloads.bird! + controller.status.reloads.bird6!,
      (n) => n >= 2,
      20_000,
    );
    t.equal(controller.status.birdReachable.bird, true);
    t.same(await h.protocols(), ['Mesh_127_0_0_2']);
    t.equal(controller.status.failure, undefined);
    await controller.close();
  });

  t.test('a broken template override: live config unchanged, BIRD still runs; fixed → applied', async (t) => {
    const h = await createWorld(t, { keyspace: baseKeyspace() });
    const templates = join(h.dir, 'templates');
    mkdirSync(templates);
    const controller = await h.startController({ templatesDir: templates });
    await h.startBirds();
    await waitFor(
      'configured',
      () => h.protocols(),
      (p) => p.join() === 'Mesh_127_0_0_2',
    );
    const live = readFileSync(join(h.configDir, 'bird.cfg'), 'utf8');
    writeFileSync(join(templates, 'bird.cfg.hbs'), 'router id {{routerId}};\nprotocol bgp { this is not bird }\n');
    await waitFor(
      'validation failure',
      () => controller.status.failure,
      (f) => f?.kind === 'validation',
      20_000,
    );
    t.equal(readFileSync(join(h.configDir, 'bird.cfg'), 'utf8'), live, 'live bird.cfg unchanged');
    t.same(await h.protocols(), ['Mesh_127_0_0_2'], 'BIRD still runs the old configuration');
    writeFileSync(join(templates, 'bird.cfg.hbs'), 'router id {{noSuchField}};\n');
    await waitFor(
      'template failure',
      () => controller.status.failure,
      (f) => f?.kind === 'template',
      20_000,
    );
    writeFileSync(
      join(templates, 'bird.cfg.hbs'),
      `${live.replace(/# Generated by birdwatch\..*\n/, '# site template\n')}`,
    );
    await waitFor(
      'fixed template applied',
      () => readFileSync(join(h.configDir, 'bird.cfg'), 'utf8'),
      (c) => c.startsWith('# site template'),
      20_000,
    );
    await waitFor(
      'failure cleared once BIRD reloaded',
      () => controller.status.failure,
      (f) => f === undefined,
    );
    await controller.close();
  });
}
