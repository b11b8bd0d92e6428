import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { loopbackKeyspace } from './support/keyspaces.js';
import { lockConfigDir } from '../src/apply/configDirLock.js';
import { FILTERS_CHANGED } from '../src/controller/diffSummary.js';
import { nodeRole } from '../src/controller/roleRenderer.js';
import { realBirdEdges, realPipelineEdges } from '../src/controller/realEdges.js';
import { RunController } from '../src/controller/runController.js';
import { createEtcdClient } from '../src/datastore/etcdConnection.js';
import { etcdKeyspaceSource } from '../src/datastore/keyspaceSource.js';
import { keys } from '../src/model/keys.js';
import { queryFamilyStatus } from '../src/observe/bgpStatusQuery.js';
import { startOpsServer } from '../src/observe/httpServer.js';
import { createLogger } from '../src/observe/logger.js';
import { BirdwatchMetrics } from '../src/observe/metrics.js';
import { RunStatus } from '../src/observe/runStatus.js';
import { canCreateNamespaces } from './harness/netns.js';
import { parsePrometheusText, sumOf, valueOf, type Sample } from './support/promText.js';
import { createWorld, NODE, waitFor } from './support/world.js';
import { linesOf } from './support/logLines.js';

// /metrics, /healthz and /readyz of a controller running against a real etcd and a real BIRD (in a network
// namespace): the numbers move as cycles happen, readiness flips when etcd or BIRD goes away and comes back,
// and a stuck cycle makes /healthz fail.

const LIVENESS_STALE_MS = 3_000;

if (!(await canCreateNamespaces())) {
  t.test('ops endpoint against real BIRD', { skip: 'needs network namespaces (ip netns add failed)' }, () => undefined);
} else {
  t.test('metrics, health and readiness of a running controller', async (t) => {
    const h = await createWorld(t, { keyspace: loopbackKeyspace() });
    // `bird -p` through a wrapper that waits while a file exists: a validation that hangs, on demand.
    const hangFile = join(h.dir, 'hang');
    const birdWrapper = join(h.dir, 'bird-wrapper');
    writeFileSync(
      birdWrapper,
      `#!/bin/sh\n# test double: bird -p stuck while ${hangFile} exists\nwhile [ -e '${hangFile}' ]; do sleep 0.05; done\nexec bird "$@"\n`,
    );
    chmodSync(birdWrapper, 0o755);

    const lines: Record<string, unknown>[] = [];
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
    });
    const log = createLogger({ level: 'debug', pretty: false, destination: stream });
    const status = new RunStatus(['bird', 'bird6']);
    const metrics = new BirdwatchMetrics({
      status,
      sockets: h.sockets,
      queryFamilyStatus,
      ipip: 'off',
      perPeer: false,
    });
    const client = createEtcdClient({ endpoints: h.etcd.endpoints });
    const controller = await RunController.create({
      role: nodeRole(NODE, 'off'),
      configDir: h.configDir,
      edges: realPipelineEdges({ binaries: { bird: birdWrapper, bird6: 'bird6' } }),
      bird: realBirdEdges(h.sockets),
      lockConfigDir,
      templatesDir: undefined,
      minReloadIntervalMs: 50,
      keyspace: etcdKeyspaceSource({ client }),
      log,
      status,
      observer: metrics,
      heartbeatIntervalMs: 100,
    });
    const server = await startOpsServer({
      host: '127.0.0.1',
      port: 0,
      status,
      metrics,
      sockets: h.sockets,
      log,
      livenessStaleMs: LIVENESS_STALE_MS,
    });
    t.teardown(async () => {
      rmSync(hangFile, { force: true });
      await server.close();
      await controller.close();
      client.close();
    });
    const base = `http://127.0.0.1:${server.address.port}`;
    const scrape = async (): Promise<Sample[]> => parsePrometheusText(await (await fetch(`${base}/metrics`)).text());
    const readyz = async (): Promise<{ code: number; failing: string[]; messages: string[] }> => {
      const res = await fetch(`${base}/readyz`);
      const body = (await res.json()) as { failing: { condition: string; message: string }[] };
      return {
        code: res.status,
        failing: body.failing.map((f) => f.condition),
        messages: body.failing.map((f) => f.message),
      };
    };
    const healthz = async (): Promise<number> => (await fetch(`${base}/healthz`)).status;
    const applied = async (): Promise<number> =>
      valueOf(await scrape(), 'birdwatch_cycles_total', { result: 'applied' }) ?? 0;

    await controller.start();
    t.equal(await healthz(), 200, 'alive while BIRD is not running');
    t.same(
      (await readyz()).failing,
      ['applied', 'bird', 'bird6'],
      'synced, but BIRD does not answer and nothing was applied',
    );

    await h.startBirds();
    await waitFor('ready once BIRD answers and got its configuration', readyz, (r) => r.code === 200, 20_000);
    let samples = await scrape();
    t.equal(valueOf(samples, 'birdwatch_datastore_synced'), 1);
    t.equal(valueOf(samples, 'birdwatch_datastore_state', { state: 'synced' }), 1);
    t.equal(valueOf(samples, 'birdwatch_datastore_revision'), Number(status.revision));
    t.equal(valueOf(samples, 'birdwatch_bird_reachable', { daemon: 'bird' }), 1);
    t.equal(valueOf(samples, 'birdwatch_bird_reachable', { daemon: 'bird6' }), 1);
    t.equal(
      sumOf(samples, 'birdwatch_bgp_sessions', { daemon: 'bird', type: 'mesh' }),
      1,
      'one mesh session (n2), counted from show protocols',
    );
    t.equal(sumOf(samples, 'birdwatch_bgp_sessions', { daemon: 'bird6' }), 0, 'n2 has no IPv6 address');
    t.ok((valueOf(samples, 'birdwatch_last_apply_success_timestamp_seconds') ?? 0) > Date.now() / 1000 - 60);
    t.equal(valueOf(samples, 'birdwatch_ipip_mode', { mode: 'off' }), 1);
    t.equal(
      samples.filter((s) => s.name === 'birdwatch_bgp_session_established').length,
      0,
      'no per-peer series without the flag',
    );

    await t.test('a host added: a cycle applied, a reload, latency observed, the session counted', async (t) => {
      const before = await scrape();
      await h.client.put(keys.hostAddress('n3', 4)).value('127.0.0.3');
      const after = await waitFor(
        'two mesh sessions',
        scrape,
        (s) => sumOf(s, 'birdwatch_bgp_sessions', { daemon: 'bird', type: 'mesh' }) === 2,
        20_000,
      );
      await controller.idle();
      samples = await scrape();
      t.ok(
        valueOf(samples, 'birdwatch_cycles_total', { result: 'applied' })! >
          valueOf(before, 'birdwatch_cycles_total', { result: 'applied' })!,
        'cycles_total{applied} went up',
      );
      t.ok(
        valueOf(samples, 'birdwatch_bird_reloads_total', { daemon: 'bird', result: 'applied' })! >
          valueOf(before, 'birdwatch_bird_reloads_total', { daemon: 'bird', result: 'applied' })!,
      );
      t.equal(
        valueOf(samples, 'birdwatch_change_applied_latency_seconds_count')! -
          (valueOf(before, 'birdwatch_change_applied_latency_seconds_count') ?? 0),
        1,
        'one change→applied latency',
      );
      t.ok(
        valueOf(samples, 'birdwatch_validate_duration_seconds_count')! >
          valueOf(before, 'birdwatch_validate_duration_seconds_count')!,
      );
      t.ok(valueOf(samples, 'birdwatch_reload_duration_seconds_count', { daemon: 'bird' })! > 0);
      t.ok(sumOf(after, 'birdwatch_bgp_sessions', { daemon: 'bird' }) >= 2);
      t.match(
        linesOf(lines, 'configuration-applied').at(-1),
        { component: 'cycle', changes: '+Mesh_127_0_0_3' },
        'the cycle line says what changed',
      );
    });

    await t.test('a pool added changes a filter: the cycle line carries the restart warning', async (t) => {
      await h.client.put(keys.pool(4, '10.60.0.0/16')).value('{"cidr":"10.60.0.0/16"}');
      const line = await waitFor(
        'applied',
        () =>
          linesOf(lines, 'configuration-applied')
            .filter((l) => String(l['changes']).includes('bird_ipam'))
            .at(-1),
        (l) => l !== undefined,
      );
      t.equal(line?.['changes'], `${FILTERS_CHANGED} (bird: bird_ipam.cfg: filter calico_pools)`);
    });

    await t.test('a skipped entry is counted by key kind and action, and falls back to 0 when fixed', async (t) => {
      await h.client.put(keys.globalPeer(4, '10.0.0.77')).value('{not json');
      await waitFor(
        'skipped globalPeer',
        scrape,
        (s) => valueOf(s, 'birdwatch_skipped_entries', { kind: 'globalPeer', action: 'skipped' }) === 1,
      );
      await h.client.delete().key(keys.globalPeer(4, '10.0.0.77'));
      const fixed = await waitFor(
        'back to 0',
        scrape,
        (s) => valueOf(s, 'birdwatch_skipped_entries', { kind: 'globalPeer', action: 'skipped' }) === 0,
      );
      t.equal(valueOf(fixed, 'birdwatch_skipped_entries', { kind: 'globalPeer', action: 'skipped' }), 0, 'back to 0');
    });

    await t.test(
      'an entry BIRD rejects: the refusal counted, the entry quarantined and named, still ready; fixed → gone',
      async (t) => {
        const before = valueOf(await scrape(), 'birdwatch_validation_failures_total')!;
        const key = keys.customFilter(4, 'broken');
        await h.client.put(key).value('if net ~ then reject;');
        samples = await waitFor(
          'the refusal counted',
          scrape,
          (s) => valueOf(s, 'birdwatch_quarantined_entries') === 1,
          20_000,
        );
        t.equal(
          valueOf(samples, 'birdwatch_validation_failures_total'),
          before + 1,
          'bird -p refused once; the rest applied',
        );
        const r = await readyz();
        t.equal(r.code, 200, `a quarantined entry is a skipped entry: ready (${r.messages.join('; ')})`);
        const body = (await (await fetch(`${base}/readyz`)).json()) as { checks: Record<string, { message: string }> };
        t.match(body.checks['applied']?.message, new RegExp(`1 entry quarantined \\(${key}\\)`));
        await h.client.delete().key(key);
        await waitFor('released', scrape, (s) => valueOf(s, 'birdwatch_quarantined_entries') === 0, 20_000);
      },
    );

    await t.test('etcd goes away: not ready (datastore), still alive; etcd back: ready', async (t) => {
      await h.etcd.kill(0, 'SIGKILL');
      const r = await waitFor('datastore not ready', readyz, (x) => x.failing.includes('datastore'), 20_000);
      t.same(r.failing, ['datastore']);
      t.match(r.messages[0], /^etcd connection lost since \d{4}-\d\d-\d\dT/);
      t.equal(await healthz(), 200, 'the control loop is alive: only etcd is gone');
      samples = await scrape();
      t.equal(valueOf(samples, 'birdwatch_datastore_synced'), 0);
      t.equal(valueOf(samples, 'birdwatch_datastore_state', { state: 'disconnected' }), 1);
      await h.etcd.restart(0);
      await waitFor('ready after etcd restart', readyz, (x) => x.code === 200, 30_000);
      t.equal(valueOf(await scrape(), 'birdwatch_datastore_synced'), 1);
    });

    await t.test('BIRD goes away: not ready (bird, bird6), reachable 0; BIRD back: ready', async (t) => {
      await Promise.all(Object.values(h.birds).map((b) => b.stop()));
      const r = await waitFor('bird not ready', readyz, (x) => x.failing.includes('bird'), 10_000);
      t.same(r.failing, ['bird', 'bird6']);
      samples = await scrape();
      t.equal(valueOf(samples, 'birdwatch_bird_reachable', { daemon: 'bird' }), 0);
      t.equal(valueOf(samples, 'birdwatch_bird_reachable', { daemon: 'bird6' }), 0);
      t.equal(
        sumOf(samples, 'birdwatch_bgp_sessions', { daemon: 'bird' }),
        0,
        'the session series fall to 0 rather than vanish',
      );
      t.ok(samples.some((s) => s.name === 'birdwatch_bgp_sessions' && s.labels['daemon'] === 'bird'));
      t.equal(await healthz(), 200);
      await h.startBirds();
      await waitFor('ready with BIRD back', readyz, (x) => x.code === 200, 20_000);
      t.equal(
        sumOf(await scrape(), 'birdwatch_bgp_sessions', { daemon: 'bird', type: 'mesh' }),
        2,
        'BIRD restarted from the live files',
      );
    });

    await t.test('--metrics-per-peer adds one series per session', async (t) => {
      const perPeer = new BirdwatchMetrics({
        status,
        sockets: h.sockets,
        queryFamilyStatus,
        ipip: 'off',
        perPeer: true,
        processMetrics: false,
      });
      const s = parsePrometheusText(await perPeer.scrape());
      t.same(
        s
          .filter((x) => x.name === 'birdwatch_bgp_session_established')
          .map((x) => x.labels)
          .sort((a, b) => String(a['protocol']).localeCompare(String(b['protocol']))),
        [
          { daemon: 'bird', protocol: 'Mesh_127_0_0_2', peer: '127.0.0.2', type: 'mesh' },
          { daemon: 'bird', protocol: 'Mesh_127_0_0_3', peer: '127.0.0.3', type: 'mesh' },
        ],
      );
      t.same(
        s.filter((x) => x.name === 'birdwatch_build_info').map((x) => [x.labels, x.value]),
        [
          [
            {
              version: JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version,
              nodejs_version: process.version,
            },
            1,
          ],
        ],
        'build info: version from package.json',
      );
    });

    await t.test('a cycle that hangs (bird -p never returns): /healthz 503; when it ends, 200 again', async (t) => {
      const cyclesBefore = await applied();
      writeFileSync(hangFile, '');
      await h.client.put(keys.hostAddress('n5', 4)).value('127.0.0.5');
      const stuck = await waitFor(
        'healthz 503',
        async () => fetch(`${base}/healthz`),
        (res) => res.status === 503,
        LIVENESS_STALE_MS + 10_000,
      );
      t.match(await stuck.json(), { status: 'stuck', message: /the control loop has not ticked for/ });
      t.ok(
        (valueOf(await scrape(), 'birdwatch_heartbeat_age_seconds') ?? 0) > LIVENESS_STALE_MS / 1000,
        'the heartbeat age says so too',
      );
      rmSync(hangFile);
      await waitFor('alive again', healthz, (code) => code === 200, 10_000);
      await waitFor('the change applied after all', applied, (n) => n > cyclesBefore, 10_000);
      t.same(await h.protocols(), ['Mesh_127_0_0_2', 'Mesh_127_0_0_3', 'Mesh_127_0_0_5']);
    });
  });
}
