import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { FileSet } from '../render/fileSet.js';
import { ApplyError, describeFsError } from './errors.js';

export interface StagedFileSet {
  readonly dir: string;
  remove(): Promise<void>;
}

/**
 * Writes the whole file set into a fresh directory beside the config dir (same filesystem, so validation sees
 * exactly the files that will be swapped in, and includes resolve inside the staged set). If writing fails
 * (a full disk, say), the half-written staging dir is removed before the error is thrown.
 */
export async function stageFileSet(configDir: string, files: FileSet): Promise<StagedFileSet> {
  const parent = dirname(configDir);
  let dir: string | undefined;
  try {
    await mkdir(parent, { recursive: true });
    dir = await mkdtemp(join(parent, `.${basename(configDir)}.staging-`));
    for (const [name, content] of files) await writeFile(join(dir, name), content, 'utf8');
  } catch (error) {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    throw new ApplyError(`cannot stage configuration beside ${configDir}: ${describeFsError(error)}`, parent, { cause: error });
  }
  const staged = dir;
  return { dir: staged, remove: () => rm(staged, { recursive: true, force: true }) };
}
