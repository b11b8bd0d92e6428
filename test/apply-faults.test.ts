import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { loopbackKeyspace } from './support/keyspaces.js';
import { ConfigDirLockedError } from '../src/apply/errors.js';
import { keys } from '../src/model/keys.js';
import { checkReadiness } from '../src/observe/health.js';
import { canCreateNamespaces } from './harness/netns.js';
import { cli } from './support/cli.js';
import { createWorld, NODE, waitFor } from './support/world.js';
import { exitWithin, spawnBirdwatch } from './support/birdwatchProcess.js';
import { linesOf } from './support/logLines.js';

/**
 * The apply path under the faults README "The apply path" lists, against real etcd and real BIRD/BIRD6 in a namespace:
 * the two daemons are independent, a refused reload puts the files back and stays visible, garbage on the control
 * socket, files replaced behind birdwatch's back, a hung or missing bird -p, a second instance, templates from a
 * ConfigMap-style volume, SIGTERM while bird -p runs.
 */
t.setTimeout(240_000);

const baseKeyspace = (): Map<string, string> => loopbackKeyspace([keys.hostAddress('n2', 6), '::2']);

const both = { bird: { ok: true }, bird6: { ok: true } } as const;

if (!(await canCreateNamespaces())) {
  t.test('apply faults', { skip: 'needs network namespaces (ip netns add failed)' }, () => undefined);
} else {
  t.test('bird6 refused by bird -p (a template line) never holds bird back; readiness names bird6 only', async (t) => {
    const h = await createWorld(t, { keyspace: baseKeyspace() });
    const templates = join(h.dir, 'templates');
    mkdirSync(templates);
    const controller = await h.startController({ templatesDir: templates });
    await h.startBirds();
    await waitFor(
      'both configured',
      async () => [await h.protocols('bird'), await h.protocols('bird6')],
      (p) => p[0]?.join() === 'Mesh_127_0_0_2' && p[1]?.join() === 'Mesh___2',
    );
    writeFileSync(join(templates, 'bird6.cfg.hbs'), 'router id {{routerId}};\nthis is not bird;\n');
    await waitFor(
      'bird6 failing',
      () => controller.status.daemons.bird6!.failure,
      (f) => f?.kind === 'validation',
      20_000,
    );
    await h.client.put(keys.hostAddress('n3', 4)).value('127.0.0.3');
    await waitFor(
      'bird still follows etcd',
      () => h.protocols('bird'),
      (p) => p.includes('Mesh_127_0_0_3'),
      20_000,
    );
    // BIRD takes the staged set before the swap: the cycle (files, status, log) finishes a moment later.
    await controller.idle();
    t.equal(controller.status.daemons.bird!.failure, undefined, "bird has no failure of bird6's");
    t.same(await h.protocols('bird6'), ['Mesh___2'], 'bird6 keeps running its previous configuration');
    const readiness = checkReadiness(controller.status, both);
    t.same(
      readiness.checks.filter((c) => !c.ok).map((c) => c.condition),
      ['bird6'],
      `/readyz: bird6, and only bird6 (${readiness.checks
        .filter((c) => !c.ok)
        .map((c) => c.message)
        .join('; ')})`,
    );
    t.match(
      readiness.checks.find((c) => c.condition === 'bird6')?.message,
      /\(validation\): bird6 -p rejected the configuration: bird6\.cfg:2:\d+ syntax error/,
    );
    rmSync(join(templates, 'bird6.cfg.hbs'));
    await waitFor(
      'bird6 recovered',
      () => controller.status.daemons.bird6!.failure,
      (f) => f === undefined,
      20_000,
    );
    await controller.close();
  });

  t.test(
    'BIRD refuses a set bird -p passed: it keeps running its configuration, the disk keeps it too, the failure stays until that daemon accepts',
    async (t) => {
      const h = await createWorld(t, { keyspace: baseKeyspace() });
      // A validator that accepts anything: BIRD itself is the one that refuses.
      const controller = await h.startController({ binaries: { bird: 'true', bird6: 'true' } });
      await h.startBirds();
      await waitFor(
        'configured',
        () => h.protocols('bird'),
        (p) => p.join() === 'Mesh_127_0_0_2',
      );
      const good = readFileSync(join(h.configDir, 'custom_filters.cfg'), 'utf8');
      const key = keys.customFilter(4, 'broken');
      await h.client.put(key).value('if net ~ then reject;');
      await waitFor(
        'reload refused',
        () => controller.status.daemons.bird!.failure,
        (f) => f?.kind === 'reload',
        20_000,
      );
      t.match(
        controller.status.daemons.bird!.failure?.message,
        /^bird refused the staged configuration that bird -p accepted: 8002 custom_filters\.cfg:\d+:\d+ syntax error/,
      );
      t.equal(
        readFileSync(join(h.configDir, 'custom_filters.cfg'), 'utf8'),
        good,
        'the refused set never reached the config dir',
      );
      t.same(await h.protocols('bird'), ['Mesh_127_0_0_2'], 'BIRD runs what it ran');
      const failed = linesOf(h.logLines(), 'apply-failed', { daemon: 'bird' });
      t.ok(failed.length > 0, "bird's failure is logged");
      t.notOk(
        failed.some((l) => /bird's live configuration is unchanged/.test(String(l['msg']))),
        'the consequence names what BIRD does, not the files',
      );
      t.equal(controller.status.daemons.bird6!.failure, undefined, 'bird6 is not affected');
      // An unrelated change does not clear bird's failure: bird still refuses the set that contains the filter.
      await h.client.put(keys.hostAddress('n4', 6)).value('::4');
      await waitFor(
        'bird6 took the unrelated change',
        () => h.protocols('bird6'),
        (p) => p.includes('Mesh___4'),
        20_000,
      );
      // BIRD takes the staged set before the swap: judge the failure once that cycle has finished.
      await controller.idle();
      t.equal(
        controller.status.daemons.bird!.failure?.kind,
        'reload',
        'the failure stays until bird accepts a configuration',
      );
      await h.client.put(key).value('if net ~ 10.99.0.0/16 then reject;');
      await waitFor(
        'bird accepts again',
        () => controller.status.daemons.bird!.failure,
        (f) => f === undefined,
        20_000,
      );
      t.match(readFileSync(join(h.configDir, 'custom_filters.cfg'), 'utf8'), /10\.99\.0\.0\/16/);
      await controller.close();
    },
  );

  t.test(
    'sequential reload: BIRD refuses configure after the swap: files put back, failure kept until that daemon accepts',
    async (t) => {
      const h = await createWorld(t, { keyspace: baseKeyspace() });
      const controller = await h.startController({ binaries: { bird: 'true', bird6: 'true' }, overlap: false });
      await h.startBirds();
      await waitFor(
        'configured',
        () => h.protocols('bird'),
        (p) => p.join() === 'Mesh_127_0_0_2',
      );
      const good = readFileSync(join(h.configDir, 'custom_filters.cfg'), 'utf8');
      await h.client.put(keys.customFilter(4, 'broken')).value('if net ~ then reject;');
      await waitFor(
        'reload refused',
        () => controller.status.daemons.bird!.failure,
        (f) => f?.kind === 'reload',
        20_000,
      );
      t.match(
        controller.status.daemons.bird!.failure?.message,
        /bird refused the configuration: 8002 .*custom_filters\.cfg:\d+:\d+ syntax error/,
      );
      await waitFor(
        'files put back',
        () => readFileSync(join(h.configDir, 'custom_filters.cfg'), 'utf8'),
        (c) => c === good,
        10_000,
      );
      t.ok(linesOf(h.logLines(), 'refused-put-back', { daemon: 'bird' }).length > 0, 'the put-back is logged');
      t.notOk(
        linesOf(h.logLines(), 'apply-failed', { daemon: 'bird' }).some((l) =>
          /bird's live configuration is unchanged/.test(String(l['msg'])),
        ),
        'never "unchanged" when files did change',
      );
      await controller.close();
    },
  );

  t.test(
    'garbage on a control socket, a missing or hung bird -p, files replaced behind our back: failed cycles, never a crash',
    async (t) => {
      const h = await createWorld(t, { keyspace: baseKeyspace() });
      // bird6's socket answers with something that is not BIRD.
      const fake = join(h.dir, 'garbage6.ctl');
      const server = createServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
      await new Promise<void>((resolve) => server.listen(fake, resolve));
      t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
      const validator = join(h.dir, 'bird-check');
      const install = (script: string): void => {
        writeFileSync(`${validator}.new`, `#!/bin/sh\n${script}\n`);
        chmodSync(`${validator}.new`, 0o755);
        renameSync(`${validator}.new`, validator);
      };
      install('exec bird "$@"');
      const controller = await h.startController({
        sockets: { bird: h.sockets.bird, bird6: fake },
        binaries: { bird: validator, bird6: 'bird6' },
        validateTimeoutMs: 500,
      });
      await h.startBirds();
      await waitFor(
        'bird configured',
        () => h.protocols('bird'),
        (p) => p.join() === 'Mesh_127_0_0_2',
      );
      await waitFor(
        'bird6 garbled',
        () => controller.status.daemons.bird6!.failure,
        (f) => f?.kind === 'reload',
        10_000,
      );
      t.match(controller.status.daemons.bird6!.failure?.message, /unexpected line from BIRD control socket/);
      t.equal(
        controller.status.daemons.bird6!.reloadPending,
        true,
        'whether bird6 applied is unknown: the reload stays pending',
      );

      await t.test('bird -p hangs: killed after --validate-timeout, the cycle fails and is retried', async (t) => {
        install('sleep 30');
        await h.client.put(keys.hostAddress('n5', 4)).value('127.0.0.5');
        await waitFor(
          'validation timeout',
          () => controller.status.daemons.bird!.failure,
          (f) => /did not finish within 500 ms/.test(f?.message ?? ''),
          15_000,
        );
        install('exec bird "$@"');
        await waitFor(
          'retried and applied',
          // Applied means bird -p passed and the files are in place, not only BIRD running the staged set.
          async () => ({ protocols: await h.protocols('bird'), failure: controller.status.daemons.bird!.failure }),
          (s) => s.protocols.includes('Mesh_127_0_0_5') && s.failure === undefined,
          20_000,
        );
        t.equal(controller.status.daemons.bird!.failure, undefined);
      });

      await t.test('the validation binary is gone: a failure, retried; back → applied', async () => {
        rmSync(validator);
        await h.client.put(keys.hostAddress('n6', 4)).value('127.0.0.6');
        await waitFor(
          'binary missing',
          () => controller.status.daemons.bird!.failure,
          (f) => /cannot run BIRD binary/.test(f?.message ?? ''),
          15_000,
        );
        install('exec bird "$@"');
        await waitFor(
          'retried and applied',
          // Applied means bird -p passed and the files are in place, not only BIRD running the staged set.
          async () => ({ protocols: await h.protocols('bird'), failure: controller.status.daemons.bird!.failure }),
          (s) => s.protocols.includes('Mesh_127_0_0_6') && s.failure === undefined,
          20_000,
        );
      });

      await t.test(
        'a live file edited, or replaced by a directory, is repaired on the next cycle and on SIGHUP',
        async (t) => {
          const path = join(h.configDir, 'bird.cfg');
          const rendered = readFileSync(path, 'utf8');
          writeFileSync(path, '# edited by hand\n');
          await controller.refresh(); // what SIGHUP does
          await waitFor(
            'repaired by SIGHUP',
            () => readFileSync(path, 'utf8'),
            (c) => c === rendered,
            10_000,
          );
          rmSync(path);
          mkdirSync(path);
          await h.client.put(keys.hostAddress('n7', 4)).value('127.0.0.7');
          await waitFor(
            'directory replaced by the file',
            () => (existsSync(path) ? readFileSync(path, 'utf8').includes('Mesh_127_0_0_7') : false),
            (ok) => ok,
            20_000,
          ).catch(() => false);
          t.ok(
            readFileSync(path, 'utf8').includes('Mesh_127_0_0_7'),
            'bird.cfg is a whole file again, with the change',
          );
          await waitFor(
            'applied',
            () => h.protocols('bird'),
            (p) => p.includes('Mesh_127_0_0_7'),
            20_000,
          );
        },
      );
      t.equal(
        controller.status.daemons.bird6!.failure?.kind,
        'reload',
        'bird6 is still failing (its socket still answers garbage) …',
      );
      t.ok(
        Object.values(h.birds).every((b) => b.running()),
        '… and nothing of that stopped the loop or BIRD',
      );
      await controller.close();
    },
  );

  t.test(
    'one owner per config dir: a second run, run --once and render --out are refused while one runs',
    async (t) => {
      const h = await createWorld(t, { keyspace: baseKeyspace() });
      const controller = await h.startController();
      const second = await h.startController().catch((e: unknown) => e);
      t.ok(second instanceof ConfigDirLockedError, 'a second controller on the same dir is refused');
      const once = await cli([
        'run',
        '--once',
        '--node',
        NODE,
        '--config-dir',
        h.configDir,
        '--etcd-endpoints',
        h.etcd.endpoints.join(','),
        '--ipip',
        'off',
        '--log-level',
        'silent',
      ]);
      t.equal(once.code, 1);
      t.match(
        once.stderr,
        new RegExp(
          `^error: ${h.configDir} is in use by another birdwatch \\(birdwatch run: pid ${process.pid} on host .*, this PID namespace, `,
          'm',
        ),
      );
      const seed = `file:${new URL('../fixtures/seed-tutorial/etcd.json', import.meta.url).pathname}`;
      const render = await cli([
        'render',
        '--node',
        'calico-01',
        '--out',
        h.configDir,
        '--datastore',
        seed,
        '--ipip',
        'off',
      ]);
      t.equal(render.code, 1, 'render --out into a dir a run owns is refused');
      t.match(render.stderr, /is in use by another birdwatch/);
      const staging = readdirSync(h.configDir).filter((n) => n.startsWith('.staging-'));
      t.same(staging, [], 'the refused one removed nothing and staged nothing');
      await controller.close();
      const after = await cli([...h.runArgv(), '--once', '--log-level', 'silent']);
      t.equal(after.code, 0, `released on close: ${after.stderr}`);
    },
  );

  t.test(
    'a read-only parent (a read-only root filesystem with the config dir on a volume): staging happens inside the config dir',
    async (t) => {
      const h = await createWorld(t, { keyspace: baseKeyspace() });
      const controller = await h.startController();
      await h.startBirds();
      await waitFor(
        'configured',
        () => h.protocols('bird'),
        (p) => p.join() === 'Mesh_127_0_0_2',
      );
      const immutable = await execa('chattr', ['+i', h.dir], { reject: false });
      if (immutable.exitCode !== 0) {
        t.comment(`skipped: chattr +i is not supported here: ${immutable.stderr}`);
        await controller.close();
        return;
      }
      t.teardown(() => execa('chattr', ['-i', h.dir], { reject: false }));
      await h.client.put(keys.hostAddress('n8', 4)).value('127.0.0.8');
      await waitFor(
        'applied with the parent read-only',
        () => h.protocols('bird'),
        (p) => p.includes('Mesh_127_0_0_8'),
        20_000,
      );
      // BIRD takes the staged set before the swap: a failed swap would only show once the cycle has finished.
      await controller.idle();
      t.equal(controller.status.failure, undefined);
      await controller.close();
      await execa('chattr', ['-i', h.dir], { reject: false });
    },
  );

  t.test(
    'templates from a ConfigMap volume: symlinked files are read, a ..data swap re-renders, a removed dir recovers',
    async (t) => {
      const h = await createWorld(t, { keyspace: baseKeyspace() });
      const templates = join(h.dir, 'configmap');
      const builtin = readFileSync(new URL('../templates/bird_aggr.cfg.hbs', import.meta.url), 'utf8');
      const version = (name: string, marker: string): void => {
        mkdirSync(join(templates, name), { recursive: true });
        writeFileSync(join(templates, name, 'bird_aggr.cfg.hbs'), `# ${marker}\n${builtin}`);
      };
      version('..2026_11_29_a', 'site v1');
      symlinkSync('..2026_11_29_a', join(templates, '..data'));
      symlinkSync('..data/bird_aggr.cfg.hbs', join(templates, 'bird_aggr.cfg.hbs'));
      const controller = await h.startController({ templatesDir: templates });
      await h.startBirds();
      const aggr = (): string => readFileSync(join(h.configDir, 'bird_aggr.cfg'), 'utf8');
      t.match(aggr(), /^# site v1$/m, 'the symlinked template is used');
      // Kubernetes' atomic update: a new timestamped dir, then ..data swapped by rename.
      version('..2026_11_29_b', 'site v2');
      symlinkSync('..2026_11_29_b', join(templates, '..data_tmp'));
      renameSync(join(templates, '..data_tmp'), join(templates, '..data'));
      await waitFor('v2 rendered', aggr, (c) => /^# site v2$/m.test(c), 15_000);
      rmSync(templates, { recursive: true });
      await waitFor(
        'template failure',
        () => controller.status.renderFailure,
        (f) => f?.kind === 'template',
        15_000,
      );
      t.match(aggr(), /^# site v2$/m, 'the live files are kept while the templates are gone');
      version('..2026_11_29_c', 'site v3');
      symlinkSync('..2026_11_29_c', join(templates, '..data'));
      symlinkSync('..data/bird_aggr.cfg.hbs', join(templates, 'bird_aggr.cfg.hbs'));
      await waitFor('recovered', aggr, (c) => /^# site v3$/m.test(c), 20_000);
      await waitFor(
        'failure cleared',
        () => controller.status.renderFailure,
        (f) => f === undefined,
        10_000,
      );
      await controller.close();
    },
  );
}

t.test('SIGTERM while bird -p runs: exit 0 at once, no staging dir left', async (t) => {
  const h = await createWorld(t, { keyspace: baseKeyspace() });
  const slow = join(h.dir, 'slow-bird');
  // `run` asks the binary its version first: that answer is not slowed.
  writeFileSync(slow, '#!/bin/sh\n[ "$1" = --version ] || sleep 20\nexec bird "$@"\n');
  chmodSync(slow, 0o755);
  const proc = spawnBirdwatch(t, [
    'run',
    '--node',
    NODE,
    '--etcd-endpoints',
    h.etcd.endpoints[0]!,
    '--config-dir',
    h.configDir,
    '--bird-socket',
    h.sockets.bird,
    '--bird6-socket',
    h.sockets.bird6,
    '--ipip',
    'off',
    '--listen',
    'off',
    '--bird',
    slow,
    '--bird6',
    slow,
  ]);
  await waitFor(
    'bird -p running on a staged set',
    () => (existsSync(h.configDir) ? readdirSync(h.configDir).filter((n) => n.startsWith('.staging-')) : []),
    (s) => s.length > 0,
    30_000,
  );
  const stopped = performance.now();
  proc.kill('SIGTERM');
  const exit = await exitWithin(proc, 10_000);
  t.equal(exit.code, 0, `exit 0: ${proc.stderr()}`);
  t.ok(performance.now() - stopped < 5_000, 'without waiting for bird -p to finish');
  t.same(
    readdirSync(h.configDir).filter((n) => n.startsWith('.') && n !== '.birdwatch.lock'),
    [],
    'no staging dir, no temp file left',
  );
  // The lock file is never unlinked (README "Reliability"); emptied on exit, it names no holder.
  t.equal(readFileSync(join(h.configDir, '.birdwatch.lock'), 'utf8'), '', 'the lock is released');
  t.equal(linesOf(proc.lines, 'stopped', { component: 'run' }).length, 1, 'it says it stopped, once');
});
