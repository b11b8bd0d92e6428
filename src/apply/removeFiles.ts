import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ApplyError, describeFsError } from './errors.js';

/**
 * Removes these files of the config dir, those that exist, and makes the removal durable (the directory is
 * fsynced): what is gone stays gone after a crash. Returns the names removed.
 */
export async function removeFilesDurably(configDir: string, names: readonly string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const name of names) {
    try {
      await rm(join(configDir, name));
      removed.push(name);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      const path = join(configDir, name);
      throw new ApplyError(`cannot remove ${path}: ${describeFsError(error)}`, path, { cause: error });
    }
  }
  if (removed.length > 0) {
    const dir = await open(configDir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
  return removed;
}
