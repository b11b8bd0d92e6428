import { join } from 'node:path';
import { LiveFiles } from '../apply/liveFileSet.js';
import type { KeyspaceSnapshot } from '../datastore/snapshot.js';
import type { CompiledTemplateSet } from '../render/templateSet.js';
import { unifiedDiff } from '../render/unifiedDiff.js';
import type { CycleResult } from './cycleResult.js';
import { absentDaemonFiles } from './absentDaemonFiles.js';
import { summarizeConfigChange, type ConfigChange } from './diffSummary.js';
import type { PipelineEdges } from './edges.js';
import { renderOnce } from './oneShot.js';
import type { RoleRenderer } from './roleRenderer.js';

export interface DiffAgainstLiveOptions {
  readonly snapshot: KeyspaceSnapshot;
  readonly role: RoleRenderer;
  /** The live configuration directory; only read. */
  readonly configDir: string;
  readonly templates: CompiledTemplateSet;
  readonly edges: PipelineEdges;
  /** false: do not validate (`--no-validate`). */
  readonly validate: boolean;
  readonly signal?: AbortSignal;
}

interface FileDiff {
  readonly file: string;
  /** undefined when the live directory does not have the file. */
  readonly live: string | undefined;
  readonly rendered: string;
  /** `diff -u` text (header and hunks). */
  readonly patch: string;
  /** The file would be removed: only a daemon this BIRD does not run reads it (bird6's, after BIRD 1.6). */
  readonly removed?: true;
}

export interface LiveDiff {
  /** The `check` cycle: what was rendered and found on disk, and its first failure (`run` would keep the live one). */
  readonly cycle: CycleResult;
  /** Only the files that differ, in swap order. */
  readonly files: readonly FileDiff[];
  readonly change: ConfigChange | undefined;
}

/**
 * The dry run: the `check` pipeline (render, compare, validate in a scratch dir — never beside the live one),
 * then the differences with the live files. Nothing is written under `configDir` or its parent.
 */
export async function diffAgainstLive(options: DiffAgainstLiveOptions): Promise<LiveDiff> {
  const cycle = await renderOnce({ ...options, dir: options.configDir, mode: 'check' });
  const { rendered, live } = cycle;
  if (!rendered) return { cycle, files: [], change: undefined };
  const files: FileDiff[] = [];
  for (const [file, content] of rendered.files) {
    const current = live.get(file);
    if (current === content) continue;
    const path = join(options.configDir, file);
    files.push({
      file,
      live: current,
      rendered: content,
      patch: unifiedDiff(path, current, `${path} (rendered)`, content),
    });
  }
  // What `run` would remove once the rendering is in place (ConfigApplier, absentDaemonFiles.ts).
  const absent = await new LiveFiles(options.configDir).read(absentDaemonFiles(options.role.daemons).configuration);
  for (const [file, current] of absent) {
    const path = join(options.configDir, file);
    files.push({
      file,
      live: current,
      rendered: '',
      patch: unifiedDiff(path, current, '/dev/null', ''),
      removed: true,
    });
  }
  return { cycle, files, change: summarizeConfigChange(live, rendered.files) };
}
