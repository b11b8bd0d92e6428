import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLiveFileSet } from '../apply/liveFileSet.js';
import { stageFileSet } from '../apply/stagingDir.js';
import type { KeyspaceSnapshot } from '../datastore/snapshot.js';
import type { CompiledTemplateSet } from '../render/templateSet.js';
import { unifiedDiff } from '../render/unifiedDiff.js';
import { summarizeConfigChange, type ConfigChange } from './diffSummary.js';
import type { RenderOutcome, RoleRenderer } from './roleRenderer.js';
import { validateStagedFileSet, type BirdBinaries, type ValidationFailure } from './validateStaged.js';

export interface DiffAgainstLiveOptions {
  readonly snapshot: KeyspaceSnapshot;
  readonly role: RoleRenderer;
  /** The live configuration directory; only read. */
  readonly configDir: string;
  readonly templates: CompiledTemplateSet;
  /** undefined: do not validate (`--no-validate`). */
  readonly binaries: BirdBinaries | undefined;
  readonly signal?: AbortSignal;
}

export interface FileDiff {
  readonly file: string;
  /** undefined when the live directory does not have the file. */
  readonly live: string | undefined;
  readonly rendered: string;
  /** `diff -u` text (header and hunks). */
  readonly patch: string;
}

export interface LiveDiff {
  readonly rendered: RenderOutcome;
  readonly failure: ValidationFailure | undefined;
  /** Only the files that differ, in swap order. */
  readonly files: readonly FileDiff[];
  readonly change: ConfigChange;
}

/**
 * The dry run: render, validate in a temporary directory (never beside the live one), and compare with the
 * live files. Nothing is written under `configDir` or its parent.
 */
export async function diffAgainstLive(options: DiffAgainstLiveOptions): Promise<LiveDiff> {
  const rendered = options.role.render(options.snapshot.entries, options.templates);
  let failure: ValidationFailure | undefined;
  if (options.binaries) {
    const scratch = await mkdtemp(join(tmpdir(), 'birdwatch-diff-'));
    try {
      const staged = await stageFileSet(join(scratch, 'config'), rendered.files);
      failure = await validateStagedFileSet(staged.dir, rendered.spans, options.binaries, options.signal);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
  const live = await readLiveFileSet(options.configDir, rendered.files.keys());
  const files: FileDiff[] = [];
  for (const [file, content] of rendered.files) {
    const current = live.get(file);
    if (current === content) continue;
    const path = join(options.configDir, file);
    files.push({ file, live: current, rendered: content, patch: unifiedDiff(path, current, `${path} (rendered)`, content) });
  }
  return { rendered, failure, files, change: summarizeConfigChange(live, rendered.files) };
}
