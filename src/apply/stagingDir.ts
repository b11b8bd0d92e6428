import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileSet } from '../render/fileSet.js';
import { ApplyError, describeFsError } from './errors.js';

/** Staging dirs live inside the config dir, so only the config dir itself must be writable (a read-only root). */
export const STAGING_PREFIX = '.staging-';

export interface StagedFileSet {
  readonly dir: string;
  remove(): Promise<void>;
}

/**
 * Writes the file set into a fresh directory inside `root` (the config dir itself when applying: same
 * filesystem, so validated files can be renamed into place, and includes resolve inside the staged set). If
 * writing fails (a full disk, say), the half-written staging dir is removed before the error is thrown.
 */
export async function stageFileSet(root: string, files: FileSet): Promise<StagedFileSet> {
  let dir: string | undefined;
  try {
    await mkdir(root, { recursive: true });
    dir = await mkdtemp(join(root, STAGING_PREFIX));
    for (const [name, content] of files) await writeFile(join(dir, name), content, 'utf8');
  } catch (error) {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    throw new ApplyError(`cannot stage configuration in ${root}: ${describeFsError(error)}`, root, { cause: error });
  }
  const staged = dir;
  return { dir: staged, remove: () => rm(staged, { recursive: true, force: true }) };
}
