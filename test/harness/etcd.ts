/**
 * Test harness: a throwaway real etcd (1 or 3 members) on free loopback ports.
 *
 * Each member runs as a child process of the test (stopped by PID: SIGTERM, then SIGKILL), with
 * its data and its log (etcd is chatty) in a temp dir that `stop()` removes. Also exports the
 * small process helpers the BIRD harness shares (free ports, stop by PID, log tails).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// ---------------------------------------------------------------------------------------------
// Process helpers (shared with ./bird.ts)
// ---------------------------------------------------------------------------------------------

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Something with tap's `t.teardown`. */
export interface TeardownRegistrar {
  teardown(fn: () => unknown): void;
}

/** A port that was free on `host` a moment ago (bind port 0, read it, close). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : undefined;
      server.close(() => (port === undefined ? reject(new Error('no port assigned')) : resolve(port)));
    });
  });
}

/** `count` distinct free ports on `host`. */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort(host));
  return [...ports];
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves when the child has exited (immediately if it already has). */
export function exitOf(child: ChildProcess): Promise<ExitInfo> {
  if (hasExited(child)) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

/** SIGTERM to the child's PID, up to `graceMs` to exit, then SIGKILL; resolves once it exited. */
export async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<ExitInfo> {
  const exited = exitOf(child);
  if (hasExited(child)) return exited;
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), graceMs);
  });
  const first = await Promise.race([exited, timeout]);
  clearTimeout(timer);
  if (first !== 'timeout') return first;
  child.kill('SIGKILL');
  return exited;
}

/** True if a process with this PID exists (signal 0). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The last `maxLines` lines of a text file, or '' if it cannot be read. */
export async function tailFile(path: string, maxLines = 40): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).split('\n').slice(-maxLines).join('\n');
  } catch {
    return '';
  }
}

export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * SIGKILLs the child if the test process exits while it still runs, so a crashed test leaves no
 * daemon behind. The hook removes itself when the child exits.
 */
export function killOnProcessExit(child: ChildProcess): void {
  const hook = (): void => {
    if (!hasExited(child)) child.kill('SIGKILL');
  };
  process.once('exit', hook);
  child.once('exit', () => process.removeListener('exit', hook));
}

/** Environment for a child with the variables of one tool (e.g. `ETCD_`) removed. */
export function envWithout(prefix: string): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith(prefix)));
}

// ---------------------------------------------------------------------------------------------
// etcd
// ---------------------------------------------------------------------------------------------

export interface StartEtcdOptions {
  readonly members?: 1 | 3;
  /**
   * Directory for member data and logs. When given it is the caller's: stop() leaves it in place.
   * Otherwise a temp dir is made and stop() removes it.
   */
  readonly dataDir?: string;
  /** etcd executable (default `etcd` from PATH). */
  readonly binary?: string;
  /** Time allowed for every member to report healthy. Default 20 s. */
  readonly startTimeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface EtcdMemberInfo {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  readonly logFile: string;
}

export interface EtcdCluster {
  /** Client URLs, one per member (`http://127.0.0.1:PORT`). */
  readonly endpoints: readonly string[];
  readonly members: readonly EtcdMemberInfo[];
  /** The directory holding member data and logs. */
  readonly rootDir: string;
  /** PID of member `index`, or undefined while it is not running. */
  pid(index: number): number | undefined;
  /** PIDs of the running members. */
  pids(): number[];
  /** Kills member `index` by PID (SIGKILL unless told) and waits for it to exit. */
  kill(index: number, signal?: NodeJS.Signals): Promise<ExitInfo>;
  /** Starts member `index` again (same name, ports, data dir) and waits until it is healthy. */
  restart(index: number): Promise<void>;
  /** Last lines of member `index`'s log. */
  logTail(index: number, maxLines?: number): Promise<string>;
  /** Stops every member by PID and removes the temp dir (if ours). Safe to call more than once. */
  stop(): Promise<void>;
}

interface MemberSlot {
  readonly info: EtcdMemberInfo;
  readonly args: readonly string[];
  child: ChildProcess | undefined;
}

const MAX_START_ATTEMPTS = 3;

/** Starts a throwaway etcd and waits until every member answers /health with `true`. */
export async function startEtcd(options: StartEtcdOptions = {}): Promise<EtcdCluster> {
  const memberCount = options.members ?? 1;
  const ownsDir = options.dataDir === undefined;
  const rootDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'birdwatch-etcd-')));
  let lastError: unknown;
  try {
    for (let attempt = 1; attempt <= MAX_START_ATTEMPTS; attempt++) {
      options.signal?.throwIfAborted();
      const attemptDir = join(rootDir, `attempt-${attempt}`);
      try {
        return await startCluster(memberCount, rootDir, attemptDir, ownsDir, options);
      } catch (e) {
        lastError = e;
        // A port taken between choosing it and etcd binding it: try again with new ports.
        if (!(e instanceof EtcdStartError) || !e.portClash) throw e;
      }
    }
    throw lastError;
  } catch (e) {
    if (ownsDir) await rm(rootDir, { recursive: true, force: true });
    throw e;
  }
}

/** Starts etcd and registers its stop() with tap's t.teardown. */
export async function startEtcdForTest(t: TeardownRegistrar, options: StartEtcdOptions = {}): Promise<EtcdCluster> {
  const cluster = await startEtcd(options);
  t.teardown(() => cluster.stop());
  return cluster;
}

class EtcdStartError extends Error {
  override readonly name = 'EtcdStartError';
  readonly portClash: boolean;
  constructor(message: string, portClash: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.portClash = portClash;
  }
}

async function startCluster(
  memberCount: number,
  rootDir: string,
  attemptDir: string,
  ownsDir: boolean,
  options: StartEtcdOptions,
): Promise<EtcdCluster> {
  await mkdir(attemptDir, { recursive: true });
  const ports = await freePorts(memberCount * 2);
  const token = `birdwatch-test-${randomUUID()}`;
  const infos: EtcdMemberInfo[] = [];
  for (let i = 0; i < memberCount; i++) {
    infos.push({
      name: `m${i}`,
      clientUrl: `http://127.0.0.1:${ports[2 * i]}`,
      peerUrl: `http://127.0.0.1:${ports[2 * i + 1]}`,
      dataDir: join(attemptDir, `m${i}.etcd`),
      logFile: join(attemptDir, `m${i}.log`),
    });
  }
  const initialCluster = infos.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  const slots: MemberSlot[] = infos.map((info) => ({
    info,
    child: undefined,
    args: [
      '--name', info.name,
      '--data-dir', info.dataDir,
      '--listen-client-urls', info.clientUrl,
      '--advertise-client-urls', info.clientUrl,
      '--listen-peer-urls', info.peerUrl,
      '--initial-advertise-peer-urls', info.peerUrl,
      '--initial-cluster', initialCluster,
      '--initial-cluster-state', 'new',
      '--initial-cluster-token', token,
      '--logger', 'zap',
      '--log-outputs', 'stderr',
    ],
  }));
  const binary = options.binary ?? 'etcd';
  const timeoutMs = options.startTimeoutMs ?? 20_000;

  const spawnMember = async (slot: MemberSlot): Promise<ChildProcess> => {
    const fd = openSync(slot.info.logFile, 'a');
    try {
      const child = spawn(binary, slot.args, { stdio: ['ignore', fd, fd], env: envWithout('ETCD_') });
      killOnProcessExit(child);
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
      child.on('error', () => undefined); // later errors (e.g. kill on a dead PID) must not crash the test
      slot.child = child;
      return child;
    } finally {
      closeSync(fd);
    }
  };

  let stopping: Promise<void> | undefined;
  const stopAll = (): Promise<void> => {
    stopping ??= (async () => {
      await Promise.all(slots.map(async (slot) => (slot.child === undefined ? undefined : stopChild(slot.child))));
      if (ownsDir) await rm(rootDir, { recursive: true, force: true });
    })();
    return stopping;
  };

  try {
    for (const slot of slots) await spawnMember(slot);
    await Promise.all(slots.map((slot) => waitHealthy(slot, timeoutMs, options.signal)));
  } catch (e) {
    await Promise.all(slots.map(async (slot) => (slot.child === undefined ? undefined : stopChild(slot.child))));
    throw e;
  }

  const slotAt = (index: number): MemberSlot => {
    const slot = slots[index];
    if (slot === undefined) throw new RangeError(`no etcd member ${index} (cluster has ${slots.length})`);
    return slot;
  };

  return {
    endpoints: infos.map((m) => m.clientUrl),
    members: infos,
    rootDir,
    pid: (index) => {
      const child = slotAt(index).child;
      return child === undefined || hasExited(child) ? undefined : child.pid;
    },
    pids: () =>
      slots.flatMap((s) => (s.child !== undefined && !hasExited(s.child) && s.child.pid !== undefined ? [s.child.pid] : [])),
    kill: async (index, signal = 'SIGKILL') => {
      const child = slotAt(index).child;
      if (child === undefined) return { code: null, signal: null };
      const exited = exitOf(child);
      if (!hasExited(child)) child.kill(signal);
      return exited;
    },
    restart: async (index) => {
      if (stopping !== undefined) throw new Error('etcd cluster is stopped');
      const slot = slotAt(index);
      if (slot.child !== undefined) await stopChild(slot.child);
      await spawnMember(slot);
      await waitHealthy(slot, timeoutMs, options.signal);
    },
    logTail: (index, maxLines) => tailFile(slotAt(index).info.logFile, maxLines),
    stop: stopAll,
  };
}

/** Polls `<clientUrl>/health` until it says healthy; fails early if the member exits. */
async function waitHealthy(slot: MemberSlot, timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const child = slot.child;
  for (;;) {
    signal?.throwIfAborted();
    if (child === undefined || hasExited(child)) {
      const tail = await tailFile(slot.info.logFile);
      throw new EtcdStartError(
        `etcd member ${slot.info.name} exited during start (code ${String(child?.exitCode)}, signal ${String(child?.signalCode)}); log tail:\n${tail}`,
        /address already in use/i.test(tail),
      );
    }
    if (await isHealthy(slot.info.clientUrl)) return;
    if (Date.now() > deadline) {
      const tail = await tailFile(slot.info.logFile);
      throw new EtcdStartError(`etcd member ${slot.info.name} not healthy after ${timeoutMs} ms; log tail:\n${tail}`, false);
    }
    await delay(50, signal);
  }
}

async function isHealthy(clientUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1_000) });
    if (!res.ok) return false;
    const body: unknown = await res.json();
    return typeof body === 'object' && body !== null && 'health' in body && body.health === 'true';
  } catch {
    return false;
  }
}
