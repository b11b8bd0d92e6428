import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t, { type Test } from 'tap';
import { nodeRole, type RoleRenderer } from '../../src/controller/roleRenderer.js';
import { RunController } from '../../src/controller/runController.js';
import { MemoryKeyspaceSource } from '../../src/datastore/memoryKeyspace.js';
import { keys } from '../../src/model/keys.js';
import { checkReadiness } from '../../src/observe/health.js';
import { createLogger } from '../../src/observe/logger.js';
import { BirdwatchMetrics } from '../../src/observe/metrics.js';
import { daemonOf } from '../../src/render/fileSet.js';
import { RunStatus } from '../../src/observe/runStatus.js';
import { FakeClock } from '../support/fakeClock.js';
import { linesOf, type LogLine } from '../support/logLines.js';
import { fakeBird } from '../support/fakeBird.js';
import { loopbackKeyspace, NODE } from '../support/keyspaces.js';

/**
 * Every branch of the run loop's cycle with an in-memory keyspace, a fake BIRD (bird -p and configure) and fake
 * time: milliseconds, no root, no etcd. The real-etcd/real-BIRD tests are the proof of each behaviour:
 * run.test.ts, apply-faults.test.ts, faults-bird.test.ts, faults-etcd.test.ts, observe-run.test.ts.
 */

const both = { bird: { ok: true }, bird6: { ok: true } } as const;

/** Waits (in real time, briefly) for what the cycle's real file I/O brings about. */
async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${condition.toString()}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

async function startRun(t: Test, options: { minReloadIntervalMs?: number; role?: RoleRenderer } = {}) {
  const configDir = mkdtempSync(join(tmpdir(), 'birdwatch-unit-run-'));
  t.teardown(() => rmSync(configDir, { recursive: true, force: true }));
  const clock = new FakeClock();
  const source = new MemoryKeyspaceSource(loopbackKeyspace());
  const bird = fakeBird(configDir, clock.now);
  const role = options.role ?? nodeRole(NODE, 'off');
  const status = new RunStatus(role.daemons);
  const lines: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
  const controller = await RunController.create({
    role,
    configDir,
    edges: bird.edges,
    bird: bird.edges,
    // The config-dir lock runs flock(1), a child process: here one process holds it (test/config-dir-lock.test.ts
    // and test/apply-faults.test.ts prove the real one).
    lockConfigDir: (dir) => Promise.resolve({ path: join(dir, '.birdwatch.lock'), release: () => Promise.resolve() }),
    templatesDir: undefined,
    minReloadIntervalMs: options.minReloadIntervalMs ?? 0,
    // The share bound off: these cases pin the explicit gap alone (the share is tested in coalescer.test.ts).
    maxReloadShare: 1,
    keyspace: source,
    log: createLogger({ level: 'debug', pretty: false, destination: stream }),
    status,
    clock,
  });
  t.teardown(() => controller.close());
  await controller.start();
  await controller.idle();
  const file = (name: string): string => readFileSync(join(configDir, name), 'utf8');
  const readiness = () => checkReadiness(status, both, { now: clock.now() });
  const logLines = (): LogLine[] => lines.map((l) => JSON.parse(l) as LogLine);
  const reloads = (): string[] => bird.reloaded.splice(0).map((r) => `${r.daemon}@${r.at}`);
  return { configDir, clock, source, bird, status, controller, file, readiness, logLines, reloads };
}

t.test('the first complete read, then one cycle: both daemons reloaded once, ready', async (t) => {
  const r = await startRun(t);
  t.same(r.reloads(), ['bird@0', 'bird6@0']);
  t.match(r.file('bird.cfg'), /Mesh_127_0_0_2/);
  t.equal(r.status.datastore, 'synced');
  t.equal(r.readiness().ready, true, JSON.stringify(r.readiness().checks));

  r.source.put(keys.hostAddress('n3', 4), '127.0.0.3');
  await r.controller.idle();
  t.same(r.reloads(), ['bird@0'], 'a v4 change reloads bird only');
  t.match(r.file('bird.cfg'), /Mesh_127_0_0_3/);

  const cycles = r.status.cycles;
  r.source.put('/calico/ipam/v2/host/other/ipv4/block/10.9.0.0-26', '{}');
  r.source.put('/calico/felix/v1/whatever', 'x');
  await r.controller.idle();
  t.equal(r.status.cycles, cycles, 'a change outside the role (another host, Felix) starts no cycle');
});

t.test('quarantine rounds: the refused entry is held back, the rest applied, each daemon reloaded once', async (t) => {
  const r = await startRun(t);
  r.reloads();
  const broken = keys.customFilter(4, 'broken');
  r.source.transaction([
    [broken, 'if net ~ 10.0.0.0/8 then BROKEN;'],
    [keys.hostAddress('n3', 4), '127.0.0.3'],
    [keys.hostAddress('n3', 6), '::3'],
  ]);
  await r.controller.idle();
  t.same(
    r.status.quarantined.map((q) => q.key),
    [broken],
  );
  t.match(r.file('bird.cfg'), /Mesh_127_0_0_3/, 'the other change is applied');
  t.notMatch(r.file('custom_filters.cfg'), /BROKEN/, 'the refused entry never reaches the live files');
  t.same(r.reloads().sort(), ['bird6@0', 'bird@0'], 'one reload each: no second one after the quarantine round');
  t.equal(r.readiness().ready, true, 'a quarantined entry does not make it unready');
  t.match(r.readiness().checks.find((c) => c.condition === 'applied')?.message, /1 entry quarantined/);

  r.source.put(broken, 'if net ~ 10.0.0.0/8 then reject;');
  await r.controller.idle();
  t.same(r.status.quarantined, [], 'a changed entry is tried again');
  t.same(r.reloads(), ['bird@0']);
});

t.test('a refused configure puts back the files the daemon runs; the retry applies them', async (t) => {
  const r = await startRun(t);
  r.reloads();
  const bird6Before = r.file('bird6.cfg');
  r.bird.reloads.bird6.push('rejected');
  r.source.transaction([
    [keys.hostAddress('n3', 4), '127.0.0.3'],
    [keys.hostAddress('n2', 6), '::2'],
  ]);
  await r.controller.idle();
  t.same(r.reloads().sort(), ['bird6@0', 'bird@0']);
  t.match(r.file('bird.cfg'), /Mesh_127_0_0_3/, 'bird took its change');
  t.equal(r.file('bird6.cfg'), bird6Before, 'bird6 refused: its previous files are back on disk');
  t.same(r.bird.putBack, [['bird6.cfg']]);
  t.equal(r.status.daemons.bird!.failure, undefined);
  t.equal(r.status.daemons.bird6!.failure?.kind, 'reload');
  const checks = r.readiness().checks;
  t.same(
    checks.filter((c) => !c.ok).map((c) => c.condition),
    ['bird6'],
    'only bird6 is not ready',
  );
  t.match(linesOf(r.logLines(), 'refused-put-back', { daemon: 'bird6' }), [{ files: ['bird6.cfg'] }]);

  t.same(r.clock.pending, [200], 'a retry is scheduled 200 ms out');
  await r.clock.advance(200);
  await r.controller.idle();
  t.same(r.reloads(), ['bird6@200']);
  t.match(r.file('bird6.cfg'), /Mesh___2/, 'the retry applies what bird6 refused before');
  t.equal(r.status.daemons.bird6!.failure, undefined);
  t.equal(r.readiness().ready, true);
});

t.test('one daemon failing never holds the other back', async (t) => {
  const r = await startRun(t);
  r.reloads();
  const bird6Before = r.file('bird6.cfg');
  r.bird.refuse.bird6 = 'syntax error, unexpected CF_SYM_UNDEFINED';
  r.source.transaction([
    [keys.hostAddress('n3', 4), '127.0.0.3'],
    [keys.hostAddress('n2', 6), '::2'],
  ]);
  await r.controller.idle();
  t.same(r.reloads(), ['bird@0'], 'bird is reloaded; bird6 is not (bird -p refused its set)');
  t.match(r.file('bird.cfg'), /Mesh_127_0_0_3/);
  t.equal(r.file('bird6.cfg'), bird6Before, 'bird6 keeps its live files');
  t.equal(r.status.daemons.bird6!.failure?.kind, 'validation');
  t.equal(r.status.daemons.bird!.failure, undefined);
  t.same(r.clock.pending, [], 'a refusal by bird -p is not retried: the same input would be refused again');

  r.bird.refuse.bird6 = undefined;
  r.source.put(keys.hostAddress('n4', 6), '::4');
  await r.controller.idle();
  t.same(r.reloads(), ['bird6@0']);
  t.match(r.file('bird6.cfg'), /Mesh___4/);
  t.equal(r.readiness().ready, true);
});

t.test('an unreachable BIRD is retried with backoff (200 ms doubling to 5 s), reset once it answers', async (t) => {
  const r = await startRun(t);
  r.reloads();
  r.bird.reloads.bird.push(...Array<'unreachable'>(7).fill('unreachable'));
  r.source.put(keys.hostAddress('n3', 4), '127.0.0.3');
  await r.controller.idle();
  t.equal(r.status.birdReachable.bird, false);
  t.same(
    r.readiness().checks.find((c) => c.condition === 'bird')?.message,
    'bird has new files it has not loaded yet (reload pending)',
  );
  const gaps: number[] = [];
  for (let i = 0; i < 7; i++) {
    const [next] = r.clock.pending;
    if (next === undefined) break;
    gaps.push(next);
    await r.clock.advance(next);
    await r.controller.idle();
  }
  t.same(gaps, [200, 400, 800, 1600, 3200, 5000, 5000]);
  t.same(
    r.reloads(),
    ['bird@0', 'bird@200', 'bird@600', 'bird@1400', 'bird@3000', 'bird@6200', 'bird@11200', 'bird@16200'],
    'only bird is asked again: bird6 had nothing to load',
  );
  t.equal(r.status.birdReachable.bird, true, 'the eighth attempt is answered');
  t.same(r.clock.pending, [], 'converged: no retry left');
  t.equal(r.readiness().ready, true);

  r.bird.reloads.bird.push('unreachable');
  r.source.put(keys.hostAddress('n4', 4), '127.0.0.4');
  await r.controller.idle();
  t.same(r.clock.pending, [200], 'the backoff starts again at 200 ms after a success');
});

t.test('changes during a cycle merge into one follow-up; the reload gap holds the next cycle', async (t) => {
  const r = await startRun(t, { minReloadIntervalMs: 250 });
  r.reloads();
  let answer: ((kind: 'applied') => void) | undefined;
  r.bird.reloads.bird.push(new Promise((resolve) => (answer = resolve)));
  await r.clock.advance(250);
  const cycles = r.status.cycles;
  r.source.put(keys.hostAddress('n3', 4), '127.0.0.3');
  await until(() => r.bird.reloaded.length === 1); // the cycle waits for bird's answer
  for (let i = 5; i < 25; i++) r.source.put(keys.hostAddress(`n${i}`, 4), `127.0.0.${i}`);
  answer?.('applied');
  await until(() => r.clock.pending.length > 0);
  t.equal(r.status.cycles, cycles + 1, 'the follow-up waits out the gap');
  t.same(r.clock.pending, [250]);
  await r.clock.advance(250);
  await r.controller.idle();
  t.equal(r.status.cycles, cycles + 2, 'twenty changes during a cycle: one follow-up cycle');
  t.same(r.reloads(), ['bird@250', 'bird@500']);
  t.match(r.file('bird.cfg'), /Mesh_127_0_0_24/);
});

t.test('a stale or lost datastore makes it unready, saying why; synced again: ready', async (t) => {
  const r = await startRun(t);
  t.equal(r.readiness().ready, true);
  r.source.setState('stale', { reason: 'etcd member 127.0.0.1:2379 did not answer for 5000 ms' });
  const stale = r.readiness();
  t.equal(stale.ready, false);
  t.match(stale.checks.find((c) => c.condition === 'datastore')?.message, /^datastore stale since \S+: etcd member/);
  t.equal(r.status.datastore, 'stale');
  const [staleLine] = linesOf(r.logLines(), 'datastore-state', { state: 'stale' });
  t.match(staleLine?.['msg'], /etcd member 127\.0\.0\.1:2379/, 'the log says why');

  r.source.setState('disconnected', { reason: 'connection refused' });
  t.match(r.readiness().checks.find((c) => c.condition === 'datastore')?.message, /^etcd connection lost since/);
  r.source.setState('synced');
  t.equal(r.readiness().ready, true);
});

t.test('SIGHUP: everything read again and both daemons reloaded once', async (t) => {
  const r = await startRun(t);
  r.reloads();
  await r.controller.refresh();
  await r.controller.idle();
  t.same(r.reloads().sort(), ['bird6@0', 'bird@0']);
  t.ok(linesOf(r.logLines(), 'reread').length > 0);
});

t.test('a layout with bird alone: no bird6 state, reload, readiness condition or metric', async (t) => {
  // As a BIRD 2 layout will be (one daemon serving both families): the node's layout without bird6's files.
  const node = nodeRole(NODE, 'off');
  const birdOnly: RoleRenderer = {
    ...node,
    layout: node.layout.filter((entry) => daemonOf(entry.file) === 'bird'),
    daemons: ['bird'],
    render: (keyspace, templates) => {
      const outcome = node.render(keyspace, templates);
      return { ...outcome, files: new Map([...outcome.files].filter(([file]) => daemonOf(file) === 'bird')) };
    },
  };
  const r = await startRun(t, { role: birdOnly });
  t.same(r.reloads(), ['bird@0'], 'only bird is reloaded');
  t.notOk(existsSync(join(r.configDir, 'bird6.cfg')));
  t.same(Object.keys(r.status.daemons), ['bird'], 'no bird6 state');
  t.same(Object.keys(r.status.reloads), ['bird']);
  const readiness = checkReadiness(r.status, { bird: { ok: true } }, { now: r.clock.now() });
  t.same(
    readiness.checks.map((c) => c.condition),
    ['datastore', 'applied', 'bird'],
    'no bird6 condition',
  );
  t.equal(readiness.ready, true, JSON.stringify(readiness.checks));
  const metrics = new BirdwatchMetrics({
    status: r.status,
    sockets: { bird: join(r.configDir, 'no-bird.ctl') },
    // No socket in the unit tier: BIRD answers as unreachable (test/observe-http.test.ts asks a real socket).
    queryFamilyStatus: (family, socketPath) =>
      Promise.resolve({ family, socketPath, reachable: false, error: 'no BIRD in the unit tier' }),
    ipip: 'off',
    perPeer: false,
    processMetrics: false,
  });
  const text = await metrics.scrape();
  t.notMatch(text, /daemon="bird6"/, 'no bird6 series');
  t.match(text, /birdwatch_daemon_in_sync\{daemon="bird"\} 1/);
});
