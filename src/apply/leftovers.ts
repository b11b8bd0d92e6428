import { readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Removes what a killed birdwatch can leave behind: staging directories beside the config dir and
 * half-written temp files inside it. The live files themselves are always whole (rename is atomic).
 * Called once at start, before the first cycle; returns the paths removed.
 */
export async function removeLeftovers(configDir: string): Promise<string[]> {
  const removed: string[] = [];
  const stagingPrefix = `.${basename(configDir)}.staging-`;
  const sweep = async (dir: string, matches: (name: string) => boolean): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return; // no directory yet: nothing left over
    }
    for (const name of names.filter(matches)) {
      await rm(join(dir, name), { recursive: true, force: true });
      removed.push(join(dir, name));
    }
  };
  await sweep(dirname(configDir), (name) => name.startsWith(stagingPrefix));
  await sweep(configDir, (name) => /^\..+\.tmp-\d+$/.test(name));
  return removed;
}
