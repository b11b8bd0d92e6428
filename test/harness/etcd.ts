/**
 * Test harness: a throwaway real etcd (1 or 3 members) on free loopback ports.
 *
 * Each member runs as a child process of the test (stopped by PID: SIGTERM, then SIGKILL), with
 * its data and its log (etcd is chatty) in a temp dir that `stop()` removes. Also exports the
 * small process helpers the BIRD harness shares (free ports, stop by PID, log tails).
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  delay,
  envWithout,
  exitOf,
  freePorts,
  hasExited,
  spawnLogged,
  stopChild,
  tailFile,
  type ExitInfo,
  type TeardownRegistrar,
} from './process.js';
import { agreedLeader, etcdMemberArgs, etcdMemberStatus, isEtcdHealthy } from './etcdMember.js';

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

interface EtcdMemberInfo {
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
  /** Index of the member that is raft leader now, or undefined (none elected, or none reachable). */
  leader(): Promise<number | undefined>;
  /**
   * Waits until a leader is elected (e.g. after killing the old one). Until then a write sent to a
   * follower can hang for etcd's request timeout (5 s + 2 × election timeout) before it is retried.
   */
  waitForLeader(timeoutMs?: number): Promise<number>;
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
/** Time a member gets to exit after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 2_000;

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
    args: etcdMemberArgs({ ...info, initialCluster, token }),
  }));
  const binary = options.binary ?? 'etcd';
  const timeoutMs = options.startTimeoutMs ?? 20_000;

  const spawnMember = async (slot: MemberSlot): Promise<ChildProcess> => {
    const child = await spawnLogged(binary, slot.args, { logFile: slot.info.logFile, env: envWithout('ETCD_') });
    slot.child = child;
    return child;
  };

  let stopping: Promise<void> | undefined;
  const stopAll = (): Promise<void> => {
    stopping ??= (async () => {
      // One at a time: a stopping leader hands leadership to a live follower, which is quick;
      // stopping all at once leaves it waiting for followers that are gone.
      for (const slot of slots) if (slot.child !== undefined) await stopChild(slot.child, STOP_GRACE_MS);
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
      slots.flatMap((s) =>
        s.child !== undefined && !hasExited(s.child) && s.child.pid !== undefined ? [s.child.pid] : [],
      ),
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
    leader: () => findLeader(slots),
    waitForLeader: async (waitMs = 10_000) => {
      const deadline = Date.now() + waitMs;
      for (;;) {
        const index = await findLeader(slots);
        if (index !== undefined) return index;
        if (Date.now() > deadline) throw new Error(`no etcd leader elected within ${waitMs} ms`);
        await delay(25);
      }
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
    if (await isEtcdHealthy(slot.info.clientUrl)) return;
    if (Date.now() > deadline) {
      const tail = await tailFile(slot.info.logFile);
      throw new EtcdStartError(
        `etcd member ${slot.info.name} not healthy after ${timeoutMs} ms; log tail:\n${tail}`,
        false,
      );
    }
    await delay(50, signal);
  }
}

async function findLeader(slots: readonly MemberSlot[]): Promise<number | undefined> {
  return agreedLeader(
    await Promise.all(
      slots.map((slot) =>
        slot.child === undefined || hasExited(slot.child) ? undefined : etcdMemberStatus(slot.info.clientUrl),
      ),
    ),
  );
}
