import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OUTPUT_FILES, type OutputFile } from '../render/fileSet.js';

/** The files currently in the config dir; a missing file is absent from the map. */
export async function readLiveFileSet(configDir: string): Promise<Map<OutputFile, string>> {
  const live = new Map<OutputFile, string>();
  for (const name of OUTPUT_FILES) {
    try {
      live.set(name, await readFile(join(configDir, name), 'utf8'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return live;
}
