/**
 * A multi-host lab on one machine: hosts are network namespaces on a bridge (in a namespace of its own),
 * each running what a calico-node runs, under runit as calico-node does: one `runsvdir` per host, inside
 * the host's namespace, supervising the services shipped in packaging/runit (copied unchanged into the
 * host's service directory) — `birdwatch` (`run --once`, then `run`), `bird` and `bird6` (in the
 * foreground, started once a valid bird.cfg exists), each with an svlogd log service. Each host runs the BIRD of
 * its spec (BIRD 1.6 by default; BIRD 2/3 from scripts/setup-bird's cache: then `bird` alone), found on the
 * services' PATH as `bird` (and `bird6`) through the host's own bin directory, as on a host with that package.
 *
 * etcd runs on the root namespace's loopback. A host reaches it on its *own* loopback, as a node would
 * reach its etcd: a small relay (etcdRelay.mjs) listens inside the host namespace on each member's port and
 * carries the bytes over a unix socket — a file-system object, so it crosses network namespaces — to a
 * relay in the root namespace that connects to the member. No address is added outside the lab.
 *
 * Every namespace is recorded in `<stateDir>/lab.json` before it is created, every process (etcd, the
 * relays, each host's runsvdir) as soon as it runs; `down` (or `downLab(stateDir)` from another process,
 * also after a crash) stops exactly those PIDs — a runsvdir with SIGHUP, which stops its services, whose
 * PIDs are collected first and waited for — and deletes exactly those namespaces. `startLab` first cleans
 * what a previous lab in the same state dir left behind.
 */
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { execa } from 'execa';
import { BirdControlClient } from '../../src/bird/controlSocket.js';
import type { Daemon } from '../../src/model/daemon.js';
import { bird16, birdOfVersion, isMissing, type InstalledBird } from '../support/birdVersions.js';
import { delay, envWithout, tailFile } from '../harness/process.js';
import { startLabEtcd, type LabEtcd } from './etcd.js';
import { registerHost } from './keyspace.js';
import { addNamespace, createBridgeNamespace, deleteNamespace, linkHost, namespaceExists } from './network.js';
import {
  isRunning,
  killProcessesSync,
  spawnDetached,
  stopProcesses,
  unrecordedLabProcesses,
  type ProcessRecord,
} from './procs.js';
import { readState, statePath, writeState, type HostState, type LabState } from './state.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The built CLI; `BIRDWATCH_LAB_CLI` may point at another build (e.g. of a clean checkout). */
export const BIRDWATCH_MAIN = resolve(process.env['BIRDWATCH_LAB_CLI'] ?? join(REPO_ROOT, 'dist', 'cli', 'main.js'));
export const DEFAULT_PREFIX = 'bwlab';
/** The runit service directories birdwatch ships; the lab runs exactly these. */
export const PACKAGED_RUNIT_SERVICES = join(REPO_ROOT, 'packaging', 'runit');
export const SERVICES = ['birdwatch', 'bird', 'bird6'] as const;
export type ServiceName = (typeof SERVICES)[number];
const RELAY_SCRIPT = join(REPO_ROOT, 'test', 'lab', 'etcdRelay.mjs');

type HostRole = 'node' | 'route-reflector';

interface HostSpec {
  readonly name: string;
  /** Per-node AS (registered as `host/<name>/as_num`; `--as` of a route reflector). */
  readonly as?: string;
  /** What `start` runs on the host (default node); a route reflector is not registered as a node. */
  readonly role?: HostRole;
  /** The host's BIRD, by version (`2.0.12`, `3.3.2`: scripts/setup-bird's); default the system's BIRD 1.6. */
  readonly bird?: string;
}

/** An installed BIRD by version (undefined: the system's BIRD 1.6), or an error saying what is missing. */
export function labBird(version: string | undefined): InstalledBird {
  const found = version === undefined ? bird16() : birdOfVersion(version);
  if (isMissing(found)) throw new Error(found.missing);
  return found;
}

/** The daemons a BIRD runs: bird and bird6 (BIRD 1.6), or bird alone (BIRD 2/3). */
const daemonsOfBird = (bird: InstalledBird): readonly Daemon[] =>
  bird.version.dialect === 'bird1' ? ['bird', 'bird6'] : ['bird'];

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
  /**
   * Command that runs the birdwatch CLI (the runit service's BIRDWATCH). Default: dist/cli/main.js, as `birdwatch` on
   * PATH.
   */
  readonly birdwatch?: readonly string[];
  /** SIGKILL the lab's processes and delete its namespaces if this process exits with the lab up (tests). */
  readonly killOnExit?: boolean;
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

interface StartHostOptions {
  readonly role?: HostRole;
  /** Extra arguments for `birdwatch run` (BIRDWATCH_OPTS of the service: no spaces inside an argument). */
  readonly extraArgs?: readonly string[];
  /** More environment for the host's runsvdir (e.g. IP, IP6, BIRDWATCH_REGISTER). */
  readonly env?: Readonly<Record<string, string>>;
  /** Another BIRD than the spec's (an upgrade in place: `keepConfig` too). */
  readonly bird?: string;
  /**
   * Keep the config dir as the previous start left it (an upgrade in place) instead of starting from an empty one;
   * BIRD then starts once its `bird -p` accepts the files (the shipped service's own wait).
   */
  readonly keepConfig?: boolean;
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
  /** The host's runit service directory (runsvdir's): one copy of packaging/runit/<service> each. */
  readonly serviceDir: string;
  readonly sockets: { readonly bird: string; readonly bird6: string };
  /** The svlogd `current` file of each service, and runsvdir's own output. */
  readonly logs: {
    readonly bird: string;
    readonly bird6: string;
    readonly birdwatch: string;
    readonly runsvdir: string;
  };
  /** Role of the running daemons (undefined while stopped). */
  readonly role: HostRole | undefined;
  /** The host's BIRD (the spec's, or the one of its last start). */
  readonly bird: InstalledBird;
  /** Its daemons: bird and bird6 (BIRD 1.6) or bird (BIRD 2/3). */
  readonly daemons: readonly Daemon[];
  /** The socket of the BIRD serving one family (BIRD 2/3: bird's for both). */
  socket(family: 4 | 6): string;
  running(): boolean;
  /** PID of the host's running birdwatch, bird or bird6, as its runsv reports it (undefined when not running). */
  pid(daemon: ServiceName): number | undefined;
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
  /**
   * Starts the host's runsvdir in its namespace: the birdwatch service (`run --once`, then `run`) at once;
   * once its bird.cfg (BIRD 1.6: and bird6.cfg) exist, the BIRD services (`sv up`); waits for their sockets.
   */
  startHost(name: string, options?: StartHostOptions): Promise<void>;
  /** Stops the host's runsvdir by PID (SIGHUP: runsv stops each service), waiting for every service's PID. */
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

async function waitFor(
  what: string,
  timeoutMs: number,
  check: () => boolean | Promise<boolean>,
  failEarly?: () => Promise<string | undefined>,
): Promise<void> {
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

/** The PID runsv reports for a service (`supervise/pid`), if that process runs. */
function supervisedPid(serviceDir: string, service: ServiceName): number | undefined {
  let text: string;
  try {
    text = readFileSync(join(serviceDir, service, 'supervise', 'pid'), 'utf8').trim();
  } catch {
    return undefined;
  }
  const pid = Number(text);
  return text !== '' && Number.isInteger(pid) && existsSync(`/proc/${pid}`) ? pid : undefined;
}

/** Copies the shipped service directories into `serviceDir` unchanged. bird and bird6 get runit's `down` flag. */
function installServices(serviceDir: string): void {
  rmSync(serviceDir, { recursive: true, force: true });
  mkdirSync(serviceDir, { recursive: true });
  for (const service of SERVICES)
    cpSync(join(PACKAGED_RUNIT_SERVICES, service), join(serviceDir, service), { recursive: true });
  // Only the start time of BIRD is the lab's choice (see secondGate): runsv leaves a service with a `down`
  // file stopped until `sv up`; from then on it restarts it whenever it exits, as in production.
  for (const service of ['bird', 'bird6']) writeFileSync(join(serviceDir, service, 'down'), '');
}

async function waitForLine(
  file: string,
  line: string,
  what: string,
  alive: () => boolean,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    if (text.split('\n').includes(line)) return;
    if (!alive()) throw new Error(`${what} exited; log tail:\n${await tailFile(file, 15)}`);
    if (Date.now() > deadline)
      throw new Error(`${what}: not ready within ${timeoutMs} ms; log tail:\n${await tailFile(file, 15)}`);
    await delay(25);
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
  for (const s of specs)
    if (!HOST_NAME.test(s.name))
      throw new Error(`host name ${JSON.stringify(s.name)}: 1-31 letters, digits, ".", "_", "-"`);
  if (new Set(specs.map((s) => s.name)).size !== specs.length) throw new Error('host names must be distinct');
  const subnet4 = options.subnet4 ?? '10.99.0';
  const subnet6 = options.subnet6 ?? 'fd99::';
  const minReload = options.minReloadIntervalMs ?? 50;
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
      serviceDir: join(dir, 'service'),
      logDir: join(dir, 'log'),
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

    // etcd into each host namespace: root relay (unix socket → member), one relay per host (member port → socket).
    const relayDir = join(stateDir, 'etcd', 'relay');
    mkdirSync(relayDir, { recursive: true });
    const sockets = etcd.members.map((m) => join(relayDir, `${m.name}.sock`));
    const startRelay = async (
      prefixArgv: readonly string[],
      args: readonly string[],
      label: string,
      logFile: string,
    ): Promise<void> => {
      const relay = await spawnDetached([...prefixArgv, process.execPath, RELAY_SCRIPT, ...args], {
        label,
        logFile,
        cwd: REPO_ROOT,
      });
      record(relay.record);
      await waitForLine(logFile, 'ready', label, () => isRunning(relay.record));
    };
    log("etcd relays: into each host namespace, on the members' ports");
    await startRelay(
      [],
      ['root', ...etcd.members.map((m, i) => `${sockets[i] ?? ''}=${new URL(m.clientUrl).host}`)],
      'relay root',
      join(relayDir, 'root.log'),
    );
    const hostRelayArgs = ['host', ...etcd.members.map((m, i) => `${new URL(m.clientUrl).port}=${sockets[i] ?? ''}`)];
    await Promise.all(
      hostStates.map((h) =>
        startRelay(
          ['ip', 'netns', 'exec', h.namespace],
          hostRelayArgs,
          `relay ${h.name}`,
          join(relayDir, `${h.name}.log`),
        ),
      ),
    );

    // `birdwatch` on the services' PATH: the built CLI (or options.birdwatch through BIRDWATCH).
    const binDir = join(stateDir, 'bin');
    rmSync(binDir, { recursive: true, force: true });
    mkdirSync(binDir, { recursive: true });
    symlinkSync(BIRDWATCH_MAIN, join(binDir, 'birdwatch'));
    const servicePath = [
      binDir,
      dirname(process.execPath),
      process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    ].join(':');

    const birdStartSlot = secondGate();
    const roles = new Map<string, HostRole | undefined>();
    // Each host's BIRD, resolved up front: a BIRD the lab needs and does not have fails the start, naming it.
    const birds = new Map<string, InstalledBird>(specs.map((spec) => [spec.name, labBird(spec.bird)]));
    const birdOf = (name: string): InstalledBird => birds.get(name)!;
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
        serviceDir: h.serviceDir ?? join(dir, 'service'),
        sockets: { bird: h.birdSocket, bird6: h.bird6Socket },
        logs: {
          bird: join(dir, 'log', 'bird', 'current'),
          bird6: join(dir, 'log', 'bird6', 'current'),
          birdwatch: join(dir, 'log', 'birdwatch', 'current'),
          runsvdir: join(dir, 'runsvdir.log'),
        },
        get role() {
          return roles.get(h.name);
        },
        get bird() {
          return birdOf(h.name);
        },
        get daemons() {
          return daemonsOfBird(birdOf(h.name));
        },
        socket: (family) => (family === 4 || birdOf(h.name).version.dialect === 'bird2' ? h.birdSocket : h.bird6Socket),
        running: () => (running.get(h.name) ?? []).some(isRunning),
        pid: (daemon) =>
          (running.get(h.name) ?? []).some(isRunning)
            ? supervisedPid(h.serviceDir ?? join(dir, 'service'), daemon)
            : undefined,
      };
    });
    const hostNamed = (name: string): LabHost => {
      const h = hosts.find((x) => x.name === name);
      if (h === undefined)
        throw new Error(`no host ${name} in the lab (hosts: ${hosts.map((x) => x.name).join(', ')})`);
      return h;
    };
    const client = (): Etcd3 => (etcdClient ??= new Etcd3({ hosts: [...etcd.endpoints] }));

    const stopHost = async (name: string): Promise<void> => {
      const records = running.get(hostNamed(name).name) ?? [];
      await stopProcesses(records);
      running.delete(name);
      roles.delete(name);
    };

    const startHost = async (name: string, hostOptions: StartHostOptions = {}): Promise<void> => {
      const h = hostNamed(name);
      if (h.running()) throw new Error(`host ${name} is already running`);
      const role = hostOptions.role ?? h.defaultRole;
      if (hostOptions.bird !== undefined) birds.set(name, labBird(hostOptions.bird));
      const bird = birdOf(name);
      const hostState = state.hosts.find((x) => x.name === name);
      if (hostState !== undefined) {
        hostState.bird = bird.version.text;
        save();
      }
      const daemons = daemonsOfBird(bird);
      // A fresh config dir: BIRD must start with what etcd says now, not with a previous start's files.
      if (hostOptions.keepConfig !== true) rmSync(h.configDir, { recursive: true, force: true });
      mkdirSync(h.configDir, { recursive: true });
      // The host's BIRD as `bird` (and `bird6`, `birdc`) first on its services' PATH, as its package installs them.
      const hostBin = join(h.dir, 'bin');
      rmSync(hostBin, { recursive: true, force: true });
      mkdirSync(hostBin, { recursive: true });
      for (const [command, target] of [
        ['bird', bird.bird],
        ['bird6', bird.bird6],
        ['birdc', bird.birdc],
      ] as const)
        if (target !== undefined) symlinkSync(target, join(hostBin, command));
      for (const s of [h.sockets.bird, h.sockets.bird6]) rmSync(s, { force: true });
      const records: ProcessRecord[] = [];
      running.set(name, records);
      roles.set(name, role);
      const identity =
        role === 'route-reflector'
          ? ['--role', 'route-reflector', '--ip', h.ip4, '--ip6', h.ip6, ...(h.as !== undefined ? ['--as', h.as] : [])]
          : [];
      installServices(h.serviceDir);
      const {
        IP: _ip,
        IP6: _ip6,
        AS: _as,
        NODENAME: _nodename,
        HOSTNAME: _hostname,
        ...inherited
      } = envWithout('ETCD_');
      const env: NodeJS.ProcessEnv = {
        ...inherited,
        PATH: `${hostBin}:${servicePath}`,
        // The host relay listens on each member's port inside the namespace: the same endpoints as outside.
        ETCD_ENDPOINTS: etcd.endpoints.join(','),
        ...(role === 'node' ? { NODENAME: h.name } : {}),
        BIRDWATCH_CONFIG_DIR: h.configDir,
        BIRDWATCH_BIRD_SOCKET: h.sockets.bird,
        BIRDWATCH_BIRD6_SOCKET: h.sockets.bird6,
        BIRDWATCH_LOG_DIR: join(h.dir, 'log'),
        BIRDWATCH_OPTS: [
          ...identity,
          '--ipip',
          'off',
          '--min-reload-interval',
          String(minReload),
          '--log-format',
          'json',
          ...(hostOptions.extraArgs ?? []),
        ].join(' '),
        ...(options.birdwatch !== undefined ? { BIRDWATCH: options.birdwatch.join(' ') } : {}),
        ...hostOptions.env,
      };
      log(
        `${name}: runsvdir in namespace ${h.namespace} (birdwatch${role === 'route-reflector' ? ' --role route-reflector' : ''}, then ${daemons.join(' and ')} of BIRD ${bird.version.text})`,
      );
      const supervisor = await spawnDetached(['ip', 'netns', 'exec', h.namespace, 'runsvdir', '-P', h.serviceDir], {
        label: `runsvdir ${name}`,
        logFile: h.logs.runsvdir,
        env,
        cwd: h.dir,
        stopSignal: 'SIGHUP',
      });
      records.push(supervisor.record);
      record(supervisor.record);
      const gone = async (): Promise<string | undefined> =>
        isRunning(supervisor.record)
          ? undefined
          : `runsvdir exited; its output:\n${await tailFile(h.logs.runsvdir, 15)}\nbirdwatch log tail:\n${await tailFile(h.logs.birdwatch, 15)}`;
      const mainFiles = daemons.map((d) => `${d}.cfg`);
      await waitFor(
        `${name}: the birdwatch service writing ${mainFiles.join(' and ')} to ${h.configDir} (log: ${h.logs.birdwatch})`,
        30_000,
        () => mainFiles.every((file) => existsSync(join(h.configDir, file))),
        gone,
      );
      await birdStartSlot();
      log(`${name}: sv up ${daemons.join(' ')}`);
      await waitFor(
        `${name}: runsv of ${daemons.join(' and ')}`,
        10_000,
        () => daemons.every((s) => existsSync(join(h.serviceDir, s, 'supervise', 'ok'))),
        gone,
      );
      await execa('sv', ['up', ...daemons.map((d) => join(h.serviceDir, d))]);
      await Promise.all(
        daemons
          .map((d) => [d, h.sockets[d], h.logs[d]] as const)
          .map(([service, socket, logFile]) =>
            waitFor(
              `${name}: ${service} control socket ${socket}`,
              15_000,
              () => controlSocketAnswers(socket),
              async () => {
                const down = await gone();
                return down === undefined ? undefined : `${down}\n${service} log tail:\n${await tailFile(logFile, 15)}`;
              },
            ),
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
          parts.push(
            `--- ${h.name} (${h.namespace}, ${h.ip4}, ${h.ip6}), ${h.running() ? `running as ${h.role ?? '?'}` : 'stopped'}`,
          );
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
        if (h.defaultRole === 'node')
          await registerHost(client(), {
            name: h.name,
            ip4: h.ip4,
            ip6: h.ip6,
            ...(h.as !== undefined ? { as: h.as } : {}),
          });
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
 * Stops every recorded process that still runs (each host's runsvdir with its services, the relays, then
 * etcd) and deletes every
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
    live.filter((r) => r.label.startsWith('runsvdir')),
    live.filter((r) => r.label.startsWith('relay')),
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
  // A runsvdir started just before a crashed `up` starts its runsv children up to 5 s later (it scans its
  // directory), possibly after the scan above, and a stopped runsvdir leaves them running: look again.
  for (let again = 0; again < 3; again++) {
    const late = unrecordedLabProcesses(resolve(stateDir), []);
    if (late.length === 0) break;
    try {
      killed.push(...(await stopProcesses(late)));
      unrecorded.push(...late);
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
