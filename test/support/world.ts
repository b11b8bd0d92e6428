import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Etcd3 } from 'etcd3';
import { showProtocols } from '../../src/bird/showProtocolsCommand.js';
import { nodeRole } from '../../src/controller/roleRenderer.js';
import type { PipelineEdges, ReloadEdges } from '../../src/controller/edges.js';
import { DEFAULT_GUARD_SETTINGS, type ApplyGuardSettings } from '../../src/controller/guard/settings.js';
import { realBirdEdges, realPipelineEdges } from '../../src/controller/realEdges.js';
import { lockConfigDir } from '../../src/apply/configDirLock.js';
import { RunController } from '../../src/controller/runController.js';
import { loadCompiledTemplates } from '../../src/render/templateLoader.js';
import { createEtcdClient } from '../../src/datastore/etcdConnection.js';
import { etcdKeyspaceSource } from '../../src/datastore/keyspaceSource.js';
import { readEtcdSnapshot } from '../../src/datastore/etcdSource.js';
import { WATCHED_PREFIXES } from '../../src/model/keys.js';
import { DEFAULT_AS_NUMBER } from '../../src/model/nodeModel.js';
import { createLogger } from '../../src/observe/logger.js';
import type { Daemon } from '../../src/model/daemon.js';
import { splitStatements } from '../../src/render/configBlocks.js';
import { TemplateError } from '../../src/render/errors.js';
import { daemonOf } from '../../src/render/fileSet.js';
import { startBird, type BirdProcess } from '../harness/bird.js';
import { startEtcdForTest, type EtcdCluster } from '../harness/etcd.js';
import { createNamespace, type NetworkNamespace } from '../harness/netns.js';
import type { TeardownRegistrar } from '../harness/process.js';
import { NODE } from './keyspaces.js';
import { pausingBirdEdges, pausingPipelineEdges, type PausePoints } from './pausePoints.js';
import type { InstalledBird } from './birdVersions.js';

export { NODE } from './keyspaces.js';
/** BIRD 1.6's daemons (the default world's); a world's own are `world.daemons`. */
const DAEMONS: readonly Daemon[] = ['bird', 'bird6'];

interface StartControllerOptions {
  readonly endpoints?: readonly string[];
  readonly minReloadIntervalMs?: number;
  readonly templatesDir?: string;
  /** Validation binaries (default the real bird/bird6). */
  readonly binaries?: Readonly<Record<Daemon, string>>;
  /** Control sockets (default the world's BIRDs). */
  readonly sockets?: Readonly<Record<Daemon, string>>;
  readonly validateTimeoutMs?: number;
  /** Wraps the real `configure` edges (a BIRD that sees the staging dir elsewhere, say). */
  readonly bird?: (real: ReloadEdges) => ReloadEdges;
  /** Wraps the real stage / bird -p / swap edges (to record what is staged, say). */
  readonly pipeline?: (real: PipelineEdges) => PipelineEdges;
  /** false: `--sequential-reload`. */
  readonly overlap?: boolean;
  /** The apply guard as `run` builds it (default settings, or these), which also keeps `birdwatch undo`'s record. */
  readonly guard?: boolean | ApplyGuardSettings;
  /** Test-only pause points on the real edges (test/support/pausePoints.ts). */
  readonly pause?: PausePoints;
  /** The BIRD watcher, as `run` has it, looking every this many ms (absent: no watcher). */
  readonly watchIntervalMs?: number;
}

interface StartPeerOptions {
  /** The peer's AS (default 64511, the keyspace's default: iBGP with the node). */
  readonly as?: string;
}

/**
 * The one in-process run harness (run, apply-faults, reliability scenarios): a real etcd (1 or 3 members) on
 * loopback, a writer client, BIRD and BIRD6 inside a network namespace of the test's own, a config dir, and an
 * in-process birdwatch (RunController, as `birdwatch run` builds it) or none (a child process is started by the
 * scenario). Everything is stopped by PID and the namespace deleted on teardown, also when the test fails.
 */
export interface World {
  /** The node's BIRD: the system's BIRD 1.6 (bird + bird6) unless the world was made with another. */
  readonly bird: InstalledBird | undefined;
  /** The daemons the node runs: bird and bird6 with BIRD 1.6, bird alone with BIRD 2/3. */
  readonly daemons: readonly Daemon[];
  readonly etcd: EtcdCluster;
  readonly client: Etcd3;
  readonly dir: string;
  readonly configDir: string;
  readonly sockets: Readonly<Record<Daemon, string>>;
  readonly ns: NetworkNamespace;
  readonly birds: Partial<Record<Daemon, BirdProcess>>;
  logLines(): Record<string, unknown>[];
  /** Starts (or restarts: the running one is stopped first) a daemon on the config dir's file; `-R` with recover. */
  startBird(daemon: Daemon, options?: { readonly recover?: boolean }): Promise<BirdProcess>;
  startBirds(): Promise<void>;
  startController(options?: StartControllerOptions): Promise<RunController>;
  /**
   * A BGP peer for the node: a BIRD at 127.0.0.2 in the same namespace (mesh host n2 of the base keyspace, or a
   * global peer at that address), with the lab's short timers. It connects to the node (its own listener is on
   * another port) and exports 10.50.0.0/24.
   */
  startPeer(options?: StartPeerOptions): Promise<BirdProcess>;
  /** The BGP protocols a daemon runs (show protocols), sorted; bird unless told. */
  protocols(daemon?: Daemon): Promise<string[]>;
  /** What etcd says now (one revision): the BGP protocol names per daemon and the files birdwatch must write. */
  expected(): Promise<Expected>;
  /** Differences between BIRD/the config dir and what etcd says ([] when converged). */
  divergence(): Promise<string[]>;
  /** Polls `divergence` until it is empty; returns the time it took (ms). Throws with the last difference. */
  waitConverged(what: string, timeoutMs?: number): Promise<number>;
  /** `birdwatch run` against this world (its node, config dir, etcd and sockets; no IPIP): add --once, … */
  runArgv(): string[];
  /** Hidden leftovers of an interrupted apply: `.tmp-` files in the config dir, `.staging-` dirs beside it. */
  leftovers(): string[];
}

interface Expected {
  readonly revision: bigint;
  readonly protocols: Readonly<Record<Daemon, readonly string[]>>;
  readonly files: ReadonlyMap<string, string>;
}

export interface WorldOptions {
  readonly members?: 1 | 3;
  readonly keyspace: ReadonlyMap<string, string>;
  /** Where birdwatch writes (default `<dir>/config`); its staging dirs go beside it. */
  readonly configDir?: string;
  /** A `--templates` override: what `expected` renders with, and the controller's default. */
  readonly templatesDir?: string;
  /**
   * The node's BIRD (test/support/birdVersions.ts): default the system's BIRD 1.6. With BIRD 2/3 one daemon runs
   * both families, validated by its own `bird -p` and rendered in its dialect; the peer stays a BIRD 1.6.
   */
  readonly bird?: InstalledBird;
}

/** Writes `keyspace` into etcd, 100 keys per transaction. */
async function putAll(client: Etcd3, keyspace: ReadonlyMap<string, string>): Promise<void> {
  const entries = [...keyspace];
  for (let i = 0; i < entries.length; i += 100)
    await client
      .if(entries[0]![0], 'Create', '>', -1)
      .then(...entries.slice(i, i + 100).map(([k, v]) => client.put(k).value(v)))
      .commit();
}

export async function createWorld(t: TeardownRegistrar, options: WorldOptions): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'birdwatch-rel-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const etcd = await startEtcdForTest(t, { members: options.members ?? 1 });
  const client = new Etcd3({ hosts: [...etcd.endpoints] });
  t.teardown(() => client.close());
  await putAll(client, options.keyspace);
  const ns = await createNamespace(t);
  const lines: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) =>
    lines.push(
      ...chunk
        .toString('utf8')
        .split('\n')
        .filter((l) => l !== ''),
    ),
  );
  const log = createLogger({ level: 'debug', pretty: false, destination: stream });
  const configDir = options.configDir ?? join(dir, 'config');
  const sockets = { bird: join(dir, 'bird.ctl'), bird6: join(dir, 'bird6.ctl') };
  const role = nodeRole(NODE, 'off', options.bird?.version);
  const daemons = role.daemons;
  const binaryOf = (daemon: Daemon): string => (daemon === 'bird' ? (options.bird?.bird ?? 'bird') : 'bird6');
  const templates = await loadCompiledTemplates(options.templatesDir, role.layout);
  if (templates instanceof TemplateError) throw templates;

  const birds: Partial<Record<Daemon, BirdProcess>> = {};
  const world: World = {
    bird: options.bird,
    daemons,
    etcd,
    client,
    dir,
    configDir,
    sockets,
    ns,
    birds,
    logLines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    async startBird(daemon, startOptions = {}) {
      await birds[daemon]?.stop();
      const bird = await startBird({
        recover: startOptions.recover,
        family: daemon === 'bird' ? 4 : 6,
        binary: binaryOf(daemon),
        configPath: join(configDir, `${daemon}.cfg`),
        socketPath: sockets[daemon],
        logFile: join(dir, `${daemon}.log`),
        wrapper: ns.exec,
      });
      t.teardown(() => bird.stop());
      birds[daemon] = bird;
      return bird;
    },
    async startBirds() {
      await Promise.all(daemons.map((d) => world.startBird(d)));
    },
    async startPeer(opts = {}) {
      const configPath = join(dir, 'peer.cfg');
      writeFileSync(configPath, peerConfig(opts.as ?? String(DEFAULT_AS_NUMBER)));
      const peer = await startBird({
        family: 4,
        configPath,
        socketPath: join(dir, 'peer.ctl'),
        logFile: join(dir, 'peer.log'),
        wrapper: ns.exec,
      });
      t.teardown(() => peer.stop());
      return peer;
    },
    async startController(opts = {}) {
      const etcdClient = createEtcdClient({ endpoints: opts.endpoints ?? etcd.endpoints });
      const binaries = opts.binaries ?? { bird: binaryOf('bird'), bird6: 'bird6' };
      const real = realBirdEdges(opts.sockets ?? sockets);
      const bird = opts.pause ? pausingBirdEdges(real, opts.pause) : real;
      const pipeline = realPipelineEdges({ binaries, validateTimeoutMs: opts.validateTimeoutMs, log });
      const settings = opts.guard === true ? DEFAULT_GUARD_SETTINGS : opts.guard || undefined;
      const controller = await RunController.create({
        role,
        configDir,
        edges: wrap(opts.pause ? pausingPipelineEdges(pipeline, opts.pause) : pipeline, opts.pipeline),
        bird: wrap(bird, opts.bird),
        lockConfigDir,
        overlap: opts.overlap,
        guard: settings ? { settings, edges: bird } : undefined,
        watch: opts.watchIntervalMs === undefined ? undefined : { edges: bird, intervalMs: opts.watchIntervalMs },
        templatesDir: opts.templatesDir ?? options.templatesDir,
        minReloadIntervalMs: opts.minReloadIntervalMs ?? 50,
        keyspace: etcdKeyspaceSource({ client: etcdClient }),
        log,
      });
      t.teardown(async () => {
        await controller.close();
        etcdClient.close();
      });
      await controller.start();
      return controller;
    },
    async expected() {
      const snapshot = await readEtcdSnapshot(client, WATCHED_PREFIXES);
      const rendered = role.render(snapshot.entries, templates);
      // The `protocol bgp` blocks of each daemon's rendered files: what BIRD should run once it has loaded them.
      const protocolsOf = (daemon: Daemon): string[] =>
        [...rendered.files]
          .filter(([file]) => daemonOf(file) === daemon)
          .flatMap(([, content]) => splitStatements(content).flatMap((s) => s.bgpProtocol ?? []))
          .sort();
      return {
        revision: snapshot.revision,
        protocols: { bird: protocolsOf('bird'), bird6: protocolsOf('bird6') },
        files: rendered.files,
      };
    },
    async protocols(daemon = 'bird') {
      const rows = await showProtocols(sockets[daemon], { timeoutMs: 5_000 });
      return rows.flatMap((row) => (row.kind === 'protocol' && row.proto === 'BGP' ? [row.name] : [])).sort();
    },
    async divergence() {
      const expected = await world.expected();
      const problems: string[] = [];
      for (const daemon of daemons) {
        const names = await world.protocols(daemon);
        const want = expected.protocols[daemon];
        if (names.join() !== want.join()) {
          const missing = want.filter((n) => !names.includes(n));
          const extra = names.filter((n) => !want.includes(n));
          problems.push(
            `${daemon} runs ${names.length} BGP protocols, etcd says ${want.length} (missing ${missing.slice(0, 5).join(' ')}; extra ${extra.slice(0, 5).join(' ')})`,
          );
        }
      }
      for (const [name, content] of expected.files) {
        const path = join(configDir, name);
        const live = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
        if (live !== content)
          problems.push(`${name} differs from a fresh render of etcd at revision ${expected.revision}`);
      }
      return problems;
    },
    async waitConverged(what, timeoutMs = 30_000) {
      const started = performance.now();
      const deadline = started + timeoutMs;
      let last: string[] = [];
      for (;;) {
        try {
          last = await world.divergence();
          if (last.length === 0) return performance.now() - started;
        } catch (error) {
          last = [(error as Error).message];
        }
        if (performance.now() > deadline)
          throw new Error(`${what}: not converged after ${timeoutMs} ms: ${last.join('; ')}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    runArgv: () => [
      'run',
      '--node',
      NODE,
      '--config-dir',
      configDir,
      '--etcd-endpoints',
      etcd.endpoints.join(','),
      '--bird-socket',
      sockets.bird,
      '--bird6-socket',
      sockets.bird6,
      '--ipip',
      'off',
      ...(options.bird ? ['--bird', options.bird.bird] : []),
    ],
    leftovers() {
      const inside = existsSync(configDir)
        ? readdirSync(configDir).filter((n) => n.startsWith('.') && !KEPT_STATE_FILES.test(n))
        : [];
      const beside = readdirSync(dirname(configDir)).filter((n) => n.startsWith(`.${basename(configDir)}.staging-`));
      return [...inside.map((n) => `${basename(configDir)}/${n}`), ...beside];
    },
  };
  return world;
}

/**
 * The peer BIRD of `startPeer`: n2 at 127.0.0.2. Its BGP listener is moved off the node's port (both BIRDs share
 * the namespace); it connects out to the node, which is passive toward it.
 */
const peerConfig = (as: string): string => `router id 127.0.0.2;
listen bgp address 127.0.0.2 port 1179;
protocol device { scan time 10; }
protocol static { route 10.50.0.0/24 blackhole; }
protocol bgp node {
  local 127.0.0.2 as ${as};
  neighbor 127.0.0.1 as ${DEFAULT_AS_NUMBER};
  import all;
  export all;
  connect delay time 1;
  connect retry time 2;
  error wait time 1, 1;
}
`;

/** What birdwatch keeps in the config dir on purpose: the lock, `birdwatch undo`'s record, the guard's holds. */
const KEPT_STATE_FILES = /^\.birdwatch(\.lock|-previous-bird6?\.json|-guard-holds\.json)$/;

/** Polls until `check` passes; throws after `timeoutMs` with the last value. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T> | T,
  check: (value: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = await probe();
      if (check(last)) return last;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${JSON.stringify(last)} ${lastError ? String(lastError) : ''}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until the controller owes neither daemon a reload and no cycle runs or waits. BIRD (or the disk) showing
 * a change says neither: BIRD takes the staged set before the swap, and a BIRD started after birdwatch reads the
 * files itself while the reload it is owed is still to come (with backoff).
 */
export async function waitSettled(controller: RunController, timeoutMs = 20_000): Promise<void> {
  await waitFor(
    'no reload owed',
    () => DAEMONS.filter((d) => controller.status.daemons[d]?.reloadPending),
    (owed) => owed.length === 0,
    timeoutMs,
  );
  await controller.idle();
}

const wrap = <T>(real: T, wrapper: ((real: T) => T) | undefined): T => (wrapper ? wrapper(real) : real);
