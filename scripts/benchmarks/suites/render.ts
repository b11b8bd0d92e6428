/**
 * render: model + templates in this process, on the built code in dist/ (as shipped), at 10,000 nodes: what a
 * cycle runs after a one-host change (the changed keys carried from the live map, as in `run`), and a full build
 * from nothing (the first cycle, a re-read).
 */
import { importBuilt } from '../lib/built.js';
import { BENCH_NODE, extraHost } from '../lib/keyspace.js';
import { table, type SummaryTable } from '../lib/markdown.js';
import { count, median, ms, percentile } from '../lib/stats.js';
import type { Targets } from '../targets.js';

export interface RenderResult {
  readonly nodes: number;
  readonly warmup: number;
  /** nodeRole().render after one host was added or removed, given the changed keys: what a cycle runs. */
  readonly renderMs: number[];
  /** CPU time of this process during each render (user + system, GC threads too): contention shows as wall ≫ CPU. */
  readonly renderCpuMs: number[];
  /** A fresh role's first render: the model and every template from nothing (cold start, a re-read). */
  readonly fullMs: number[];
  readonly modelMs: number[];
  readonly templatesMs: number[];
  readonly bytes: number;
}

export async function renderBench(
  keyspace: ReadonlyMap<string, string>,
  nodes: number,
  runs: number,
  warmup: number,
): Promise<RenderResult> {
  const { nodeRole } =
    await importBuilt<typeof import('../../../src/controller/roleRenderer.js')>('controller/roleRenderer.js');
  const { buildNodeModel } =
    await importBuilt<typeof import('../../../src/model/buildNodeModel.js')>('model/buildNodeModel.js');
  const { ChangeTrackedMap, RenderedKeyspaceChanges } =
    await importBuilt<typeof import('../../../src/model/keyspaceChanges.js')>('model/keyspaceChanges.js');
  const { renderFileSet } =
    await importBuilt<typeof import('../../../src/render/renderFileSet.js')>('render/renderFileSet.js');
  const { loadTemplateSources } =
    await importBuilt<typeof import('../../../src/render/templateSources.js')>('render/templateSources.js');
  const { compileTemplateSet } =
    await importBuilt<typeof import('../../../src/render/templateSet.js')>('render/templateSet.js');
  const role = nodeRole(BENCH_NODE, 'off');
  const templates = compileTemplateSet(await loadTemplateSources(), role.layout);
  const live = new ChangeTrackedMap();
  for (const [key, value] of keyspace) live.set(key, value);
  const changes = new RenderedKeyspaceChanges();
  const none = new Set<string>();
  const noHolds = new Map<string, string | undefined>();
  const session = role.session();
  const render = () => session.render(live, templates, changes.take(live, none, noHolds));
  // One host in, then out again: a mesh peer added, then removed, as a put and a delete make it.
  let step = 0;
  const change = (): void => {
    const host = extraHost('bench-render', 250, step >> 1);
    if (step++ % 2 === 0) live.set(host.key, host.ip);
    else live.delete(host.key);
  };
  const time = (fn: () => unknown): number => {
    const t0 = performance.now();
    fn();
    return performance.now() - t0;
  };
  let bytes = [...render().files.values()].reduce((n, c) => n + c.length, 0);
  for (let i = 0; i < warmup; i++) {
    change();
    bytes = [...render().files.values()].reduce((n, c) => n + c.length, 0);
  }
  const result: RenderResult = {
    nodes,
    warmup,
    renderMs: [],
    renderCpuMs: [],
    fullMs: [],
    modelMs: [],
    templatesMs: [],
    bytes,
  };
  const model = buildNodeModel(keyspace, { nodeName: BENCH_NODE });
  for (let i = 0; i < runs; i++) {
    change();
    const cpu = process.cpuUsage();
    result.renderMs.push(time(render));
    const used = process.cpuUsage(cpu);
    result.renderCpuMs.push((used.user + used.system) / 1000);
    result.fullMs.push(time(() => nodeRole(BENCH_NODE, 'off').render(keyspace, templates)));
    result.modelMs.push(time(() => buildNodeModel(keyspace, { nodeName: BENCH_NODE })));
    result.templatesMs.push(time(() => renderFileSet(model, templates, { ipip: 'off' })));
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------------
// report

export function renderRows(r: RenderResult, summary: SummaryTable, targets: Targets): void {
  const m = median(r.renderMs);
  summary.add(
    [
      'Render alone after a one-host change: model + templates, in-process (median)',
      `${count(r.nodes)} nodes, ${r.renderMs.length} runs`,
      `${ms(m)} (full build from nothing: ${ms(median(r.fullMs))})`,
      '—',
      '—',
      `≤ ${targets.renderMs} ms`,
    ],
    { name: 'render', pass: m <= targets.renderMs },
  );
}

export function renderDetail(r: RenderResult): string[] {
  return [
    '### Render',
    '',
    `\`nodeRole().render\` (what a cycle runs: model + templates) on the built code in \`dist/\`, each run after one host`,
    "was added or removed, given the changed keys as `run` gives them (the live map's change log); after",
    `${r.warmup} warm-up renders. Beside it: a fresh role's first render (the model and every template from nothing, as`,
    `at start or after a re-read), and the model (\`buildNodeModel\`) and the templates (\`renderFileSet\`) alone, both`,
    `from nothing. Output: ${count(r.bytes)} bytes. Wall time is what the target is judged on; the CPU time of the`,
    'process (GC threads included) beside it shows how much of the wall time other tenants of this shared machine took.',
    '',
    table(
      ['Nodes', 'Runs', 'render p50', 'p90', 'min', 'its CPU time p50', 'full build p50', 'model p50', 'templates p50'],
      [
        [
          count(r.nodes),
          String(r.renderMs.length),
          ms(median(r.renderMs)),
          ms(percentile(r.renderMs, 90)),
          ms(Math.min(...r.renderMs)),
          ms(median(r.renderCpuMs)),
          ms(median(r.fullMs)),
          ms(median(r.modelMs)),
          ms(median(r.templatesMs)),
        ],
      ],
    ),
    '',
  ];
}
