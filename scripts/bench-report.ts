/** Markdown for scripts/bench: a summary table with the targets, then the detail of every benchmark. */
import { count, kibToMb, mb, median, ms, percentile, ratio } from './bench-stats.js';
import type { StartupResult } from './bench-startup.js';
import type {
  AnatomyResult,
  ColdResult,
  IdleResult,
  LatencyResult,
  RenderResult,
  StormResult,
  StormRun,
} from './bench-suites.js';

export interface BenchResults {
  readonly latency: LatencyResult[];
  /** Peak RSS (VmHWM) of the birdwatch process of each live session, by size. */
  readonly rss: { readonly nodes: number; readonly hwmKib: number }[];
  readonly anatomy: AnatomyResult | undefined;
  readonly storm: StormResult[];
  readonly cold: ColdResult[];
  readonly render: RenderResult | undefined;
  readonly idle: IdleResult | undefined;
  readonly startup?: StartupResult | undefined;
}

export interface Targets {
  /** put → visible over the bare floor, judged at every latency size. */
  readonly latencyP50Ratio: number;
  readonly latencyP90Ratio: number;
  readonly anatomyNodes: number;
  /** Share of the storm's time BIRD spends reconfiguring. */
  readonly stormReconfiguringShare: number;
  /** Last put → every storm host visible, by mesh size. */
  readonly stormVisibleMs: Readonly<Record<number, number>>;
  /** Peak RSS of the running birdwatch, by mesh size (MB). */
  readonly peakRssMb: Readonly<Record<number, number>>;
  readonly coldNodes: number;
  readonly coldMs: number;
  readonly coldPeakRssMb: number;
  readonly renderMs: number;
  readonly idleNodes: number;
  /** Idle CPU time over the idle period (ms): 0 means not one clock tick. */
  readonly idleCpuMs: number;
}

export const TARGETS: Targets = {
  latencyP50Ratio: 1.3,
  latencyP90Ratio: 1.6,
  anatomyNodes: 1000,
  stormReconfiguringShare: 0.25,
  stormVisibleMs: { 1000: 100, 5000: 300 },
  peakRssMb: { 1000: 60, 5000: 90 },
  coldNodes: 10_000,
  coldMs: 2000,
  coldPeakRssMb: 200,
  renderMs: 30,
  idleNodes: 1000,
  idleCpuMs: 0,
};

export interface Verdict {
  readonly name: string;
  readonly pass: boolean;
}

const verdict = (pass: boolean): string => (pass ? '**PASS**' : '**MISS**');
const row = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
const table = (header: readonly string[], rows: readonly (readonly string[])[]): string =>
  [row(header), row(header.map(() => '---')), ...rows.map(row)].join('\n');
const list = (values: readonly number[], format: (v: number) => string): string => values.map(format).join(', ');
const bare = (v: number): string => ms(v).replace(' ms', '');
const pct = (v: number): string => (Number.isFinite(v) ? `${(v * 100).toFixed(1)} %` : '—');

/** Per-round ratio (birdwatch round over the floor round beside it): median and spread. */
export function roundRatios(l: LatencyResult): { p10: number; p50: number; p90: number } {
  return { p10: percentile(l.ratios, 10), p50: median(l.ratios), p90: percentile(l.ratios, 90) };
}
const floorTotals = (l: LatencyResult): number[] => l.floor.map((f) => f.totalMs);
/** p90 of birdwatch's put → visible over p90 of the floor's. */
export const p90Ratio = (l: LatencyResult): number => percentile(l.putToVisibleMs, 90) / percentile(floorTotals(l), 90);

const stormShare = (r: StormRun): number => r.reconfiguringMs / r.stormMs;

export function summaryTable(
  results: BenchResults,
  targets: Targets = TARGETS,
): { markdown: string; verdicts: Verdict[] } {
  const rows: string[][] = [];
  const verdicts: Verdict[] = [];
  const judge = (name: string, pass: boolean): string => {
    verdicts.push({ name, pass });
    return verdict(pass);
  };
  for (const l of results.latency) {
    const rr = roundRatios(l);
    const r90 = p90Ratio(l);
    const floor = floorTotals(l);
    rows.push([
      'put → protocol visible in BIRD, p50 / p90',
      `${count(l.nodes)} nodes, ${l.rounds} interleaved rounds`,
      `${bare(median(l.putToVisibleMs))} / ${ms(percentile(l.putToVisibleMs, 90))} (its own latencyMs p50 ${ms(median(l.latencyMs))})`,
      `${bare(median(floor))} / ${ms(percentile(floor, 90))}`,
      `per round ${ratio(rr.p50)} [p10 ${ratio(rr.p10)}, p90 ${ratio(rr.p90)}]; p90/p90 ${ratio(r90)}`,
      `p50 ≤ ${targets.latencyP50Ratio}×, p90 ≤ ${targets.latencyP90Ratio}×`,
      judge(
        `put → visible at ${count(l.nodes)} nodes`,
        rr.p50 <= targets.latencyP50Ratio && r90 <= targets.latencyP90Ratio,
      ),
    ]);
  }
  for (const s of results.storm) {
    const scale = `${count(s.nodes)} nodes + ${s.hosts} hosts at ${s.hosts / (s.spreadMs / 1000)}/s`;
    const shares = s.runs.map(stormShare);
    const visible = s.runs.map((r) => r.visibleMs);
    const exact = s.runs.filter((r) => r.exact).length;
    const visibleTarget = targets.stormVisibleMs[s.nodes];
    rows.push([
      "Storm: BIRD reconfiguring, share of the storm's time (median of runs)",
      scale,
      `${pct(median(shares))} (runs: ${shares.map(pct).join(', ')}; reloads ${s.runs.map((r) => r.reloads).join(', ')})`,
      '—',
      '—',
      `≤ ${targets.stormReconfiguringShare * 100} %`,
      judge(`storm reconfiguring share at ${count(s.nodes)} nodes`, median(shares) <= targets.stormReconfiguringShare),
    ]);
    rows.push([
      'Storm: last put → every host visible (median of runs)',
      scale,
      `${ms(median(visible))} (runs: ${list(visible, bare)})`,
      '—',
      '—',
      visibleTarget === undefined ? '—' : `≤ ${visibleTarget} ms`,
      visibleTarget === undefined
        ? ''
        : judge(`storm visible at ${count(s.nodes)} nodes`, median(visible) <= visibleTarget),
    ]);
    rows.push([
      'Storm: final `show protocols` exact',
      scale,
      `${exact}/${s.runs.length} runs`,
      '—',
      '—',
      'exact',
      judge(`storm final state at ${count(s.nodes)} nodes`, exact === s.runs.length),
    ]);
  }
  for (const m of results.rss) {
    const target = targets.peakRssMb[m.nodes];
    rows.push([
      'Peak RSS of the running birdwatch (VmHWM at the end of its session)',
      `${count(m.nodes)} nodes`,
      mb(m.hwmKib),
      '—',
      '—',
      target === undefined ? '—' : `≤ ${target} MB`,
      target === undefined ? '' : judge(`peak RSS at ${count(m.nodes)} nodes`, kibToMb(m.hwmKib) <= target),
    ]);
  }
  for (const c of results.cold) {
    const cold = median(c.runs.map((r) => r.coldMs));
    const hwm = median(c.runs.map((r) => r.hwmKib));
    const targeted = c.nodes === targets.coldNodes;
    rows.push([
      'Cold start: process start → first apply done',
      `${count(c.nodes)} nodes`,
      `${ms(cold)} (runs: ${list(
        c.runs.map((r) => r.coldMs),
        bare,
      )})`,
      '—',
      '—',
      targeted ? `≤ ${targets.coldMs / 1000} s` : '—',
      targeted ? judge(`cold start at ${count(c.nodes)} nodes`, cold <= targets.coldMs) : '',
    ]);
    rows.push([
      'Peak RSS of birdwatch (VmHWM after the first apply)',
      `${count(c.nodes)} nodes`,
      `${mb(hwm)} (runs: ${c.runs.map((r) => mb(r.hwmKib).replace(' MB', '')).join(', ')})`,
      '—',
      '—',
      targeted ? `≤ ${targets.coldPeakRssMb} MB` : '—',
      targeted ? judge(`cold-start peak RSS at ${count(c.nodes)} nodes`, kibToMb(hwm) <= targets.coldPeakRssMb) : '',
    ]);
  }
  if (results.render) {
    const r = results.render;
    const m = median(r.renderMs);
    rows.push([
      'Render alone: model + templates, in-process (median)',
      `${count(r.nodes)} nodes, ${r.renderMs.length} runs`,
      ms(m),
      '—',
      '—',
      `≤ ${targets.renderMs} ms`,
      judge('render', m <= targets.renderMs),
    ]);
  }
  if (results.idle) {
    const i = results.idle;
    const percent = (i.cpuMs / (i.seconds * 1000)) * 100;
    rows.push([
      'Idle: CPU time of birdwatch (utime + stime)',
      `${count(i.nodes)} nodes, ${i.seconds} s`,
      `${ms(i.cpuMs)} (${percent.toFixed(3)} % of a core; per ${+(i.seconds / i.windowsMs.length).toFixed(1)} s: ${i.windowsMs.map((w) => w.toFixed(0)).join(', ')} ms; ${i.logLines} log lines${i.logMessages.length > 0 ? `: ${i.logMessages.map((m) => JSON.stringify(m)).join(', ')}` : ''})`,
      '—',
      '—',
      `${targets.idleCpuMs} ms (not one clock tick)`,
      judge('idle CPU', i.cpuMs <= targets.idleCpuMs),
    ]);
  }
  if (results.startup) {
    const st = results.startup;
    const floorMs = median(st.floor.samples.map((x) => x.wallMs));
    for (const c of st.cases) {
      const wall = median(c.samples.map((x) => x.wallMs));
      const rss =
        st.rssMeasured && c.samples.every((x) => x.maxRssKib !== undefined)
          ? Math.max(...c.samples.map((x) => x.maxRssKib ?? 0))
          : undefined;
      const targets = [
        c.targetMs !== undefined ? `≤ ${c.targetMs} ms` : undefined,
        c.targetRssMb !== undefined ? `≤ ${c.targetRssMb} MB peak` : undefined,
      ].filter((x) => x !== undefined);
      const pass =
        (c.targetMs === undefined || wall <= c.targetMs) &&
        (c.targetRssMb === undefined || (rss !== undefined && kibToMb(rss) <= c.targetRssMb));
      rows.push([
        `CLI start-up: ${c.command} (p50 wall${rss !== undefined ? ', peak RSS' : ''})`,
        `${st.runs} runs`,
        `${ms(wall)}${rss !== undefined ? `, ${mb(rss)}` : ''}`,
        `node -e 0: ${ms(floorMs)}${st.rssMeasured ? `, ${mb(Math.max(...st.floor.samples.map((x) => x.maxRssKib ?? 0)))}` : ''}`,
        ratio(wall / floorMs),
        targets.length > 0 ? targets.join(', ') : '—',
        targets.length > 0 ? judge(`start-up: ${c.name}`, pass) : '',
      ]);
    }
  }
  const markdown = table(['Benchmark', 'Scale', 'birdwatch', 'Floor (same run)', 'Ratio', 'Target', ''], rows);
  return { markdown, verdicts };
}

export function detailSections(results: BenchResults): string {
  const out: string[] = [];
  if (results.latency.length > 0) {
    out.push('### put → visible, against the bare floor', '');
    out.push(
      'One new host key per round (`/calico/bgp/v1/host/lat-N/ip_addr_v4`). A birdwatch round runs from just before the put',
      'to the moment `show protocols "Mesh_…"` (polled back to back on a raw control-socket connection) lists the new peer;',
      "rounds start only once birdwatch's pacer allows a reload at once. Right after each birdwatch round, a floor round on a",
      'second BIRD (its own namespace) making the same one-peer transition, with the file birdwatch had just written:',
      '*etcd* = put → event on a plain etcd3 watch; *bird -p* = a plain `child_process.spawn`, output ignored; *configure* =',
      'the command on a raw unix socket kept open → final reply line; *visible* = then polled as above. No staging, no',
      'fsync, nothing rendered. *Ratio per round* divides each birdwatch round by the floor round after it (median and',
      "p10–p90 spread); *its latencyMs* is birdwatch's own measure (its watch saw the change → BIRD answered). Values are",
      'p50 / p90 (nearest rank).',
      '',
    );
    out.push(
      table(
        [
          'Nodes',
          'Rounds',
          'birdwatch put → visible',
          'its latencyMs',
          'its cycle',
          'its validate',
          'its configure',
          'floor: etcd',
          'bird -p',
          'configure',
          'visible',
          'floor put → visible',
          'ratio per round p10 / p50 / p90',
        ],
        results.latency.map((l) => {
          const pp = (v: number[]): string => `${bare(median(v))} / ${bare(percentile(v, 90))}`;
          const f = (pick: (r: LatencyResult['floor'][number]) => number): string => pp(l.floor.map(pick));
          const rr = roundRatios(l);
          return [
            count(l.nodes),
            String(l.rounds),
            pp(l.putToVisibleMs),
            pp(l.latencyMs),
            pp(l.cycleMs),
            pp(l.validateMs),
            pp(l.reloadMs),
            f((r) => r.etcdMs),
            f((r) => r.birdParseMs),
            f((r) => r.configureMs),
            f((r) => r.visibleMs),
            f((r) => r.totalMs),
            `${ratio(rr.p10)} / ${ratio(rr.p50)} / ${ratio(rr.p90)}`,
          ];
        }),
      ),
      '',
    );
  }
  if (results.anatomy) {
    const a = results.anatomy;
    const total = a.steps.reduce((sum, [, v]) => sum + median(v), 0);
    out.push("### Where a cycle's time goes", '');
    out.push(
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
    );
  }
  for (const s of results.storm) {
    out.push(`### Storm at ${count(s.nodes)} nodes`, '');
    out.push(
      `${s.hosts} new hosts put into a ${count(s.nodes)}-node mesh at ${s.hosts / (s.spreadMs / 1000)} puts/s (put i sent at i × ${s.spreadMs / s.hosts} ms, without`,
      "waiting for acknowledgements). *Storm's time* runs from the first put to every new `Mesh_` protocol listed by BIRD",
      '(`show protocols "Mesh_10_2xx_*"` counted every 2 ms on a raw socket); *BIRD reconfiguring* is the sum of the',
      "`configure` answer times birdwatch logged for bird in that time; *visible* runs from the last put's acknowledgement.",
      'The final state is `show protocols` compared with the exact expected set once birdwatch was quiet.',
      '',
      table(
        [
          'Run',
          'Reloads (per daemon)',
          'Last put acknowledged',
          'Cycles: logged at (after the first put) and peers added',
          "BIRD reconfiguring / storm's time",
          'Last put → every host visible',
          'Final state',
        ],
        s.runs.map((r, i) => [
          String(i + 1),
          `${r.reloads} (${Object.entries(r.reloadsByDaemon)
            .map(([d, n]) => `${d} ${n}`)
            .join(', ')})`,
          `+${Math.round(r.lastAckMs)} ms`,
          r.timeline,
          `${ms(r.reconfiguringMs)} / ${ms(r.stormMs)} = ${pct(stormShare(r))}`,
          ms(r.visibleMs),
          r.exact ? 'exact' : `**wrong**: ${r.detail}`,
        ]),
      ),
      '',
    );
  }
  if (results.cold.length > 0) {
    out.push('### Cold start', '');
    out.push(
      'The config dir holds the smallest valid configuration, which BIRD runs; birdwatch starts, reads everything from etcd,',
      'renders, stages, validates, swaps and reloads BIRD and BIRD6 (BIRD then runs N−1 mesh sessions, checked with',
      '`show protocols`). Phases from the log: *boot* = spawn → "birdwatch starting" (Node, module load); *sync* → "etcd',
      'synced"; *first cycle* → "configuration applied". Peak RSS is VmHWM of the birdwatch process read right after.',
      '',
      table(
        [
          'Nodes',
          'Run',
          'Start → applied',
          'Boot',
          'etcd sync',
          'First cycle',
          'its validate',
          'its reloads',
          'Peak RSS',
          'RSS after',
        ],
        results.cold.flatMap((c) =>
          c.runs.map((r, i) => [
            count(c.nodes),
            String(i + 1),
            ms(r.coldMs),
            ms(r.bootMs),
            ms(r.syncMs),
            ms(r.firstCycleMs),
            ms(r.validateMs),
            r.reloadText.replace(/[{}"]/g, '').replace(/,/g, ', '),
            mb(r.hwmKib),
            mb(r.rssKib),
          ]),
        ),
      ),
      '',
    );
  }
  if (results.render) {
    const r = results.render;
    out.push('### Render', '');
    out.push(
      `\`nodeRole().render\` (what a cycle runs: model + templates) on the built code in \`dist/\`, after ${r.warmup} warm-up`,
      `renders; then the model (\`buildNodeModel\`) and the templates (\`renderFileSet\`) alone. Output: ${count(r.bytes)} bytes.`,
      'Wall time is what the target is judged on; the CPU time of the process (GC threads included) beside it shows how much',
      'of the wall time other tenants of this shared machine took.',
      '',
      table(
        ['Nodes', 'Runs', 'render p50', 'p90', 'min', 'its CPU time p50', 'model p50', 'templates p50'],
        [
          [
            count(r.nodes),
            String(r.renderMs.length),
            ms(median(r.renderMs)),
            ms(percentile(r.renderMs, 90)),
            ms(Math.min(...r.renderMs)),
            ms(median(r.renderCpuMs)),
            ms(median(r.modelMs)),
            ms(median(r.templatesMs)),
          ],
        ],
      ),
      '',
    );
  }
  if (results.startup) {
    const st = results.startup;
    const all = [st.floor, ...st.cases];
    out.push('### CLI start-up', '');
    out.push(
      'One invocation of the built CLI (`node dist/cli/main.js …`), interleaved round by round with `node -e 0` so machine',
      'load falls on both alike: wall time from spawn to exit (`run`: to the first byte a loopback proxy in front of etcd',
      `receives), peak RSS from GNU time's maxrss${st.rssMeasured ? '' : ' (not measured: /usr/bin/time is missing)'}. \`status\` asks a real bird and bird6 (device`,
      'protocol only); `pool show` reads a real etcd on loopback.',
      '',
      table(
        ['Command', 'Runs', 'p50', 'p90', 'min', 'p50 / node -e 0', 'peak RSS (max)'],
        all.map((c) => {
          const wall = c.samples.map((x) => x.wallMs);
          const floor = median(st.floor.samples.map((x) => x.wallMs));
          const measured = st.rssMeasured && c.samples.every((x) => x.maxRssKib !== undefined);
          return [
            c.command,
            String(wall.length),
            ms(median(wall)),
            ms(percentile(wall, 90)),
            ms(Math.min(...wall)),
            ratio(median(wall) / floor),
            measured ? mb(Math.max(...c.samples.map((x) => x.maxRssKib ?? 0))) : '—',
          ];
        }),
      ),
      '',
    );
  }
  return out.join('\n');
}
