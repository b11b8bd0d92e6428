/**
 * memory: a real `birdwatch run` (the built dist/, as shipped) against a real etcd and a real BIRD/BIRD6 pair in a
 * network namespace, at 1,000 and 5,000 nodes (the full-mesh fixture of scripts/gen-mesh-fixture.mjs): start →
 * first apply → single-host changes one at a time (adds, deletes, an address change) → a storm of new hosts →
 * quiet; then the process's peak RSS (VmHWM), its RSS split into anonymous and file-backed pages, and (with --heap)
 * a V8 heap snapshot taken by signal and summed by what holds the bytes. The floor is measured in the same run:
 * `node -e 0` and `node -e "await import('etcd3')"` (the etcd client alone).
 *
 * A variant is the node flags and environment birdwatch runs with: `shipped` = what packaging/ sets
 * (NODE_OPTIONS, MALLOC_ARENA_MAX), `bare` = plain `node`, `default-v8` = not even the --optimize-for-size `run`
 * turns on, and single V8 heap-sizing flags (semi-space-1, old-space-64, optimize-for-size, …) to compare.
 * `--render`: CPU per one-host change (model + render) in this process instead. Needs root (network namespaces),
 * `bird`, `bird6`, `etcd`, and dist/ built.
 */
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseFlags, UsageError, wholeNumber } from '../lib/args.js';
import { benchNamespace, startBirdPair } from '../lib/birdPair.js';
import { startBirdwatch, type LogLine } from '../lib/birdwatch.js';
import { importBuilt } from '../lib/built.js';
import { startEtcdLab, type EtcdLab } from '../lib/etcdLab.js';
import { freePort, writeMinimalConfig } from '../lib/harness.js';
import { BENCH_NODE, extraHost, loadKeyspace, meshKeyspace } from '../lib/keyspace.js';
import { DIST } from '../lib/paths.js';
import { IMPORT_ETCD3, peakRssOfNodeProgram, SHIPPED_ENV } from '../lib/memoryFloor.js';
import { memoryOf, type ProcessMemory } from '../lib/procfs.js';
import { sleep, tempDir, withScope, type Scope } from '../lib/scope.js';
import { bytesToMb, mb, percentile } from '../lib/stats.js';

export const usage = [
  'usage: scripts/bench memory [--nodes 1000,5000] [--variants shipped,bare,default-v8] [--heap] [--json]',
  '                            [--adds 20] [--storm 100] [--dist DIR (another build, e.g. of the commit before)]',
  '       scripts/bench memory --render [--nodes 1000,5000] [--dist DIR]   (CPU per one-host change)',
].join('\n');

interface Variant {
  readonly flags: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

const VARIANTS: Readonly<Record<string, Variant>> = {
  /** As packaging/ runs it (and `run` turns on --optimize-for-size itself). */
  shipped: { flags: [], env: SHIPPED_ENV },
  /** Plain `node …/main.js run`: only what `run` sets itself. */
  bare: { flags: [] },
  /** V8's defaults: no --optimize-for-size either (what `run` was before). */
  'default-v8': { flags: ['--no-optimize-for-size'] },
  'semi-space-1': { flags: ['--max-semi-space-size=1'] },
  'semi-space-2': { flags: ['--max-semi-space-size=2'] },
  'old-space-64': { flags: ['--max-old-space-size=64'] },
  'optimize-for-size': { flags: ['--optimize-for-size'] },
  'no-opt': { flags: ['--no-opt'] },
  'lite-mode': { flags: ['--lite-mode'] },
  'ofs-semi-1': { flags: ['--optimize-for-size', '--max-semi-space-size=1'] },
  'ofs-old-64': { flags: ['--optimize-for-size', '--max-old-space-size=64'] },
  'growing-10': { flags: ['--heap-growing-percent=10'] },
  'semi-1-arena-2': { flags: ['--max-semi-space-size=1'], env: { MALLOC_ARENA_MAX: '2' } },
  'semi-1-single-gc': { flags: ['--max-semi-space-size=1', '--single-threaded-gc'] },
  'arena-1': { flags: [], env: { MALLOC_ARENA_MAX: '1' } },
  'arena-2': { flags: [], env: { MALLOC_ARENA_MAX: '2' } },
};

interface MemoryOptions {
  readonly nodes: number[];
  readonly variants: string[];
  readonly heap: boolean;
  readonly json: boolean;
  readonly adds: number;
  readonly storm: number;
  readonly render: boolean;
  /** The build measured: this checkout's dist/, or another's (--dist). */
  readonly dist: string;
}

function parseMemoryOptions(argv: readonly string[]): MemoryOptions | undefined {
  const values = parseFlags(argv, {
    nodes: { type: 'string', default: '1000,5000' },
    variants: { type: 'string', default: 'shipped,bare,default-v8' },
    heap: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    adds: { type: 'string' },
    storm: { type: 'string' },
    render: { type: 'boolean', default: false },
    dist: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) return undefined;
  const nodes = values.nodes.split(',').map(Number);
  const variants = values.variants.split(',');
  for (const v of variants)
    if (!(v in VARIANTS))
      throw new UsageError(`--variants: unknown variant ${JSON.stringify(v)} (${Object.keys(VARIANTS).join(', ')})`);
  if (nodes.some((n) => !Number.isInteger(n) || n < 2))
    throw new UsageError(`--nodes ${JSON.stringify(values.nodes)}: expected whole numbers ≥ 2, comma-separated`);
  return {
    nodes,
    variants,
    heap: values.heap,
    json: values.json,
    adds: wholeNumber('--adds', values.adds, 20, 1),
    storm: wholeNumber('--storm', values.storm, 100, 1),
    render: values.render,
    dist: values.dist ?? DIST,
  };
}

const applied = (line: LogLine): boolean => line.fields['event'] === 'configuration-applied';
const changesOf = (line: LogLine): string => String(line.fields['changes'] ?? '');

/** Sums a V8 heap snapshot's self sizes by node type, and objects and strings by what they are. */
export async function summarizeHeapSnapshot(path: string): Promise<{ total: number; rows: [string, number][] }> {
  const snapshot = JSON.parse(await readFile(path, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const sums = new Map<string, number>();
  let total = 0;
  const { nodes, strings } = snapshot;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]!]!;
    const size = nodes[i + sizeAt]!;
    total += size;
    let label: string;
    if (type === 'object' || type === 'closure' || type === 'hidden' || type === 'array')
      label = `${type} ${strings[nodes[i + nameAt]!]!.slice(0, 40)}`;
    else label = type;
    sums.set(label, (sums.get(label) ?? 0) + size);
  }
  return { total, rows: [...sums].sort((a, b) => b[1] - a[1]) };
}

async function heapSnapshot(pid: number, dir: string): Promise<string> {
  process.kill(pid, 'SIGUSR2');
  // Node writes Heap.<date>.<pid>.<n>.heapsnapshot in the diagnostic dir; it is done when its size stops moving.
  let last = -1;
  for (let tries = 0; tries < 600; tries++) {
    await sleep(250);
    const name = (await readdir(dir)).find((f) => f.endsWith('.heapsnapshot'));
    if (!name) continue;
    const { size } = await stat(join(dir, name));
    if (size > 0 && size === last) return join(dir, name);
    last = size;
  }
  throw new Error('no heap snapshot appeared');
}

interface RunResult {
  readonly nodes: number;
  readonly variant: string;
  readonly flags: readonly string[];
  readonly env: Readonly<Record<string, string>> | undefined;
  readonly afterFirstApply: ProcessMemory;
  readonly end: ProcessMemory;
  readonly firstApplyMs: number;
  readonly changes: number;
  readonly heap?: { total: number; rows: [string, number][] };
}

async function runVariant(
  scope: Scope,
  setup: { etcd: EtcdLab; configDir: string; sockets: { bird: string; bird6: string } },
  nodes: number,
  variant: string,
  options: MemoryOptions,
  dir: string,
): Promise<RunResult> {
  const { flags, env } = VARIANTS[variant]!;
  const diagnostics = await mkdtemp(join(dir, 'heap-'));
  const port = await freePort();
  const started = performance.now();
  const bw = await startBirdwatch(scope, {
    endpoint: setup.etcd.endpoint,
    configDir: setup.configDir,
    sockets: setup.sockets,
    minReloadIntervalMs: undefined,
    maxReloadShare: undefined,
    main: join(options.dist, 'cli', 'main.js'),
    nodeFlags: [
      ...flags,
      ...(options.heap ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${diagnostics}`] : []),
    ],
    ...(env === undefined ? {} : { env }),
    extraArgs: ['--listen', `127.0.0.1:${port}`],
  });
  await bw.waitFor((l) => applied(l) || l.fields['event'] === 'reloaded', {
    timeoutMs: 300_000,
    what: 'the first apply',
  });
  const firstApplyMs = performance.now() - started;
  await bw.quiet(500);
  const afterFirstApply = await memoryOf(bw.pid);
  const client = setup.etcd.client;
  const tag = `${variant}-${nodes}`.replace(/[^a-z0-9-]/gi, '');
  const host = (i: number): { key: string; ip: string; protocol: string } => extraHost(tag, 200, i);
  const until = (match: (line: LogLine) => boolean, from: number, what: string): Promise<LogLine> =>
    bw.waitFor(match, { from, timeoutMs: 120_000, what });
  let changes = 0;
  // One host at a time: added, then half of them removed, then one moved to another address.
  for (let i = 0; i < options.adds; i++) {
    const h = host(i);
    const from = bw.lines.length;
    await client.put(h.key).value(h.ip).exec();
    await until((l) => applied(l) && changesOf(l).includes(`+${h.protocol}`), from, `+${h.protocol}`);
    changes++;
  }
  for (let i = 0; i < options.adds / 2; i++) {
    const h = host(i);
    const from = bw.lines.length;
    await client.delete().key(h.key).exec();
    await until((l) => applied(l) && changesOf(l).includes(`−${h.protocol}`), from, `−${h.protocol}`);
    changes++;
  }
  {
    const h = host(options.adds - 1);
    const moved = host(10_000);
    const from = bw.lines.length;
    await client.put(h.key).value(moved.ip).exec();
    await until((l) => applied(l) && changesOf(l).includes(`+${moved.protocol}`), from, 'the moved host');
    changes++;
  }
  // A storm: new hosts as fast as etcd takes them, then until birdwatch has applied the last one.
  const from = bw.lines.length;
  for (let i = 0; i < options.storm; i++) {
    const h = host(1_000 + i);
    await client.put(h.key).value(h.ip).exec();
  }
  changes += options.storm;
  // A storm's log line names only the first sessions: the last host is looked for in the file BIRD reads.
  const last = `protocol bgp ${host(1_000 + options.storm - 1).protocol} `;
  for (let waited = 0; ; waited += 50) {
    const text = await readFile(join(setup.configDir, 'bird.cfg'), 'utf8').catch(() => '');
    if (text.includes(last)) break;
    if (waited > 120_000) throw new Error(`the storm was not applied (from log line ${from})`);
    await sleep(50);
  }
  await bw.quiet(1_000);
  const end = await memoryOf(bw.pid);
  let heap: RunResult['heap'];
  if (options.heap) heap = await summarizeHeapSnapshot(await heapSnapshot(bw.pid, diagnostics));
  await bw.stop();
  await rm(diagnostics, { recursive: true, force: true });
  // Leave the keyspace as it was for the next variant.
  await client.delete().prefix(`/calico/bgp/v1/host/${tag}-`).exec();
  return { nodes, variant, flags, env, afterFirstApply, end, firstApplyMs, changes, heap };
}

async function benchSize(nodes: number, options: MemoryOptions, progress: (s: string) => void): Promise<RunResult[]> {
  return withScope(async (scope) => {
    const dir = await tempDir(scope, 'bw-memory-');
    const etcd = await startEtcdLab(scope);
    progress(`${nodes} nodes: loading etcd`);
    await loadKeyspace(etcd.client, await meshKeyspace(nodes));
    const ns = await benchNamespace(scope, 'bwmem');
    const configDir = join(dir, 'config');
    const pair = await startBirdPair(scope, ns, dir, configDir, 'mem');
    const results: RunResult[] = [];
    for (const variant of options.variants) {
      progress(`${nodes} nodes: ${variant}`);
      // Each variant starts from the smallest configuration on disk, as a new node does.
      for (const name of await readdir(configDir))
        if (name !== '.birdwatch.lock') await rm(join(configDir, name), { force: true, recursive: true });
      for (const daemon of ['bird', 'bird6']) await writeMinimalConfig(join(configDir, `${daemon}.cfg`), '10.0.0.1');
      results.push(await runVariant(scope, { etcd, configDir, sockets: pair.sockets }, nodes, variant, options, dir));
    }
    return results;
  });
}

/**
 * `--render`: CPU time of one render (model + templates, the built code) after a one-host change, in this
 * process, with the role kept from change to change as `run` keeps it: 100 changes (adds, removes, moves).
 */
async function renderPerChange(nodes: readonly number[], dist: string): Promise<void> {
  const { nodeRole } = await importBuilt<typeof import('../../../src/controller/roleRenderer.js')>(
    'controller/roleRenderer.js',
    dist,
  );
  const { loadCompiledTemplates } = await importBuilt<typeof import('../../../src/render/templateLoader.js')>(
    'render/templateLoader.js',
    dist,
  );
  const cpuMs = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  for (const n of nodes) {
    const keyspace = await meshKeyspace(n);
    const role = nodeRole(BENCH_NODE, 'off');
    const templates = await loadCompiledTemplates(undefined, role.layout);
    if (!('render' in templates)) throw templates;
    // What a cycle does: one session renders after each change (given no changed keys: the model from the index).
    const session = role.session();
    session.render(keyspace, templates);
    const times: number[] = [];
    for (let i = 0; i < 100; i++) {
      const key = (j: number): string => `/calico/bgp/v1/host/extra-${j}/ip_addr_v4`;
      if (i % 3 === 2) keyspace.delete(key(i - 1));
      else keyspace.set(key(i), `10.201.${i % 7}.${i + 1}`);
      const started = cpuMs();
      session.render(keyspace, templates);
      times.push(cpuMs() - started);
    }
    process.stdout.write(
      `${n} nodes: CPU per one-host change (model + render): p50 ${percentile(times, 50).toFixed(2)} ms, p90 ${percentile(times, 90).toFixed(2)} ms, min ${Math.min(...times).toFixed(2)} ms (${dist})\n`,
    );
  }
}

export async function main(argv: readonly string[]): Promise<void> {
  const options = parseMemoryOptions(argv);
  if (options === undefined) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  if (options.render) {
    await renderPerChange(options.nodes, options.dist);
    return;
  }
  const progress = (s: string): void => void process.stderr.write(`bench memory: ${s}\n`);
  const floors = {
    nodeE0: peakRssOfNodeProgram([], ''),
    etcd3: peakRssOfNodeProgram([], IMPORT_ETCD3),
    shippedNodeE0: peakRssOfNodeProgram([], '', SHIPPED_ENV),
    shippedEtcd3: peakRssOfNodeProgram([], IMPORT_ETCD3, SHIPPED_ENV),
  };
  const results: RunResult[] = [];
  for (const n of options.nodes) results.push(...(await benchSize(n, options, progress)));
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ floors, results }, null, 2)}\n`);
    return;
  }
  const size = (kib: number): string => mb(kib, 1);
  const out: string[] = [];
  out.push(
    `floor: node -e 0 ${size(floors.nodeE0)}; node -e "await import('etcd3')" ${size(floors.etcd3)}` +
      ` (with the shipped flags: ${size(floors.shippedNodeE0)}, ${size(floors.shippedEtcd3)})`,
    '',
    '| nodes | variant | node flags | peak RSS (VmHWM) | RSS at end (anon + file) | peak after first apply | first apply | changes |',
    '|---|---|---|---|---|---|---|---|',
  );
  for (const r of results)
    out.push(
      `| ${r.nodes.toLocaleString('en-US')} | ${r.variant} | ${[...Object.entries(r.env ?? {}).map(([k, v]) => `${k}=${v}`), ...r.flags].join(' ') || '—'} | ${size(r.end.hwmKib)} | ${size(r.end.rssKib)} (${size(r.end.anonKib)} + ${size(r.end.fileKib)}) | ${size(r.afterFirstApply.hwmKib)} | ${Math.round(r.firstApplyMs)} ms | ${r.changes} |`,
    );
  for (const r of results) {
    if (!r.heap) continue;
    out.push(
      '',
      `heap at the end, ${r.nodes} nodes, ${r.variant}: ${bytesToMb(r.heap.total).toFixed(1)} MB (self sizes)`,
    );
    for (const [label, bytes] of r.heap.rows.slice(0, 15))
      out.push(`  ${bytesToMb(bytes).toFixed(2).padStart(7)} MB  ${label}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
}
