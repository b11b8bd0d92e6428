/**
 * Memory of a real `birdwatch run` (the built dist/, as shipped) against a real etcd and a real BIRD/BIRD6 pair
 * in a network namespace, at 1,000 and 5,000 nodes (the full-mesh fixture of scripts/gen-mesh-fixture.mjs):
 * start → first apply → single-host changes one at a time (adds, deletes, an address change) → a storm of new
 * hosts → quiet; then the process's peak RSS (VmHWM), its RSS split into anonymous and file-backed pages, and
 * (with --heap) a V8 heap snapshot taken by signal and summed by what holds the bytes. The floor is measured in
 * the same run: `node -e 0` and `node -e "await import('etcd3')"` (the etcd client alone).
 *
 *   node --import tsx scripts/bench-memory.ts [--nodes 1000,5000] [--variants shipped,bare,default-v8] [--heap]
 *       [--json] [--adds 20] [--storm 100] [--dist DIR (another build's dist/, e.g. of the commit before)]
 *   node --import tsx scripts/bench-memory.ts --render [--nodes 1000,5000] [--dist DIR]   (CPU per one-host change)
 *
 * A variant is the node flags and environment birdwatch runs with: `shipped` = what packaging/ sets
 * (NODE_OPTIONS, MALLOC_ARENA_MAX), `bare` = plain `node`, `default-v8` = not even the --optimize-for-size `run`
 * turns on, and single V8 heap-sizing flags (semi-space-1, old-space-64, optimize-for-size, …) to compare.
 * Needs root (network namespaces), `bird`, `bird6`, `etcd`; run `scripts/setup` (or `npm run build`) first.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Etcd3 } from 'etcd3';
import { startBird, writeMinimalConfig, type BirdProcess } from '../test/harness/bird.js';
import { startEtcd } from '../test/harness/etcd.js';
import { createNamespace } from '../test/harness/netns.js';
import { envWithout, freePort, type TeardownRegistrar } from '../test/harness/process.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
let birdwatchMain = join(ROOT, 'dist', 'cli', 'main.js');
const NODE = 'node-00001';

/** The environment birdwatch is shipped with (packaging/runit/birdwatch/run, packaging/systemd/birdwatch.service). */
export const SHIPPED_ENV: Readonly<Record<string, string>> = {
  NODE_OPTIONS: '--max-semi-space-size=1',
  MALLOC_ARENA_MAX: '2',
};

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

interface Args {
  readonly nodes: number[];
  readonly variants: string[];
  readonly heap: boolean;
  readonly json: boolean;
  readonly adds: number;
  readonly storm: number;
  readonly render: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  let nodes = [1000, 5000];
  let variants = ['shipped', 'bare', 'default-v8'];
  let heap = false;
  let json = false;
  let adds = 20;
  let storm = 100;
  let render = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--nodes') nodes = next().split(',').map(Number);
    else if (a === '--variants') variants = next().split(',');
    else if (a === '--heap') heap = true;
    else if (a === '--json') json = true;
    else if (a === '--render') render = true;
    else if (a === '--adds') adds = Number(next());
    else if (a === '--storm') storm = Number(next());
    else if (a === '--dist')
      birdwatchMain = join(next(), 'cli', 'main.js'); // another build, e.g. the commit before
    else throw new Error(`unknown argument ${a}`);
  }
  for (const v of variants)
    if (!(v in VARIANTS)) throw new Error(`unknown variant ${v} (${Object.keys(VARIANTS).join(', ')})`);
  if (nodes.some((n) => !Number.isInteger(n) || n < 2)) throw new Error('--nodes: integers ≥ 2');
  return { nodes, variants, heap, json, adds, storm, render };
}

class Scope implements TeardownRegistrar {
  readonly #fns: (() => unknown)[] = [];
  teardown(fn: () => unknown): void {
    this.#fns.push(fn);
  }
  async close(): Promise<void> {
    for (const fn of this.#fns.reverse()) {
      try {
        await fn();
      } catch (error) {
        process.stderr.write(`bench-memory: teardown: ${(error as Error).message}\n`);
      }
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const mb = (kib: number): string => `${(kib / 1024).toFixed(1)} MB`;

interface ProcMemory {
  readonly hwmKib: number;
  readonly rssKib: number;
  readonly anonKib: number;
  readonly fileKib: number;
}

async function procMemory(pid: number | 'self'): Promise<ProcMemory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { hwmKib: field('VmHWM'), rssKib: field('VmRSS'), anonKib: field('RssAnon'), fileKib: field('RssFile') };
}

/** VmHWM of a short node program, printed by the program itself just before it ends. */
function floorOf(flags: readonly string[], code: string, env: Readonly<Record<string, string>> = {}): number {
  const script = `${code}\nconst s = (await import('node:fs')).readFileSync('/proc/self/status', 'utf8');\nconsole.log(/VmHWM:\\s+(\\d+)/.exec(s)[1]);`;
  const r = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  if (r.status !== 0) throw new Error(`floor ${code}: ${r.stderr}`);
  return Number(r.stdout.trim());
}

async function meshKeyspace(nodes: number): Promise<Map<string, string>> {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'gen-mesh-fixture.mjs'), String(nodes)], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return new Map(Object.entries(JSON.parse(r.stdout) as Record<string, string>));
}

async function putAll(client: Etcd3, keyspace: ReadonlyMap<string, string>): Promise<void> {
  const entries = [...keyspace];
  for (let i = 0; i < entries.length; i += 100) {
    await client.kv.txn({
      compare: [],
      success: entries
        .slice(i, i + 100)
        .map(([key, value]) => ({ request_put: { key: Buffer.from(key), value: Buffer.from(value) } })),
      failure: [],
    });
  }
}

interface LogLine {
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}

interface Daemon {
  readonly pid: number;
  readonly lines: LogLine[];
  waitFor(match: (line: LogLine) => boolean, from: number, what: string, timeoutMs?: number): Promise<LogLine>;
  quiet(ms: number): Promise<void>;
  stop(): Promise<void>;
}

function startBirdwatch(
  scope: Scope,
  flags: readonly string[],
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Daemon {
  const child = spawn(process.execPath, [...flags, birdwatchMain, 'run', ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  let lastAt = performance.now();
  let stderr = '';
  let exited = false;
  const wakers = new Set<() => void>();
  child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  createInterface({ input: child.stdout }).on('line', (text) => {
    lastAt = performance.now();
    try {
      const fields = JSON.parse(text) as Record<string, unknown>;
      lines.push({ msg: String(fields['msg']), fields });
    } catch {
      return;
    }
    for (const w of wakers) w();
  });
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      for (const w of wakers) w();
      resolve();
    }),
  );
  const stop = async (): Promise<void> => {
    if (exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exit;
    clearTimeout(timer);
  };
  scope.teardown(stop);
  return {
    pid: child.pid!,
    lines,
    stop,
    waitFor: (match, from, what, timeoutMs = 120_000) =>
      new Promise((resolve, reject) => {
        let i = from;
        const timer = setTimeout(() => {
          wakers.delete(check);
          reject(new Error(`timed out waiting for ${what}; stderr: ${stderr}`));
        }, timeoutMs);
        function check(): void {
          for (; i < lines.length; i++)
            if (match(lines[i]!)) {
              clearTimeout(timer);
              wakers.delete(check);
              resolve(lines[i]!);
              return;
            }
          if (exited) {
            clearTimeout(timer);
            wakers.delete(check);
            reject(new Error(`birdwatch exited while waiting for ${what}; stderr: ${stderr}`));
          }
        }
        wakers.add(check);
        check();
      }),
    quiet: async (ms) => {
      while (performance.now() - lastAt < ms) await sleep(ms - (performance.now() - lastAt) + 5);
    },
  };
}

const applied = (line: LogLine): boolean => line.msg === 'configuration applied';
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
  readonly afterFirstApply: ProcMemory;
  readonly end: ProcMemory;
  readonly firstApplyMs: number;
  readonly changes: number;
  readonly heap?: { total: number; rows: [string, number][] };
}

async function runVariant(
  scope: Scope,
  setup: { endpoint: string; client: Etcd3; configDir: string; sockets: { bird: string; bird6: string } },
  nodes: number,
  variant: string,
  args: Args,
  dir: string,
): Promise<RunResult> {
  const { flags, env } = VARIANTS[variant]!;
  const diagnostics = await mkdtemp(join(dir, 'heap-'));
  const port = await freePort();
  const started = performance.now();
  const bw = startBirdwatch(
    scope,
    [...flags, ...(args.heap ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${diagnostics}`] : [])],
    [
      '--node',
      NODE,
      '--etcd-endpoints',
      setup.endpoint,
      '--config-dir',
      setup.configDir,
      '--bird-socket',
      setup.sockets.bird,
      '--bird6-socket',
      setup.sockets.bird6,
      '--ipip',
      'off',
      '--log-format',
      'json',
      '--listen',
      `127.0.0.1:${port}`,
    ],
    { ...envWithout('ETCD_'), ...env },
  );
  await bw.waitFor((l) => applied(l) || l.msg === 'reloaded BIRD', 0, 'the first apply', 300_000);
  const firstApplyMs = performance.now() - started;
  await bw.quiet(500);
  const afterFirstApply = await procMemory(bw.pid);
  const put = (key: string, value: string): Promise<unknown> => setup.client.put(key).value(value).exec();
  const del = (key: string): Promise<unknown> => setup.client.delete().key(key).exec();
  const tag = `${variant}-${nodes}`.replace(/[^a-z0-9-]/gi, '');
  const host = (i: number): { key: string; ip: string; protocol: string } => {
    const ip = `10.200.${Math.floor(i / 250)}.${(i % 250) + 1}`;
    return { key: `/calico/bgp/v1/host/${tag}-${i}/ip_addr_v4`, ip, protocol: `Mesh_${ip.replace(/\./g, '_')}` };
  };
  let changes = 0;
  // One host at a time: added, then half of them removed, then one moved to another address.
  for (let i = 0; i < args.adds; i++) {
    const h = host(i);
    const from = bw.lines.length;
    await put(h.key, h.ip);
    await bw.waitFor((l) => applied(l) && changesOf(l).includes(`+${h.protocol}`), from, `+${h.protocol}`);
    changes++;
  }
  for (let i = 0; i < args.adds / 2; i++) {
    const h = host(i);
    const from = bw.lines.length;
    await del(h.key);
    await bw.waitFor((l) => applied(l) && changesOf(l).includes(`−${h.protocol}`), from, `−${h.protocol}`);
    changes++;
  }
  {
    const h = host(args.adds - 1);
    const moved = host(10_000);
    const from = bw.lines.length;
    await put(h.key, moved.ip);
    await bw.waitFor((l) => applied(l) && changesOf(l).includes(`+${moved.protocol}`), from, 'the moved host');
    changes++;
  }
  // A storm: new hosts as fast as etcd takes them, then until birdwatch has applied the last one.
  const from = bw.lines.length;
  for (let i = 0; i < args.storm; i++) {
    const h = host(1_000 + i);
    await put(h.key, h.ip);
  }
  changes += args.storm;
  // A storm's log line names only the first sessions: the last host is looked for in the file BIRD reads.
  const last = `protocol bgp ${host(1_000 + args.storm - 1).protocol} `;
  for (let waited = 0; ; waited += 50) {
    const text = await readFile(join(setup.configDir, 'bird.cfg'), 'utf8').catch(() => '');
    if (text.includes(last)) break;
    if (waited > 120_000) throw new Error(`the storm was not applied (from log line ${from})`);
    await sleep(50);
  }
  await bw.quiet(1_000);
  const end = await procMemory(bw.pid);
  let heap: RunResult['heap'];
  if (args.heap) heap = await summarizeHeapSnapshot(await heapSnapshot(bw.pid, diagnostics));
  await bw.stop();
  await rm(diagnostics, { recursive: true, force: true });
  // Leave the keyspace as it was for the next variant.
  await setup.client.delete().prefix(`/calico/bgp/v1/host/${tag}-`).exec();
  return { nodes, variant, flags, env, afterFirstApply, end, firstApplyMs, changes, heap };
}

async function benchSize(nodes: number, args: Args, progress: (s: string) => void): Promise<RunResult[]> {
  const scope = new Scope();
  try {
    const dir = await mkdtemp(join(tmpdir(), 'bw-memory-'));
    scope.teardown(() => rm(dir, { recursive: true, force: true }));
    const etcd = await startEtcd();
    scope.teardown(() => etcd.stop());
    const client = new Etcd3({ hosts: [...etcd.endpoints] });
    scope.teardown(() => client.close());
    progress(`${nodes} nodes: loading etcd`);
    await putAll(client, await meshKeyspace(nodes));
    const ns = await createNamespace(scope, 'bwmem');
    const configDir = join(dir, 'config');
    const sockets = { bird: join(dir, 'bird.ctl'), bird6: join(dir, 'bird6.ctl') };
    await mkdir(configDir, { recursive: true });
    const birds: BirdProcess[] = [];
    for (const family of [4, 6] as const) {
      const daemon = family === 4 ? 'bird' : 'bird6';
      const configPath = join(configDir, `${daemon}.cfg`);
      await writeMinimalConfig(configPath, '10.0.0.1');
      const proc = await startBird({
        family,
        configPath,
        socketPath: sockets[daemon],
        logFile: join(dir, `${daemon}.log`),
        wrapper: ns.exec,
      });
      scope.teardown(() => proc.stop());
      birds.push(proc);
    }
    const results: RunResult[] = [];
    for (const variant of args.variants) {
      progress(`${nodes} nodes: ${variant}`);
      // Each variant starts from the smallest configuration on disk, as a new node does.
      for (const name of await readdir(configDir))
        if (name !== '.birdwatch.lock') await rm(join(configDir, name), { force: true, recursive: true });
      for (const daemon of ['bird', 'bird6']) await writeMinimalConfig(join(configDir, `${daemon}.cfg`), '10.0.0.1');
      const setup = { endpoint: etcd.endpoints[0]!, client, configDir, sockets };
      results.push(await runVariant(scope, setup, nodes, variant, args, dir));
    }
    return results;
  } finally {
    await scope.close();
  }
}

/**
 * `--render`: CPU time of one render (model + templates, the built code) after a one-host change, in this
 * process, with the role kept from change to change as `run` keeps it: 100 changes (adds, removes, moves).
 */
async function renderPerChange(nodes: readonly number[]): Promise<void> {
  const dist = dirname(dirname(birdwatchMain));
  const { nodeRole } = (await import(
    pathToFileURL(join(dist, 'controller', 'roleRenderer.js')).href
  )) as typeof import('../src/controller/roleRenderer.js');
  const { loadCompiledTemplates } = (await import(
    pathToFileURL(join(dist, 'render', 'templateLoader.js')).href
  )) as typeof import('../src/render/templateLoader.js');
  const cpuMs = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  for (const n of nodes) {
    const keyspace = await meshKeyspace(n);
    const role = nodeRole(NODE, 'off');
    const templates = await loadCompiledTemplates(undefined, role.layout);
    if (!('render' in templates)) throw templates;
    role.render(keyspace, templates);
    const times: number[] = [];
    for (let i = 0; i < 100; i++) {
      const key = (j: number): string => `/calico/bgp/v1/host/extra-${j}/ip_addr_v4`;
      if (i % 3 === 2) keyspace.delete(key(i - 1));
      else keyspace.set(key(i), `10.201.${i % 7}.${i + 1}`);
      const started = cpuMs();
      role.render(keyspace, templates);
      times.push(cpuMs() - started);
    }
    times.sort((a, b) => a - b);
    process.stdout.write(
      `${n} nodes: CPU per one-host change (model + render): p50 ${times[50]!.toFixed(2)} ms, p90 ${times[90]!.toFixed(2)} ms, min ${times[0]!.toFixed(2)} ms (${dist})\n`,
    );
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.render) {
    await renderPerChange(args.nodes);
    return;
  }
  const progress = (s: string): void => void process.stderr.write(`bench-memory: ${s}\n`);
  const floors = {
    nodeE0: floorOf([], ''),
    etcd3: floorOf([], "await import('etcd3');"),
    shippedNodeE0: floorOf([], '', SHIPPED_ENV),
    shippedEtcd3: floorOf([], "await import('etcd3');", SHIPPED_ENV),
  };
  const results: RunResult[] = [];
  for (const n of args.nodes) results.push(...(await benchSize(n, args, progress)));
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ floors, results }, null, 2)}\n`);
    return;
  }
  const out: string[] = [];
  out.push(
    `floor: node -e 0 ${mb(floors.nodeE0)}; node -e "await import('etcd3')" ${mb(floors.etcd3)}` +
      ` (with the shipped flags: ${mb(floors.shippedNodeE0)}, ${mb(floors.shippedEtcd3)})`,
    '',
    '| nodes | variant | node flags | peak RSS (VmHWM) | RSS at end (anon + file) | peak after first apply | first apply | changes |',
    '|---|---|---|---|---|---|---|---|',
  );
  for (const r of results)
    out.push(
      `| ${r.nodes.toLocaleString('en-US')} | ${r.variant} | ${[...Object.entries(r.env ?? {}).map(([k, v]) => `${k}=${v}`), ...r.flags].join(' ') || '—'} | ${mb(r.end.hwmKib)} | ${mb(r.end.rssKib)} (${mb(r.end.anonKib)} + ${mb(r.end.fileKib)}) | ${mb(r.afterFirstApply.hwmKib)} | ${Math.round(r.firstApplyMs)} ms | ${r.changes} |`,
    );
  for (const r of results) {
    if (!r.heap) continue;
    out.push('', `heap at the end, ${r.nodes} nodes, ${r.variant}: ${(r.heap.total / 1e6).toFixed(1)} MB (self sizes)`);
    for (const [label, size] of r.heap.rows.slice(0, 15))
      out.push(`  ${(size / 1e6).toFixed(2).padStart(7)} MB  ${label}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

await main();
