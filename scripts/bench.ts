/**
 * scripts/bench: birdwatch against the physical floor (latency, storm, cold start, render, idle).
 *
 *   scripts/bench                      full run; prints the table and writes docs/benchmarks.md
 *   scripts/bench --quick              smaller N, fewer samples; prints only (unless --out)
 *   scripts/bench --only render,storm  a subset (latency, storm, cold, render, idle, startup, memory, guard)
 *   scripts/bench --only startup --no-write   CLI start-up alone (no namespace needed)
 *
 * Real etcd on loopback; BIRD inside a network namespace of its own (mesh peers are unreachable 10.x addresses, so
 * nothing leaves the machine); birdwatch as a child process (`node dist/cli/main.js run`, built by scripts/setup)
 * whose JSON log says what it did and when. Needs root (ip netns).
 */
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { canCreateNamespaces } from '../test/harness/netns.js';
import { loadKeyspace, meshKeyspace, ROOT, startEtcdLab, withScope } from './bench-lab.js';
import { detailSections, summaryTable, TARGETS, type BenchResults } from './bench-report.js';
import { startupBench } from './bench-startup.js';
import { coldStart, cycleAnatomy, liveSession, renderBench, type SessionOptions } from './bench-suites.js';
import { errorMessage } from '../src/errorMessage.js';

const SUITES = ['latency', 'storm', 'cold', 'render', 'idle', 'startup', 'memory', 'guard'] as const;
type Suite = (typeof SUITES)[number];

const USAGE = `usage: scripts/bench [--quick] [--only ${SUITES.join(',')}] [--changes N] [--runs N] [--render-runs N]
                     [--idle-seconds S] [--latency-nodes 100,1000,5000] [--cold-nodes 1000,5000,10000]
                     [--storm-nodes 1000,5000] [--min-reload-interval MS] [--max-reload-share F]
                     [--startup-runs N] [--out FILE | --no-write] [--cpu-prof DIR]`;

const numbers = (text: string, what: string): number[] => {
  const list = text.split(',').map((s) => Number(s.trim()));
  if (list.some((n) => !Number.isInteger(n) || n < 2))
    throw new Error(`${what}: expected a comma-separated list of whole numbers ≥ 2`);
  return list;
};
const whole = (text: string | undefined, fallback: number, what: string, min = 0): number => {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`${what}: expected a whole number ≥ ${min}`);
  return n;
};

const share = (text: string): number => {
  const n = Number(text);
  if (!(n > 0 && n <= 1)) throw new Error(`--max-reload-share ${JSON.stringify(text)}: expected a number > 0 and ≤ 1`);
  return n;
};

function parseOptions() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      changes: { type: 'string' },
      runs: { type: 'string' },
      'render-runs': { type: 'string' },
      'startup-runs': { type: 'string' },
      'idle-seconds': { type: 'string' },
      'latency-nodes': { type: 'string' },
      'cold-nodes': { type: 'string' },
      'storm-nodes': { type: 'string' },
      'min-reload-interval': { type: 'string' },
      'max-reload-share': { type: 'string' },
      out: { type: 'string' },
      'no-write': { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const quick = values.quick === true;
  const only = values.only === undefined ? [...SUITES] : values.only.split(',').map((s) => s.trim());
  const unknown = only.filter((s) => !(SUITES as readonly string[]).includes(s));
  if (unknown.length > 0) throw new Error(`--only: unknown suite ${unknown.join(', ')} (have ${SUITES.join(', ')})`);
  return {
    quick,
    suites: new Set(only as Suite[]),
    changes: whole(values.changes, quick ? 15 : 41, '--changes', 1),
    runs: whole(values.runs, quick ? 1 : 3, '--runs', 1),
    renderRuns: whole(values['render-runs'], quick ? 10 : 30, '--render-runs', 1),
    startupRuns: whole(values['startup-runs'], quick ? 5 : 15, '--startup-runs', 1),
    idleSeconds: whole(values['idle-seconds'], quick ? 10 : 60, '--idle-seconds', 1),
    latencyNodes: values['latency-nodes']
      ? numbers(values['latency-nodes'], '--latency-nodes')
      : quick
        ? [100, 1000]
        : [100, 1000, 5000],
    coldNodes: values['cold-nodes']
      ? numbers(values['cold-nodes'], '--cold-nodes')
      : quick
        ? [1000, 10_000]
        : [1000, 5000, 10_000],
    stormNodes: values['storm-nodes'] ? numbers(values['storm-nodes'], '--storm-nodes') : quick ? [1000] : [1000, 5000],
    minReloadIntervalMs:
      values['min-reload-interval'] === undefined
        ? undefined
        : whole(values['min-reload-interval'], 0, '--min-reload-interval'),
    maxReloadShare: values['max-reload-share'] === undefined ? undefined : share(values['max-reload-share']),
    out: values['no-write'] ? undefined : (values.out ?? (quick ? undefined : join(ROOT, 'docs', 'benchmarks.md'))),
    cpuProfDir: values['cpu-prof'],
  };
}

type Options = ReturnType<typeof parseOptions>;

async function machineFacts(): Promise<string[]> {
  const version = async (cmd: string, args: string[]): Promise<string> => {
    const r = await execa(cmd, args, { reject: false });
    return `${r.stdout}\n${r.stderr}`.trim().split('\n')[0] ?? '?';
  };
  const git = await execa('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { reject: false });
  const dirty = await execa('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src', 'templates'], { reject: false });
  const cpu = cpus();
  return [
    `- Date: ${new Date().toISOString()}`,
    `- CPU: ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown'}); memory ${(totalmem() / 2 ** 30).toFixed(1)} GiB; load average at start ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
    `- Linux ${release()}; Node ${process.version}; ${await version('bird', ['--version'])} (Debian); ${await version('etcd', ['--version'])}`,
    `- birdwatch ${git.stdout.trim() || '?'}${dirty.stdout.trim() ? ' with uncommitted changes in src/ or templates/' : ''}`,
  ];
}

async function run(options: Options): Promise<BenchResults> {
  const progress = (text: string): void => void process.stderr.write(`bench: ${text}\n`);
  const session: SessionOptions = {
    minReloadIntervalMs: options.minReloadIntervalMs,
    maxReloadShare: options.maxReloadShare,
    cpuProfDir: options.cpuProfDir,
    progress,
  };
  const results: { -readonly [K in keyof BenchResults]: BenchResults[K] } = {
    latency: [],
    rss: [],
    anatomy: undefined,
    storm: [],
    cold: [],
    render: undefined,
    idle: undefined,
    startup: undefined,
  };
  const has = (s: Suite): boolean => options.suites.has(s);

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
      const plan = {
        nodes,
        changes: has('latency') && options.latencyNodes.includes(nodes) ? options.changes : 0,
        idleSeconds: has('idle') && nodes === TARGETS.idleNodes ? options.idleSeconds : 0,
        stormRuns: has('storm') && options.stormNodes.includes(nodes) ? options.runs : 0,
      };
      if (plan.changes + plan.idleSeconds + plan.stormRuns > 0) {
        const live = await liveSession(etcd, plan, session);
        results.rss.push({ nodes, hwmKib: live.hwmKib });
        if (live.latency) results.latency.push(live.latency);
        if (live.idle) results.idle = live.idle;
        if (live.storm) results.storm.push(live.storm);
      }
    });
  }
  return results;
}

/**
 * The suites that run as scripts of their own (each makes its namespace and BIRD): peak RSS with the packaging's
 * settings (scripts/bench-memory.ts) and the apply guard's costs (scripts/bench-guard.ts). Their output goes into
 * the report as it is printed.
 */
async function childSuites(options: Options): Promise<string[]> {
  const has = (s: Suite): boolean => options.suites.has(s);
  const sections: string[] = [];
  const runScript = async (title: string, script: string, args: readonly string[]): Promise<void> => {
    process.stderr.write(`bench: ${title}: ${script} ${args.join(' ')}\n`);
    const r = await execa(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', script), ...args], {
      cwd: ROOT,
      reject: false,
      all: true,
    });
    const body = r.exitCode === 0 ? r.stdout : `FAILED (exit ${String(r.exitCode)}):\n${r.all ?? ''}`;
    sections.push(
      [
        `## ${title}`,
        '',
        `\`node --import tsx scripts/${script} ${args.join(' ')}\``,
        '',
        '```',
        body.trimEnd(),
        '```',
        '',
      ].join('\n'),
    );
  };
  if (has('memory'))
    await runScript('Peak RSS with the packaging settings', 'bench-memory.ts', [
      '--nodes',
      options.quick ? '1000' : '1000,5000',
      '--variants',
      'shipped,bare',
    ]);
  if (has('guard'))
    await runScript('The apply guard: hold time and fast-path costs', 'bench-guard.ts', [
      '--window',
      '5s',
      '--peers',
      options.quick ? '200' : '1000',
      '--runs',
      options.quick ? '5' : '20',
    ]);
  return sections;
}

async function main(): Promise<void> {
  let options: Options;
  try {
    options = parseOptions();
  } catch (error) {
    process.stderr.write(`bench: ${errorMessage(error)}\n${USAGE}\n`);
    process.exit(2);
  }
  const needsBird = [...options.suites].some((s) => s !== 'render' && s !== 'startup');
  if (needsBird && !(await canCreateNamespaces())) {
    process.stderr.write(
      'bench: cannot create network namespaces (needs root and iproute2); BIRD must run inside one. Try --only render.\n',
    );
    process.exit(2);
  }
  const facts = await machineFacts();
  const started = performance.now();
  const results = await run(options);
  const extra = await childSuites(options);
  const { markdown, verdicts } = summaryTable(results);
  const mode = options.quick
    ? 'quick run (`scripts/bench --quick`: fewer nodes and samples)'
    : 'full run (`scripts/bench`)';
  const pacing = [
    options.minReloadIntervalMs === undefined ? '' : ` --min-reload-interval ${options.minReloadIntervalMs}ms`,
    options.maxReloadShare === undefined ? '' : ` --max-reload-share ${options.maxReloadShare}`,
  ].join('');
  const settings = `birdwatch run --ipip off${pacing || ' (default pacing)'} --log-format json; ${options.runs} run(s) for storm and cold start, ${options.changes} interleaved rounds per latency size; IPv4 mesh fixtures from scripts/gen-mesh-fixture.mjs (ip_addr_v6 empty); benchmark took ${Math.round((performance.now() - started) / 1000)} s.`;
  facts.push(
    `- Load average at the end: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} (${cpus().length}-core machine shared with other work: wall times include its contention)`,
  );
  const doc = [
    '# Benchmarks',
    '',
    'Generated by `scripts/bench` — do not edit by hand. birdwatch is measured against the floor set by its own parts in the',
    'same run: the bare sequence (etcd put → plain watch event, a plain spawn of `bird -p`, `configure` on a raw control',
    "socket, the new protocol polled by name) with no Node-side staging or fsync; anything above that is birdwatch's cost.",
    'Real etcd 3.4 on loopback, real BIRD 1.6 inside a network namespace (mesh peers unreachable, nothing leaves the host).',
    'Targets are benchmarks, not tests: a MISS is reported, not failed.',
    '',
    `${mode}:`,
    '',
    ...facts,
    `- ${settings}`,
    '',
    markdown,
    '',
    detailSections(results),
    '',
    ...extra,
  ].join('\n');
  process.stdout.write(`\n${markdown}\n\n${detailSections(results)}\n\n${extra.join('\n')}\n`);
  const misses = verdicts.filter((v) => !v.pass);
  process.stdout.write(
    `\n${verdicts.length - misses.length}/${verdicts.length} targets met${misses.length > 0 ? `; missed: ${misses.map((m) => m.name).join(', ')}` : ''}\n`,
  );
  if (options.out !== undefined) {
    await writeFile(options.out, `${doc.trimEnd()}\n`);
    process.stdout.write(`written to ${options.out}\n`);
  }
}

await main();
