import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileSet } from '../render/fileSet.js';
import { ApplyError, describeFsError } from './errors.js';

async function writeDurably(path: string, content: string): Promise<void> {
  const handle = await open(path, 'w', 0o644);
  try {
    await handle.writeFile(content, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Moves a validated file set into the config dir: each changed file is written to a temp name, fsynced and
 * renamed over the live one (includes first, bird.cfg and bird6.cfg last), so a reader — BIRD, or a birdwatch
 * restarted after a crash — only ever sees whole files. Returns the names of the files that changed.
 */
export async function swapFileSet(configDir: string, files: FileSet, live: ReadonlyMap<string, string>): Promise<string[]> {
  const changed = [...files.keys()].filter((name) => live.get(name) !== files.get(name));
  if (changed.length === 0) return [];
  try {
    await mkdir(configDir, { recursive: true });
    for (const name of changed) {
      const temp = join(configDir, `.${name}.tmp-${process.pid}`);
      try {
        await writeDurably(temp, files.get(name)!);
        await rename(temp, join(configDir, name));
      } catch (error) {
        await rm(temp, { force: true });
        throw error;
      }
    }
    await syncDir(configDir);
  } catch (error) {
    throw new ApplyError(`cannot write configuration into ${configDir}: ${describeFsError(error)}`, configDir, { cause: error });
  }
  return changed;
}
