import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The named files currently in the config dir; a missing file is absent from the map. */
export async function readLiveFileSet(configDir: string, names: Iterable<string>): Promise<Map<string, string>> {
  const live = new Map<string, string>();
  for (const name of names) {
    try {
      live.set(name, await readFile(join(configDir, name), 'utf8'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return live;
}
