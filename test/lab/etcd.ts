/**
 * The lab's etcd: 1 or 3 members on free ports of the root namespace's loopback, started detached
 * (they outlive `scripts/lab up`) and recorded in the lab state. Members can be killed and restarted.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { agreedLeader, etcdMemberArgs, etcdMemberStatus, isEtcdHealthy } from '../harness/etcdMember.js';
import { delay, envWithout, freePorts, tailFile } from '../harness/process.js';
import { isRunning, spawnDetached, stopProcesses, type ProcessRecord } from './procs.js';

interface LabEtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly argv: readonly string[];
}

export interface LabEtcd {
  readonly endpoints: readonly string[];
  readonly members: readonly LabEtcdMember[];
  /** The running process of member `index`, if any. */
  record(index: number): ProcessRecord | undefined;
  running(index: number): boolean;
  /** Kills member `index` by PID (SIGKILL unless told) and waits until it is gone. */
  kill(index: number, signal?: NodeJS.Signals): Promise<void>;
  /** Starts member `index` again (same name, ports, data) and waits until it is healthy. */
  restart(index: number): Promise<void>;
  /** Index of the member every reachable member agrees is the raft leader; waits up to `timeoutMs`. */
  waitForLeader(timeoutMs?: number): Promise<number>;
}

export interface StartLabEtcdOptions {
  readonly members: 1 | 3;
  readonly dir: string;
  /** Called with every process started (the lab records it in its state file). */
  readonly onStarted: (record: ProcessRecord) => void;
  readonly timeoutMs?: number;
  readonly binary?: string;
}

export async function startLabEtcd(options: StartLabEtcdOptions): Promise<LabEtcd> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  mkdirSync(options.dir, { recursive: true });
  const ports = await freePorts(options.members * 2);
  const token = `birdwatch-lab-${randomUUID()}`;
  const names = Array.from({ length: options.members }, (_, i) => `m${i}`);
  const peerUrls = names.map((_, i) => `http://127.0.0.1:${ports[2 * i + 1]}`);
  const initialCluster = names.map((n, i) => `${n}=${peerUrls[i]}`).join(',');
  const members: LabEtcdMember[] = names.map((name, i) => {
    const clientUrl = `http://127.0.0.1:${ports[2 * i]}`;
    const peerUrl = peerUrls[i] ?? '';
    const dataDir = join(options.dir, `${name}.etcd`);
    return {
      name,
      clientUrl,
      peerUrl,
      dataDir,
      logFile: join(options.dir, `${name}.log`),
      argv: [options.binary ?? 'etcd', ...etcdMemberArgs({ name, dataDir, clientUrl, peerUrl, initialCluster, token })],
    };
  });
  const records: (ProcessRecord | undefined)[] = members.map(() => undefined);
  const memberAt = (index: number): LabEtcdMember => {
    const m = members[index];
    if (m === undefined) throw new RangeError(`no etcd member ${index} (the lab has ${members.length})`);
    return m;
  };
  const start = async (index: number): Promise<void> => {
    const m = memberAt(index);
    const started = await spawnDetached(m.argv, {
      label: `etcd ${m.name}`,
      logFile: m.logFile,
      env: envWithout('ETCD_'),
    });
    records[index] = started.record;
    options.onStarted(started.record);
  };
  const waitHealthy = async (index: number): Promise<void> => {
    const m = memberAt(index);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const record = records[index];
      if (record === undefined || !isRunning(record)) {
        throw new Error(`etcd member ${m.name} exited during start; log tail:\n${await tailFile(m.logFile, 20)}`);
      }
      if (await isEtcdHealthy(m.clientUrl)) return;
      if (Date.now() > deadline)
        throw new Error(
          `etcd member ${m.name} not healthy after ${timeoutMs} ms; log tail:\n${await tailFile(m.logFile, 20)}`,
        );
      await delay(50);
    }
  };
  for (let i = 0; i < members.length; i++) await start(i);
  await Promise.all(members.map((_, i) => waitHealthy(i)));

  return {
    endpoints: members.map((m) => m.clientUrl),
    members,
    record: (index) => {
      memberAt(index);
      const r = records[index];
      return r !== undefined && isRunning(r) ? r : undefined;
    },
    running: (index) => {
      memberAt(index);
      const r = records[index];
      return r !== undefined && isRunning(r);
    },
    kill: async (index, signal = 'SIGKILL') => {
      memberAt(index);
      const r = records[index];
      if (r === undefined || !isRunning(r)) return;
      if (signal === 'SIGTERM') {
        await stopProcesses([r]);
        return;
      }
      process.kill(r.pid, signal);
      const deadline = Date.now() + 5_000;
      while (isRunning(r)) {
        if (Date.now() > deadline)
          throw new Error(`etcd ${memberAt(index).name} (PID ${r.pid}) still runs 5 s after ${signal}`);
        await delay(20);
      }
    },
    restart: async (index) => {
      const r = records[index];
      if (r !== undefined && isRunning(r)) await stopProcesses([r]);
      await start(index);
      await waitHealthy(index);
    },
    waitForLeader: async (waitMs = 10_000) => {
      const deadline = Date.now() + waitMs;
      for (;;) {
        const index = await findLeader(members, records);
        if (index !== undefined) return index;
        if (Date.now() > deadline) throw new Error(`no etcd leader agreed on within ${waitMs} ms`);
        await delay(25);
      }
    },
  };
}

async function findLeader(
  members: readonly LabEtcdMember[],
  records: readonly (ProcessRecord | undefined)[],
): Promise<number | undefined> {
  return agreedLeader(
    await Promise.all(
      members.map((m, i) => {
        const r = records[i];
        return r !== undefined && isRunning(r) ? etcdMemberStatus(m.clientUrl) : undefined;
      }),
    ),
  );
}
