import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Etcd3 } from 'etcd3';
import type { Test } from 'tap';
import { showProtocols } from '../../src/bird/showProtocols.js';
import { nodeRole } from '../../src/controller/roleRenderer.js';
import { RunController } from '../../src/controller/runController.js';
import { createEtcdClient } from '../../src/datastore/etcdConnection.js';
import { createLogger } from '../../src/observe/logger.js';
import { startBird, type BirdProcess } from '../harness/bird.js';
import { startEtcdForTest, type EtcdCluster } from '../harness/etcd.js';
import { createNamespace, type NetworkNamespace } from '../harness/netns.js';

/** A node whose BGP lives on loopback: peers are 127.0.0.x, so BIRD only ever dials loopback. */
export const NODE = 'n1';

export interface RunHarness {
  readonly etcd: EtcdCluster;
  readonly client: Etcd3;
  readonly configDir: string;
  readonly dir: string;
  readonly sockets: { bird: string; bird6: string };
  readonly ns: NetworkNamespace;
  readonly logLines: () => Record<string, unknown>[];
  birds: BirdProcess[];
  startBirds(): Promise<void>;
  startController(options?: StartControllerOptions): Promise<RunController>;
  protocols(daemon?: 'bird' | 'bird6'): Promise<string[]>;
}

export interface StartControllerOptions {
  readonly templatesDir?: string;
  readonly minReloadIntervalMs?: number;
  readonly endpoints?: readonly string[];
  /** Validation binaries (default the real bird/bird6). */
  readonly binaries?: { readonly bird: string; readonly bird6: string };
  /** Control sockets (default the harness's BIRDs). */
  readonly sockets?: { readonly bird: string; readonly bird6: string };
  readonly validateTimeoutMs?: number;
}

/** etcd on loopback, BIRD and BIRD6 inside a namespace of the test's own (their kernel tables are its own). */
export async function createRunHarness(t: Test, keyspace: ReadonlyMap<string, string>): Promise<RunHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'birdwatch-run-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const etcd = await startEtcdForTest(t);
  const client = new Etcd3({ hosts: [...etcd.endpoints] });
  t.teardown(() => client.close());
  for (const [key, value] of keyspace) await client.put(key).value(value);
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
  const configDir = join(dir, 'config');
  const sockets = { bird: join(dir, 'bird.ctl'), bird6: join(dir, 'bird6.ctl') };
  const harness: RunHarness = {
    etcd,
    client,
    configDir,
    dir,
    sockets,
    ns,
    logLines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    birds: [],
    async startBirds() {
      for (const family of [4, 6] as const) {
        const daemon = family === 4 ? 'bird' : 'bird6';
        const bird = await startBird({
          family,
          configPath: join(configDir, `${daemon}.cfg`),
          socketPath: sockets[daemon],
          logFile: join(dir, `${daemon}.log`),
          wrapper: ns.exec,
        });
        t.teardown(() => bird.stop());
        harness.birds.push(bird);
      }
    },
    async startController(options = {}) {
      const etcdClient = createEtcdClient({ endpoints: options.endpoints ?? etcd.endpoints });
      const controller = await RunController.create({
        role: nodeRole(NODE, 'off'),
        configDir,
        sockets: options.sockets ?? sockets,
        binaries: options.binaries ?? { bird: 'bird', bird6: 'bird6' },
        validateTimeoutMs: options.validateTimeoutMs,
        templatesDir: options.templatesDir,
        minReloadIntervalMs: options.minReloadIntervalMs ?? 50,
        client: etcdClient,
        log,
      });
      t.teardown(async () => {
        await controller.close();
        etcdClient.close();
      });
      await controller.start();
      return controller;
    },
    async protocols(daemon = 'bird') {
      const rows = await showProtocols(sockets[daemon]);
      return rows
        .flatMap((row) =>
          'name' in row && typeof row.name === 'string' && /^(Mesh|Global|Node)_/.test(row.name) ? [row.name] : [],
        )
        .sort();
    },
  };
  return harness;
}

/** Polls until `check` returns true (or throws after `timeoutMs`, with the last value seen). */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T> | T,
  check: (value: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    try {
      last = await probe();
      if (check(last)) return last;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
