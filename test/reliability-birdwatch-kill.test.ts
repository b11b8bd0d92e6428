/**
 * birdwatch SIGKILLed at each step of a cycle — during bird -p, between the staged `configure` and the swap,
 * during a plain reload, inside a guarded window before and after the verdict, during a quarantine round — and
 * started again as runsv does (the real `birdwatch run`): each ends with whole, valid files, BIRD on the right set,
 * the session to a real BGP peer Established and `/readyz` ready. Then SIGTERM's bound (README "Reliability"): a
 * BIRD that does not answer (SIGSTOPped) during a `configure` and inside a settle window, etcd unreachable, and
 * SIGTERM after a SIGHUP storm — each process ends within the deadline, nothing logged after "stopped".
 * The killed birdwatch is test/support/pausingBirdwatch.ts: the run loop with a pause point on its edges.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { runBirdCommand } from '../src/bird/controlSocket.js';
import { validateBirdConfig } from '../src/bird/validateConfig.js';
import { guardMarkerName } from '../src/controller/guard/marker.js';
import type { ApplyGuardSettings } from '../src/controller/guard/settings.js';
import { SHUTDOWN_DEADLINE_MS, SHUTDOWN_GRACE_MS } from '../src/controller/shutdownGrace.js';
import { keys } from '../src/model/keys.js';
import { DEFAULT_AS_NUMBER } from '../src/model/nodeModel.js';
import { canCreateNamespaces } from './harness/netns.js';
import { envWithout, exitOf, freePort, spawnLogged } from './harness/process.js';
import { labBgpTemplate } from './lab/guard.js';
import { startBirdwatch, type ChildBirdwatch } from './reliability/childBirdwatch.js';
import { loopbackKeyspace } from './support/keyspaces.js';
import { linesOf } from './support/logLines.js';
import type { PausingBirdwatchConfig } from './support/pausingBirdwatch.js';
import { createWorld, NODE, sleep, waitFor, type World } from './support/world.js';

t.setTimeout(300_000);

const PAUSING_MAIN = fileURLToPath(new URL('./support/pausingBirdwatch.ts', import.meta.url));
const GUARD: ApplyGuardSettings = { enabled: true, windowMs: 2_000, maxExportDropPercent: 50, marginS: 2, tickMs: 500 };
const GUARD_ARGS = ['--guard-window', '2s', '--guard-margin', '2s'];
const PEER = 'Global_127_0_0_2';
const peerKey = (ip: string): string => keys.globalPeer(4, ip);
const peerValue = (ip: string): string => JSON.stringify({ ip, as_num: String(DEFAULT_AS_NUMBER) });

const parseLines = (file: string): Record<string, unknown>[] =>
  (existsSync(file) ? readFileSync(file, 'utf8') : '').split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });

async function sessionState(world: World, protocol = PEER): Promise<string> {
  const reply = await runBirdCommand(world.sockets.bird, `show protocols ${protocol}`, { timeoutMs: 5_000 });
  return reply.lines.find((l) => l.code === 1002)?.text.split(/\s+/)[5] ?? '?';
}

const established = (world: World): Promise<string> =>
  waitFor(
    `${PEER} Established`,
    () => sessionState(world),
    (s) => s === 'Established',
    20_000,
  );

/** `/readyz` of a real birdwatch. */
async function readyz(port: number): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(5_000) });
  return { status: response.status, body: await response.text() };
}

/** After a kill: every file whole, and bird -p / bird6 -p accept the set as it is. */
async function filesValid(world: World): Promise<void> {
  for (const main of ['bird.cfg', 'bird6.cfg']) {
    const result = await validateBirdConfig({
      binary: main === 'bird.cfg' ? 'bird' : 'bird6',
      configPath: join(world.configDir, main),
    });
    if (!result.ok) throw new Error(`${main} after the kill: ${result.raw}`);
  }
}

t.test('birdwatch killed at each step, then stopped within the bound', async (t) => {
  if (!(await canCreateNamespaces())) {
    t.plan(0, 'needs network namespaces (ip netns add failed)');
    return;
  }
  const templatesDir = mkdtempSync(join(tmpdir(), 'birdwatch-templates-'));
  t.teardown(() => rmSync(templatesDir, { recursive: true, force: true }));
  mkdirSync(join(templatesDir, 'partials'), { recursive: true });
  writeFileSync(join(templatesDir, 'partials', 'bgp.hbs'), labBgpTemplate());
  const keyspace = loopbackKeyspace(
    [keys.nodeMesh, JSON.stringify({ enabled: false })],
    [peerKey('127.0.0.2'), peerValue('127.0.0.2')],
  );
  const world = await createWorld(t, { keyspace, templatesDir });
  let runs = 0;

  /** The real `birdwatch run`, as runsv starts it (its own ops port). */
  const startReal = async (): Promise<{ child: ChildBirdwatch; port: number }> => {
    const port = await freePort();
    const child = await startBirdwatch(t, world, {
      args: [
        ...GUARD_ARGS,
        '--templates',
        templatesDir,
        '--listen',
        `127.0.0.1:${port}`,
        '--min-reload-interval',
        '50',
      ],
      logName: `birdwatch-${++runs}.log`,
    });
    return { child, port };
  };
  const waitReady = (port: number, timeoutMs = 30_000) =>
    waitFor(
      '/readyz 200',
      () => readyz(port).catch((error: Error) => ({ status: 0, body: error.message })),
      (r) => r.status === 200,
      timeoutMs,
    );

  /** The run loop with a pause point; resolves once it waits at the step (it never goes on). */
  const startPausing = async (pause: PausingBirdwatchConfig['pause'], overlap = true) => {
    const config: PausingBirdwatchConfig = {
      overlap,
      node: NODE,
      configDir: world.configDir,
      endpoints: world.etcd.endpoints,
      sockets: world.sockets,
      templatesDir,
      guard: GUARD,
      pause,
    };
    const logFile = join(world.dir, `pausing-${++runs}.log`);
    const child = await spawnLogged(process.execPath, ['--import', 'tsx', PAUSING_MAIN, JSON.stringify(config)], {
      logFile,
      env: envWithout('ETCD_'),
    });
    const exited = exitOf(child);
    t.teardown(() => {
      child.kill('SIGKILL');
    });
    await waitFor(
      'the pausing birdwatch synced',
      () => parseLines(logFile),
      (lines) => linesOf(lines, 'datastore-state', { state: 'synced' }).length > 0,
      30_000,
    );
    await sleep(300); // its first cycle (nothing to change) is over
    return {
      paused: () =>
        waitFor(
          `paused at ${pause.step}`,
          () => parseLines(logFile),
          (lines) => lines.some((l) => l['event'] === 'test-paused'),
          20_000,
        ),
      kill: async () => {
        child.kill('SIGKILL');
        await exited;
      },
    };
  };

  /** SIGKILL at `pause` after `change`; the real birdwatch started again converges, the peer Established, ready. */
  const killAt = async (
    t: Test,
    pause: PausingBirdwatchConfig['pause'],
    change: () => Promise<unknown> | PromiseLike<unknown>,
    check: (port: number, child: ChildBirdwatch) => Promise<void> = async () => undefined,
    overlap = true,
  ): Promise<void> => {
    const pausing = await startPausing(pause, overlap);
    await change();
    await pausing.paused();
    await pausing.kill();
    await filesValid(world);
    t.pass(`killed at ${pause.step}: the files on disk are whole and valid`);
    const started = performance.now();
    const { child, port } = await startReal();
    await established(world);
    await waitReady(port);
    await check(port, child);
    t.comment(`restart → ready: ${Math.round(performance.now() - started)} ms`);
    await child.stop();
    t.same(world.leftovers(), [], 'nothing left behind');
  };

  {
    const { child, port } = await startReal();
    await waitFor(
      'the first files',
      () => existsSync(join(world.configDir, 'bird6.cfg')),
      (ok) => ok,
      30_000,
    );
    await world.startBirds();
    await world.startPeer();
    await established(world);
    await waitReady(port);
    await child.stop();
  }

  await t.test('during bird -p (BIRD given the staged set meanwhile)', (t) =>
    killAt(
      t,
      { step: 'validate', daemon: 'bird' },
      async () => world.client.put(peerKey('127.0.0.3')).value(peerValue('127.0.0.3')),
      async () => void (await world.waitConverged('peer .3 added', 15_000)),
    ),
  );

  await t.test('between the staged configure and the swap', (t) =>
    killAt(
      t,
      { step: 'reload-staged', daemon: 'bird' },
      async () => world.client.delete().key(peerKey('127.0.0.3')),
      async () => void (await world.waitConverged('peer .3 removed', 15_000)),
    ),
  );

  await t.test('during a plain reload (a reload owed for the swapped files)', (t) =>
    killAt(
      t,
      { step: 'reload', daemon: 'bird' },
      async () => world.client.put(peerKey('127.0.0.5')).value(peerValue('127.0.0.5')),
      async () => void (await world.waitConverged('peer .5 added', 15_000)),
      false, // --sequential-reload: swap, then `configure`
    ),
  );

  const pool = (cidr: string, block: string) =>
    world.client
      .if(keys.hostAddress(NODE, 4), 'Create', '>', -1)
      .then(
        world.client.put(keys.pool(4, cidr)).value(JSON.stringify({ cidr })),
        world.client.put(keys.block(NODE, 4, block)).value('{}'),
      )
      .commit();

  await t.test('inside a guarded window, before the verdict: the next start undoes and guards it again', (t) =>
    killAt(
      t,
      { step: 'configure-timeout', daemon: 'bird' },
      async () => {
        await pool('10.60.0.0/16', '10.60.1.0/26');
      },
      async () => {
        await world.waitConverged('pool A', 15_000);
        t.match(
          readFileSync(join(world.configDir, 'bird_ipam.cfg'), 'utf8'),
          /10\.60\.0\.0\/16/,
          'confirmed and swapped in by the restarted birdwatch',
        );
      },
    ),
  );

  await t.test('after the verdict, before the swap: the next start undoes and guards it again', async (t) => {
    let markerAfterKill = false;
    await killAt(
      t,
      { step: 'confirm', daemon: 'bird' },
      async () => {
        await pool('10.61.0.0/16', '10.61.1.0/26');
      },
      async () => {
        await world.waitConverged('pool B', 15_000);
      },
    );
    markerAfterKill = !existsSync(join(world.configDir, guardMarkerName('bird')));
    t.ok(markerAfterKill, 'no marker left once converged');
  });

  await t.test('during a quarantine round', (t) =>
    killAt(
      t,
      { step: 'validate', daemon: 'bird', nth: 2 },
      () =>
        world.client
          .if(keys.hostAddress(NODE, 4), 'Create', '>', -1)
          .then(
            world.client.put(keys.customFilter(4, 'broken')).value('if net ~ then reject;'),
            world.client.put(peerKey('127.0.0.4')).value(peerValue('127.0.0.4')),
          )
          .commit(),
      async (port) => {
        t.ok((await world.protocols('bird')).includes('Global_127_0_0_4'), 'the rest applied');
        t.match((await readyz(port)).body, /quarantined \(\/calico\/bgp\/v1\/global\/custom_filters\/v4\/broken\)/);
        await world.client.delete().key(keys.customFilter(4, 'broken'));
        await world.waitConverged('the broken filter removed', 15_000);
      },
    ),
  );

  /** SIGTERM now; the time until the process exited, and its exit. */
  const stopTimed = async (child: ChildBirdwatch) => {
    const started = performance.now();
    child.kill('SIGTERM');
    const exit = await child.exited;
    return { ms: performance.now() - started, exit };
  };
  const afterStopped = (child: ChildBirdwatch) => {
    const lines = child.lines();
    const at = lines.findIndex((l) => l['event'] === 'stopped');
    return { stopped: at >= 0, after: at < 0 ? [] : lines.slice(at + 1) };
  };

  await t.test('SIGTERM while a configure waits on a BIRD that does not answer', async (t) => {
    const { child, port } = await startReal();
    await waitReady(port);
    const bird = world.birds.bird!;
    bird.kill('SIGSTOP');
    try {
      await world.client.put(peerKey('127.0.0.6')).value(peerValue('127.0.0.6'));
      await sleep(500); // rendered, validated, `configure` sent: it waits for BIRD
      const { ms, exit } = await stopTimed(child);
      t.ok(ms < SHUTDOWN_DEADLINE_MS, `exited ${Math.round(ms)} ms after SIGTERM (grace ${SHUTDOWN_GRACE_MS} ms)`);
      t.equal(exit.code, 0);
      t.ok(afterStopped(child).stopped, 'stopped');
    } finally {
      bird.kill('SIGCONT');
    }
    await filesValid(world);
    t.same(world.leftovers(), []);
  });

  await t.test('SIGTERM inside a settle window, BIRD not answering the undo; then after a SIGHUP storm', async (t) => {
    const { child, port } = await startReal();
    await waitReady(port);
    await pool('10.62.0.0/16', '10.62.1.0/26');
    await waitFor(
      'the settle window',
      () => child.lines(),
      (lines) => lines.some((l) => l['event'] === 'guard-window'),
      20_000,
    );
    const bird = world.birds.bird!;
    bird.kill('SIGSTOP');
    try {
      const { ms, exit } = await stopTimed(child);
      t.ok(ms < SHUTDOWN_DEADLINE_MS, `exited ${Math.round(ms)} ms after SIGTERM`);
      t.equal(exit.code, 0);
    } finally {
      bird.kill('SIGCONT');
    }
    await filesValid(world);
    t.notMatch(
      readFileSync(join(world.configDir, 'bird_ipam.cfg'), 'utf8'),
      /10\.62\./,
      'the disk kept the confirmed set',
    );
    const again = await startReal();
    await waitReady(again.port);
    await world.waitConverged('pool C after the restart', 15_000);
    await established(world);

    // The same birdwatch: a SIGHUP storm, then SIGTERM — nothing is logged after "stopped".
    for (let i = 0; i < 200; i++) again.child.kill('SIGHUP');
    await sleep(100);
    const storm = await stopTimed(again.child);
    t.equal(storm.exit.code, 0);
    t.ok(storm.ms < SHUTDOWN_DEADLINE_MS, `after a SIGHUP storm: exited ${Math.round(storm.ms)} ms after SIGTERM`);
    const { stopped, after } = afterStopped(again.child);
    t.ok(stopped);
    t.same(
      after.map((l) => l['event']),
      [],
      'no line after "stopped"',
    );
    t.notOk(
      again.child.lines().some((l) => Number(l['level']) >= 50),
      'no error logged',
    );
  });

  await t.test('SIGTERM while etcd does not answer', async (t) => {
    const { child, port } = await startReal();
    await waitReady(port);
    const etcdPid = world.etcd.pid(0)!;
    process.kill(etcdPid, 'SIGSTOP');
    try {
      await sleep(200);
      const { ms, exit } = await stopTimed(child);
      t.ok(ms < SHUTDOWN_DEADLINE_MS, `running: exited ${Math.round(ms)} ms after SIGTERM`);
      t.equal(exit.code, 0);
      // Started while etcd does not answer: still waiting for its first sync.
      const waiting = await startReal();
      await sleep(1_500);
      const start = await stopTimed(waiting.child);
      t.ok(start.ms < SHUTDOWN_DEADLINE_MS, `waiting for etcd: exited ${Math.round(start.ms)} ms after SIGTERM`);
      t.equal(start.exit.code, 0);
    } finally {
      process.kill(etcdPid, 'SIGCONT');
    }
  });
});
