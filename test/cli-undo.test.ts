/**
 * `birdwatch undo` against a real BIRD in a namespace the test makes (README "The apply guard"): `configure undo` and
 * the files the daemon ran before its last reload put back; nothing to undo leaves the files; a bad daemon name is
 * refused.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { savePreviousFiles } from '../src/controller/guard/undoRecord.js';
import { runBirdCommand } from '../src/bird/controlSocket.js';
import { configureBird } from '../src/bird/configure.js';
import { startBirdForTest } from './harness/bird.js';
import { canCreateNamespaces, createNamespace } from './harness/netns.js';
import { birdOfVersion, isMissing } from './support/birdVersions.js';
import { cli } from './support/cli.js';

const config = (routes: readonly string[]): string =>
  `router id 10.0.0.1;\nprotocol device { scan time 10; }\nprotocol static st { ${routes.map((r) => `route ${r} blackhole;`).join(' ')} }\n`;
const routeCount = async (socket: string): Promise<string> =>
  (await runBirdCommand(socket, 'show route count')).lines.at(-1)?.text ?? '';

t.test('birdwatch undo reverts BIRD and puts back the previous files', async (t) => {
  if (!(await canCreateNamespaces())) {
    t.plan(0, 'network namespaces cannot be created here (root needed)');
    return;
  }
  const ns = await createNamespace(t, 'bwu');
  const dir = await mkdtemp(join(tmpdir(), 'birdwatch-undo-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const cfg = join(dir, 'bird.cfg');
  const before = config(['192.168.1.0/26', '192.168.1.64/26']);
  await writeFile(cfg, before);
  const bird = await startBirdForTest(t, {
    family: 4,
    configPath: cfg,
    socketPath: join(dir, 'bird.ctl'),
    wrapper: ns.exec,
  });
  await savePreviousFiles(dir, 'bird', { 'bird.cfg': before });
  await writeFile(cfg, config(['192.168.1.0/26']));
  t.ok((await configureBird(bird.socketPath)).ok);
  t.match(await routeCount(bird.socketPath), /^1 of 1 routes/);

  const flags = ['--config-dir', dir, '--bird-socket', bird.socketPath];
  const undone = await cli(['undo', 'bird', ...flags]);
  t.equal(undone.code, 0, undone.stderr);
  t.equal(undone.stdout, 'bird: reverted (0003 Reconfigured); put back bird.cfg');
  t.match(await routeCount(bird.socketPath), /^2 of 2 routes/, 'BIRD runs the previous configuration');
  t.equal(await readFile(cfg, 'utf8'), before, 'and the files are those again');

  const again = await cli(['undo', 'bird', ...flags]);
  t.equal(again.code, 0);
  t.match(again.stdout, /^bird: nothing to undo \(0019 Nothing to do\); files left as they are$/);

  const bad = await cli(['undo', 'bird7', ...flags]);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /daemon "bird7": expected bird or bird6/);

  const unreachable = await cli(['undo', 'bird6', '--config-dir', dir, '--bird6-socket', join(dir, 'none.ctl')]);
  t.equal(unreachable.code, 1);
  t.match(unreachable.stderr, /^error: bird6: /);
});

for (const version of ['2.0.12', '3.3.2']) {
  const installed = birdOfVersion(version);
  t.test(
    `BIRD ${version}: undo is bird's alone (one daemon for both families); undo bird6 is refused`,
    { skip: isMissing(installed) && installed.missing },
    async (t) => {
      if (isMissing(installed) || !(await canCreateNamespaces())) return;
      const ns = await createNamespace(t, 'bwu');
      const dir = await mkdtemp(join(tmpdir(), 'birdwatch-undo-'));
      t.teardown(() => rm(dir, { recursive: true, force: true }));
      const cfg = join(dir, 'bird.cfg');
      // BIRD 2/3: the static protocol names its channel.
      const config2 = (routes: readonly string[]): string =>
        config(routes).replace('protocol static st { ', 'protocol static st { ipv4; ');
      const before = config2(['192.168.1.0/26', '192.168.1.64/26']);
      await writeFile(cfg, before);
      const bird = await startBirdForTest(t, {
        family: 4,
        binary: installed.bird,
        configPath: cfg,
        socketPath: join(dir, 'bird.ctl'),
        wrapper: ns.exec,
      });
      await savePreviousFiles(dir, 'bird', { 'bird.cfg': before });
      await writeFile(cfg, config2(['192.168.1.0/26']));
      t.ok((await configureBird(bird.socketPath)).ok);
      t.match(await routeCount(bird.socketPath), /^Total: 1 of 1 routes/);
      // bird6's socket does not exist: with BIRD 2/3 it is not asked (no error for it).
      const flags = ['--config-dir', dir, '--bird-socket', bird.socketPath, '--bird6-socket', join(dir, 'none.ctl')];
      const undone = await cli(['undo', ...flags]);
      t.equal(undone.code, 0, undone.stderr);
      t.match(undone.stdout, /^bird: reverted \(000[34] Reconfigur[^)]*\); put back bird\.cfg$/);
      t.equal(undone.stderr, '');
      t.match(await routeCount(bird.socketPath), /^Total: 2 of 2 routes/, 'BIRD runs the previous configuration');
      t.equal(await readFile(cfg, 'utf8'), before, 'and the files are those again');
      const bird6 = await cli(['undo', 'bird6', ...flags]);
      t.equal(bird6.code, 2);
      t.match(
        bird6.stderr,
        new RegExp(
          `daemon "bird6": BIRD ${version.replace(/\./g, '\\.')} at .* serves both families: there is no bird6`,
        ),
      );
    },
  );
}
