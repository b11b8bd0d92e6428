/**
 * anatomy (with latency, at 1,000 nodes): birdwatch's own cycle steps, replayed in this process with its built
 * functions, each timed: render, compare with the live set, classify for the apply guard, stage the whole set in a
 * fresh directory, `bird -p` + `bird6 -p` (in parallel, as birdwatch does), swap the changed files in (write temp +
 * fsync + rename + directory fsync), remove the staging directory. `configure` is left out: the latency suite
 * reports BIRD's answer time from birdwatch's own log.
 */
import { join } from 'node:path';
import { importBuilt } from '../lib/built.js';
import { BENCH_NODE, extraHost } from '../lib/keyspace.js';
import { table } from '../lib/markdown.js';
import { tempDir, withScope } from '../lib/scope.js';
import { count, median, ms, percentile } from '../lib/stats.js';

/** Two file sets with the same names and contents (the compare step, as a full read would do it). */
const sameFileSet = (a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean =>
  a.size === b.size && [...a].every(([name, content]) => b.get(name) === content);

export interface AnatomyResult {
  readonly nodes: number;
  /** Step name → wall ms per cycle, in cycle order. */
  readonly steps: [string, number[]][];
}

/** One new host per cycle, `cycles` times. */
export async function cycleAnatomy(
  keyspace: ReadonlyMap<string, string>,
  nodes: number,
  cycles: number,
): Promise<AnatomyResult> {
  const { nodeRole } =
    await importBuilt<typeof import('../../../src/controller/roleRenderer.js')>('controller/roleRenderer.js');
  const { loadTemplateSources } =
    await importBuilt<typeof import('../../../src/render/templateSources.js')>('render/templateSources.js');
  const { compileTemplateSet } =
    await importBuilt<typeof import('../../../src/render/templateSet.js')>('render/templateSet.js');
  const { stageFileSet } = await importBuilt<typeof import('../../../src/apply/stagingDir.js')>('apply/stagingDir.js');
  const { swapStagedFiles, writeFilesDurably } =
    await importBuilt<typeof import('../../../src/apply/swapFileSet.js')>('apply/swapFileSet.js');
  const { validateStagedFileSet } =
    await importBuilt<typeof import('../../../src/controller/validateStaged.js')>('controller/validateStaged.js');
  const { summarizeConfigChange } =
    await importBuilt<typeof import('../../../src/controller/diffSummary.js')>('controller/diffSummary.js');
  const { StatementMemo } =
    await importBuilt<typeof import('../../../src/render/statementMemo.js')>('render/statementMemo.js');
  const { ChangeTrackedMap, RenderedKeyspaceChanges } =
    await importBuilt<typeof import('../../../src/model/keyspaceChanges.js')>('model/keyspaceChanges.js');
  return withScope(async (scope) => {
    const configDir = join(await tempDir(scope, 'birdwatch-anatomy-'), 'config');
    const role = nodeRole(BENCH_NODE, 'off');
    const templates = compileTemplateSet(await loadTemplateSources(), role.layout);
    // As `run` renders: one session, told the keys changed since its last render (the live map's log).
    const entries = new ChangeTrackedMap();
    for (const [key, value] of keyspace) entries.set(key, value);
    const session = role.session();
    const changes = new RenderedKeyspaceChanges();
    const none = new Set<string>();
    const noHolds = new Map<string, string | undefined>();
    const render = () => session.render(entries, templates, changes.take(entries, none, noHolds));
    let live: ReadonlyMap<string, string> = render().files;
    const memo = new StatementMemo();
    await writeFilesDurably(configDir, live);
    const steps = new Map<string, number[]>();
    const time = async <T>(name: string, fn: () => T | Promise<T>): Promise<T> => {
      const t0 = performance.now();
      const value = await fn();
      const list = steps.get(name) ?? [];
      list.push(performance.now() - t0);
      steps.set(name, list);
      return value;
    };
    for (let i = 0; i < cycles; i++) {
      const host = extraHost('anatomy', 150, i);
      entries.set(host.key, host.ip);
      const rendered = await time('render (model + templates, given the changed keys)', render);
      await time('compare with the live files', () => sameFileSet(rendered.files, live));
      await time(
        'classify for the apply guard: the change in BGP terms (statements parsed from their last parse)',
        () => summarizeConfigChange(live, rendered.files, memo),
      );
      const staged = await time('stage: fresh directory inside the config dir, every file written', () =>
        stageFileSet(configDir, rendered.files),
      );
      const failure = await time('validate: bird -p ‖ bird6 -p', () =>
        validateStagedFileSet(staged.dir, rendered.spans, { bird: 'bird', bird6: 'bird6' }),
      );
      if (failure) throw new Error(`anatomy: BIRD refused the configuration: ${failure.message}`);
      const changed = [...rendered.files.keys()].filter((name) => rendered.files.get(name) !== live.get(name));
      await time('swap: changed staged files, fsync + rename each, dir fsync', () =>
        swapStagedFiles(configDir, staged.dir, changed),
      );
      await time('remove the staging directory', () => staged.remove());
      live = rendered.files;
    }
    return { nodes, steps: [...steps] };
  });
}

export function anatomyDetail(a: AnatomyResult): string[] {
  const total = a.steps.reduce((sum, [, v]) => sum + median(v), 0);
  return [
    "### Where a cycle's time goes",
    '',
    `birdwatch's cycle steps replayed in-process with its own built functions at ${count(a.nodes)} nodes, one new host per`,
    `cycle (${a.steps[0]?.[1].length ?? 0} cycles; \`configure\` is in the table above). p50 / p90 per step; the share is of the sum of p50s.`,
    `In \`run\` BIRD is sent \`configure "<staged>/bird.cfg"\` right after staging, while \`bird -p\` runs: the path to`,
    `BIRD is render, compare, classify, stage and \`configure\`; validate, swap and removal follow it.`,
    '',
    table(
      ['Step', 'p50', 'p90', 'Share'],
      a.steps.map(([name, v]) => [
        name,
        ms(median(v)),
        ms(percentile(v, 90)),
        `${((median(v) / total) * 100).toFixed(0)} %`,
      ]),
    ),
    '',
  ];
}
