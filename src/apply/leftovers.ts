import { readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { STAGING_PREFIX } from './stagingDir.js';

/**
 * Removes what a killed birdwatch can leave behind: staging directories inside the config dir (and beside it,
 * where releases before 0.2 staged) and half-written temp files inside it. The live files themselves are always
 * whole (rename is atomic). Called at start with the config dir locked, before the first cycle.
 */
export async function removeLeftovers(configDir: string): Promise<string[]> {
  const removed: string[] = [];
  const legacyPrefix = `.${basename(configDir)}.staging-`;
  const sweep = async (dir: string, matches: (name: string) => boolean): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return; // no directory yet, or not ours to read: nothing left over there
    }
    for (const name of names.filter(matches)) {
      try {
        await rm(join(dir, name), { recursive: true, force: true });
        removed.push(join(dir, name));
      } catch {
        // a read-only parent: a legacy leftover there is harmless and not ours to fail on
      }
    }
  };
  await sweep(dirname(configDir), (name) => name.startsWith(legacyPrefix));
  await sweep(configDir, (name) => name.startsWith(STAGING_PREFIX) || /^\..+\.tmp-\d+$/.test(name));
  return removed;
}
