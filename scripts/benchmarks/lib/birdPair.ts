/**
 * BIRD and BIRD6 inside a network namespace the bench makes: mesh peers are 10.x addresses, unreachable inside an
 * empty namespace, so nothing leaves the machine. Stopped by PID, the namespace deleted, through the scope.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { showProtocols } from '../../../src/bird/showProtocolsCommand.js';
import { createNamespace, startBird, writeMinimalConfig, type BirdProcess, type NetworkNamespace } from './harness.js';
import { sleep, type Scope } from './scope.js';

export async function benchNamespace(scope: Scope, prefix = 'bwbench'): Promise<NetworkNamespace> {
  // createNamespace registers its removal with the scope (also when the bench fails or is interrupted).
  return createNamespace(scope, prefix);
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

/** Polls `show protocols` every 100 ms until `check` holds; throws naming `what` after `timeoutMs`. */
export async function waitForProtocols(
  socket: string,
  check: (names: Set<string>) => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<Set<string>> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const names = await bgpProtocols(socket);
    if (check(names)) return names;
    if (performance.now() > deadline)
      throw new Error(`timed out waiting for ${what} (BIRD has ${names.size} BGP protocols)`);
    await sleep(100);
  }
}
