/**
 * Test harness: etcd's own gRPC proxy (`etcd grpc-proxy start`, in the etcd binary) in front of a test etcd, on a
 * free loopback port, as a child process of the test (stopped by PID), its log in the cluster's directory.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import type { EtcdCluster } from './etcd.js';
import { delay, envWithout, freePort, spawnLogged, stopChild, tailFile, type TeardownRegistrar } from './process.js';

export interface EtcdProxy {
  /** `http://127.0.0.1:PORT`: what birdwatch is given as its etcd endpoint. */
  readonly endpoint: string;
  readonly logFile: string;
  pid(): number | undefined;
  /** SIGSTOP: the proxy keeps its connections and answers nothing (a frozen server). */
  freeze(): void;
  /** SIGCONT. */
  thaw(): void;
  /** Stops it by PID and starts it again on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 15_000;

/** Starts a proxy for `cluster`'s members and waits until a read through it answers. */
export async function startEtcdProxy(t: TeardownRegistrar, cluster: EtcdCluster): Promise<EtcdProxy> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const logFile = join(cluster.rootDir, `grpc-proxy-${port}.log`);
  const upstream = cluster.endpoints.map((e) => new URL(e).host).join(',');
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    child = await spawnLogged(
      'etcd',
      ['grpc-proxy', 'start', `--endpoints=${upstream}`, `--listen-addr=127.0.0.1:${port}`],
      { logFile, env: envWithout('ETCD_') },
    );
    const client = new Etcd3({ hosts: [endpoint], dialTimeout: 1_000 });
    try {
      const deadline = Date.now() + START_TIMEOUT_MS;
      for (;;) {
        try {
          await client.get('/birdwatch-test/proxy-ready').exec();
          return;
        } catch (error) {
          if (Date.now() > deadline)
            throw new Error(
              `etcd grpc-proxy did not answer within ${START_TIMEOUT_MS} ms:\n${await tailFile(logFile)}`,
              {
                cause: error,
              },
            );
          await delay(100);
        }
      }
    } finally {
      client.close();
    }
  };
  await start();
  const stop = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (running) {
      running.kill('SIGCONT');
      await stopChild(running);
    }
  };
  t.teardown(stop);
  return {
    endpoint,
    logFile,
    pid: () => child?.pid,
    freeze: () => child?.kill('SIGSTOP'),
    thaw: () => child?.kill('SIGCONT'),
    restart: async () => {
      await stop();
      await start();
    },
    stop,
  };
}
