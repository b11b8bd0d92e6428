import { constants } from 'node:fs';
import { mkdir, open, readlink, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigDirLockedError, type LockHolder } from './errors.js';
import { tryExclusiveFlock } from './openFileLock.js';

/** @internal the lock test names the file. */
export const LOCK_FILE = '.birdwatch.lock';

/** How long a refused instance waits for a holder that has just taken the lock to write who it is. */
const HOLDER_READ_ATTEMPTS = 10;
const HOLDER_READ_PAUSE_MS = 20;

export interface ConfigDirLock {
  readonly path: string;
  release(): Promise<void>;
}

/** This process's PID namespace (the inode of /proc/self/ns/pid): tells whether a holder's pid means anything here. */
async function pidNamespace(): Promise<string | undefined> {
  const link = await readlink('/proc/self/ns/pid').catch(() => undefined);
  return link === undefined ? undefined : (/\[(\d+)\]/.exec(link)?.[1] ?? link);
}

async function thisProcess(command: string): Promise<LockHolder> {
  return {
    pid: process.pid,
    hostname: hostname(),
    pidNamespace: await pidNamespace(),
    started: new Date(Date.now() - process.uptime() * 1000).toISOString(),
    command,
  };
}

/** The holder's identity, or undefined when the file holds none yet (just taken) or an old release's content. */
function parseHolder(text: string): LockHolder | undefined {
  try {
    const parsed = JSON.parse(text) as Partial<Record<keyof LockHolder, unknown>>;
    if (typeof parsed.pid !== 'number' || typeof parsed.hostname !== 'string') return undefined;
    return {
      pid: parsed.pid,
      hostname: parsed.hostname,
      pidNamespace: typeof parsed.pidNamespace === 'string' ? parsed.pidNamespace : undefined,
      started: typeof parsed.started === 'string' ? parsed.started : undefined,
      command: typeof parsed.command === 'string' ? parsed.command : '',
    };
  } catch {
    return undefined;
  }
}

async function readHolder(handle: FileHandle): Promise<LockHolder | undefined> {
  for (let attempt = 0; attempt < HOLDER_READ_ATTEMPTS; attempt++) {
    if (attempt > 0) await sleep(HOLDER_READ_PAUSE_MS);
    const buffer = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const holder = parseHolder(buffer.toString('utf8', 0, bytesRead));
    if (holder) return holder;
  }
  return undefined;
}

function describeHolder(holder: LockHolder | undefined, ours: string | undefined): string {
  if (!holder) return 'a holder that has not written its identity yet';
  const namespace =
    holder.pidNamespace === undefined || ours === undefined
      ? ''
      : holder.pidNamespace === ours
        ? ', this PID namespace'
        : `, PID namespace ${holder.pidNamespace} (this one is ${ours})`;
  const started = holder.started === undefined ? '' : `, started ${holder.started}`;
  // The callers' labels end in their own pid: said once.
  const command = holder.command.replace(` (pid ${holder.pid})`, '');
  return `${command}: pid ${holder.pid} on host ${holder.hostname}${namespace}${started}`;
}

/**
 * One owner per config dir (README "Reliability"): `run`, `run --once` and `render --out` take an exclusive
 * flock on `<configDir>/.birdwatch.lock` before touching anything, and refuse to start while anyone else holds
 * it — same PID namespace or not, as long as the kernel is shared (two pods on one hostPath). The kernel
 * releases the lock when its holder exits or is killed, so nothing is ever taken over and no pid is judged.
 * The file is never unlinked (a new inode would let a second instance lock it beside the first); its content,
 * written once the lock is held, only names the holder for the refusal message. Content left by a release
 * that judged owners by pid is overwritten like any other.
 */
export async function lockConfigDir(configDir: string, command: string): Promise<ConfigDirLock> {
  await mkdir(configDir, { recursive: true });
  const path = join(configDir, LOCK_FILE);
  const handle = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o644);
  try {
    if (!(await tryExclusiveFlock(handle, path))) {
      const [holder, ours] = await Promise.all([readHolder(handle), pidNamespace()]);
      throw new ConfigDirLockedError(
        `${configDir} is in use by another birdwatch (${describeHolder(holder, ours)}); it holds the lock ${path} ` +
          'until it exits: stop that birdwatch first, or give this one another config dir',
        path,
        holder,
      );
    }
    const me = Buffer.from(`${JSON.stringify(await thisProcess(command))}\n`);
    await handle.truncate(0);
    await handle.write(me, 0, me.length, 0);
  } catch (error) {
    await handle.close();
    throw error;
  }
  let released = false;
  return {
    path,
    release: async () => {
      if (released) return;
      released = true;
      // Emptied while still held, so the file names nobody once we are gone; closing drops the lock.
      await handle.truncate(0).catch(() => undefined);
      await handle.close();
    },
  };
}
