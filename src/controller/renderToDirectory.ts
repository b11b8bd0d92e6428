import type { KeyspaceSnapshot } from '../datastore/snapshot.js';
import { readLiveFileSet } from '../apply/liveFileSet.js';
import { stageFileSet } from '../apply/stagingDir.js';
import { swapFileSet } from '../apply/swapFileSet.js';
import type { CompiledTemplateSet } from '../render/templateSet.js';
import type { RenderOutcome, RoleRenderer } from './roleRenderer.js';
import { validateStagedFileSet, type BirdBinaries, type ValidationFailure } from './validateStaged.js';

export interface RenderToDirectoryOptions {
  readonly snapshot: KeyspaceSnapshot;
  readonly role: RoleRenderer;
  readonly outDir: string;
  readonly templates: CompiledTemplateSet;
  /** undefined: write without validating (`--no-validate`). */
  readonly binaries: BirdBinaries | undefined;
  readonly signal?: AbortSignal;
}

export interface RenderToDirectoryResult {
  readonly rendered: RenderOutcome;
  readonly failure: ValidationFailure | undefined;
  readonly changed: readonly string[];
}

/**
* One linear pass: model → render → stage → validate → swap. A configuration BIRD rejects is never moved into
 * `outDir`; a node that cannot be configured throws NodeConfigError before anything is written.
 */
export async function renderToDirectory(options: RenderToDirectoryOptions): Promise<RenderToDirectoryResult> {
  const rendered = options.role.render(options.snapshot.entries, options.templates);
  const staged = await stageFileSet(options.outDir, rendered.files);
  try {
    const failure = options.binaries
      ? await validateStagedFileSet(staged.dir, rendered.spans, options.binaries, options.signal)
      : undefined;
    if (failure) return { rendered, failure, changed: [] };
    const changed = await swapFileSet(options.outDir, rendered.files, await readLiveFileSet(options.outDir, rendered.files.keys()));
    return { rendered, failure, changed };
  } finally {
    await staged.remove();
  }
}
