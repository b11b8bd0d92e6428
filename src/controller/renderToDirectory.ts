import type { KeyspaceSnapshot } from '../datastore/snapshot.js';
import { buildNodeModel } from '../model/buildNodeModel.js';
import type { NodeModel } from '../model/nodeModel.js';
import { readLiveFileSet } from '../apply/liveFileSet.js';
import { stageFileSet } from '../apply/stagingDir.js';
import { swapFileSet } from '../apply/swapFileSet.js';
import type { OutputFile, RenderedConfig } from '../render/fileSet.js';
import type { IpipRendering } from '../render/ipipMode.js';
import { renderFileSet } from '../render/renderFileSet.js';
import type { CompiledTemplateSet } from '../render/templateSet.js';
import { validateStagedFileSet, type BirdBinaries, type ValidationFailure } from './validateStaged.js';

export interface RenderToDirectoryOptions {
  readonly snapshot: KeyspaceSnapshot;
  readonly nodeName: string;
  readonly outDir: string;
  readonly templates: CompiledTemplateSet;
  readonly ipip: IpipRendering;
  /** undefined: write without validating (`--no-validate`). */
  readonly binaries: BirdBinaries | undefined;
  readonly signal?: AbortSignal;
}

export interface RenderToDirectoryResult {
  readonly model: NodeModel;
  readonly rendered: RenderedConfig;
  readonly failure: ValidationFailure | undefined;
  readonly changed: readonly OutputFile[];
}

/**
 * One linear pass: model → render → stage → validate → swap. A configuration BIRD rejects is never moved into
 * `outDir`; a node that cannot be configured throws NodeConfigError before anything is written.
 */
export async function renderToDirectory(options: RenderToDirectoryOptions): Promise<RenderToDirectoryResult> {
  const model = buildNodeModel(options.snapshot.entries, { nodeName: options.nodeName });
  const rendered = renderFileSet(model, options.templates, { ipip: options.ipip });
  const staged = await stageFileSet(options.outDir, rendered.files);
  try {
    const failure = options.binaries
      ? await validateStagedFileSet(staged.dir, rendered.customFilterSpans, options.binaries, options.signal)
      : undefined;
    if (failure) return { model, rendered, failure, changed: [] };
    const changed = await swapFileSet(options.outDir, rendered.files, await readLiveFileSet(options.outDir));
    return { model, rendered, failure, changed };
  } finally {
    await staged.remove();
  }
}
