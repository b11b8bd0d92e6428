/**
 * BIRD and BIRD6 inside a network namespace the bench makes: mesh peers are 10.x addresses, unreachable inside an
 * empty namespace, so nothing leaves the machine. Stopped by PID, the namespace deleted, through the scope. With
 * BIRD 2/3 (`bird`), one daemon serves both families.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { showProtocols } from '../../../src/bird/showProtocolsCommand.js';
import type { Daemon } from '../../../src/model/daemon.js';
import {
  bird16,
  birdOfVersion,
  createNamespace,
  isMissing,
  startBird,
  writeMinimalConfig,
  type BirdProcess,
  type InstalledBird,
  type NetworkNamespace,
} from './harness.js';
import { sleep, type Scope } from './scope.js';

export async function benchNamespace(scope: Scope, prefix = 'bwbench'): Promise<NetworkNamespace> {
  // createNamespace registers its removal with the scope (also when the bench fails or is interrupted).
  return createNamespace(scope, prefix);
}

/** A BIRD the bench runs against, by version (`1.6`: the system's BIRD 1.6; `2.0.12`: scripts/setup-bird's). */
export function benchBird(version: string): InstalledBird {
  const found = version === '1.6' ? bird16() : birdOfVersion(version);
  if (isMissing(found)) throw new Error(found.missing);
  return found;
}

export interface BirdPair {
  readonly logFiles: { readonly bird: string; readonly bird6: string };
  readonly bird: BirdProcess;
  /** BIRD 1.6 only. */
  readonly bird6: BirdProcess | undefined;
  readonly sockets: { readonly bird: string; readonly bird6: string };
  /** The daemons running: bird and bird6 (BIRD 1.6), or bird (BIRD 2/3). */
  readonly daemons: readonly Daemon[];
  stop(): Promise<void>;
}

/**
 * BIRD and BIRD6 reading `configDir`/bird.cfg and bird6.cfg (BIRD 2/3: bird.cfg alone), inside the namespace, in
 * the foreground (-d) with their output in a log file. Missing config files are written as the smallest valid
 * configuration. `bird`: which BIRD (default the system's BIRD 1.6).
 */
export async function startBirdPair(
  scope: Scope,
  ns: NetworkNamespace,
  dir: string,
  configDir: string,
  tag: string,
  bird?: InstalledBird,
): Promise<BirdPair> {
  const daemons: readonly Daemon[] =
    bird === undefined || bird.version.dialect === 'bird1' ? ['bird', 'bird6'] : ['bird'];
  await mkdir(configDir, { recursive: true });
  const sockets = { bird: join(dir, `${tag}-bird.ctl`), bird6: join(dir, `${tag}-bird6.ctl`) };
  const logFiles = { bird: join(dir, `${tag}-bird.log`), bird6: join(dir, `${tag}-bird6.log`) };
  const procs: BirdProcess[] = [];
  for (const daemon of daemons) {
    const family = daemon === 'bird' ? 4 : 6;
    const configPath = join(configDir, `${daemon}.cfg`);
    try {
      await readFile(configPath);
    } catch {
      await writeMinimalConfig(configPath, '10.0.0.1');
    }
    const proc = await startBird({
      family,
      ...(bird && { binary: daemon === 'bird' ? bird.bird : (bird.bird6 ?? 'bird6') }),
      configPath,
      socketPath: sockets[daemon],
      logFile: logFiles[daemon],
      wrapper: ns.exec,
    });
    scope.teardown(() => proc.stop());
    procs.push(proc);
  }
  const [birdProc, bird6] = procs as [BirdProcess, BirdProcess | undefined];
  return {
    bird: birdProc,
    bird6,
    sockets,
    logFiles,
    daemons,
    stop: async () => void (await Promise.all(procs.map((p) => p.stop()))),
  };
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
