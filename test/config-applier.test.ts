import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { StagedFileSet } from '../src/apply/stagingDir.js';
import type { PipelineEdges } from '../src/controller/applyPipeline.js';
import { ConfigApplier } from '../src/controller/configApplier.js';
import type { ReloadOutcome } from '../src/controller/reloadBird.js';
import { nodeRole } from '../src/controller/roleRenderer.js';
import { loadTemplateSources } from '../src/render/templateSources.js';
import { keys } from '../src/model/keys.js';
import { createLogger } from '../src/observe/logger.js';
import type { Daemon } from '../src/model/daemon.js';
import { RunStatus } from '../src/observe/runStatus.js';
import { entryAt } from '../src/render/fileSet.js';
import { NODE_LAYOUT } from '../src/render/layouts.js';
import { compileTemplateSet } from '../src/render/templateSet.js';

/**
 * The cycle's quarantine rounds with fake edges (no disk, no BIRD), in milliseconds: which steps run, how often
 * each daemon is reloaded. The real-BIRD tests (run, faults-bird, apply-faults) prove the same behaviour end to end.
 */
t.test('an entry refused by bird -p: quarantined, the rest applied, each daemon reloaded once', async (t) => {
  // The live files are real (the cycle compares with what is on disk); BIRD and bird -p are stand-ins.
  const configDir = mkdtempSync(join(tmpdir(), 'birdwatch-applier-'));
  t.teardown(() => rmSync(configDir, { recursive: true, force: true }));
  const staged = new Map<string, Map<string, string>>();
  const reloads: Daemon[] = [];
  let n = 0;
  const edges: PipelineEdges = {
    stage: async (_root, files): Promise<StagedFileSet> => {
      const dir = `/stage-${n++}`;
      staged.set(dir, new Map(files));
      return { dir, remove: async () => void staged.delete(dir) };
    },
    // A stand-in for bird -p: it refuses the line holding the word BROKEN, as BIRD would name file:line.
    validate: async (daemon, dir, spans) => {
      for (const [file, content] of staged.get(dir)!) {
        const line = content.split('\n').findIndex((l) => l.includes('BROKEN')) + 1;
        if (line > 0) {
          const span = entryAt(spans(), file, line);
          return {
            daemon,
            file,
            line,
            column: 1,
            message: 'syntax error',
            entryKey: span?.key,
            customFilter: span?.kind === 'custom-filter',
          };
        }
      }
      return undefined;
    },
    swap: async (_configDir, dir, names) => {
      for (const name of names) writeFileSync(join(configDir, name), staged.get(dir)!.get(name)!);
    },
    write: async (_configDir, files) => {
      for (const [name, content] of files) writeFileSync(join(configDir, name), content);
    },
    reload: async (daemon): Promise<ReloadOutcome> => {
      reloads.push(daemon);
      return { kind: 'applied', daemon, message: 'Reconfigured', ms: 1 };
    },
  };
  const keyspace = new Map([
    [keys.hostAddress('n1', 4), '10.0.0.1'],
    [keys.hostAddress('n1', 6), 'fd00::1'],
    [keys.hostAddress('n2', 4), '10.0.0.2'],
  ]);
  const status = new RunStatus();
  const applier = new ConfigApplier(
    {
      role: nodeRole('n1', 'off'),
      configDir,
      keyspace,
      edges,
      log: createLogger({ level: 'silent', pretty: false }),
      status,
    },
    compileTemplateSet(await loadTemplateSources(), NODE_LAYOUT),
  );
  await applier.cycle();
  t.same(reloads.sort(), ['bird', 'bird6'], 'first cycle: one reload each');
  reloads.length = 0;

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
  t.ok(
    outcome.detail?.rendered.files.get('bird.cfg')?.includes('Mesh_10_0_0_3'),
    'the other change is in the rendering',
  );
  t.notOk(outcome.detail?.rendered.files.get('custom_filters.cfg')?.includes('BROKEN'), 'the refused entry is not');
  t.same(
    reloads.sort(),
    ['bird', 'bird6'],
    'each daemon reloaded once: bird6 (applied in the first round) not again in the quarantine round',
  );
  reloads.length = 0;

  keyspace.set(broken, 'if net ~ 10.0.0.0/8 then reject;');
  await applier.cycle();
  t.same(status.quarantined, [], 'a changed entry is tried again');
  t.same(reloads, ['bird']);
});
