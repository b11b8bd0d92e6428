import { lstat, mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ApplyError, describeFsError } from './errors.js';
import type { LogEvent } from '../observe/logEvents.js';

async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeDurably(path: string, content: string): Promise<void> {
  const handle = await open(path, 'w', 0o644);
  try {
    await handle.writeFile(content, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * A directory found where a configuration file belongs, removed so the file can take its place.
 * @internal the directory-removed unit test.
 */
export interface RemovedDirectory {
  readonly path: string;
  /** The names directly inside it (the first MAX_LISTED, sorted). */
  readonly entries: readonly string[];
  readonly entryCount: number;
}

/** Told of each directory removed from a file's place (the caller logs it). */
export type DirectoryRemovedListener = (removed: RemovedDirectory) => void;

const MAX_LISTED = 20;

/** The `warn` line for a removed directory (README "Reliability", the apply path table). */
export const warnDirectoryRemoved =
  (log: { warn(fields: object, message: string): void }): DirectoryRemovedListener =>
  (removed) => {
    const listed = removed.entries.join(', ') + (removed.entryCount > removed.entries.length ? ', …' : '');
    const held = removed.entryCount === 0 ? 'it was empty' : `it held ${removed.entryCount} entries: ${listed}`;
    log.warn(
      {
        component: 'apply',
        event: 'directory-removed' satisfies LogEvent,
        path: removed.path,
        entries: removed.entries,
        entryCount: removed.entryCount,
      },
      `removed the directory ${removed.path}, which stood where a configuration file belongs (${held})`,
    );
  };

/**
 * A live file replaced by a directory (by hand, or a bad volume mount) would make the rename fail for ever, so it
 * goes — with whatever it holds, which is why the listener is told what that was.
 */
async function clearDirectoryAt(path: string, onRemoved: DirectoryRemovedListener | undefined): Promise<void> {
  const stat = await lstat(path).catch(() => undefined);
  if (!stat?.isDirectory()) return;
  const names = (await readdir(path).catch(() => [] as string[])).sort();
  await rm(path, { recursive: true, force: true });
  onRemoved?.({ path, entries: names.slice(0, MAX_LISTED), entryCount: names.length });
}

/**
 * Moves validated staged files into the config dir: each is fsynced and renamed over the live one, in the
 * given order (includes first, bird.cfg/bird6.cfg last), so a reader — BIRD, or a birdwatch restarted after a
 * crash — only ever sees whole files. The staging dir is inside the config dir, so nothing is written twice.
 * On failure the ApplyError lists the files already replaced.
 */
export async function swapStagedFiles(
  configDir: string,
  stagedDir: string,
  names: readonly string[],
  onDirectoryRemoved?: DirectoryRemovedListener,
): Promise<void> {
  const replaced: string[] = [];
  try {
    for (const name of names) {
      const staged = join(stagedDir, name);
      await syncFile(staged);
      await clearDirectoryAt(join(configDir, name), onDirectoryRemoved);
      await rename(staged, join(configDir, name));
      replaced.push(name);
    }
    await syncFile(configDir);
  } catch (error) {
    throw new ApplyError(`cannot write configuration into ${configDir}: ${describeFsError(error)}`, configDir, {
      cause: error,
      replaced,
    });
  }
}

/**
 * Writes files durably (temp name, fsync, rename) without a staging dir: used to put back the files a daemon
 * runs after it refused a new configuration, and by `render --out --no-validate`.
 */
export async function writeFilesDurably(
  configDir: string,
  files: ReadonlyMap<string, string>,
  onDirectoryRemoved?: DirectoryRemovedListener,
): Promise<void> {
  const replaced: string[] = [];
  try {
    await mkdir(configDir, { recursive: true });
    for (const [name, content] of files) {
      const temp = join(configDir, `.${name}.tmp-${process.pid}`);
      try {
        await writeDurably(temp, content);
        await clearDirectoryAt(join(configDir, name), onDirectoryRemoved);
        await rename(temp, join(configDir, name));
        replaced.push(name);
      } catch (error) {
        await rm(temp, { force: true });
        throw error;
      }
    }
    await syncFile(configDir);
  } catch (error) {
    throw new ApplyError(`cannot write configuration into ${configDir}: ${describeFsError(error)}`, configDir, {
      cause: error,
      replaced,
    });
  }
}

/** A file written and fsynced under a temporary name, to be renamed into place (commit) or removed (discard). */
export interface PreparedFile {
  commit(): Promise<void>;
  discard(): Promise<void>;
}

/**
 * The slow half of a durable write (write and fsync under a temporary name) done ahead, so it can overlap other
 * work; `commit` is a rename (the directory's fsync is left to the next swap or write in the same directory).
 */
export async function prepareDurableFile(configDir: string, name: string, content: string): Promise<PreparedFile> {
  const temp = join(configDir, `.${name}.tmp-${process.pid}`);
  try {
    await mkdir(configDir, { recursive: true });
    await writeDurably(temp, content);
  } catch (error) {
    await rm(temp, { force: true });
    throw new ApplyError(`cannot write ${name} into ${configDir}: ${describeFsError(error)}`, configDir, {
      cause: error,
      replaced: [],
    });
  }
  return {
    commit: async () => {
      try {
        await rename(temp, join(configDir, name));
      } catch (error) {
        await rm(temp, { force: true });
        throw new ApplyError(`cannot write ${name} into ${configDir}: ${describeFsError(error)}`, configDir, {
          cause: error,
          replaced: [],
        });
      }
    },
    discard: () => rm(temp, { force: true }),
  };
}
