import { readFileSync } from 'node:fs';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigDirLockedError } from './errors.js';

export const LOCK_FILE = '.birdwatch.lock';

/** Locks this process holds: the PID check cannot tell two owners in one process apart. */
const heldHere = new Set<string>();

interface LockOwner {
  readonly pid: number;
  /** The process's start time in clock ticks since boot (/proc/PID/stat field 22): tells a reused PID apart. */
  readonly started: string | undefined;
  readonly command: string;
}

export interface ConfigDirLock {
  readonly path: string;
  release(): Promise<void>;
}

function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count fields after its closing ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function isAlive(owner: LockOwner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const started = processStartTime(owner.pid);
  return owner.started === undefined || started === undefined || started === owner.started;
}

async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<LockOwner>;
    return typeof parsed.pid === 'number'
      ? { pid: parsed.pid, started: parsed.started, command: String(parsed.command ?? '') }
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One owner per config dir: `run` and `run --once` take `<configDir>/.birdwatch.lock` before touching anything
 * and refuse to start while a live process holds it (a second instance would delete the first's staging files
 * and race its swaps). A lock left by a dead process (SIGKILL, a crashed container) is taken over. The lock is
 * created with link(2), which fails if the name exists, so two starters cannot both win.
 */
export async function lockConfigDir(configDir: string, command: string): Promise<ConfigDirLock> {
  await mkdir(configDir, { recursive: true });
  const path = join(configDir, LOCK_FILE);
  if (heldHere.has(path)) {
    throw new ConfigDirLockedError(
      `${configDir} is in use by another birdwatch (pid ${process.pid}: this process); refusing to start a second one on the same config dir`,
      path,
      process.pid,
    );
  }
  const me: LockOwner = { pid: process.pid, started: processStartTime(process.pid), command };
  const temp = join(configDir, `.birdwatch.lock.tmp-${process.pid}`);
  await writeFile(temp, `${JSON.stringify(me)}\n`);
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await link(temp, path);
        heldHere.add(path);
        return { path, release: () => releaseLock(path) };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = await readOwner(path);
      if (owner && owner.pid !== process.pid && isAlive(owner)) {
        throw new ConfigDirLockedError(
          `${configDir} is in use by another birdwatch (pid ${owner.pid}: ${owner.command}); refusing to start a second one on the same config dir`,
          path,
          owner.pid,
        );
      }
      await rm(path, { force: true }); // left by a process that is gone
    }
    throw new Error(`cannot take the lock ${path}: it keeps being re-created`);
  } finally {
    await rm(temp, { force: true });
  }
}

async function releaseLock(path: string): Promise<void> {
  if (!heldHere.delete(path)) return;
  const owner = await readOwner(path);
  if (owner?.pid === process.pid) await rm(path, { force: true });
}
