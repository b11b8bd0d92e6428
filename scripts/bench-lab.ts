/**
 * The processes scripts/bench drives: a real etcd on loopback, BIRD/BIRD6 inside a network namespace the bench
 * makes (mesh peers are 10.x addresses: inside an empty namespace they are unreachable, so nothing leaves the
 * machine), and `birdwatch run` as a child process whose JSON log lines are read as they arrive.
 * Everything is stopped by PID and the namespace deleted through a Scope, also when a benchmark fails.
 */
import { createInterface } from 'node:readline';
import { closeSync, openSync, readSync, watch } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { execa, type ResultPromise } from 'execa';
import { showProtocols } from '../src/bird/showProtocols.js';
import { startBird, writeMinimalConfig, type BirdProcess } from '../test/harness/bird.js';
import { startEtcd, type EtcdCluster } from '../test/harness/etcd.js';
import { createNamespace, type NetworkNamespace } from '../test/harness/netns.js';
import { envWithout } from '../test/harness/process.js';
import { errorMessage } from '../src/errorMessage.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BIRDWATCH_MAIN = join(ROOT, 'dist', 'cli', 'main.js');
/** The node birdwatch configures in every benchmark (the fixture's first host; it owns the one IPAM block). */
export const BENCH_NODE = 'node-00001';

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Teardown functions run last-in first-out; `run` is safe to call more than once. */
export class Scope {
  #teardowns: (() => unknown)[] = [];
  teardown(fn: () => unknown): void {
    this.#teardowns.push(fn);
  }
  async close(): Promise<void> {
    while (this.#teardowns.length > 0) {
      const fn = this.#teardowns.pop()!;
      try {
        await fn();
      } catch (error) {
        process.stderr.write(`bench: teardown failed: ${errorMessage(error)}\n`);
      }
    }
  }
}

/** Every open scope, so SIGINT/SIGTERM can still stop the daemons and delete the namespaces. */
const openScopes = new Set<Scope>();
let signalsHooked = false;

export async function withScope<T>(fn: (scope: Scope) => Promise<T>): Promise<T> {
  if (!signalsHooked) {
    signalsHooked = true;
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        process.stderr.write(`bench: ${signal}: stopping what the bench started\n`);
        Promise.all([...openScopes].map((s) => s.close()))
          .catch(() => undefined)
          .finally(() => process.exit(130));
      });
    }
  }
  const scope = new Scope();
  openScopes.add(scope);
  try {
    return await fn(scope);
  } finally {
    await scope.close();
    openScopes.delete(scope);
  }
}

export async function tempDir(scope: Scope, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  scope.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

// ---------------------------------------------------------------------------------------------------------
// etcd

export interface EtcdLab {
  readonly cluster: EtcdCluster;
  readonly client: Etcd3;
  readonly endpoint: string;
}

export async function startEtcdLab(scope: Scope): Promise<EtcdLab> {
  const cluster = await startEtcd();
  scope.teardown(() => cluster.stop());
  const client = new Etcd3({ hosts: [...cluster.endpoints] });
  scope.teardown(() => client.close());
  return { cluster, client, endpoint: cluster.endpoints[0]! };
}

/** The synthetic N-node full-mesh keyspace of scripts/gen-mesh-fixture.mjs (IPv4 only: ip_addr_v6 is ""). */
export async function meshKeyspace(nodes: number): Promise<Map<string, string>> {
  const { stdout } = await execa(process.execPath, [join(ROOT, 'scripts', 'gen-mesh-fixture.mjs'), String(nodes)]);
  return new Map(Object.entries(JSON.parse(stdout) as Record<string, string>));
}

/** Puts every entry, 100 per transaction (etcd allows 128 operations per txn by default). */
export async function loadKeyspace(client: Etcd3, keyspace: ReadonlyMap<string, string>): Promise<void> {
  const entries = [...keyspace];
  const batches: (typeof entries)[] = [];
  for (let i = 0; i < entries.length; i += 100) batches.push(entries.slice(i, i + 100));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < batches.length) {
      const batch = batches[next++]!;
      await client.kv.txn({
        compare: [],
        success: batch.map(([key, value]) => ({ request_put: { key: Buffer.from(key), value: Buffer.from(value) } })),
        failure: [],
      });
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
}

/** A new host's key and its mesh protocol name, at 10.<secondOctet>.x.y: outside the fixtures' 10.0.x.y range. */
export function extraHost(
  tag: string,
  secondOctet: number,
  index: number,
): { key: string; ip: string; protocol: string } {
  const ip = `10.${secondOctet}.${Math.floor(index / 250)}.${(index % 250) + 1}`;
  return { key: `/calico/bgp/v1/host/${tag}-${index}/ip_addr_v4`, ip, protocol: `Mesh_${ip.replace(/\./g, '_')}` };
}

// ---------------------------------------------------------------------------------------------------------
// BIRD in a namespace

export async function benchNamespace(scope: Scope): Promise<NetworkNamespace> {
  // createNamespace registers its removal with the scope (also when the bench fails or is interrupted).
  return createNamespace(scope, 'bwbench');
}

export interface BirdPair {
  readonly logFiles: { readonly bird: string; readonly bird6: string };
  readonly bird: BirdProcess;
  readonly bird6: BirdProcess;
  readonly sockets: { readonly bird: string; readonly bird6: string };
  stop(): Promise<void>;
}

/**
 * BIRD and BIRD6 reading `configDir`/bird.cfg and bird6.cfg, inside the namespace, in the foreground (-d) with
 * their output in a log file. Missing config files are written as the smallest valid configuration.
 */
export async function startBirdPair(
  scope: Scope,
  ns: NetworkNamespace,
  dir: string,
  configDir: string,
  tag: string,
): Promise<BirdPair> {
  await mkdir(configDir, { recursive: true });
  const sockets = { bird: join(dir, `${tag}-bird.ctl`), bird6: join(dir, `${tag}-bird6.ctl`) };
  const logFiles = { bird: join(dir, `${tag}-bird.log`), bird6: join(dir, `${tag}-bird6.log`) };
  const procs: BirdProcess[] = [];
  for (const family of [4, 6] as const) {
    const daemon = family === 4 ? 'bird' : 'bird6';
    const configPath = join(configDir, `${daemon}.cfg`);
    try {
      await readFile(configPath);
    } catch {
      await writeMinimalConfig(configPath, '10.0.0.1');
    }
    const proc = await startBird({
      family,
      configPath,
      socketPath: sockets[daemon],
      logFile: logFiles[daemon],
      wrapper: ns.exec,
    });
    scope.teardown(() => proc.stop());
    procs.push(proc);
  }
  const [bird, bird6] = procs as [BirdProcess, BirdProcess];
  return { bird, bird6, sockets, logFiles, stop: async () => void (await Promise.all(procs.map((p) => p.stop()))) };
}

/** Names of the BGP protocols BIRD runs (`Mesh_`, `Global_`, `Node_`), from `show protocols`. */
export async function bgpProtocols(socket: string): Promise<Set<string>> {
  const rows = await showProtocols(socket, { timeoutMs: 30_000 });
  return new Set(
    rows.flatMap((row) => (row.kind === 'protocol' && /^(Mesh|Global|Node)_/.test(row.name) ? [row.name] : [])),
  );
}

/**
 * Follows a BIRD log file (BIRD runs with -d: its log goes to stderr, unbuffered, into the file) and notes when
 * each `bird: Reconfigured` line appears — BIRD's own word that a `configure` is done, independent of birdwatch.
 * Seen through inotify (fs.watch), so within a fraction of a millisecond of BIRD writing it.
 */
export class BirdLogWatch {
  /** Date.now() of each `Reconfigured` line, in order. */
  readonly reconfiguredAt: number[] = [];
  #offset = 0;
  #partial = '';
  readonly #fd: number;
  readonly #watcher: ReturnType<typeof watch>;
  readonly #waiters = new Set<() => void>();

  constructor(path: string) {
    this.#fd = openSync(path, 'r');
    this.#read(false);
    this.#watcher = watch(path, () => this.#read(true));
  }

  #read(record: boolean): void {
    const at = Date.now();
    const buffer = Buffer.alloc(65_536);
    for (;;) {
      const n = readSync(this.#fd, buffer, 0, buffer.length, this.#offset);
      if (n <= 0) break;
      this.#offset += n;
      const lines = (this.#partial + buffer.subarray(0, n).toString('utf8')).split('\n');
      this.#partial = lines.pop() ?? '';
      if (record)
        for (const line of lines) if (/^bird6?: Reconfigured$/.test(line.trim())) this.reconfiguredAt.push(at);
    }
    for (const wake of this.#waiters) wake();
  }

  /** The time of the `index`-th Reconfigured line (0-based), waiting for it up to `timeoutMs`. */
  async nth(index: number, timeoutMs = 30_000): Promise<number> {
    if (this.reconfiguredAt[index] !== undefined) return this.reconfiguredAt[index];
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`BIRD logged no Reconfigured line #${index + 1} within ${timeoutMs} ms`));
      }, timeoutMs);
      const check = (): void => {
        const at = this.reconfiguredAt[index];
        if (at === undefined) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(at);
      };
      this.#waiters.add(check);
    });
  }

  close(): void {
    this.#watcher.close();
    closeSync(this.#fd);
  }
}

// ---------------------------------------------------------------------------------------------------------
// birdwatch

export interface LogLine {
  /** performance.now() when the bench read the line. */
  readonly readAt: number;
  /** The line's own `time` (epoch ms). */
  readonly time: number;
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}

export interface BirdwatchOptions {
  readonly endpoint: string;
  readonly configDir: string;
  readonly sockets: { readonly bird: string; readonly bird6: string };
  /** `--min-reload-interval` / `--max-reload-share`; birdwatch's defaults when undefined. */
  readonly minReloadIntervalMs: number | undefined;
  readonly maxReloadShare: number | undefined;
  /** Where `node --cpu-prof` writes its profile (on a clean exit); no profiling when absent. */
  readonly cpuProfDir?: string;
}

export interface Birdwatch {
  readonly pid: number;
  /** Date.now() just before the process was spawned. */
  readonly spawnedAt: number;
  readonly lines: LogLine[];
  /** Resolves with the first line at index ≥ `from` that matches (throws after `timeoutMs` or if birdwatch exits). */
  waitFor(
    match: (line: LogLine) => boolean,
    options?: { from?: number; timeoutMs?: number; what?: string },
  ): Promise<LogLine>;
  /** Resolves once no line has arrived for `quietMs`. */
  quiet(quietMs: number, timeoutMs?: number): Promise<void>;
  /** SIGTERM by PID (birdwatch finishes its cycle and exits 0), SIGKILL after 10 s. */
  stop(): Promise<void>;
}

export async function startBirdwatch(scope: Scope, options: BirdwatchOptions): Promise<Birdwatch> {
  const nodeArgs = options.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfDir] : [];
  const args = [
    ...nodeArgs,
    BIRDWATCH_MAIN,
    'run',
    '--node',
    BENCH_NODE,
    '--etcd-endpoints',
    options.endpoint,
    '--config-dir',
    options.configDir,
    '--bird-socket',
    options.sockets.bird,
    '--bird6-socket',
    options.sockets.bird6,
    '--ipip',
    'off',
    ...(options.minReloadIntervalMs === undefined ? [] : ['--min-reload-interval', `${options.minReloadIntervalMs}ms`]),
    ...(options.maxReloadShare === undefined ? [] : ['--max-reload-share', String(options.maxReloadShare)]),
    '--log-format',
    'json',
    '--log-level',
    'info',
  ];
  const spawnedAt = Date.now();
  const child: ResultPromise = execa(process.execPath, args, {
    env: envWithout('ETCD_'),
    extendEnv: false,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    reject: false,
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('birdwatch did not start');
  const lines: LogLine[] = [];
  const waiters = new Set<() => void>();
  let exited = false;
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-8192);
  });
  const reader = createInterface({ input: child.stdout! });
  reader.on('line', (text) => {
    const readAt = performance.now();
    let fields: Record<string, unknown>;
    try {
      fields = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    lines.push({ readAt, time: Date.parse(String(fields['time'])), msg: String(fields['msg']), fields });
    for (const wake of waiters) wake();
  });
  const done = child.then(() => {
    exited = true;
    for (const wake of waiters) wake();
  });
  const stop = async (): Promise<void> => {
    if (exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await done;
    clearTimeout(timer);
  };
  scope.teardown(stop);

  const waitFor: Birdwatch['waitFor'] = (match, { from = 0, timeoutMs = 60_000, what = 'a log line' } = {}) =>
    new Promise<LogLine>((resolve, reject) => {
      let index = from;
      const check = (): void => {
        for (; index < lines.length; index++) {
          const line = lines[index]!;
          if (match(line)) {
            finish();
            resolve(line);
            return;
          }
        }
        if (exited) {
          finish();
          reject(
            new Error(
              `birdwatch exited while the bench waited for ${what}; stderr: ${stderr.trim()}; last lines: ${lines
                .slice(-3)
                .map((l) => JSON.stringify(l.fields))
                .join('\n')}`,
            ),
          );
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; last lines: ${lines
              .slice(-3)
              .map((l) => JSON.stringify(l.fields).slice(0, 400))
              .join('\n')}`,
          ),
        );
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  const quiet: Birdwatch['quiet'] = async (quietMs, timeoutMs = 60_000) => {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const last = lines.at(-1)?.readAt ?? 0;
      const idleFor = performance.now() - last;
      if (idleFor >= quietMs) return;
      if (performance.now() > deadline) throw new Error(`birdwatch kept logging for ${timeoutMs} ms`);
      await sleep(quietMs - idleFor + 5);
    }
  };
  return { pid, spawnedAt, lines, waitFor, quiet, stop };
}

/** A cycle's log line: BIRD was (re)configured by it. */
export const isApplyLine = (line: LogLine): boolean =>
  line.msg === 'configuration applied' || line.msg === 'reloaded BIRD';

/** The `configure` commands a cycle line reports, per daemon, and whether BIRD accepted each. */
export function reloadsOf(line: LogLine): { daemon: string; ok: boolean; text: string }[] {
  const reload = line.fields['reload'];
  if (reload === null || typeof reload !== 'object') return [];
  return Object.entries(reload as Record<string, unknown>).map(([daemon, text]) => ({
    daemon,
    ok: /^(Reconfigured|Reconfiguration in progress)/.test(String(text)),
    text: String(text),
  }));
}

/** `+Mesh_10_0_0_5` names a cycle line reports as added. */
export function addedProtocols(line: LogLine): string[] {
  const changes = line.fields['changes'];
  if (typeof changes !== 'string') return [];
  return changes.split(' ').flatMap((c) => (c.startsWith('+') ? [c.slice(1)] : []));
}

// ---------------------------------------------------------------------------------------------------------
// /proc

/** VmHWM (peak resident set) and VmRSS of a process, in kB. */
export async function memoryOf(pid: number): Promise<{ hwmKib: number; rssKib: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { hwmKib: field('VmHWM'), rssKib: field('VmRSS') };
}

/** utime + stime of a process, in clock ticks (/proc/PID/stat fields 14 and 15). */
export async function cpuTicksOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return Number(fields[11]) + Number(fields[12]);
}

export async function clockTicksPerSecond(): Promise<number> {
  const { stdout } = await execa('getconf', ['CLK_TCK']);
  return Number(stdout.trim()) || 100;
}
