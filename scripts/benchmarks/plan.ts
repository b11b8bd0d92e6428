/**
 * Runs the report's suites: startup and render first, then per mesh size (smallest first) one etcd loaded with
 * the mesh, on which cold start, the cycle anatomy and one live session (latency, idle, storm) run; then memory
 * and guard as processes of their own (`scripts/bench SUITE …`), their output kept as printed.
 */
import { execa } from 'execa';
import { childSection } from './lib/document.js';
import { startEtcdLab } from './lib/etcdLab.js';
import { loadKeyspace, meshKeyspace } from './lib/keyspace.js';
import { BENCH_ENTRY, ROOT } from './lib/paths.js';
import { withScope } from './lib/scope.js';
import type { ReportOptions, ReportSuite } from './options.js';
import type { BenchResults } from './report.js';
import { cycleAnatomy } from './suites/anatomy.js';
import { coldStart } from './suites/cold.js';
import { liveSession, measureRssFloor, type SessionOptions } from './suites/live.js';
import { renderBench } from './suites/render.js';
import { startupBench } from './suites/startup.js';
import { TARGETS } from './targets.js';

const progress = (text: string): void => void process.stderr.write(`bench: ${text}\n`);

export async function runReportSuites(options: ReportOptions): Promise<BenchResults> {
  const session: SessionOptions = {
    minReloadIntervalMs: options.minReloadIntervalMs,
    maxReloadShare: options.maxReloadShare,
    cpuProfDir: options.cpuProfDir,
    progress,
  };
  const results: { -readonly [K in keyof BenchResults]: BenchResults[K] } = {
    latency: [],
    rss: [],
    rssFloor: undefined,
    anatomy: undefined,
    storm: [],
    cold: [],
    render: undefined,
    idle: undefined,
    startup: undefined,
  };
  const has = (s: ReportSuite): boolean => options.suites.has(s);

  if (has('startup')) {
    progress(`CLI start-up: ${options.startupRuns} rounds against node -e 0`);
    results.startup = await withScope(async (scope) =>
      startupBench(scope, await startEtcdLab(scope), options.startupRuns, progress),
    );
  }

  if (has('render')) {
    progress(`render at 10,000 nodes: ${options.renderRuns} runs`);
    results.render = await renderBench(
      await meshKeyspace(10_000),
      10_000,
      options.renderRuns,
      Math.max(5, Math.min(20, options.renderRuns)),
    );
  }
  const sizes = new Set<number>();
  if (has('latency')) for (const n of options.latencyNodes) sizes.add(n);
  if (has('cold')) for (const n of options.coldNodes) sizes.add(n);
  if (has('storm')) for (const n of options.stormNodes) sizes.add(n);
  if (has('idle')) sizes.add(TARGETS.idleNodes);
  for (const nodes of [...sizes].sort((a, b) => a - b)) {
    await withScope(async (scope) => {
      progress(`${nodes} nodes: starting etcd and loading the keyspace`);
      const etcd = await startEtcdLab(scope);
      const keyspace = await meshKeyspace(nodes);
      await loadKeyspace(etcd.client, keyspace);
      if (has('latency') && nodes === TARGETS.anatomyNodes) {
        progress(`cycle anatomy at ${nodes} nodes`);
        results.anatomy = await cycleAnatomy(keyspace, nodes, Math.min(options.changes, 40));
      }
      if (has('cold') && options.coldNodes.includes(nodes))
        results.cold.push(await coldStart(etcd, nodes, options.runs, session));
      // One live session per BIRD (--bird): BIRD 1.6 first, the reference the idle figures are taken on.
      for (const [i, bird] of options.birds.entries()) {
        const plan = {
          nodes,
          bird,
          changes: has('latency') && options.latencyNodes.includes(nodes) ? options.changes : 0,
          idleSeconds: has('idle') && nodes === TARGETS.idleNodes && i === 0 ? options.idleSeconds : 0,
          stormRuns: has('storm') && options.stormNodes.includes(nodes) ? options.runs : 0,
        };
        if (plan.changes + plan.idleSeconds + plan.stormRuns > 0) {
          results.rssFloor ??= measureRssFloor();
          const live = await liveSession(etcd, plan, session);
          results.rss.push({ nodes, bird: live.bird, hwmKib: live.hwmKib });
          if (live.latency) results.latency.push(live.latency);
          if (live.idle) results.idle = live.idle;
          if (live.storm) results.storm.push(live.storm);
        }
      }
    });
  }
  return results;
}

/**
 * The suites that run as processes of their own (each makes its namespace and BIRD): peak RSS with the
 * packaging's settings and the apply guard's costs. Their output goes into the report as it is printed.
 */
export async function runChildSuites(options: ReportOptions): Promise<string[]> {
  const has = (s: ReportSuite): boolean => options.suites.has(s);
  const sections: string[] = [];
  const runSuite = async (title: string, suite: string, args: readonly string[]): Promise<void> => {
    const command = `scripts/bench ${suite} ${args.join(' ')}`;
    process.stderr.write(`bench: ${title}: ${command}\n`);
    const r = await execa(process.execPath, ['--import', 'tsx', BENCH_ENTRY, suite, ...args], {
      cwd: ROOT,
      reject: false,
      all: true,
    });
    const body = r.exitCode === 0 ? r.stdout : `FAILED (exit ${String(r.exitCode)}):\n${r.all ?? ''}`;
    sections.push(childSection(title, command, body));
  };
  if (has('memory'))
    await runSuite('Peak RSS with the packaging settings', 'memory', [
      '--nodes',
      options.quick ? '1000' : '1000,5000',
      '--variants',
      'shipped,bare',
    ]);
  if (has('guard'))
    await runSuite('The apply guard: hold time and fast-path costs', 'guard', [
      '--window',
      '5s',
      '--peers',
      options.quick ? '200' : '1000',
      '--runs',
      options.quick ? '5' : '20',
    ]);
  return sections;
}
