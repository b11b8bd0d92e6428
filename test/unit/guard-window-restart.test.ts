/**
 * The guarded method and its judge with fake edges, in milliseconds (README "Reliability": what is on disk is what
 * BIRD should run after any restart): BIRD is given the staged set under `configure timeout` while the disk keeps
 * the confirmed set; the swap follows the confirm; a BIRD restarted inside the window, a confirm or an undo BIRD
 * cannot honour, each end with a plain `configure` of the disk's files. test/reliability-bird-restart.test.ts is the
 * proof with a real BIRD and a real BGP peer.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { ConfirmResult, UndoResult } from '../../src/bird/configureGuardedReply.js';
import { ConfigApplier } from '../../src/controller/configApplier.js';
import type { BirdRunState, GuardEdges } from '../../src/controller/edges.js';
import { guardMarkerName } from '../../src/controller/guard/marker.js';
import { DEFAULT_GUARD_SETTINGS } from '../../src/controller/guard/settings.js';
import { nodeRole } from '../../src/controller/roleRenderer.js';
import { keys } from '../../src/model/keys.js';
import { createLogger } from '../../src/observe/logger.js';
import { RunStatus } from '../../src/observe/runStatus.js';
import { NODE_LAYOUT } from '../../src/render/layouts.js';
import { compileTemplateSet } from '../../src/render/templateSet.js';
import { loadTemplateSources } from '../../src/render/templateSources.js';
import { fakeBird } from '../support/fakeBird.js';
import { existsSync } from 'node:fs';

const PEER = keys.globalPeer(4, '10.0.0.9');
const peer = (as: string): string => JSON.stringify({ ip: '10.0.0.9', as_num: as });
const runState = (socket: string): BirdRunState => ({
  socket,
  startedAt: '2026-01-01 00:00:00',
  reconfiguredAt: '2026-01-01 00:00:00',
  startedAtMs: 0,
  configuredAfterMs: 0,
});

/** A scripted BIRD for the guard: sessions, what `configure timeout` is given, confirm/undo answers, restarts. */
function world(t: { teardown(fn: () => void): void }) {
  const configDir = mkdtempSync(join(tmpdir(), 'birdwatch-window-'));
  t.teardown(() => rmSync(configDir, { recursive: true, force: true }));
  const bird = fakeBird(configDir);
  const calls: string[] = [];
  const script = {
    /** Sessions Established (false: down, e.g. a restarted BIRD, or a harmful change). */
    up: true,
    /** The session comes back after a `configure timeout` (false: the change breaks it). */
    upAfterChange: true,
    socket: 'bird-1',
    /** Restart BIRD while the window runs (at the first snapshot after `configure timeout`). */
    restartInWindow: false,
    confirm: [] as ConfirmResult['outcome'][],
    undo: [] as UndoResult['outcome'][],
    diskAtConfirm: '',
  };
  const edges: GuardEdges = {
    snapshot: async () => {
      calls.push('snapshot');
      return {
        sessions: new Map([
          ['Global_10_0_0_9', { established: script.up, state: script.up ? 'Established' : 'Active', exported: 1 }],
        ]),
      };
    },
    configureTimeout: async (daemon, seconds, configPath) => {
      calls.push(`configure timeout ${configPath === undefined ? 'disk' : 'staged'}`);
      script.up = script.upAfterChange;
      if (script.restartInWindow) {
        // The restart happens right after BIRD took it (the guard asked who runs it first).
        setImmediate(() => {
          script.socket = `${script.socket}+`;
          script.up = false;
        });
      }
      return { kind: 'applied', daemon, message: 'Reconfigured', ms: 1 };
    },
    confirm: async () => {
      calls.push('confirm');
      script.diskAtConfirm = readFileSync(join(configDir, 'bird.cfg'), 'utf8');
      const outcome = script.confirm.shift() ?? 'confirmed';
      return { outcome, message: outcome === 'confirmed' ? '0018 Reconfiguration confirmed' : '0019 Nothing to do' };
    },
    undo: async () => {
      calls.push('undo');
      const outcome = script.undo.shift() ?? 'reverted';
      if (outcome === 'reverted') script.up = true;
      return { outcome, message: outcome === 'reverted' ? '0003 Reconfigured' : '0019 Nothing to do' };
    },
    status: async () => runState(script.socket),
  };
  const keyspace = new Map([
    [keys.hostAddress('n1', 4), '10.0.0.1'],
    [keys.hostAddress('n1', 6), 'fd00::1'],
    [PEER, peer('64512')],
  ]);
  const role = nodeRole('n1', 'off');
  const status = new RunStatus(role.daemons);
  return {
    configDir,
    bird,
    calls,
    script,
    keyspace,
    status,
    disk: () => readFileSync(join(configDir, 'bird.cfg'), 'utf8'),
    applier: async () =>
      new ConfigApplier(
        {
          role,
          configDir,
          keyspace,
          edges: bird.edges,
          mode: {
            kind: 'apply',
            bird: bird.edges,
            guard: { settings: { ...DEFAULT_GUARD_SETTINGS, windowMs: 20, tickMs: 10 }, edges },
          },
          log: createLogger({ level: 'silent', pretty: false }),
          status,
        },
        compileTemplateSet(await loadTemplateSources(), NODE_LAYOUT),
      ),
  };
}

t.test('a good verdict: BIRD ran the staged set; the swap follows the confirm, the marker goes last', async (t) => {
  const w = world(t);
  const applier = await w.applier();
  await applier.cycle();
  w.calls.length = 0;
  w.keyspace.set(PEER, peer('64513'));
  const result = await applier.cycle();
  t.same(w.calls, ['snapshot', 'configure timeout staged', 'snapshot', 'confirm']);
  t.match(
    w.script.diskAtConfirm,
    /neighbor 10\.0\.0\.9 as 64512;/,
    'through the window the disk kept the confirmed set',
  );
  t.match(w.disk(), /neighbor 10\.0\.0\.9 as 64513;/, 'swapped in after the confirm');
  t.notOk(existsSync(join(w.configDir, guardMarkerName('bird'))), 'the marker is gone');
  t.same(
    result.daemons.find((r) => r.daemon === 'bird')?.written,
    ['bird.cfg'],
    'the confirmed files are the written ones',
  );
  t.equal(w.status.daemons.bird?.reloadPending, false);
  t.same(result.guarded, [{ daemon: 'bird', verdict: 'confirmed', settleMs: result.guarded?.[0]?.settleMs }]);
  t.same(await applier.filesChangedOnDisk(), new Map(), 'the swapped files are not taken for drift');
});

t.test(
  'BIRD restarted inside the window: no confirm, no undo; the disk is loaded again and the change goes out again, guarded',
  async (t) => {
    const w = world(t);
    const applier = await w.applier();
    await applier.cycle();
    w.calls.length = 0;
    w.bird.reloaded.length = 0;
    w.script.restartInWindow = true;
    w.script.upAfterChange = false; // the change breaks the session (and the restarted BIRD has it down too)
    w.keyspace.set(PEER, peer('64999'));
    const first = await applier.cycle();
    t.same(w.calls, ['snapshot', 'configure timeout staged', 'snapshot'], 'neither confirm nor undo');
    t.same(
      w.bird.reloaded.map((r) => r.daemon),
      ['bird'],
      'a plain configure of the disk (the confirmed set)',
    );
    t.match(w.disk(), /as 64512;/, 'the disk kept the confirmed set');
    t.same(
      first.guarded?.map((g) => g.verdict),
      ['interrupted'],
    );
    t.equal(first.retry, true, 'the change is still to be applied');
    t.equal(w.status.daemons.bird?.drift?.cause, 'guard-window');
    t.match(w.status.daemons.bird?.drift?.reason, /^bird restarted inside the settle window/);
    t.same(w.status.guardHolds, [], 'nothing held back: the change was not judged');

    // The retry: the restarted BIRD has nothing Established yet, but the sessions up before are expected back.
    w.calls.length = 0;
    w.script.restartInWindow = false;
    const second = await applier.cycle();
    t.same(w.calls, ['snapshot', 'configure timeout staged', 'snapshot', 'undo'], 'guarded again, and reverted');
    t.same(
      second.guarded?.map((g) => g.verdict),
      ['reverted'],
    );
    t.same(
      w.status.guardHolds.map((h) => h.key),
      [PEER],
    );
    t.match(w.disk(), /as 64512;/);
    t.equal(w.status.daemons.bird?.drift, undefined, 'BIRD runs what birdwatch stands behind again');
  },
);

t.test('a confirm BIRD cannot honour: the disk is loaded again, then once more a revert', async (t) => {
  const w = world(t);
  const applier = await w.applier();
  await applier.cycle();
  w.calls.length = 0;
  w.bird.reloaded.length = 0;
  w.script.confirm.push('nothing-to-do', 'nothing-to-do');
  w.keyspace.set(PEER, peer('64513'));
  const first = await applier.cycle();
  t.same(w.calls.slice(-1), ['confirm']);
  t.same(
    w.bird.reloaded.map((r) => r.daemon),
    ['bird'],
    'followed by a plain configure',
  );
  t.same(
    first.guarded?.map((g) => g.verdict),
    ['interrupted'],
  );
  t.match(w.disk(), /as 64512;/, 'not swapped: BIRD runs the confirmed set again');
  w.calls.length = 0;
  const second = await applier.cycle();
  t.same(w.calls.slice(-2), ['confirm', 'undo'], 'twice in a row: judged as a revert');
  t.same(
    second.guarded?.map((g) => g.verdict),
    ['reverted'],
  );
});

t.test('an undo BIRD cannot honour (0019) is followed by a plain configure', async (t) => {
  const w = world(t);
  const applier = await w.applier();
  await applier.cycle();
  w.bird.reloaded.length = 0;
  w.script.upAfterChange = false;
  w.script.undo.push('nothing-to-do');
  w.keyspace.set(PEER, peer('64999'));
  const result = await applier.cycle();
  t.same(
    result.guarded?.map((g) => g.verdict),
    ['reverted'],
  );
  t.same(
    w.bird.reloaded.map((r) => r.daemon),
    ['bird'],
    'BIRD is told to load the files on disk',
  );
  t.equal(w.status.daemons.bird?.reloadPending, false, 'and it did');
});
