/**
 * The shipped runit services (packaging/runit), run by the lab exactly as shipped: killing a host's bird,
 * bird6 or birdwatch by PID makes its runsv start it again and routing converges; a restarted BIRD keeps
 * the routes in the kernel meanwhile (-R with graceful restart). And the bird service does not start BIRD
 * before birdwatch has written a bird.cfg that `bird -p` accepts.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { createNamespace } from './harness/netns.js';
import { delay } from './harness/process.js';
import { addBlock, addPool } from './lab/keyspace.js';
import { block4, block6, labForTest, POOL4, POOL6, skipWithoutNamespaces } from './lab/e2e.js';
import { PACKAGED_RUNIT_SERVICES, type LabHost, type ServiceName } from './lab/lab.js';
import { expectRoute, expectSessions, protocolName, waitUntil, watchRoute } from './lab/observe.js';
import { descendants, processStartTime, stopProcesses, spawnDetached } from './lab/procs.js';

const TIMEOUT = 40_000;

/** SIGKILLs the service's process by PID and waits until its runsv runs a new one; returns the new PID. */
async function killAndWaitForRestart(t: Test, host: LabHost, service: ServiceName): Promise<number> {
  const pid = host.pid(service);
  if (pid === undefined) throw new Error(`${host.name}: ${service} is not running`);
  const started = Date.now();
  process.kill(pid, 'SIGKILL');
  let next: number | undefined;
  await waitUntil(
    `${host.name}: runsv starts ${service} again`,
    async () => {
      next = host.pid(service);
      return { ok: next !== undefined && next !== pid, seen: `PID ${String(next)}` };
    },
    { timeoutMs: 10_000, intervalMs: 50 },
  );
  t.ok(
    next !== undefined && next !== pid,
    `${host.name}: ${service} PID ${pid} SIGKILLed; runsv started PID ${String(next)} ${Date.now() - started} ms later`,
  );
  return next ?? 0;
}

t.test('runit restarts a killed bird, bird6 or birdwatch and routing converges', async (t) => {
  if (await skipWithoutNamespaces(t)) return;
  const lab = await labForTest(t, { hosts: 2 });
  const [h1, h2] = lab.hosts as [LabHost, LabHost];
  const client = lab.client();
  await addPool(client, POOL4);
  await addPool(client, POOL6);
  for (const h of [h1, h2]) {
    await addBlock(client, h.name, block4(h.index));
    await addBlock(client, h.name, block6(h.index));
  }
  /** The mesh Established and each block routed, v4 and v6, on both hosts. */
  const converged = async (t: Test): Promise<void> => {
    for (const [h, o] of [
      [h1, h2],
      [h2, h1],
    ] as const) {
      await expectSessions(t, h, 4, [protocolName('Mesh', o.ip4)], { timeoutMs: TIMEOUT });
      await expectSessions(t, h, 6, [protocolName('Mesh', o.ip6)], { timeoutMs: TIMEOUT });
      await expectRoute(t, h, block4(o.index), o.ip4, { timeoutMs: TIMEOUT });
      await expectRoute(t, h, block6(o.index), o.ip6, { timeoutMs: TIMEOUT });
    }
  };
  await converged(t);

  await t.test(
    'bird killed: runsv restarts it, sessions come back, the kernel keeps the routes meanwhile',
    async (t) => {
      const own = watchRoute(h2, block4(h1.index));
      const peer = watchRoute(h1, block4(h2.index));
      const started = Date.now();
      await killAndWaitForRestart(t, h2, 'bird');
      await expectSessions(t, h2, 4, [protocolName('Mesh', h1.ip4)], { timeoutMs: TIMEOUT });
      await expectSessions(t, h1, 4, [protocolName('Mesh', h2.ip4)], { timeoutMs: TIMEOUT });
      t.comment(`sessions Established again ${Date.now() - started} ms after the kill`);
      await converged(t);
      const [mine, theirs] = [await own.stop(), await peer.stop()];
      t.equal(mine.missing, 0, `h2's kernel kept h1's block through the restart (bird -R; ${mine.samples} samples)`);
      t.equal(
        theirs.missing,
        0,
        `h1's kernel kept h2's block through the restart (graceful restart; ${theirs.samples} samples)`,
      );
    },
  );

  await t.test('bird6 killed: runsv restarts it and the IPv6 session comes back', async (t) => {
    const started = Date.now();
    await killAndWaitForRestart(t, h1, 'bird6');
    await converged(t);
    t.comment(`converged ${Date.now() - started} ms after the kill`);
  });

  await t.test(
    'birdwatch killed: runsv restarts it (run --once, then run) and it applies the next change; BIRD keeps running',
    async (t) => {
      const birdPid = h1.pid('bird');
      await killAndWaitForRestart(t, h1, 'birdwatch');
      const started = Date.now();
      await addBlock(client, h1.name, '192.168.11.0/26');
      await expectRoute(t, h2, '192.168.11.0/26', h1.ip4, { timeoutMs: TIMEOUT });
      t.comment(`a block added after the kill reached h2's kernel ${Date.now() - started} ms after the write`);
      t.equal(h1.pid('bird'), birdPid, 'h1 bird was not restarted');
      await converged(t);
    },
  );
});

t.test('the bird service waits for a bird.cfg that bird -p accepts', async (t) => {
  if (await skipWithoutNamespaces(t)) return;
  const ns = await createNamespace(t, 'bwsv');
  const dir = mkdtempSync(join(tmpdir(), 'birdwatch-sv-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const serviceDir = join(dir, 'service');
  cpSync(join(PACKAGED_RUNIT_SERVICES, 'bird'), join(serviceDir, 'bird'), { recursive: true });
  const configDir = join(dir, 'config');
  const socket = join(dir, 'bird.ctl');
  const supervisor = await spawnDetached([...ns.exec, 'runsvdir', '-P', serviceDir], {
    label: 'runsvdir',
    logFile: join(dir, 'runsvdir.log'),
    env: {
      ...process.env,
      BIRDWATCH_CONFIG_DIR: configDir,
      BIRDWATCH_BIRD_SOCKET: socket,
      BIRDWATCH_LOG_DIR: join(dir, 'log'),
    },
    stopSignal: 'SIGHUP',
  });
  t.teardown(() => stopProcesses([supervisor.record]));
  const birds = (): number =>
    descendants(supervisor.record.pid).filter((p) => p.argv[0] === 'bird' && p.argv.includes('-d')).length;
  const log = join(dir, 'log', 'bird', 'current');
  await waitUntil(
    'the bird service says it waits',
    () =>
      Promise.resolve({
        ok: existsSync(log) && readFileSync(log, 'utf8').includes('waiting for birdwatch'),
        seen: 'no line yet',
      }),
    { timeoutMs: 10_000 },
  );
  t.equal(birds(), 0, 'no bird.cfg: BIRD is not started');
  mkdirSync(configDir, { recursive: true });
  writeFileSync(join(configDir, 'bird.cfg'), 'router id 10.0.0.1;\nprotocol device { scan time 2 }\n'); // missing ';' after 2
  await delay(1_000);
  t.equal(birds(), 0, 'a bird.cfg that bird -p rejects: BIRD is still not started');
  writeFileSync(join(configDir, 'bird.cfg'), 'router id 10.0.0.1;\nprotocol device { scan time 2; }\n');
  await waitUntil(
    'BIRD started by the service',
    () => Promise.resolve({ ok: birds() === 1 && existsSync(socket), seen: `${birds()} bird process(es)` }),
    {
      timeoutMs: 10_000,
    },
  );
  const bird = descendants(supervisor.record.pid).find((p) => p.argv[0] === 'bird');
  t.ok(
    bird !== undefined && processStartTime(bird.pid) !== undefined,
    'a valid bird.cfg: BIRD runs in the foreground under runsv',
  );
  t.same(
    bird?.argv.slice(1),
    ['-R', '-s', socket, '-d', '-c', join(configDir, 'bird.cfg')],
    'as calico-node ran it: bird -R -s SOCKET -d -c bird.cfg',
  );
});
