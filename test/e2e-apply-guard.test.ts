/**
 * End to end, the apply guard (README "The apply guard") in a two-host mesh with real BGP sessions: a harmless shared
 * change is confirmed; a custom filter that withdraws the routes a peer had is reverted by itself (undo, files put
 * back, the key named by /readyz and held back until it changes); a --templates override whose shared BGP template has
 * a wrong `local as` breaks every session and is reverted (both daemons), the templates held back.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import t, { type Test } from 'tap';
import { addBlock, addPool } from './lab/keyspace.js';
import { block4, block6, labForTest, POOL4, POOL6, skipWithoutNamespaces } from './lab/e2e.js';
import { birdwatchLog, customFilterKey, expectReady, guardArgs, labBgpTemplate, waitLogged } from './lab/guard.js';
import type { LabHost } from './lab/lab.js';
import { linesOf } from './support/logLines.js';
import { expectRoute, expectSessions, protocolName } from './lab/observe.js';

const TIMEOUT = 60_000;
// Several settle windows and session restarts in one lab: more than tap's 180 s default under load.
t.setTimeout(480_000);

t.test('the apply guard confirms a harmless shared change and reverts harmful ones', async (t) => {
  if (await skipWithoutNamespaces(t)) return;
  const lab = await labForTest(t, { hosts: 2, start: false });
  const [h1, h2] = lab.hosts as [LabHost, LabHost];
  const client = lab.client();
  await addPool(client, POOL4);
  await addPool(client, POOL6);
  for (const h of lab.hosts) {
    await addBlock(client, h.name, block4(h.index));
    await addBlock(client, h.name, block6(h.index));
  }
  const templatesDir = join(lab.stateDir, 'templates-h1');
  await Promise.all([
    lab.startHost(h1.name, { extraArgs: guardArgs(templatesDir) }),
    lab.startHost(h2.name, { extraArgs: guardArgs(join(lab.stateDir, 'templates-h2')) }),
  ]);
  const mesh = async (t: Test): Promise<void> => {
    await expectSessions(t, h1, 4, [protocolName('Mesh', h2.ip4)], { timeoutMs: TIMEOUT });
    await expectSessions(t, h1, 6, [protocolName('Mesh', h2.ip6)], { timeoutMs: TIMEOUT });
    await expectSessions(t, h2, 4, [protocolName('Mesh', h1.ip4)], { timeoutMs: TIMEOUT });
    await expectRoute(t, h2, block4(h1.index), h1.ip4, { timeoutMs: TIMEOUT });
  };
  await mesh(t);
  // A clean apply first: the guard holds a blamed key back at the value BIRD ran at the last one.
  await expectReady(t, h1, true, /applied/, TIMEOUT);

  await t.test('a harmless shared change (a custom filter no route matches) is confirmed', async (t) => {
    await client.put(customFilterKey('harmless')).value('if ( net ~ 10.254.0.0/16 ) then reject;');
    // An IPv4 custom filter: bird's files change, bird6's do not.
    for (const h of [h1, h2]) {
      const [confirmed] = await waitLogged(h, 'guard-confirmed', 1, TIMEOUT);
      t.match(confirmed, { component: 'guard', daemon: 'bird', holdMs: Number }, `${h.name}: bird's apply confirmed`);
    }
    await mesh(t);
    t.match(readFileSync(join(h1.configDir, 'custom_filters.cfg'), 'utf8'), /10\.254\.0\.0\/16/, 'the change stays');
    await expectReady(t, h1, true, /applied/);
  });

  await t.test('a custom filter that withdraws most exported routes is reverted, held back and named', async (t) => {
    // Two workload-like routes in h1's kernel inside the pool (outside its block): h1 exports 3 routes to h2.
    const workloads = ['192.168.1.70/32', '192.168.1.71/32'];
    for (const w of workloads) await execa('ip', ['-n', h1.namespace, 'route', 'add', w, 'dev', 'eth0']);
    // The kernel prints a /32 without its length.
    for (const w of workloads) await expectRoute(t, h2, w.replace('/32', ''), h1.ip4, { timeoutMs: TIMEOUT });
    const key = customFilterKey('drop');
    await client.put(key).value('if ( net ~ 192.168.1.64/26 ) then reject;');
    const [reverted] = await waitLogged(h1, 'guard-reverted', 1, TIMEOUT);
    t.match(reverted, { component: 'guard', daemon: 'bird' }, 'bird reverted');
    t.match(reverted?.msg, /routes exported fell from 3 to 1/, 'the verdict names what fell');
    // BIRD ran the staged set under `configure timeout`: the disk kept the confirmed set, nothing had to go back.
    t.same(reverted?.['files'], [], 'no file put back: the disk never held the change');
    const [held] = await waitLogged(h1, 'guard-held-back', 1, TIMEOUT);
    t.match(held, { component: 'guard', daemon: 'bird', blamed: [key] }, 'the filter is blamed and held back');
    // BIRD runs the previous configuration again, and the files on disk are those again.
    t.notMatch(readFileSync(join(h1.configDir, 'custom_filters.cfg'), 'utf8'), /192\.168\.1\.64/, 'files put back');
    // The kernel prints a /32 without its length.
    for (const w of workloads) await expectRoute(t, h2, w.replace('/32', ''), h1.ip4, { timeoutMs: TIMEOUT });
    await expectReady(t, h1, false, new RegExp(`holds back ${key.replace(/\//g, '\\/')}`));
    // Another change is applied without the held-back entry.
    await client.put(customFilterKey('harmless')).value('if ( net ~ 10.253.0.0/16 ) then reject;');
    const confirmed = await waitLogged(h1, 'guard-confirmed', 2, TIMEOUT);
    t.match(confirmed[1], { component: 'guard', daemon: 'bird' }, 'the other change confirmed');
    const filters = readFileSync(join(h1.configDir, 'custom_filters.cfg'), 'utf8');
    t.match(filters, /10\.253\.0\.0/, 'the other change applied');
    t.notMatch(filters, /192\.168\.1\.64/, 'the blamed entry still held back');
    // Removing it lifts the hold.
    await client.delete().key(key);
    await expectReady(t, h1, true, /applied/);
    for (const w of workloads) await execa('ip', ['-n', h1.namespace, 'route', 'del', w, 'dev', 'eth0']);
  });

  await t.test('a --templates override with a wrong local AS in the shared template is reverted', async (t) => {
    const reverted = linesOf(birdwatchLog(h1), 'guard-reverted').length;
    const heldBefore = linesOf(birdwatchLog(h1), 'guard-held-back').length;
    // h1's override already holds the shared template (the lab's timers); a wrong `local as` in it.
    const bgp = labBgpTemplate();
    writeFileSync(join(templatesDir, 'partials', 'bgp.hbs'), bgp.replace('local as {{localAs}};', 'local as 64999;'));
    // Both daemons share the template: both are reverted.
    const reverts = await waitLogged(h1, 'guard-reverted', reverted + 2, TIMEOUT);
    for (const r of reverts.slice(reverted)) t.match(r.msg, /not Established again/, `${String(r['daemon'])}: why`);
    t.same(
      reverts
        .slice(reverted)
        .map((l) => l['daemon'])
        .sort(),
      ['bird', 'bird6'],
      'both daemons reverted',
    );
    const held = (await waitLogged(h1, 'guard-held-back', heldBefore + 1, TIMEOUT))[heldBefore];
    t.match(held, { component: 'guard', blamed: ['templates'] }, 'the templates are held back');
    t.notMatch(readFileSync(join(h1.configDir, 'bird.cfg'), 'utf8'), /local as 64999/, 'bird.cfg put back');
    await expectReady(t, h1, false, /holds back templates/);
    await mesh(t);
    // The template as it was: the hold lifts.
    writeFileSync(join(templatesDir, 'partials', 'bgp.hbs'), bgp);
    await expectReady(t, h1, true, /applied/);
  });
});
