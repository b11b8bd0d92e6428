/**
 * Test harness: a real BIRD (`bird` or `bird6`) as a child process of the test.
 *
 * BIRD runs in the foreground (`-d`: no fork, logs to stderr) so it can be stopped by PID. Its
 * output goes to `logFile` when given, otherwise it is kept in memory (last 256 KiB).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { BirdControlClient } from '../../src/bird/controlSocket.js';
import {
  delay,
  exitOf,
  hasExited,
  killOnProcessExit,
  spawnLogged,
  stopChild,
  tailFile,
  type ExitInfo,
  type TeardownRegistrar,
} from './process.js';

export interface StartBirdOptions {
  readonly family: 4 | 6;
  readonly configPath: string;
  readonly socketPath: string;
  /** Where BIRD's stderr/stdout go (appended). Kept in memory when absent. */
  readonly logFile?: string;
  /** Executable; default `bird` (family 4) or `bird6` (family 6). */
  readonly binary?: string;
  /** Time allowed until the control socket answers. Default 10 s. */
  readonly startTimeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Runs BIRD through this prefix, e.g. `['ip', 'netns', 'exec', NS]` (it execs, so the PID stays BIRD's). */
  readonly wrapper?: readonly string[];
  /** `-R` (graceful restart recovery), as the runit service starts BIRD. */
  readonly recover?: boolean;
}

export interface BirdProcess {
  readonly pid: number;
  readonly family: 4 | 6;
  readonly socketPath: string;
  readonly configPath: string;
  /** Resolves when BIRD has exited. */
  readonly exited: Promise<ExitInfo>;
  /** True while the process runs. */
  running(): boolean;
  /** What BIRD printed so far (the log file's tail when logFile was given). */
  output(): Promise<string>;
  /** Sends a signal by PID (default SIGTERM) without waiting; false if it already exited. */
  kill(signal?: NodeJS.Signals): boolean;
  /** SIGTERM by PID, SIGKILL after a grace period; resolves once exited. Safe to call twice. */
  stop(): Promise<ExitInfo>;
}

const MAX_MEMORY_LOG = 256 * 1024;

/** Starts BIRD in the foreground and waits until its control socket greets. */
export async function startBird(options: StartBirdOptions): Promise<BirdProcess> {
  const binary = options.binary ?? (options.family === 6 ? 'bird6' : 'bird');
  const birdArgs = [
    ...(options.recover === true ? ['-R'] : []),
    '-d',
    '-c',
    options.configPath,
    '-s',
    options.socketPath,
  ];
  const [command, ...args] = [...(options.wrapper ?? []), binary, ...birdArgs] as [string, ...string[]];
  let memoryLog = '';
  let child: ChildProcess;
  if (options.logFile !== undefined) {
    child = await spawnLogged(command, args, { logFile: options.logFile });
  } else {
    child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (chunk: Buffer): void => {
      memoryLog = (memoryLog + chunk.toString('utf8')).slice(-MAX_MEMORY_LOG);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    killOnProcessExit(child);
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    child.on('error', () => undefined);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${binary} started without a PID`);

  const output = async (): Promise<string> =>
    options.logFile !== undefined ? tailFile(options.logFile, 200) : memoryLog;
  let stopping: Promise<ExitInfo> | undefined;
  const proc: BirdProcess = {
    pid,
    family: options.family,
    socketPath: options.socketPath,
    configPath: options.configPath,
    exited: exitOf(child),
    running: () => !hasExited(child),
    output,
    kill: (signal = 'SIGTERM') => (hasExited(child) ? false : child.kill(signal)),
    stop: () => (stopping ??= stopChild(child)),
  };

  try {
    await waitForControlSocket(proc, options.startTimeoutMs ?? 10_000, options.signal);
  } catch (e) {
    await proc.stop();
    const log = await output();
    throw new Error(`${binary} ${args.join(' ')} did not come up: ${(e as Error).message}\n--- output ---\n${log}`, {
      cause: e,
    });
  }
  return proc;
}

/** Starts BIRD and registers its stop() with tap's t.teardown. */
export async function startBirdForTest(t: TeardownRegistrar, options: StartBirdOptions): Promise<BirdProcess> {
  const proc = await startBird(options);
  t.teardown(() => proc.stop());
  return proc;
}

async function waitForControlSocket(
  proc: BirdProcess,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    if (!proc.running()) throw new Error(`exited early`, { cause: lastError });
    try {
      const client = await BirdControlClient.connect(proc.socketPath, {
        timeoutMs: 1_000,
        ...(signal ? { signal } : {}),
      });
      client.close();
      return;
    } catch (e) {
      lastError = e;
    }
    await delay(20, signal);
  }
  throw new Error(`control socket ${proc.socketPath} did not answer within ${timeoutMs} ms`, { cause: lastError });
}

export interface MinimalConfigOptions {
  /** Extra configuration appended verbatim. */
  readonly extra?: string;
}

/** Writes the smallest configuration BIRD accepts: a router id and a device protocol. */
export async function writeMinimalConfig(
  path: string,
  routerId: string,
  options: MinimalConfigOptions = {},
): Promise<void> {
  const lines = [`router id ${routerId};`, 'protocol device {', '  scan time 10;', '}'];
  if (options.extra !== undefined) lines.push(options.extra);
  await writeFile(path, `${lines.join('\n')}\n`);
}
