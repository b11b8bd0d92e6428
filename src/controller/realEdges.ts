import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { stageFileSet } from '../apply/stagingDir.js';
import { swapStagedFiles, warnDirectoryRemoved, writeFilesDurably } from '../apply/swapFileSet.js';
import { configureBird } from '../bird/configure.js';
import { configureWithTimeout, confirmConfigure, undoConfigure } from '../bird/configureGuarded.js';
import { BirdProtocolError, BirdTimeoutError, BirdUnreachableError } from '../bird/errors.js';
import { showProtocolStats } from '../bird/protocolStatsCommand.js';
import { birdTimeMs } from '../bird/showStatus.js';
import { showBirdStatus } from '../bird/showStatusCommand.js';
import { MAIN_FILE, type Daemon } from '../model/daemon.js';
import type { Logger } from '../observe/logger.js';
import type { BirdRunState, GuardEdges, PipelineEdges, ReloadEdges, ReloadOutcome } from './edges.js';
import { snapshotOf } from './guard/settleVerdict.js';
import { validateStagedDaemon, type BirdBinaries } from './validateStaged.js';

/** Time allowed for connecting and for `configure`'s reply: 69 ms at 10,000 peers, so 30 s means hung. */
const RELOAD_TIMEOUT_MS = 30_000;
/** Time allowed for `show protocols all` (the guard's snapshot). */
const SNAPSHOT_TIMEOUT_MS = 10_000;
/** Time allowed for `show status` (the BIRD watcher's question every interval: microseconds for BIRD). */
const STATUS_TIMEOUT_MS = 5_000;

export interface RealPipelineEdgesOptions {
  readonly binaries: BirdBinaries;
  /** Kill a `bird -p` that runs longer than this (ms); default 30 s. */
  readonly validateTimeoutMs?: number;
  /** Where a directory removed from a file's place is reported (a warn line). */
  readonly log?: Logger;
}

/** The real files and `bird -p`: what `run` and `render` drive. */
export function realPipelineEdges(options: RealPipelineEdgesOptions): PipelineEdges {
  const onDirectoryRemoved = options.log === undefined ? undefined : warnDirectoryRemoved(options.log);
  return {
    stage: stageFileSet,
    validate: (daemon, stagedDir, spans, signal) =>
      validateStagedDaemon(daemon, stagedDir, {
        binary: options.binaries[daemon],
        spans,
        signal,
        timeoutMs: options.validateTimeoutMs,
      }),
    swap: (configDir, stagedDir, names) => swapStagedFiles(configDir, stagedDir, names, onDirectoryRemoved),
    write: (configDir, files) => writeFilesDurably(configDir, files, onDirectoryRemoved),
  };
}

/** A refusal as BIRD prints it, code first (`configureWithTimeout` codes its refusals; `configureBird` does not). */
const codedReply = (code: number, message: string): string => {
  const prefix = `${String(code).padStart(4, '0')} `;
  return message.startsWith(prefix) ? message : `${prefix}${message}`;
};

/**
 * BIRD's reply to any `configure` (plain, staged, with a timeout) → the outcome the cycle acts on: only
 * `Reconfigured` / `Reconfiguration in progress` count as applied (birdc itself exits 0 on a rejection). Never
 * throws for what the socket does.
 */
async function configureOutcome(
  daemon: Daemon,
  socketPath: string,
  send: () => Promise<{ readonly ok: boolean; readonly code: number; readonly message: string }>,
  signal?: AbortSignal,
): Promise<ReloadOutcome> {
  const started = performance.now();
  try {
    const reply = await send();
    if (reply.ok) return { kind: 'applied', daemon, message: reply.message, ms: performance.now() - started };
    return { kind: 'rejected', daemon, message: codedReply(reply.code, reply.message) };
  } catch (error) {
    // Given up at shutdown: whether BIRD took it is unknown, as with a BIRD that stopped answering.
    if (signal?.aborted)
      return { kind: 'unreachable', daemon, message: `${daemon} control socket ${socketPath}: given up (stopping)` };
    if (error instanceof BirdUnreachableError || error instanceof BirdTimeoutError)
      return { kind: 'unreachable', daemon, message: `${daemon} control socket ${socketPath}: ${error.message}` };
    if (error instanceof BirdProtocolError)
      return { kind: 'garbled', daemon, message: `${daemon} control socket ${socketPath}: ${error.message}` };
    throw error;
  }
}

/**
 * Sends `configure` on BIRD's control socket — the command birdc sends. `configPath`: `configure "<file>"` — BIRD
 * reads that file (a staged set) once, instead of the one it started with; a plain `configure` afterwards reads
 * its own file again.
 * @internal the staged-configure test and the guard benchmark reload a real BIRD with it.
 */
export function reloadBird(
  daemon: Daemon,
  socketPath: string,
  options: Readonly<{ signal?: AbortSignal; configPath?: string; onSent?: () => void }> = {},
): Promise<ReloadOutcome> {
  return configureOutcome(
    daemon,
    socketPath,
    () => configureBird(socketPath, { ...options, timeoutMs: RELOAD_TIMEOUT_MS }),
    options.signal,
  );
}

/**
 * `show status` with the control socket's identity: BIRD makes a new socket file each time it starts, so a new
 * inode or change time says "another BIRD" even within the second BIRD's own start time is printed to.
 */
async function birdRunState(socketPath: string, signal: AbortSignal | undefined): Promise<BirdRunState> {
  const status = await showBirdStatus(socketPath, { timeoutMs: STATUS_TIMEOUT_MS, signal });
  const socket = await stat(socketPath).then(
    (s) => `${s.ino}:${s.ctimeMs}`,
    () => undefined,
  );
  const startedAtMs = birdTimeMs(status.startedAt);
  const reconfiguredAtMs = birdTimeMs(status.reconfiguredAt);
  return {
    socket,
    startedAt: status.startedAt,
    reconfiguredAt: status.reconfiguredAt,
    startedAtMs,
    configuredAfterMs:
      startedAtMs === undefined || reconfiguredAtMs === undefined ? undefined : reconfiguredAtMs - startedAtMs,
  };
}

export interface RealBirdEdgesOptions {
  /**
   * Aborts every command to BIRD (README "Reliability", bounded shutdown): a hung BIRD then costs a stopping
   * birdwatch this signal's delay, not the 30 s reply timeout.
   */
  readonly signal?: AbortSignal;
}

/** The real control sockets: what `run` says to BIRD. Only the daemons given a socket can be asked. */
export function realBirdEdges(
  sockets: Readonly<Partial<Record<Daemon, string>>>,
  edgeOptions: RealBirdEdgesOptions = {},
): ReloadEdges & GuardEdges {
  const socketOf = (daemon: Daemon): string => {
    const socket = sockets[daemon];
    if (socket === undefined) throw new Error(`no control socket for ${daemon}`);
    return socket;
  };
  const { signal } = edgeOptions;
  const options = { timeoutMs: RELOAD_TIMEOUT_MS, signal };
  return {
    // Not aborted by SIGTERM itself: once files are swapped, BIRD is told — only `signal` (a grace period) ends it.
    reload: async (daemon) => reloadBird(daemon, socketOf(daemon), { signal }),
    reloadStaged: async (daemon, stagedDir, onSent) =>
      reloadBird(daemon, socketOf(daemon), { configPath: join(stagedDir, MAIN_FILE[daemon]), onSent, signal }),
    configureTimeout: async (daemon, seconds, configPath) => {
      const socket = socketOf(daemon);
      return configureOutcome(
        daemon,
        socket,
        () => configureWithTimeout(socket, seconds, { ...options, configPath }),
        signal,
      );
    },
    confirm: async (daemon) => confirmConfigure(socketOf(daemon), options),
    undo: async (daemon) => undoConfigure(socketOf(daemon), options),
    snapshot: async (daemon) =>
      snapshotOf(await showProtocolStats(socketOf(daemon), { timeoutMs: SNAPSHOT_TIMEOUT_MS, signal })),
    status: async (daemon) => birdRunState(socketOf(daemon), signal),
  };
}
