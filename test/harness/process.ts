/**
 * Process helpers shared by the test harnesses: free loopback ports, stopping a child by PID, log tails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';

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

/**
 * Starts a child whose stdout and stderr append to `logFile`, killed if the test process dies, and resolves
 * once it is running (rejects if it cannot be spawned). Later 'error' events (a kill on a dead PID) are ignored.
 */
export async function spawnLogged(
  command: string,
  args: readonly string[],
  options: Readonly<{ logFile: string; env?: NodeJS.ProcessEnv }>,
): Promise<ChildProcess> {
  const fd = openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, [...args], { stdio: ['ignore', fd, fd], ...(options.env ? { env: options.env } : {}) });
  } finally {
    closeSync(fd);
  }
  killOnProcessExit(child);
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  child.on('error', () => undefined);
  return child;
}
