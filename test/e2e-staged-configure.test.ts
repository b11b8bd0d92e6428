import { readdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runBirdCommand } from '../src/bird/controlSocket.js';
import { readPreviousFiles } from '../src/controller/guard/undoRecord.js';
import { cannotReadStagedSet } from '../src/controller/applyPipeline.js';
import { reloadBird } from '../src/controller/realEdges.js';
import { keys } from '../src/model/keys.js';
import { canCreateNamespaces } from './harness/netns.js';
import { loopbackKeyspace } from './support/keyspaces.js';
import { birdOfVersion, isMissing } from './support/birdVersions.js';
import { createWorld, NODE, waitFor, waitSettled } from './support/world.js';
import { linesOf } from './support/logLines.js';

/**
 * The overlap (README "The apply path") against real BIRD: BIRD parses and applies the staged set (`configure
 * "<staged>/bird.cfg"`) while `bird -p` checks it, and the validated files are swapped in without a second reload. Each
 * disagreement between the two parsers is resolved so that BIRD ends on the files on disk, and nothing unvalidated is
 * swapped.
 */
t.setTimeout(120_000);

const routeOf = async (socket: string, cidr: string): Promise<string> =>
  (await runBirdCommand(socket, `show route ${cidr}`)).lines.map((l) => l.text).join('\n');

if (!(await canCreateNamespaces())) {
  t.test('staged configure', { skip: 'needs network namespaces (ip netns add failed)' }, () => undefined);
} else {
  // BIRD 1.6 (bird and bird6), and BIRD 2.0.12 and 3.3.2 (one bird for both families).
  for (const version of [undefined, '2.0.12', '3.3.2'] as const) {
    const installed = version === undefined ? undefined : birdOfVersion(version);
    t.test(
      `${version === undefined ? 'BIRD 1.6' : `BIRD ${version}`}: both accept: one configure of the staged set, includes read from the staged dir, files swapped`,
      { skip: installed !== undefined && isMissing(installed) && installed.missing },
      async (t) => {
        const bird = installed !== undefined && !isMissing(installed) ? installed : undefined;
        const h = await createWorld(t, { keyspace: loopbackKeyspace(), ...(bird && { bird }) });
        const controller = await h.startController({ guard: true });
        await h.startBirds();
        await h.waitConverged('first apply');
        // BIRD started after birdwatch read the files itself; the reload it is owed must not fall into the count.
        await waitSettled(controller);
        const reloads = controller.status.reloads.bird!;
        const aggrBefore = readFileSync(join(h.configDir, 'bird_aggr.cfg'), 'utf8');
        // An IPAM block lives in an include (bird_aggr.cfg): BIRD must read the staged include, not the live one,
        // since the live one is only replaced after BIRD answered.
        await h.client.put(keys.block(NODE, 4, '10.77.0.0/26')).value('{}');
        await waitFor(
          'the block route in BIRD',
          () => routeOf(h.sockets.bird, '10.77.0.0/26'),
          (r) => r.includes('10.77.0.0/26'),
          20_000,
        );
        await h.waitConverged('block applied');
        t.match(readFileSync(join(h.configDir, 'bird_aggr.cfg'), 'utf8'), /10\.77\.0\.0\/26/);
        // The staging dir goes once the swap is done (a moment after BIRD and the disk already agree).
        await waitFor(
          'no staging dir or temp file left',
          () => readdirSync(h.configDir).filter((f) => f.startsWith('.staging-') || f.includes('.tmp-')),
          (left) => left.length === 0,
          5_000,
        );
        const applied = await waitFor(
          'the apply logged',
          () =>
            linesOf(h.logLines(), 'configuration-applied').filter((l) => String(l['changes']).includes('bird_aggr')),
          (lines) => lines.length > 0,
          5_000,
        );
        // BIRD 3.3.2 answers 0004 Reconfiguration in progress when the change restarts or removes a protocol, 0003
        // otherwise: both are an applied configuration.
        t.match(applied.at(-1)?.['reload'], {
          bird: version === '3.3.2' ? /^Reconfigured|^Reconfiguration in progress/ : /^Reconfigured/,
        });
        t.equal(controller.status.reloads.bird! - reloads, 1, 'one configure for the change, not two');
        t.equal(controller.status.daemons.bird!.failure, undefined, 'applied');
        t.same(Object.keys(controller.status.daemons).sort(), [...h.daemons].sort(), 'the daemons of this BIRD only');
        t.equal(
          (await readPreviousFiles(h.configDir, 'bird'))?.['bird_aggr.cfg'],
          aggrBefore,
          "birdwatch undo's record holds the files BIRD ran before this change",
        );
        await controller.close();
      },
    );
  }

  t.test('BIRD accepts a set bird -p refuses: BIRD goes back to the disk, nothing is swapped', async (t) => {
    const h = await createWorld(t, { keyspace: loopbackKeyspace() });
    const validator = join(h.dir, 'bird-check');
    const refuse = join(h.dir, 'refuse');
    // bird -p as usual, until the test says it refuses: then it refuses any set (BIRD itself would accept it).
    writeFileSync(
      validator,
      `#!/bin/sh\nif [ -e ${refuse} ]; then echo "bird: $3/bird.cfg:1:1 refused by the test" >&2; exit 1; fi\nexec bird "$@"\n`,
    );
    chmodSync(validator, 0o755);
    const controller = await h.startController({ binaries: { bird: validator, bird6: 'bird6' }, guard: true });
    await h.startBirds();
    await h.waitConverged('first apply');
    await h.client.put(keys.hostAddress('n4', 4)).value('127.0.0.4');
    await h.waitConverged('n4 applied');
    const recordBefore = await waitFor(
      'the undo record of the n4 change',
      () => readPreviousFiles(h.configDir, 'bird'),
      (r) => r !== undefined && !String(r['bird.cfg']).includes('Mesh_127_0_0_4'),
      5_000,
    );
    const liveBefore = readFileSync(join(h.configDir, 'bird.cfg'), 'utf8');
    writeFileSync(refuse, '');
    await h.client.put(keys.hostAddress('n3', 4)).value('127.0.0.3');
    await waitFor(
      'the disagreement reported',
      () => controller.status.daemons.bird!.failure,
      (f) => f?.kind === 'validation',
      20_000,
    );
    t.match(controller.status.daemons.bird!.failure?.message, /bird -p and BIRD disagree/);
    t.same(
      await h.protocols('bird'),
      ['Mesh_127_0_0_2', 'Mesh_127_0_0_4'],
      'BIRD runs the files on disk again, not the staged set',
    );
    t.same(
      await readPreviousFiles(h.configDir, 'bird'),
      recordBefore,
      'the undo record still leads back from the change BIRD runs, not from the set it was taken back from',
    );
    t.same(
      readdirSync(h.configDir).filter((f) => f.includes('.tmp-')),
      [],
      'the record prepared beside the staged reload is removed',
    );
    t.equal(readFileSync(join(h.configDir, 'bird.cfg'), 'utf8'), liveBefore, 'nothing unvalidated was swapped in');
    t.equal(controller.status.daemons.bird!.reloadPending, false, 'BIRD and the disk agree: no reload owed');
    await controller.close();
  });

  t.test('a BIRD that cannot open the staged path: the sequential path, said once', async (t) => {
    const h = await createWorld(t, { keyspace: loopbackKeyspace() });
    // As if BIRD saw the config dir through another mount: the staged path it is given does not exist for it.
    const controller = await h.startController({
      bird: (real) => ({
        ...real,
        reloadStaged: (daemon, dir) => real.reloadStaged!(daemon, dir.replace(h.configDir, join(h.dir, 'elsewhere'))),
      }),
    });
    await h.startBirds();
    await h.waitConverged('first apply');
    // BIRD's own words for a path it cannot open are what the fallback recognises.
    const missing = await reloadBird('bird', h.sockets.bird, { configPath: join(h.dir, 'elsewhere', 'bird.cfg') });
    t.equal(missing.kind, 'rejected');
    t.ok(cannotReadStagedSet(missing.message), missing.message);
    await h.client.put(keys.hostAddress('n3', 4)).value('127.0.0.3');
    await h.waitConverged('n3 applied by the sequential path');
    // BIRD and the disk agree before the cycle's bookkeeping (its warning, its status) is done.
    await controller.idle();
    t.same(await h.protocols('bird'), ['Mesh_127_0_0_2', 'Mesh_127_0_0_3']);
    t.equal(linesOf(h.logLines(), 'staged-unreadable', { daemon: 'bird' }).length, 1, 'said once for bird');
    t.equal(controller.status.daemons.bird!.failure, undefined);
    await controller.close();
  });

  t.test('--sequential-reload (overlap off): the staged set is never named to BIRD', async (t) => {
    const h = await createWorld(t, { keyspace: loopbackKeyspace() });
    let staged = 0;
    const controller = await h.startController({
      overlap: false,
      bird: (real) => ({
        ...real,
        reloadStaged: (daemon, dir) => {
          staged++;
          return real.reloadStaged!(daemon, dir);
        },
      }),
    });
    await h.startBirds();
    await h.waitConverged('first apply');
    await h.client.put(keys.hostAddress('n3', 4)).value('127.0.0.3');
    await h.waitConverged('n3 applied');
    t.equal(staged, 0);
    await controller.close();
  });
}
