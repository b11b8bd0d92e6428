import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { ApplyError } from '../../src/apply/errors.js';
import { ConfigApplier } from '../../src/controller/configApplier.js';
import type { GuardEdges } from '../../src/controller/edges.js';
import { DEFAULT_GUARD_SETTINGS } from '../../src/controller/guard/settings.js';
import { nodeRole } from '../../src/controller/roleRenderer.js';
import { loadTemplateSources } from '../../src/render/templateSources.js';
import { keys } from '../../src/model/keys.js';
import { createLogger } from '../../src/observe/logger.js';
import type { Daemon } from '../../src/model/daemon.js';
import { RunStatus } from '../../src/observe/runStatus.js';
import { NODE_LAYOUT } from '../../src/render/layouts.js';
import { compileTemplateSet } from '../../src/render/templateSet.js';
import { fakeBird } from '../support/fakeBird.js';
import { linesOf } from '../support/logLines.js';

/**
 * The cycle's quarantine rounds with fake edges (no disk, no BIRD), in milliseconds: which steps run, how often
 * each daemon is reloaded. The real-BIRD tests (run, faults-bird, apply-faults) prove the same behaviour end to end.
 */
t.test('an entry refused by bird -p: quarantined, the rest applied, each daemon reloaded once', async (t) => {
  // The live files are real (the cycle compares with what is on disk); BIRD and bird -p are stand-ins.
  const configDir = mkdtempSync(join(tmpdir(), 'birdwatch-applier-'));
  t.teardown(() => rmSync(configDir, { recursive: true, force: true }));
  const bird = fakeBird(configDir);
  const reloads = (): Daemon[] => bird.reloaded.splice(0).map((r) => r.daemon);
  const keyspace = new Map([
    [keys.hostAddress('n1', 4), '10.0.0.1'],
    [keys.hostAddress('n1', 6), 'fd00::1'],
    [keys.hostAddress('n2', 4), '10.0.0.2'],
  ]);
  const role = nodeRole('n1', 'off');
  const status = new RunStatus(role.daemons);
  const applier = new ConfigApplier(
    {
      role,
      configDir,
      keyspace,
      edges: bird.edges,
      mode: { kind: 'apply', bird: bird.edges },
      log: createLogger({ level: 'silent', pretty: false }),
      status,
    },
    compileTemplateSet(await loadTemplateSources(), NODE_LAYOUT),
  );
  await applier.cycle();
  t.same(reloads().sort(), ['bird', 'bird6'], 'first cycle: one reload each');

  const broken = keys.customFilter(4, 'broken');
  keyspace.set(broken, 'if net ~ 10.0.0.0/8 then BROKEN;');
  keyspace.set(keys.hostAddress('n3', 4), '10.0.0.3');
  keyspace.set(keys.hostAddress('n3', 6), 'fd00::3');
  const outcome = await applier.cycle();
  t.same(
    status.quarantined.map((q) => q.key),
    [broken],
    'the refused entry is quarantined',
  );
  t.equal(status.failure, undefined, 'no failure: the rest is applied');
  t.ok(outcome.rendered?.files.get('bird.cfg')?.includes('Mesh_10_0_0_3'), 'the other change is in the rendering');
  t.notOk(outcome.rendered?.files.get('custom_filters.cfg')?.includes('BROKEN'), 'the refused entry is not');
  t.same(
    reloads().sort(),
    ['bird', 'bird6'],
    'each daemon reloaded once: bird6 (applied in the first round) not again in the quarantine round',
  );

  keyspace.set(broken, 'if net ~ 10.0.0.0/8 then reject;');
  await applier.cycle();
  t.same(status.quarantined, [], 'a changed entry is tried again');
  t.same(reloads(), ['bird']);
});

t.test(
  'a guarded change reverted before any clean apply: the rendering is held, the entry is not rendered as absent',
  async (t) => {
    const configDir = mkdtempSync(join(tmpdir(), 'birdwatch-applier-'));
    t.teardown(() => rmSync(configDir, { recursive: true, force: true }));
    const bird = fakeBird(configDir);
    const peer = keys.globalPeer(4, '10.0.0.9');
    const keyspace = new Map([
      [keys.hostAddress('n1', 4), '10.0.0.1'],
      [keys.hostAddress('n1', 6), 'fd00::1'],
      [peer, '{"ip":"10.0.0.9","as_num":"64512"}'],
    ]);
    // BIRD's sessions as the guard sees them: Global_10_0_0_9 Established until a `configure timeout` breaks it.
    let broken = false;
    const session = (established: boolean) =>
      new Map([['Global_10_0_0_9', { established, state: established ? 'Established' : 'Active', exported: 1 }]]);
    const guardEdges: GuardEdges = {
      snapshot: () => Promise.resolve({ sessions: session(!broken) }),
      configureTimeout: (daemon) => {
        broken = true;
        return Promise.resolve({ kind: 'applied', daemon, message: 'Reconfigured', ms: 1 });
      },
      confirm: () => Promise.resolve({ outcome: 'confirmed', message: '0018 Reconfiguration confirmed' }),
      undo: () => {
        broken = false;
        return Promise.resolve({ outcome: 'reverted', message: '0003 Reconfigured' });
      },
      status: () =>
        Promise.resolve({
          socket: '1:1',
          startedAt: '2026-01-01 00:00:00',
          reconfiguredAt: '2026-01-01 00:00:00',
          startedAtMs: 0,
          configuredAfterMs: 0,
        }),
    };
    const role = nodeRole('n1', 'off');
    const status = new RunStatus(role.daemons);
    const applier = new ConfigApplier(
      {
        role,
        configDir,
        keyspace,
        edges: bird.edges,
        mode: {
          kind: 'apply',
          bird: bird.edges,
          guard: { settings: { ...DEFAULT_GUARD_SETTINGS, windowMs: 20, tickMs: 10 }, edges: guardEdges },
        },
        log: createLogger({ level: 'silent', pretty: false }),
        status,
      },
      compileTemplateSet(await loadTemplateSources(), NODE_LAYOUT),
    );
    // The first cycle does not apply cleanly (bird6 does not answer): no value is known to have run yet.
    bird.reloads.bird6.push('unreachable');
    await applier.cycle();
    t.match(readFileSync(join(configDir, 'bird.cfg'), 'utf8'), /neighbor 10\.0\.0\.9 as 64512;/);
    keyspace.set(peer, '{"ip":"10.0.0.9","as_num":"64513"}');
    await applier.cycle();
    t.same(
      status.guardHolds.map((h) => h.key),
      ['bird rendering'],
      'the rendering is held, not the entry',
    );
    await applier.cycle();
    t.match(
      readFileSync(join(configDir, 'bird.cfg'), 'utf8'),
      /protocol bgp Global_10_0_0_9 from bgp_template {\n\s+neighbor 10\.0\.0\.9 as 64512;/,
      'the peer keeps running as it ran before the change: reverted, not removed',
    );
  },
);

t.test('no space to stage both daemons side by side: the one that ran out is staged alone, after', async (t) => {
  const configDir = mkdtempSync(join(tmpdir(), 'birdwatch-applier-'));
  t.teardown(() => rmSync(configDir, { recursive: true, force: true }));
  const bird = fakeBird(configDir);
  // Room for one staging dir at a time: a second one at once fails as a full disk does.
  let staging = 0;
  const stage = bird.edges.stage;
  const edges = {
    ...bird.edges,
    stage: async (root: string, files: ReadonlyMap<string, string>) => {
      if (staging > 0)
        throw new ApplyError(`cannot stage configuration in ${root}: ENOSPC: no space left on device`, root, {
          cause: Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }),
        });
      staging++;
      const staged = await stage(root, files);
      return { dir: staged.dir, remove: () => staged.remove().finally(() => staging--) };
    },
  };
  const role = nodeRole('n1', 'off');
  const status = new RunStatus(role.daemons);
  const lines: Record<string, unknown>[] = [];
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n'))
      if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  const log = createLogger({ level: 'info', pretty: false, destination: stream });
  const applier = new ConfigApplier(
    {
      role,
      configDir,
      keyspace: new Map([
        [keys.hostAddress('n1', 4), '10.0.0.1'],
        [keys.hostAddress('n1', 6), 'fd00::1'],
      ]),
      edges,
      mode: { kind: 'apply', bird: bird.edges },
      log,
      status,
    },
    compileTemplateSet(await loadTemplateSources(), NODE_LAYOUT),
  );
  const result = await applier.cycle();
  t.same(result.failures, [], 'both daemons applied');
  t.ok(readFileSync(join(configDir, 'bird.cfg'), 'utf8').length > 0);
  t.ok(readFileSync(join(configDir, 'bird6.cfg'), 'utf8').length > 0);
  t.same(
    linesOf(lines, 'staged-alone').map((l) => l['daemon']),
    ['bird6'],
  );
});
