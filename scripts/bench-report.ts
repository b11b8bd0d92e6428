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
} from './bench-suites.js';

export interface BenchResults {
  readonly latency: LatencyResult[];
  readonly anatomy: AnatomyResult | undefined;
  readonly storm: StormResult | undefined;
  readonly cold: ColdResult[];
  readonly render: RenderResult | undefined;
  readonly idle: IdleResult | undefined;
  readonly startup?: StartupResult | undefined;
}

export interface Targets {
  readonly latencyNodes: number;
  readonly latencyRatio: number;
  readonly stormReloads: number;
  readonly stormConvergedMs: number;
  readonly coldNodes: number;
  readonly coldMs: number;
  readonly peakRssMb: number;
  readonly renderMs: number;
  /** Idle CPU as a share of one core, in percent. */
  readonly idleCpuPercent: number;
}

export const TARGETS: Targets = {
  latencyNodes: 1000,
  latencyRatio: 1.3,
  stormReloads: 5,
  stormConvergedMs: 300,
  coldNodes: 10_000,
  coldMs: 2000,
  peakRssMb: 200,
  renderMs: 30,
  idleCpuPercent: 0.1,
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

/** The target's ratio: put → birdwatch logged "change applied", over the floor (both p50). */
export function latencyRatio(l: LatencyResult): number {
  return median(l.putToAppliedMs) / median(l.floor.totalMs);
}

/** put → BIRD's own log said Reconfigured, over the floor: what birdwatch costs before BIRD has the change. */
export function reconfiguredRatio(l: LatencyResult): number {
  return median(l.putToReconfiguredMs) / median(l.floor.totalMs);
}

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
    const r = latencyRatio(l);
    const targeted = l.nodes === targets.latencyNodes;
    rows.push([
      'Change latency p50 / p99 (put → BIRD answered `Reconfigured`)',
      `${count(l.nodes)} nodes, ${l.latencyMs.length} changes`,
      `${bare(median(l.putToAppliedMs))} / ${ms(percentile(l.putToAppliedMs, 99))}`,
      `${bare(median(l.floor.totalMs))} / ${ms(percentile(l.floor.totalMs, 99))}`,
      `${ratio(r)} (${ratio(reconfiguredRatio(l))} to BIRD's own "Reconfigured")`,
      targeted ? `p50 ≤ ${targets.latencyRatio}× floor` : '—',
      targeted ? judge(`change latency at ${count(l.nodes)} nodes`, r <= targets.latencyRatio) : '',
    ]);
  }
  if (results.storm) {
    const s = results.storm;
    const reloads = median(s.runs.map((r) => r.reloads));
    const converged = median(s.runs.map((r) => r.convergedMs));
    const exact = s.runs.filter((r) => r.exact).length;
    const scale = `${count(s.nodes)} nodes + ${s.hosts} hosts over ${s.spreadMs / 1000} s`;
    rows.push([
      'Storm: BIRD reloads (median of runs)',
      scale,
      `${reloads} (runs: ${s.runs.map((r) => r.reloads).join(', ')})`,
      '—',
      '—',
      `≤ ${targets.stormReloads}`,
      judge('storm reloads', reloads <= targets.stormReloads),
    ]);
    rows.push([
      'Storm: last put → BIRD has everything',
      scale,
      `${ms(converged)} (runs: ${list(
        s.runs.map((r) => r.convergedMs),
        bare,
      )})`,
      '—',
      '—',
      `≤ ${targets.stormConvergedMs} ms`,
      judge('storm convergence', converged <= targets.stormConvergedMs),
    ]);
    rows.push([
      'Storm: final `show protocols` exact',
      scale,
      `${exact}/${s.runs.length} runs`,
      '—',
      '—',
      'exact',
      judge('storm final state', exact === s.runs.length),
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
      targeted ? `≤ ${targets.peakRssMb} MB` : '—',
      targeted ? judge(`peak RSS at ${count(c.nodes)} nodes`, kibToMb(hwm) <= targets.peakRssMb) : '',
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
      `${ms(i.cpuMs)} (${percent.toFixed(3)} % of a core; per ${+(i.seconds / i.windowsMs.length).toFixed(1)} s: ${i.windowsMs.map((w) => w.toFixed(0)).join(', ')} ms; ${i.logLines} log lines)`,
      '—',
      '—',
      `≈ 0 (≤ ${targets.idleCpuPercent} %)`,
      judge('idle CPU', percent <= targets.idleCpuPercent),
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
    out.push('### Change latency', '');
    out.push(
      'One new host key per change (`/calico/bgp/v1/host/lat-N/ip_addr_v4`), changes spaced so none waits for the minimum',
      "reload gap or coalesces. *watch → answered* is birdwatch's own `latencyMs` (first change seen by its watch → BIRD",
      "answered); *ack → applied* and *put → applied* run from the put's acknowledgement / from just before the put to the",
      '`time` of the "change applied" line (the target\'s measure); *put → BIRD Reconfigured* runs to the moment BIRD\'s own',
      'log (stderr of `bird -d`, followed through inotify) says `Reconfigured`, i.e. without what birdwatch does after BIRD',
      'answered and before it logs. The floor, per change and on the configuration birdwatch had just applied:',
      'etcd put → watch event (etcd3 client, loopback) + `bird -p` + `bird6 -p` (both spawned, as birdwatch does) + one',
      '`configure` on a second BIRD making the same one-peer transition. birdwatch runs the two `-p` in parallel; the floor',
      'adds them. Values are p50 / p99 (nearest rank).',
      '',
    );
    out.push(
      table(
        [
          'Nodes',
          'Confirmed in `show protocols`',
          'watch → answered',
          'ack → applied',
          'put → applied',
          'put → BIRD Reconfigured',
          'birdwatch cycle',
          'its validate',
          'its configure',
          'floor: etcd',
          'bird -p',
          'bird6 -p',
          'configure',
          'floor sum',
        ],
        results.latency.map((l) => {
          const pp = (v: number[]): string => `${bare(median(v))} / ${bare(percentile(v, 99))}`;
          return [
            count(l.nodes),
            `${l.confirmed}/${l.latencyMs.length}`,
            pp(l.latencyMs),
            pp(l.ackToAppliedMs),
            pp(l.putToAppliedMs),
            pp(l.putToReconfiguredMs),
            pp(l.cycleMs),
            pp(l.validateMs),
            pp(l.reloadMs),
            pp(l.floor.etcdMs),
            pp(l.floor.birdParseMs),
            pp(l.floor.bird6ParseMs),
            pp(l.floor.configureMs),
            pp(l.floor.totalMs),
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
  if (results.storm) {
    const s = results.storm;
    out.push('### Storm', '');
    out.push(
      `${s.hosts} new hosts put into a ${count(s.nodes)}-node mesh at ${s.hosts / (s.spreadMs / 1000)} puts/s for ${s.spreadMs / 1000} s (put i sent at`,
      `i × ${s.spreadMs / s.hosts} ms, without waiting for acknowledgements), birdwatch at \`--min-reload-interval\` as listed above. Reloads are the`,
      "`configure` commands in birdwatch's log during the storm; convergence runs from the last put's acknowledgement to the",
      'log line of the cycle after which every new `Mesh_` protocol had been added; the final state is `show protocols`',
      'compared with the exact expected set once birdwatch was quiet.',
      '',
      table(
        [
          'Run',
          'Reloads (per daemon)',
          'Last put acknowledged',
          'Cycles: logged at (after the first put) and peers added',
          'Last put → BIRD has everything',
          'Final state',
        ],
        s.runs.map((r, i) => [
          String(i + 1),
          `${r.reloads} (${Object.entries(r.reloadsByDaemon)
            .map(([d, n]) => `${d} ${n}`)
            .join(', ')})`,
          `+${r.lastAckMs} ms`,
          r.timeline,
          `${ms(r.convergedMs)} (BIRD's own "Reconfigured": ${ms(r.reconfiguredMs)})`,
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
