import { createServer } from 'node:net';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t, { type Test } from 'tap';
import { parseListenOption } from '../src/cli/listenOption.js';
import { listenOps } from '../src/cli/opsListen.js';
import { UsageError } from '../src/cli/usageError.js';
import { keys } from '../src/model/keys.js';
import { checkLiveness, checkReadiness } from '../src/observe/health.js';
import { queryFamilyStatus } from '../src/observe/bgpStatusQuery.js';
import { OpsServerListenError, startOpsServer } from '../src/observe/httpServer.js';
import { createLogger } from '../src/observe/logger.js';
import { BirdwatchMetrics } from '../src/observe/metrics.js';
import { RunStatus } from '../src/observe/runStatus.js';
import { startEtcdForTest } from './harness/etcd.js';
import { freePort } from './harness/process.js';
import { exitWithin, spawnBirdwatch } from './support/birdwatchProcess.js';
import { cli } from './support/cli.js';
import { linesOf } from './support/logLines.js';
import { putKeyspace } from './support/etcdLoad.js';
import { parsePrometheusText, valueOf } from './support/promText.js';
import { waitFor } from './support/world.js';

// The ops endpoint on its own (a RunStatus the test sets), then `run --listen` as a real process.

const tempDir = (t: Test): string => {
  const dir = mkdtempSync(join(tmpdir(), 'birdwatch-ops-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};
const silent = createLogger({ level: 'silent', pretty: false, destination: new PassThrough() });

t.test('--listen: HOST:PORT, [IPv6]:PORT or off; anything else is a usage error naming the flag', async (t) => {
  t.same(parseListenOption('127.0.0.1:9099'), { kind: 'listen', host: '127.0.0.1', port: 9099 });
  t.same(parseListenOption('[::1]:0'), { kind: 'listen', host: '::1', port: 0 });
  t.same(parseListenOption('localhost:80'), { kind: 'listen', host: 'localhost', port: 80 });
  t.same(parseListenOption('off'), { kind: 'off' });
  t.same(
    parseListenOption(':9099'),
    { kind: 'listen', host: existsSync('/proc/net/if_inet6') ? '::' : '0.0.0.0', port: 9099 },
    ':PORT is every address',
  );
  for (const bad of [
    '9099',
    ':99999',
    ':',
    '127.0.0.1',
    '127.0.0.1:99999',
    '::1:9099',
    '[10.0.0.1]:9099',
    'a b:1',
    '127.0.0.1:-1',
    'on',
  ]) {
    let error: unknown;
    try {
      parseListenOption(bad);
    } catch (e) {
      error = e;
    }
    t.ok(error instanceof UsageError && error.argument === '--listen', `${bad} refused`);
  }
  const result = await cli(['run', '--node', 'n1', '--listen', '0.0.0.0', '--etcd-endpoints', 'http://127.0.0.1:1']);
  t.equal(result.code, 2);
  t.equal(
    result.stderr,
    'error: --listen "0.0.0.0": expected HOST:PORT (e.g. 127.0.0.1:9099, [::1]:9099, 0.0.0.0:9099), :PORT (every address), or off',
  );
});

t.test('liveness and readiness rules', async (t) => {
  const status = new RunStatus(['bird', 'bird6']);
  status.heartbeatAt = 1_000;
  t.same(checkLiveness(status, 1_500, 30_000), { alive: true, heartbeatAgeMs: 500 });
  t.same(checkLiveness(status, 40_000, 30_000), { alive: false, heartbeatAgeMs: 39_000 });
  const up = { bird: { ok: true }, bird6: { ok: true } } as const;
  const failing = (r: ReturnType<typeof checkReadiness>): string[] =>
    r.checks.filter((c) => !c.ok).map((c) => c.condition);
  t.same(
    failing(checkReadiness(status, { bird: { ok: false, error: 'x' }, bird6: { ok: true } })),
    ['datastore', 'applied', 'bird'],
    'a fresh start is not ready',
  );
  status.datastore = 'synced';
  const applied = (): void => {
    for (const d of ['bird', 'bird6'] as const)
      status.daemons[d] = { failure: undefined, reloadPending: false, lastAppliedAt: Date.now() };
  };
  applied();
  const clock = { now: 50_000 };
  t.same(checkReadiness(status, up, clock).ready, true);
  status.daemons.bird6!.failure = {
    kind: 'validation',
    message: 'bird6 -p rejected the configuration: …',
    at: Date.now(),
    daemon: 'bird6',
  };
  t.same(failing(checkReadiness(status, up, clock)), ['bird6'], 'a failure belongs to its daemon only');
  t.match(
    checkReadiness(status, up, clock).checks.find((c) => c.condition === 'bird6')?.message,
    /^failing since .*\(validation\): bird6 -p rejected/,
  );
  applied();
  status.renderFailure = { kind: 'template', message: 'bird.cfg.hbs: parse error', at: Date.now() };
  t.same(
    failing(checkReadiness(status, up, clock)),
    ['applied'],
    'a render failure holds both back: named once, under applied',
  );
  status.renderFailure = undefined;
  status.daemons.bird!.reloadPending = true;
  t.same(failing(checkReadiness(status, up, clock)), ['bird'], 'new files the daemon has not loaded yet');
  applied();
  status.cycleStartedAt = clock.now - 11_000;
  t.match(
    checkReadiness(status, up, clock).checks.find((c) => c.condition === 'applied'),
    { ok: false, message: /cycle has been running for 11\.0 s/ },
    'a stuck step',
  );
  status.cycleStartedAt = clock.now - 1_000;
  t.same(checkReadiness(status, up, clock).ready, true, 'a cycle running for 1 s is normal');
  status.cycleStartedAt = undefined;
  status.changePendingSince = clock.now - 12_000;
  t.match(
    checkReadiness(status, up, clock).checks.find((c) => c.condition === 'applied'),
    { ok: false, message: /change has waited 12\.0 s/ },
    'a change retried for too long',
  );
  status.changePendingSince = undefined;
  status.quarantined = [
    { key: '/calico/bgp/v1/global/custom_filters/v4/x', value: 'bad', daemon: 'bird', reason: 'refused' },
  ];
  const withQuarantine = checkReadiness(status, up, clock);
  t.equal(withQuarantine.ready, true, 'a quarantined entry is a skipped entry: ready, and named');
  t.match(
    withQuarantine.checks.find((c) => c.condition === 'applied')?.message,
    /1 entry quarantined \(\/calico\/bgp\/v1\/global\/custom_filters\/v4\/x\)/,
  );
  status.datastore = 'disconnected';
  status.datastoreSince = Date.parse('2026-01-02T03:04:05.000Z');
  t.match(checkReadiness(status, up).checks[0], {
    condition: 'datastore',
    ok: false,
    message: 'etcd connection lost since 2026-01-02T03:04:05.000Z',
  });
  status.datastore = 'stale';
  status.datastoreDetail = 'etcd member 127.0.0.1:2379 did not answer for 5000 ms';
  t.match(checkReadiness(status, up).checks[0], {
    ok: false,
    message: 'datastore stale since 2026-01-02T03:04:05.000Z: etcd member 127.0.0.1:2379 did not answer for 5000 ms',
  });
  status.datastore = 'resyncing';
  status.datastoreDetail = 'etcd revision went backwards';
  t.match(checkReadiness(status, up).checks[0], {
    ok: false,
    message: 're-reading etcd since 2026-01-02T03:04:05.000Z: etcd revision went backwards',
  });
});

t.test('the endpoint: paths, methods, read-only, 503 bodies; metrics follow cycle reports', async (t) => {
  const dir = tempDir(t);
  const status = new RunStatus(['bird', 'bird6']);
  let now = 10_000;
  status.heartbeatAt = now;
  const sockets = { bird: join(dir, 'none.ctl'), bird6: join(dir, 'none6.ctl') };
  const metrics = new BirdwatchMetrics({
    status,
    sockets,
    queryFamilyStatus,
    ipip: 'off',
    perPeer: false,
    processMetrics: false,
    now: () => now,
  });
  const server = await startOpsServer({
    host: '127.0.0.1',
    port: 0,
    status,
    metrics,
    sockets,
    log: silent,
    livenessStaleMs: 5_000,
    now: () => now,
  });
  t.teardown(() => server.close());
  const base = `http://127.0.0.1:${server.address.port}`;
  const get = async (
    path: string,
    init: RequestInit = {},
  ): Promise<{ code: number; body: string; headers: Headers }> => {
    const res = await fetch(`${base}${path}`, init);
    return { code: res.status, body: await res.text(), headers: res.headers };
  };

  t.equal((await get('/healthz')).code, 200);
  now += 6_000;
  const stuck = await get('/healthz');
  t.equal(stuck.code, 503, 'a heartbeat older than the limit: the loop is stuck');
  t.match(JSON.parse(stuck.body), { status: 'stuck', heartbeatAgeSeconds: 6 });
  status.heartbeatAt = now;
  t.equal((await get('/healthz')).code, 200);

  const notReady = await get('/readyz');
  t.equal(notReady.code, 503);
  const body = JSON.parse(notReady.body) as { failing: { condition: string; message: string }[] };
  t.same(
    body.failing.map((f) => f.condition),
    ['datastore', 'applied', 'bird', 'bird6'],
    'every failing condition is named',
  );
  t.match(body.failing[2]?.message, /bird does not answer: .*none\.ctl/);

  for (const method of ['POST', 'PUT', 'DELETE']) {
    const res = await get('/readyz', { method });
    t.equal(res.code, 405, `${method} refused`);
    t.equal(res.headers.get('allow'), 'GET, HEAD');
  }
  t.equal((await get('/nope')).code, 404);
  const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
  t.equal(head.status, 200);
  t.equal(await head.text(), '');

  let samples = parsePrometheusText((await get('/metrics')).body);
  t.equal(
    valueOf(samples, 'birdwatch_cycles_total', { result: 'applied' }),
    0,
    'counters exist before the first cycle',
  );
  t.equal(valueOf(samples, 'birdwatch_bird_reachable', { daemon: 'bird' }), 0);
  t.equal(valueOf(samples, 'birdwatch_datastore_state', { state: 'syncing' }), 1);
  t.equal(valueOf(samples, 'birdwatch_ipip_mode', { mode: 'off' }), 1);
  t.equal(valueOf(samples, 'birdwatch_ipip_mode', { mode: 'krt-tunnel' }), 0);
  t.equal(
    samples.filter((s) => s.name.startsWith('process_') || s.name.startsWith('nodejs_')).length,
    0,
    'no process metrics when turned off',
  );

  metrics.cycleEnded({
    result: 'applied',
    failures: [],
    quarantined: 0,
    refusedEntries: 0,
    renderMs: 2,
    validateMs: 3,
    reloads: [
      { daemon: 'bird', result: 'applied', ms: 4 },
      { daemon: 'bird6', result: 'unreachable', ms: undefined },
    ],
    latencyMs: 12,
    diagnostics: [
      { key: keys.hostAddress('n9', 4), value: 'nope', action: 'skipped', reason: 'not an IPv4 address' },
      { key: keys.globalPeer(4, '10.0.0.1'), value: '{', action: 'skipped', reason: 'bad JSON' },
      { key: keys.globalPeer(4, '10.0.0.2'), value: '{', action: 'skipped', reason: 'bad JSON' },
    ],
  });
  metrics.cycleEnded({
    result: 'failed',
    failureKind: 'validation',
    failures: [{ kind: 'validation', daemon: 'bird' }],
    quarantined: 1,
    refusedEntries: 0,
    renderMs: 1,
    validateMs: 2,
    reloads: [],
    latencyMs: undefined,
    diagnostics: [],
  });
  samples = parsePrometheusText((await get('/metrics')).body);
  t.equal(valueOf(samples, 'birdwatch_cycles_total', { result: 'applied' }), 1);
  t.equal(valueOf(samples, 'birdwatch_cycles_total', { result: 'failed' }), 1);
  t.equal(valueOf(samples, 'birdwatch_cycle_failures_total', { kind: 'validation' }), 1);
  t.equal(valueOf(samples, 'birdwatch_validation_failures_total'), 1);
  t.equal(valueOf(samples, 'birdwatch_bird_reloads_total', { daemon: 'bird', result: 'applied' }), 1);
  t.equal(valueOf(samples, 'birdwatch_bird_reloads_total', { daemon: 'bird6', result: 'unreachable' }), 1);
  t.equal(valueOf(samples, 'birdwatch_change_applied_latency_seconds_count'), 1);
  t.equal(valueOf(samples, 'birdwatch_change_applied_latency_seconds_sum'), 0.012);
  t.equal(valueOf(samples, 'birdwatch_reload_duration_seconds_count', { daemon: 'bird' }), 1);
  t.equal(valueOf(samples, 'birdwatch_validate_duration_seconds_count'), 2);
  t.equal(
    valueOf(samples, 'birdwatch_skipped_entries', { kind: 'globalPeer', action: 'skipped' }),
    0,
    'the last rendering had no skipped entries',
  );
  metrics.cycleEnded({
    result: 'applied',
    failures: [],
    quarantined: 0,
    refusedEntries: 0,
    renderMs: 1,
    validateMs: undefined,
    reloads: [],
    latencyMs: undefined,
    diagnostics: [{ key: keys.globalPeer(4, '10.0.0.1'), value: '{', action: 'skipped', reason: 'bad JSON' }],
  });
  samples = parsePrometheusText((await get('/metrics')).body);
  t.equal(
    valueOf(samples, 'birdwatch_skipped_entries', { kind: 'globalPeer', action: 'skipped' }),
    1,
    'by key kind and action, not free text',
  );
  t.notOk(
    samples.some((s) => Object.values(s.labels).some((v) => v.includes('/calico/'))),
    'no key paths as label values',
  );
});

t.test('an address in use: the explicit --listen fails naming it', async (t) => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen({ host: '127.0.0.1', port: 0 }, resolve));
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const port = (blocker.address() as { port: number }).port;
  const status = new RunStatus(['bird', 'bird6']);
  const sockets = { bird: '/nonexistent/b.ctl', bird6: '/nonexistent/b6.ctl' };
  const metrics = new BirdwatchMetrics({
    status,
    sockets,
    queryFamilyStatus,
    ipip: 'off',
    perPeer: false,
    processMetrics: false,
  });
  const error = await startOpsServer({ host: '127.0.0.1', port, status, metrics, sockets, log: silent }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(error instanceof OpsServerListenError && /address already in use/.test(error.message), String(error));

  const dir = tempDir(t);
  const proc = spawnBirdwatch(t, [
    'run',
    '--node',
    'n1',
    '--config-dir',
    join(dir, 'c'),
    '--listen',
    `127.0.0.1:${port}`,
    '--ipip',
    'off',
    '--etcd-endpoints',
    `http://127.0.0.1:${await freePort()}`,
  ]);
  t.equal((await exitWithin(proc, 20_000)).code, 2);
  t.equal(
    proc.stderr().trim(),
    `error: --listen "127.0.0.1:${port}": cannot listen on 127.0.0.1:${port}: address already in use`,
  );
});

t.test(
  'a clash on the default address is logged and run carries on; on an explicit one it is a usage error',
  async (t) => {
    const chunks: string[] = [];
    const stream = new PassThrough();
    stream.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
    const log = createLogger({ level: 'info', pretty: false, destination: stream });
    const clash = async (): Promise<never> => {
      throw new OpsServerListenError('cannot listen on 127.0.0.1:9099: address already in use', 'EADDRINUSE');
    };
    t.equal(
      await listenOps({ kind: 'listen', host: '127.0.0.1', port: 9099 }, undefined, clash, log),
      undefined,
      'default: no endpoint, no exit',
    );
    t.match(JSON.parse(chunks.join('')), { level: 50, event: 'ops-listen-failed', component: 'http' });
    const error = await listenOps({ kind: 'listen', host: '127.0.0.1', port: 9099 }, '127.0.0.1:9099', clash, log).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(error instanceof UsageError && error.argument === '--listen', 'explicit: exit 2 naming --listen');
    t.equal(await listenOps({ kind: 'off' }, 'off', clash, log), undefined, 'off: nothing started');
  },
);

t.test('run --listen as a process: probes and metrics over loopback; SIGTERM closes the port', async (t) => {
  const etcd = await startEtcdForTest(t);
  await putKeyspace(
    etcd.endpoints,
    new Map([
      [keys.hostAddress('n1', 4), '127.0.0.1'],
      [keys.hostAddress('n2', 4), '127.0.0.2'],
    ]),
  );
  const dir = tempDir(t);
  const port = await freePort();
  const proc = spawnBirdwatch(t, [
    'run',
    '--node',
    'n1',
    '--config-dir',
    join(dir, 'c'),
    '--listen',
    `127.0.0.1:${port}`,
    '--ipip',
    'off',
    '--etcd-endpoints',
    etcd.endpoints[0]!,
    '--bird-socket',
    join(dir, 'b.ctl'),
    '--bird6-socket',
    join(dir, 'b6.ctl'),
  ]);
  const base = `http://127.0.0.1:${port}`;
  const [listening] = await waitFor(
    'listening',
    () => linesOf(proc.lines, 'ops-listening'),
    (l) => l.length > 0,
    20_000,
  );
  t.match(listening, { component: 'http', address: `127.0.0.1:${port}` });
  t.equal((await fetch(`${base}/healthz`)).status, 200);
  const ready = await waitFor(
    'synced, BIRD missing',
    async () => (await fetch(`${base}/readyz`)).json() as Promise<{ failing: { condition: string }[] }>,
    (b) => !b.failing.some((f) => f.condition === 'datastore'),
  );
  t.same(
    ready.failing.map((f) => f.condition),
    ['applied', 'bird', 'bird6'],
    'synced with etcd; BIRD is not running, so nothing applied yet',
  );
  const samples = parsePrometheusText(await (await fetch(`${base}/metrics`)).text());
  t.equal(valueOf(samples, 'birdwatch_datastore_synced'), 1);
  t.ok((valueOf(samples, 'birdwatch_datastore_revision') ?? 0) > 0);
  t.ok((valueOf(samples, 'process_resident_memory_bytes') ?? 0) > 0, 'process metrics too');
  proc.kill('SIGTERM');
  t.equal((await exitWithin(proc, 20_000)).code, 0);
  await t.rejects(fetch(`${base}/healthz`), 'the port is closed after exit');
});
