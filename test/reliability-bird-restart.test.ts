/**
 * BIRD SIGKILLed and started again from the files on disk (`bird -R -d -c bird.cfg`, as runsv does) at each step
 * of a cycle — during bird -p, between the staged `configure` and the swap, inside a guarded window before and
 * after the verdict, during a quarantine round, during a plain reload — and BIRD restarted on drifted files or
 * reconfigured by hand with no etcd change: each ends with BIRD on the right set (its running facts compared with
 * what etcd says), the session to a real BGP peer Established, and readiness true to it (README "Reliability").
 * One etcd, one pair of BIRDs and a peer BIRD per BIRD version; the cycle is held at a step by pause points on
 * the real edges (test/support/pausePoints.ts). BIRD 2.0.12 and 3.3.2 (one daemon, their `show status` with times
 * to the ms, per-channel route counts) run the steps that prove the watcher, the guard's verdicts and the quarantine.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { runBirdCommand } from '../src/bird/controlSocket.js';
import { showBirdStatus } from '../src/bird/showStatusCommand.js';
import { DEFAULT_BIRD_WATCH_INTERVAL_MS } from '../src/controller/birdWatcher.js';
import type { ApplyGuardSettings } from '../src/controller/guard/settings.js';
import type { RunController } from '../src/controller/runController.js';
import type { Daemon } from '../src/model/daemon.js';
import { keys } from '../src/model/keys.js';
import { DEFAULT_AS_NUMBER } from '../src/model/nodeModel.js';
import { checkReadiness } from '../src/observe/health.js';
import { canCreateNamespaces } from './harness/netns.js';
import { writeLabBgpTemplates } from './lab/guard.js';
import { birdOfVersion, isMissing, type InstalledBird } from './support/birdVersions.js';
import { loopbackKeyspace } from './support/keyspaces.js';
import { PausePoints } from './support/pausePoints.js';
import { createWorld, sleep, waitFor, type World } from './support/world.js';
import { linesOf, type LogLine } from './support/logLines.js';
import type { LogEvent } from '../src/observe/logEvents.js';

t.setTimeout(240_000);

/** A short settle window: the peer's session comes back within it after a restart (the lab's timers). */
const GUARD: ApplyGuardSettings = { enabled: true, windowMs: 2_000, maxExportDropPercent: 50, marginS: 2, tickMs: 250 };
/** The peer BIRD at 127.0.0.2 is a global peer of the node (the scenarios); the mesh is off. */
const PEER = 'Global_127_0_0_2';
const peerKey = (ip: string): string => keys.globalPeer(4, ip);
const peerValue = (ip: string, as = String(DEFAULT_AS_NUMBER)): string => JSON.stringify({ ip, as_num: as });
const POOL = '10.60.0.0/16';
const BLOCK = '10.60.1.0/26';

/** One protocol's running facts, from BIRD itself (`show protocols all <name>`). */
async function runningFacts(
  world: World,
  protocol: string,
): Promise<{ neighborAs: string | undefined; state: string; exported: number | undefined }> {
  const reply = await runBirdCommand(world.sockets.bird, `show protocols all ${protocol}`, { timeoutMs: 5_000 });
  const texts = reply.lines.map((l) => l.text);
  const first = (pattern: RegExp): string | undefined =>
    texts.map((l) => pattern.exec(l)?.[1]).find((v) => v !== undefined);
  const row = reply.lines.find((l) => l.code === 1002)?.text ?? '';
  const exported = first(/Routes:\s+\d+ imported, (\d+) exported/);
  return {
    neighborAs: first(/Neighbor AS:\s+(\d+)/),
    state: row.split(/\s+/)[5] ?? '?',
    exported: exported === undefined ? undefined : Number(exported),
  };
}

const established = (world: World, protocol = PEER): Promise<unknown> =>
  waitFor(
    `${protocol} Established`,
    () => runningFacts(world, protocol),
    (f) => f.state === 'Established',
    20_000,
  );

/** `/readyz` as the controller's status says it, with each BIRD asked whether it answers. */
async function readiness(world: World, controller: RunController) {
  const answers: Partial<Record<Daemon, { ok: true } | { ok: false; error: string }>> = {};
  for (const daemon of world.daemons)
    answers[daemon] = await showBirdStatus(world.sockets[daemon], { timeoutMs: 2_000 }).then(
      () => ({ ok: true as const }),
      (error: Error) => ({ ok: false as const, error: error.message }),
    );
  return checkReadiness(controller.status, answers);
}

const waitReady = (world: World, controller: RunController, timeoutMs = 20_000) =>
  waitFor(
    'ready',
    () => readiness(world, controller),
    (r) => r.ready,
    timeoutMs,
  );

/** SIGKILL by PID, then BIRD started again on the config dir's file, as runsv does. */
async function killAndRestart(world: World, daemon: Daemon = 'bird'): Promise<void> {
  const bird = world.birds[daemon]!;
  bird.kill('SIGKILL');
  await bird.exited;
  await world.startBird(daemon, { recover: true });
}

const events = (world: World, event: LogEvent): LogLine[] => linesOf(world.logLines(), event);

/**
 * The steps BIRD 2/3 run too: the guard's verdicts (a revert, a confirm judged by per-channel export counts), the
 * quarantine, and the watcher's `show status`. The others prove the cycle's order, which no dialect changes.
 */
const EVERY_BIRD = [
  'inside a guarded window',
  'after the verdict',
  'during a quarantine round',
  'BIRD restarted on an older bird.cfg',
  'BIRD reconfigured by hand',
];

for (const version of [undefined, '2.0.12', '3.3.2'] as const)
  t.test(`BIRD ${version ?? '1.6'} killed and restarted at each step of a cycle`, async (t) => {
    if (!(await canCreateNamespaces())) {
      t.plan(0, 'needs network namespaces (ip netns add failed)');
      return;
    }
    const installed = version === undefined ? undefined : birdOfVersion(version);
    if (installed !== undefined && isMissing(installed)) {
      t.plan(0, installed.missing);
      return;
    }
    await restartSteps(t, installed);
  });

async function restartSteps(t: Test, bird: InstalledBird | undefined): Promise<void> {
  const step = async (name: string, fn: (t: Test) => Promise<void>): Promise<void> => {
    if (bird === undefined || EVERY_BIRD.some((prefix) => name.startsWith(prefix))) await t.test(name, fn);
  };
  const templatesDir = mkdtempSync(join(tmpdir(), 'birdwatch-templates-'));
  t.teardown(() => rmSync(templatesDir, { recursive: true, force: true }));
  writeLabBgpTemplates(templatesDir);
  const keyspace = loopbackKeyspace(
    [keys.nodeMesh, JSON.stringify({ enabled: false })],
    [peerKey('127.0.0.2'), peerValue('127.0.0.2')],
  );
  const world = await createWorld(t, { keyspace, templatesDir, ...(bird && { bird }) });
  t.teardown(() => {
    if (!t.passing())
      t.comment(
        world
          .logLines()
          .map((l) => `${String(l['event'] ?? '-')} ${String(l['msg'])}`)
          .join('\n'),
      );
  });
  const pause = new PausePoints();
  let controller = await world.startController({
    guard: GUARD,
    pause,
    watchIntervalMs: DEFAULT_BIRD_WATCH_INTERVAL_MS,
  });
  await world.startBirds();
  await world.startPeer();
  await established(world);
  await waitReady(world, controller);

  await step('during bird -p, BIRD holding the staged set: restarted on the disk, reloaded', async (t) => {
    const held = pause.arm('validate', { daemon: 'bird' });
    await world.client.put(peerKey('127.0.0.3')).value(peerValue('127.0.0.3'));
    await held.reachedWithin(20_000);
    await killAndRestart(world);
    held.release();
    const ms = await world.waitConverged('after the kill during bird -p', 15_000);
    t.ok(ms < 15_000, `converged ${Math.round(ms)} ms after the release`);
    await established(world);
    t.ok((await waitReady(world, controller)).ready);
  });

  await step('between the staged configure and the swap: the restart is noticed at the cycle end', async (t) => {
    const held = pause.arm('reload-staged', { daemon: 'bird' });
    await world.client.delete().key(peerKey('127.0.0.3'));
    await held.reachedWithin(20_000);
    await killAndRestart(world); // BIRD loads the disk: the set before the change (Global_127_0_0_3 still in it)
    held.release();
    await world.waitConverged('after the kill before the swap', 15_000);
    t.ok(
      events(world, 'bird-drift').some((l) => l['cause'] === 'restarted'),
      'the restarted BIRD was noticed (bird-drift, restarted)',
    );
    await established(world);
    t.ok((await waitReady(world, controller)).ready);
  });

  await step(
    "inside a guarded window, before the verdict (the issue's scenario 1): BIRD restarts on the confirmed set",
    async (t) => {
      const key = peerKey('127.0.0.2');
      await controller.idle();
      await world.client.put(key).value(peerValue('127.0.0.2', '64999')); // the peer is AS 64511: the session cannot come back
      await waitFor(
        'the settle window',
        () => controller.status.guarding,
        (g) => g !== undefined,
        15_000,
      );
      t.equal((await runningFacts(world, PEER)).neighborAs, '64999', 'BIRD runs the change under its timer');
      t.match(
        readFileSync(join(world.configDir, 'bird.cfg'), 'utf8'),
        /neighbor 127\.0\.0\.2 as 64511;/,
        'the disk keeps the confirmed set',
      );
      await killAndRestart(world);
      t.equal(
        (await runningFacts(world, PEER)).neighborAs,
        String(DEFAULT_AS_NUMBER),
        'restarted from disk, BIRD loads the confirmed set',
      );
      // The window ends without a verdict, the change goes out again under the guard, and is reverted.
      const held = await waitFor(
        'the change held back',
        () => controller.status.guardHolds,
        (h) => h.some((x) => x.key === key),
        30_000,
      );
      t.ok(held);
      t.ok(events(world, 'guard-window-abandoned').some((l) => l['cause'] === 'restarted'));
      t.ok(events(world, 'guard-reverted').length > 0);
      await controller.idle();
      const facts = await runningFacts(world, PEER);
      t.equal(facts.neighborAs, String(DEFAULT_AS_NUMBER), 'BIRD runs the set birdwatch stands behind');
      await established(world);
      const r = await readiness(world, controller);
      t.notOk(r.ready, 'not ready while a change is held back');
      t.match(r.checks.find((c) => c.condition === 'applied')?.message, /^the apply guard reverted a change/);
      t.match(readFileSync(join(world.configDir, 'bird.cfg'), 'utf8'), /neighbor 127\.0\.0\.2 as 64511;/);
      await world.client.put(key).value(peerValue('127.0.0.2'));
      await waitReady(world, controller, 30_000);
      await established(world);
    },
  );

  await step('after the verdict, before the swap: the confirmed set is loaded again', async (t) => {
    await controller.idle();
    const held = pause.arm('confirm', { daemon: 'bird' });
    // A pool and a block of this node: the export filter changes (guarded); the session stays up, exports grow.
    await world.client
      .if(keys.hostAddress('n1', 4), 'Create', '>', -1)
      .then(
        world.client.put(keys.pool(4, POOL)).value(JSON.stringify({ cidr: POOL })),
        world.client.put(keys.block('n1', 4, BLOCK)).value('{}'),
      )
      .commit();
    await held.reachedWithin(20_000);
    await killAndRestart(world); // loads the disk: the set before the change
    held.release();
    await world.waitConverged('after the kill between confirm and swap', 15_000);
    await established(world);
    await waitFor(
      'the block exported to the peer',
      () => runningFacts(world, PEER),
      (f) => f.exported === 1,
      15_000,
    );
    t.ok((await waitReady(world, controller)).ready);
  });

  await step('during a quarantine round: the rest applies, the entry is named', async (t) => {
    await controller.idle();
    const held = pause.arm('validate', { daemon: 'bird', nth: 2 });
    const broken = keys.customFilter(4, 'broken');
    await world.client
      .if(keys.hostAddress('n1', 4), 'Create', '>', -1)
      .then(
        world.client.put(broken).value('if net ~ then reject;'),
        world.client.put(peerKey('127.0.0.4')).value(peerValue('127.0.0.4')),
      )
      .commit();
    await held.reachedWithin(20_000);
    await killAndRestart(world);
    held.release();
    await waitFor(
      'Global_127_0_0_4 running',
      () => world.protocols('bird'),
      (p) => p.includes('Global_127_0_0_4'),
      15_000,
    );
    await established(world);
    const r = await waitReady(world, controller);
    t.match(
      r.checks.find((c) => c.condition === 'applied')?.message,
      /quarantined \(\/calico\/bgp\/v1\/global\/custom_filters\/v4\/broken\)/,
    );
    await world.client.delete().key(broken);
    await world.waitConverged('the quarantined entry removed', 15_000);
  });

  await step(
    "BIRD restarted on an older bird.cfg, no etcd change (the issue's scenario 2): repaired within the bound",
    async (t) => {
      await world.client.put(peerKey('127.0.0.6')).value(peerValue('127.0.0.6'));
      await world.waitConverged('a peer added', 15_000);
      await controller.idle();
      const bird = readFileSync(join(world.configDir, 'bird.cfg'), 'utf8');
      const older = bird.replace(/protocol bgp Global_127_0_0_6 [^}]*}\n/, '');
      t.not(older, bird, 'the older file lacks a peer etcd has');
      writeFileSync(join(world.configDir, 'bird.cfg'), older);
      const drifts = events(world, 'bird-drift').length;
      const started = performance.now();
      await killAndRestart(world);
      const ms = await world.waitConverged('scenario 2', 15_000);
      const bound = DEFAULT_BIRD_WATCH_INTERVAL_MS + 3_000;
      t.ok(ms <= bound, `BIRD runs what etcd says ${Math.round(ms)} ms after its restart (bound ${bound} ms)`);
      t.comment(`restart → repaired: ${Math.round(performance.now() - started)} ms`);
      const seen = events(world, 'bird-drift').slice(drifts);
      t.ok(
        seen.some((l) => l['cause'] === 'restarted'),
        `the restart was noticed: ${JSON.stringify(seen.map((l) => l['cause']))}`,
      );
      t.ok(events(world, 'bird-drift-repaired').length > 0);
      await established(world);
      t.ok((await waitReady(world, controller)).ready);
    },
  );

  await step('BIRD reconfigured by hand (birdc configure of other files): noticed and reloaded', async (t) => {
    await controller.idle();
    // Another writer's set beside the node's (its includes resolve there): the node's file without its last peer.
    const other = join(world.configDir, 'other-bird.cfg');
    t.teardown(() => rmSync(other, { force: true }));
    const bird = readFileSync(join(world.configDir, 'bird.cfg'), 'utf8');
    writeFileSync(other, bird.replace(/protocol bgp Global_127_0_0_6 [^}]*}\n/, ''));
    // BIRD prints its reconfiguration time to the second: one by hand in the same second as birdwatch's last
    // cannot be told apart.
    await sleep(1_100);
    const drifts = events(world, 'bird-drift').length;
    await runBirdCommand(world.sockets.bird, `configure "${other}"`, { timeoutMs: 5_000 });
    // BIRD 3.3.2 answers 0004 (Reconfiguration in progress) when a protocol goes: it is listed until it has shut down.
    const running = await waitFor(
      'BIRD on the other set',
      () => world.protocols('bird'),
      (names) => !names.includes('Global_127_0_0_6'),
      5_000,
    );
    t.notOk(running.includes('Global_127_0_0_6'), 'BIRD runs the other set');
    await waitFor(
      'noticed',
      () => events(world, 'bird-drift').slice(drifts),
      (seen) => seen.some((l) => l['cause'] === 'reconfigured'),
      DEFAULT_BIRD_WATCH_INTERVAL_MS + 3_000,
    );
    await world.waitConverged('after the configure by hand', 10_000);
    await waitReady(world, controller);
  });

  await step('a custom filter over 64 KiB is skipped: still ready, and /readyz names its key', async (t) => {
    const big = keys.customFilter(4, 'huge');
    await world.client.put(big).value(`# ${'x'.repeat(70 * 1024)}\nreject;`);
    const r = await waitFor(
      'the skipped entry named',
      () => readiness(world, controller),
      (x) => x.checks.some((c) => c.condition === 'applied' && c.message.includes(big)),
      15_000,
    );
    t.ok(r.ready, 'skipped entries leave the node ready');
    t.match(
      r.checks.find((c) => c.condition === 'applied')?.message,
      /1 entry skipped \(\/calico\/bgp\/v1\/global\/custom_filters\/v4\/huge\)/,
    );
    await world.client.delete().key(big);
  });

  await step('during a plain reload (--sequential-reload): the restarted BIRD takes it', async (t) => {
    await controller.close();
    controller = await world.startController({ guard: GUARD, pause, overlap: false });
    await waitReady(world, controller);
    const held = pause.arm('reload', { daemon: 'bird' });
    await world.client.put(peerKey('127.0.0.5')).value(peerValue('127.0.0.5'));
    await held.reachedWithin(20_000);
    t.match(readFileSync(join(world.configDir, 'bird.cfg'), 'utf8'), /Global_127_0_0_5/, 'swapped before the reload');
    await killAndRestart(world);
    held.release();
    await world.waitConverged('after the kill during the plain reload', 15_000);
    await established(world);
    t.ok((await waitReady(world, controller)).ready);
  });
}
