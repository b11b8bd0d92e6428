import { spawn } from 'node:child_process';
import type { FileHandle } from 'node:fs/promises';

/** util-linux's program that calls flock(2) on a file descriptor it is given. */
const FLOCK_PROGRAM = 'flock';

const FLOCK_TIMEOUT_MS = 10_000;

/** flock(1) could not be run, or failed other than by finding the lock held. */
export class OpenFileLockError extends Error {
  override readonly name = 'OpenFileLockError';
  constructor(
    message: string,
    readonly path: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * Takes an exclusive flock(2) on the open file description behind `handle`, without waiting: true when taken,
 * false when another open file description holds it (README "Reliability": one owner per config dir).
 *
 * Node has no flock, so `flock -x -n 3` runs as a child on a copy of our descriptor (its fd 3). A flock belongs
 * to the open file description, not to a process: it stays with `handle` after the child exits, and the kernel
 * drops it when `handle` is closed or this process dies however it dies. Node opens files with O_CLOEXEC, so no
 * other child (bird -p) inherits the descriptor and keeps the lock alive after us.
 */
export async function tryExclusiveFlock(handle: FileHandle, path: string): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    const child = spawn(FLOCK_PROGRAM, ['-x', '-n', '3'], {
      stdio: ['ignore', 'ignore', 'pipe', handle.fd],
      // flock -n does not wait; the bound is for a stuck filesystem (NFS), and does not hold the process open.
      signal: AbortSignal.timeout(FLOCK_TIMEOUT_MS),
    });
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      if (stderr.length < 1000) stderr += chunk;
    });
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new OpenFileLockError(
          error.code === 'ENOENT'
            ? `cannot lock ${path}: the ${FLOCK_PROGRAM} program (util-linux) is not on PATH; install util-linux (Debian: apt-get install util-linux)`
            : error.name === 'AbortError'
              ? `cannot lock ${path}: ${FLOCK_PROGRAM} did not finish within ${FLOCK_TIMEOUT_MS} ms (killed)`
              : `cannot lock ${path}: cannot run ${FLOCK_PROGRAM}: ${error.message}`,
          path,
          { cause: error },
        ),
      );
    });
    child.once('close', (code, signal) => {
      if (code === 0) resolve(true);
      else if (code === 1)
        resolve(false); // -n: the lock is held by another open file description
      else {
        const why = signal !== null ? `was killed by ${signal}` : `exited with ${code}`;
        const said = stderr.trim().split('\n')[0] ?? '';
        reject(new OpenFileLockError(`cannot lock ${path}: ${FLOCK_PROGRAM} ${why}${said ? `: ${said}` : ''}`, path));
      }
    });
  });
}
