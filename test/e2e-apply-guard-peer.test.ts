/**
 * End to end, the apply guard (README "The apply guard") on an eBGP global peer: its AS changed to one the peer does
 * not have is reverted by itself and the key held back; birdwatch SIGKILLed inside a settle window leaves BIRD to
 * revert by itself (`configure timeout` expires), and the next start recovers and converges.
 */
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { keys } from '../src/model/keys.js';
import { addBlock, addGlobalPeer, addNodePeer, addPool, setNodeMesh } from './lab/keyspace.js';
import { block4, labForTest, POOL4, skipWithoutNamespaces } from './lab/e2e.js';
import { expectReady, guardArgs, waitLogged } from './lab/guard.js';
import type { LabHost } from './lab/lab.js';
import { expectRoute, expectSessions, protocolName, waitUntil } from './lab/observe.js';
import { readFileSync } from 'node:fs';

const TIMEOUT = 60_000;
// Several settle windows and session restarts in one lab: more than tap's 180 s default under load.
t.setTimeout(480_000);

t.test('a global peer AS the peer does not have is reverted; a kill mid-window reverts in BIRD', async (t) => {
  if (await skipWithoutNamespaces(t)) return;
  const lab = await labForTest(t, {
    hosts: [
      { name: 'a1', as: '64512' },
      { name: 'b1', as: '64513' },
    ],
    start: false,
  });
  const [a, b] = lab.hosts as [LabHost, LabHost];
  const client = lab.client();
  await setNodeMesh(client, false);
  await addPool(client, POOL4);
  for (const h of [a, b]) await addBlock(client, h.name, block4(h.index));
  // a1 peers with b1 as a global peer (b1 skips its own address); b1 peers back node-specifically.
  await addGlobalPeer(client, b.ip4, '64513');
  await addNodePeer(client, b.name, a.ip4, '64512');
  await Promise.all(
    lab.hosts.map((h) => lab.startHost(h.name, { extraArgs: guardArgs(join(lab.stateDir, `templates-${h.name}`)) })),
  );
  const session = protocolName('Global', b.ip4);
  await expectSessions(t, a, 4, [session], { timeoutMs: TIMEOUT });
  await expectRoute(t, b, block4(a.index), a.ip4, { timeoutMs: TIMEOUT });
  // A clean apply first: the guard holds a blamed key back at the value BIRD ran at the last one.
  await expectReady(t, a, true, /applied/, TIMEOUT);
  const key = keys.globalPeer(4, b.ip4);

  await t.test('the AS changed to one the peer does not have is reverted and the key named', async (t) => {
    await addGlobalPeer(client, b.ip4, '64999');
    const [reverted] = await waitLogged(a, 'guard-reverted', 1, TIMEOUT);
    t.match(reverted, { component: 'guard', daemon: 'bird' }, 'bird reverted');
    t.match(reverted?.msg, /not Established again/, "the verdict says the peer's session did not come back");
    const [held] = await waitLogged(a, 'guard-held-back', 1, TIMEOUT);
    t.match(held, { component: 'guard', daemon: 'bird', blamed: [key] }, 'the peer is blamed and held back');
    t.match(readFileSync(join(a.configDir, 'bird.cfg'), 'utf8'), /as 64513;/, 'bird.cfg put back');
    await expectSessions(t, a, 4, [session], { timeoutMs: TIMEOUT });
    await expectReady(t, a, false, new RegExp(`holds back ${key.replace(/\//g, '\\/')}`));
  });

  await t.test('birdwatch killed inside the window: BIRD reverts by itself; the next start converges', async (t) => {
    const service = join(a.serviceDir, 'birdwatch');
    const pid = a.pid('birdwatch');
    t.ok(pid, 'birdwatch runs');
    await addGlobalPeer(client, b.ip4, '64998'); // a new value: the hold lifts, the change is guarded again
    const guarded = await waitLogged(a, 'guard-window', 2, TIMEOUT, { daemon: 'bird' });
    t.match(
      guarded[1],
      { component: 'guard', daemon: 'bird', timeoutS: Number },
      'bird runs it under configure timeout',
    );
    // runsv must not restart it before BIRD's own timer expires: `sv once`, then SIGKILL by PID.
    await execa('sv', ['once', service]);
    process.kill(pid!, 'SIGKILL');
    let expired: string | undefined;
    await waitUntil(
      'bird logs that its configure timeout expired',
      async () => {
        const log = readFileSync(a.logs.bird, 'utf8').split('\n');
        expired = log.find((line) => line.includes('Config timeout expired, starting undo'));
        return { ok: expired !== undefined, seen: log.slice(-3).join(' | ') };
      },
      { timeoutMs: TIMEOUT },
    );
    t.match(expired, /Config timeout expired, starting undo/, "BIRD's own timer undid the configuration");
    await expectSessions(t, a, 4, [session], { timeoutMs: TIMEOUT });
    t.match(
      readFileSync(join(a.configDir, 'bird.cfg'), 'utf8'),
      /as 64513;/,
      'the files on disk stayed the confirmed set through the window (BIRD was given the staged set)',
    );
    await execa('sv', ['up', service]);
    const [recovered] = await waitLogged(a, 'guard-window-recovered', 1, TIMEOUT);
    t.match(recovered, { component: 'guard', daemon: 'bird', files: Array }, "the window recovered, bird's files back");
    const reverts = await waitLogged(a, 'guard-reverted', 2, TIMEOUT * 2);
    t.match(reverts[1], { component: 'guard', daemon: 'bird' }, 'the change guarded again and reverted');
    t.match(reverts[1]?.msg, /not Established again/, "again because the peer's session did not come back");
    await expectReady(t, a, false, new RegExp(`holds back ${key.replace(/\//g, '\\/')}`), TIMEOUT * 2);
    t.match(readFileSync(join(a.configDir, 'bird.cfg'), 'utf8'), /as 64513;/, 'converged on the previous files');
    await expectSessions(t, a, 4, [session], { timeoutMs: TIMEOUT });
    // The right AS again: nothing held back, ready.
    await addGlobalPeer(client, b.ip4, '64513');
    await expectReady(t, a, true, /applied/, TIMEOUT);
    await expectSessions(t, a, 4, [session], { timeoutMs: TIMEOUT });
  });
});
