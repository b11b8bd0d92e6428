/**
 * A multi-host lab on one machine: hosts are network namespaces on a bridge (in a namespace of its own),
 * each running real `bird` and `bird6` *inside* its namespace and `birdwatch run` for it in the ROOT
 * namespace. etcd runs on the root namespace's loopback.
 *
 * Why birdwatch runs outside the host namespace: it needs exactly three things — etcd (on loopback), the
 * host's config directory and BIRD's unix control sockets. Unix sockets are file-system objects, not
 * network ones, so they work across network namespaces; BIRD itself is the only process that needs the
 * host's network. No etcd address has to be exposed inside the lab and no route to the root namespace
 * is needed.
 *
 * Every namespace is recorded in `<stateDir>/lab.json` before it is created, every process as soon as it
 * runs; `down` (or `downLab(stateDir)` from another process, also after a crash) stops exactly those
 * PIDs and deletes exactly those namespaces. `startLab` first cleans what a previous lab in the same
 * state dir left behind.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { BirdControlClient } from '../../src/bird/controlSocket.js';
import { delay, envWithout, tailFile } from '../harness/process.js';
import { startLabEtcd, type LabEtcd } from './etcd.js';
import { registerHost } from './keyspace.js';
import { addNamespace, createBridgeNamespace, deleteNamespace, linkHost, namespaceExists } from './network.js';
import { isRunning, killProcessesSync, spawnDetached, stopProcesses, unrecordedLabProcesses, type ProcessRecord } from './procs.js';
import { readState, statePath, writeState, type HostState, type LabState } from './state.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The built CLI; `BIRDWATCH_LAB_CLI` may point at another build (e.g. of a clean checkout). */
export const BIRDWATCH_MAIN = resolve(process.env['BIRDWATCH_LAB_CLI'] ?? join(REPO_ROOT, 'dist', 'cli', 'main.js'));
export const DEFAULT_PREFIX = 'bwlab';

export type HostRole = 'node' | 'route-reflector';

export interface HostSpec {
  readonly name: string;
  /** Per-node AS (registered as `host/<name>/as_num`; `--as` of a route reflector). */
  readonly as?: string;
  /** What `start` runs on the host (default node); a route reflector is not registered as a node. */
  readonly role?: HostRole;
}

export interface LabOptions {
  /** Number of hosts (named h1…hN) or their specs. Default 2. */
  readonly hosts?: number | readonly (string | HostSpec)[];
  /** etcd members. Default 1. */
  readonly etcdMembers?: 1 | 3;
  /** Where state, configs, sockets and logs live. Default: a new temp dir. */
  readonly stateDir?: string;
  /** Namespace name prefix (`<prefix>-br`, `<prefix>-<host>`). Default `bwlab`. */
  readonly prefix?: string;
  /** IPv4 /24 of the lab (host i gets .i). Default `10.99.0`. */
  readonly subnet4?: string;
  /** IPv6 /64 of the lab (host i gets ::i). Default `fd99::`. */
  readonly subnet6?: string;
  /** Register every node host (ip_addr_v4/v6, as_num) in etcd before starting it. Default true. */
  readonly register?: boolean;
  /** Start birdwatch, bird and bird6 for every host. Default true (needs `register`, or keys written otherwise). */
  readonly start?: boolean;
  /** `--min-reload-interval` of every `birdwatch run`. Default 50. */
  readonly minReloadIntervalMs?: number;
  /** Command that runs the birdwatch CLI. Default `node dist/cli/main.js`. */
  readonly birdwatch?: readonly string[];
  /** SIGKILL the lab's processes and delete its namespaces if this process exits with the lab up (tests). */
  readonly killOnExit?: boolean;
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

export interface StartHostOptions {
  readonly role?: HostRole;
  /** Extra arguments for `birdwatch run`. */
  readonly extraArgs?: readonly string[];
}

export interface LabHost {
  readonly name: string;
  readonly index: number;
  readonly namespace: string;
  readonly ip4: string;
  readonly ip6: string;
  readonly as: string | undefined;
  /** The role `start` gives the host (from its spec). */
  readonly defaultRole: HostRole;
  readonly dir: string;
  readonly configDir: string;
  readonly sockets: { readonly bird: string; readonly bird6: string };
  readonly logs: { readonly bird: string; readonly bird6: string; readonly birdwatch: string };
  /** Role of the running daemons (undefined while stopped). */
  readonly role: HostRole | undefined;
  /** The socket of one family's BIRD. */
  socket(family: 4 | 6): string;
  running(): boolean;
  /** PID of the host's running birdwatch, bird or bird6 (undefined when not running). */
  pid(daemon: 'birdwatch' | 'bird' | 'bird6'): number | undefined;
}

export interface Lab {
  readonly stateDir: string;
  readonly prefix: string;
  readonly bridgeNamespace: string;
  readonly etcd: LabEtcd;
  readonly hosts: readonly LabHost[];
  host(name: string): LabHost;
  /** An etcd3 client on the lab's etcd (made on first use, closed by down()). */
  client(): Etcd3;
  /** Starts `birdwatch run` for the host, waits for its bird.cfg and bird6.cfg, then starts bird and bird6 in its namespace. */
  startHost(name: string, options?: StartHostOptions): Promise<void>;
  /** Stops the host's birdwatch, bird and bird6 by PID. */
  stopHost(name: string): Promise<void>;
  /** Log tails and process states, for failure messages. */
  describe(): Promise<string>;
  /** Stops every process and deletes every namespace of the lab. Safe to call twice. */
  down(): Promise<DownReport>;
  /** Leaves the lab running for another process to `downLab` (closes the etcd client, drops the exit hook). */
  detach(): void;
}

export interface DownReport {
  readonly stopped: number;
  readonly killed: readonly string[];
  readonly namespacesDeleted: readonly string[];
}

const NAME = /^[a-z0-9][a-z0-9-]{0,19}$/;
const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,30}$/;

function hostSpecs(hosts: LabOptions['hosts']): HostSpec[] {
  if (hosts === undefined || typeof hosts === 'number') {
    const n = hosts ?? 2;
    if (!Number.isInteger(n) || n < 1 || n > 200) throw new RangeError(`hosts must be 1-200, not ${n}`);
    return Array.from({ length: n }, (_, i) => ({ name: `h${i + 1}` }));
  }
  return hosts.map((h) => (typeof h === 'string' ? { name: h } : h));
}

async function waitFor(what: string, timeoutMs: number, check: () => boolean | Promise<boolean>, failEarly?: () => Promise<string | undefined>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    const early = await failEarly?.();
    if (early !== undefined) throw new Error(`${what}: ${early}`);
    if (Date.now() > deadline) throw new Error(`${what}: not done within ${timeoutMs} ms`);
    await delay(25);
  }
}

/**
 * BIRD 1.6's timers count whole seconds of CLOCK_MONOTONIC (`now`), and a new BGP session first connects
 * at its start second + 4 or + 5 (`connect delay time` 5 s, randomized by a quarter as RFC 1771 asks). Two
 * BIRDs whose sessions to each other start in the same or adjacent seconds can thus connect in the same
 * second, and — when their event loops wake in the same phase — at the same instant; with `graceful restart`
 * the crossing connections can then tear each other's fresh sessions down, retrying every 5 s (an incoming
 * connection on an Established session is taken as the peer restarting). Real hosts never boot within a
 * second of each other; lab hosts would. So the lab starts each host's BIRDs 2 seconds after the previous
 * host's, early in a second (100-500 ms after the boundary, so BIRD's own start-up cannot spill into the next
 * second): their first connection attempts can never fall in the same second. Hosts still start in parallel
 * otherwise.
 */
function secondGate(): () => Promise<void> {
  let last = -10n;
  let chain: Promise<void> = Promise.resolve();
  return () => {
    const turn = chain.then(async () => {
      for (;;) {
        const ms = process.hrtime.bigint() / 1_000_000n;
        const second = ms / 1000n;
        const frac = Number(ms % 1000n);
        if (second >= last + 2n && frac >= 100 && frac < 500) {
          last = second;
          return;
        }
        await delay(second >= last + 2n && frac < 100 ? 100 - frac : 1100 - frac);
      }
    });
    chain = turn.catch(() => undefined);
    return turn;
  };
}

async function controlSocketAnswers(path: string): Promise<boolean> {
  try {
    const client = await BirdControlClient.connect(path, { timeoutMs: 1_000 });
    client.close();
    return true;
  } catch {
    return false;
  }
}

/** Marks a directory as a lab state dir; only such a directory's `etcd/` and `hosts/` are ever wiped. */
const MARKER = '.birdwatch-lab';

/**
 * Makes `stateDir` ready for a fresh lab: a new or empty directory gets the marker; one with the marker
 * loses the previous lab's etcd data and host dirs (a reused etcd data dir would bring back old keys);
 * any other non-empty directory is refused.
 */
function claimStateDir(stateDir: string): void {
  mkdirSync(stateDir, { recursive: true });
  const marker = join(stateDir, MARKER);
  if (!existsSync(marker)) {
    if (readdirSync(stateDir).length > 0) {
      throw new Error(`${stateDir} is not empty and is not a lab state dir (no ${MARKER}): choose another --state`);
    }
    writeFileSync(marker, 'state dir of a birdwatch lab (scripts/lab)\n');
    return;
  }
  for (const sub of ['etcd', 'hosts']) rmSync(join(stateDir, sub), { recursive: true, force: true });
}

/** Builds the lab. On failure everything made so far is stopped and deleted before the error is thrown. */
export async function startLab(options: LabOptions = {}): Promise<Lab> {
  const log = options.log ?? (() => undefined);
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  if (!NAME.test(prefix)) throw new Error(`lab prefix ${JSON.stringify(prefix)}: 1-20 of a-z, 0-9, "-"`);
  const specs = hostSpecs(options.hosts);
  for (const s of specs) if (!HOST_NAME.test(s.name)) throw new Error(`host name ${JSON.stringify(s.name)}: 1-31 letters, digits, ".", "_", "-"`);
  if (new Set(specs.map((s) => s.name)).size !== specs.length) throw new Error('host names must be distinct');
  const subnet4 = options.subnet4 ?? '10.99.0';
  const subnet6 = options.subnet6 ?? 'fd99::';
  const minReload = options.minReloadIntervalMs ?? 50;
  const birdwatchCmd = options.birdwatch ?? [process.execPath, BIRDWATCH_MAIN];
  if (options.birdwatch === undefined && !existsSync(BIRDWATCH_MAIN)) {
    throw new Error(`${BIRDWATCH_MAIN} is missing: build birdwatch first (npm run build; scripts/setup does it)`);
  }

  const stateDir = resolve(options.stateDir ?? mkdtempSync(join(tmpdir(), 'birdwatch-lab-')));
  if (readState(stateDir) !== undefined) {
    log(`cleaning up what the previous lab in ${stateDir} left behind`);
    await downLab(stateDir);
  }
  claimStateDir(stateDir);

  const bridgeNamespace = `${prefix}-br`;
  const hostStates: HostState[] = specs.map((s, i) => {
    const dir = join(stateDir, 'hosts', s.name);
    return {
      name: s.name,
      index: i + 1,
      namespace: `${prefix}-${s.name}`,
      ip4: `${subnet4}.${i + 1}`,
      ip6: `${subnet6}${(i + 1).toString(16)}`,
      configDir: join(dir, 'config'),
      birdSocket: join(dir, 'bird.ctl'),
      bird6Socket: join(dir, 'bird6.ctl'),
    };
  });
  const wanted = [bridgeNamespace, ...hostStates.map((h) => h.namespace)];
  const foreign = wanted.filter(namespaceExists);
  if (foreign.length > 0) {
    throw new Error(
      `namespace(s) ${foreign.join(', ')} already exist and are not recorded in ${statePath(stateDir)}: ` +
        `another lab with prefix "${prefix}" runs (use its --state dir, or another --prefix), or delete them by hand if stale`,
    );
  }

  const state: LabState = {
    version: 1,
    prefix,
    createdAt: new Date().toISOString(),
    bridgeNamespace,
    namespaces: [],
    processes: [],
    etcdEndpoints: [],
    hosts: hostStates,
  };
  const save = (): void => writeState(stateDir, state);
  const record = (r: ProcessRecord): void => {
    state.processes.push(r);
    save();
  };
  save();

  let exitHook: (() => void) | undefined;
  if (options.killOnExit === true) {
    exitHook = () => {
      killProcessesSync(state.processes);
      for (const ns of state.namespaces) {
        try {
          execFileSync('ip', ['netns', 'delete', ns], { stdio: 'ignore' });
        } catch {
          // already gone
        }
      }
    };
    process.once('exit', exitHook);
  }

  let etcdClient: Etcd3 | undefined;
  let downing: Promise<DownReport> | undefined;
  const down = (): Promise<DownReport> =>
    (downing ??= (async () => {
      if (exitHook !== undefined) process.removeListener('exit', exitHook);
      etcdClient?.close();
      return downLab(stateDir);
    })());

  try {
    log(`network: ${bridgeNamespace} (bridge) + ${hostStates.map((h) => h.namespace).join(', ')}`);
    state.namespaces.push(bridgeNamespace);
    save();
    await createBridgeNamespace(bridgeNamespace);
    for (const h of hostStates) {
      state.namespaces.push(h.namespace);
      save();
      await addNamespace(h.namespace);
      await linkHost({ bridgeNamespace, hostNamespace: h.namespace, portName: `p${h.index}`, ip4: h.ip4, ip6: h.ip6 });
      mkdirSync(h.configDir, { recursive: true });
    }

    const etcdMembers = options.etcdMembers ?? 1;
    log(`etcd: ${etcdMembers} member(s) on loopback`);
    const etcd = await startLabEtcd({ members: etcdMembers, dir: join(stateDir, 'etcd'), onStarted: record });
    state.etcdEndpoints = [...etcd.endpoints];
    save();

    const birdStartSlot = secondGate();
    const roles = new Map<string, HostRole | undefined>();
    const running = new Map<string, ProcessRecord[]>();
    const hosts: LabHost[] = hostStates.map((h, i) => {
      const dir = dirname(h.configDir);
      return {
        name: h.name,
        index: h.index,
        namespace: h.namespace,
        ip4: h.ip4,
        ip6: h.ip6,
        as: specs[i]?.as,
        defaultRole: specs[i]?.role ?? 'node',
        dir,
        configDir: h.configDir,
        sockets: { bird: h.birdSocket, bird6: h.bird6Socket },
        logs: { bird: join(dir, 'bird.log'), bird6: join(dir, 'bird6.log'), birdwatch: join(dir, 'birdwatch.log') },
        get role() {
          return roles.get(h.name);
        },
        socket: (family) => (family === 4 ? h.birdSocket : h.bird6Socket),
        running: () => (running.get(h.name) ?? []).some(isRunning),
        pid: (daemon) => (running.get(h.name) ?? []).find((r) => r.label === `${daemon} ${h.name}` && isRunning(r))?.pid,
      };
    });
    const hostNamed = (name: string): LabHost => {
      const h = hosts.find((x) => x.name === name);
      if (h === undefined) throw new Error(`no host ${name} in the lab (hosts: ${hosts.map((x) => x.name).join(', ')})`);
      return h;
    };
    const client = (): Etcd3 => (etcdClient ??= new Etcd3({ hosts: [...etcd.endpoints] }));

    const stopHost = async (name: string): Promise<void> => {
      const records = running.get(hostNamed(name).name) ?? [];
      // birdwatch first (it would otherwise log BIRD going away), then both BIRDs.
      await stopProcesses(records.filter((r) => r.label.startsWith('birdwatch')));
      await stopProcesses(records.filter((r) => !r.label.startsWith('birdwatch')));
      running.delete(name);
      roles.delete(name);
    };

    const startHost = async (name: string, hostOptions: StartHostOptions = {}): Promise<void> => {
      const h = hostNamed(name);
      if (h.running()) throw new Error(`host ${name} is already running`);
      const role = hostOptions.role ?? h.defaultRole;
      // A fresh config dir: BIRD must start with what etcd says now, not with a previous start's files.
      rmSync(h.configDir, { recursive: true, force: true });
      mkdirSync(h.configDir, { recursive: true });
      for (const s of [h.sockets.bird, h.sockets.bird6]) rmSync(s, { force: true });
      const records: ProcessRecord[] = [];
      running.set(name, records);
      roles.set(name, role);
      const identity =
        role === 'route-reflector'
          ? ['--role', 'route-reflector', '--ip', h.ip4, '--ip6', h.ip6, ...(h.as !== undefined ? ['--as', h.as] : [])]
          : ['--node', h.name];
      const argv = [
        ...birdwatchCmd,
        'run',
        ...identity,
        '--etcd-endpoints', etcd.endpoints.join(','),
        '--config-dir', h.configDir,
        '--bird-socket', h.sockets.bird,
        '--bird6-socket', h.sockets.bird6,
        '--ipip', 'off',
        '--min-reload-interval', String(minReload),
        '--log-format', 'json',
        // Several birdwatch processes share the root namespace: only one could have the default :9099.
        '--listen', 'off',
        ...(hostOptions.extraArgs ?? []),
      ];
      const env = { ...envWithout('ETCD_'), ...(role === 'node' ? { NODENAME: h.name } : {}) };
      log(`${name}: birdwatch run${role === 'route-reflector' ? ' --role route-reflector' : ''} (root namespace)`);
      const bw = await spawnDetached(argv, { label: `birdwatch ${name}`, logFile: h.logs.birdwatch, env, cwd: REPO_ROOT });
      records.push(bw.record);
      record(bw.record);
      const bwGone = async (): Promise<string | undefined> =>
        isRunning(bw.record) ? undefined : `birdwatch exited; log tail:\n${await tailFile(h.logs.birdwatch, 15)}`;
      await waitFor(
        `${name}: birdwatch writing bird.cfg and bird6.cfg to ${h.configDir}`,
        20_000,
        () => existsSync(join(h.configDir, 'bird.cfg')) && existsSync(join(h.configDir, 'bird6.cfg')),
        bwGone,
      );
      await birdStartSlot();
      log(`${name}: bird and bird6 in namespace ${h.namespace}`);
      await Promise.all(
        ([['bird', 'bird.cfg', h.sockets.bird, h.logs.bird], ['bird6', 'bird6.cfg', h.sockets.bird6, h.logs.bird6]] as const).map(
          async ([binary, cfg, socket, logFile]) => {
            const started = await spawnDetached(['ip', 'netns', 'exec', h.namespace, binary, '-d', '-c', join(h.configDir, cfg), '-s', socket], {
              label: `${binary} ${name}`,
              logFile,
            });
            records.push(started.record);
            record(started.record);
            await waitFor(
              `${name}: ${binary} control socket ${socket}`,
              10_000,
              () => controlSocketAnswers(socket),
              async () => (isRunning(started.record) ? undefined : `${binary} exited; log tail:\n${await tailFile(logFile, 15)}`),
            );
          },
        ),
      );
    };

    const lab: Lab = {
      stateDir,
      prefix,
      bridgeNamespace,
      etcd,
      hosts,
      host: hostNamed,
      client,
      startHost,
      stopHost,
      describe: async () => {
        const parts: string[] = [];
        for (const h of hosts) {
          parts.push(`--- ${h.name} (${h.namespace}, ${h.ip4}, ${h.ip6}), ${h.running() ? `running as ${h.role ?? '?'}` : 'stopped'}`);
          for (const [what, file] of Object.entries(h.logs)) {
            const tail = await tailFile(file, 12);
            if (tail.trim() !== '') parts.push(`  ${what}.log:\n${tail.replace(/^/gm, '    ')}`);
          }
        }
        return parts.join('\n');
      },
      down,
      detach: () => {
        if (exitHook !== undefined) process.removeListener('exit', exitHook);
        etcdClient?.close();
        etcdClient = undefined;
      },
    };

    if (options.register ?? true) {
      for (const h of hosts) {
        if (h.defaultRole === 'node') await registerHost(client(), { name: h.name, ip4: h.ip4, ip6: h.ip6, ...(h.as !== undefined ? { as: h.as } : {}) });
      }
    }
    if (options.start ?? true) await Promise.all(hosts.map((h) => startHost(h.name)));
    return lab;
  } catch (error) {
    log(`lab start failed: ${(error as Error).message.split('\n')[0] ?? ''}; cleaning up`);
    await down().catch(() => undefined);
    throw error;
  }
}

/**
 * Stops every recorded process that still runs (birdwatch, then BIRD, then etcd) and deletes every
 * recorded namespace carrying the lab's prefix; then removes the state file (logs stay). A state dir
 * without a state file is a no-op.
 */
export async function downLab(stateDir: string): Promise<DownReport> {
  const state = readState(stateDir);
  if (state === undefined) return { stopped: 0, killed: [], namespacesDeleted: [] };
  const errors: string[] = [];
  const killed: string[] = [];
  const live = state.processes.filter(isRunning);
  const groups = [
    live.filter((r) => r.label.startsWith('birdwatch')),
    live.filter((r) => r.label.startsWith('bird ') || r.label.startsWith('bird6 ')),
    live.filter((r) => r.label.startsWith('etcd')),
  ];
  const other = live.filter((r) => !groups.some((g) => g.includes(r)));
  // A process spawned in the instant before a crashed `up` could record it.
  const unrecorded = unrecordedLabProcesses(resolve(stateDir), state.processes);
  // etcd members one at a time: a stopping leader hands over to a live follower quickly, while members
  // stopped all at once wait for each other and need SIGKILL.
  const etcdMembers = groups.pop() ?? [];
  for (const group of [...groups, ...etcdMembers.map((m) => [m]), other, unrecorded]) {
    if (group.length === 0) continue;
    try {
      killed.push(...(await stopProcesses(group)));
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  const deleted: string[] = [];
  for (const ns of state.namespaces) {
    if (!ns.startsWith(`${state.prefix}-`) || !namespaceExists(ns)) continue;
    try {
      await deleteNamespace(ns);
      deleted.push(ns);
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  if (errors.length > 0) throw new Error(`lab down in ${stateDir} left things behind:\n${errors.join('\n')}`);
  rmSync(statePath(stateDir), { force: true });
  return { stopped: live.length + unrecorded.length, killed, namespacesDeleted: deleted };
}
