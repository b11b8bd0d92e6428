import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyspaceSnapshot } from '../datastore/snapshot.js';
import { createLogger, type Logger } from '../observe/logger.js';
import { RunStatus, type ApplyFailure } from '../observe/runStatus.js';
import type { CompiledTemplateSet } from '../render/templateSet.js';
import { realPipelineEdges, type PipelineEdges, type PipelineMode } from './applyPipeline.js';
import { ConfigApplier, type CycleDetail } from './configApplier.js';
import type { RoleRenderer } from './roleRenderer.js';
import type { BirdBinaries } from './validateStaged.js';

export interface OneShotOptions {
  readonly snapshot: KeyspaceSnapshot;
  readonly role: RoleRenderer;
  /** The directory written (`write`) or compared with (`check`). */
  readonly dir: string;
  readonly templates: CompiledTemplateSet;
  /** undefined: do not validate (`--no-validate`). */
  readonly binaries: BirdBinaries | undefined;
  readonly mode: Exclude<PipelineMode, 'apply'>;
  readonly signal?: AbortSignal;
  readonly log?: Logger;
  readonly edges?: PipelineEdges;
}

export interface OneShotResult {
  readonly detail: CycleDetail | undefined;
  /** The first failure (render-level, else a daemon's), as `run` would report it. */
  readonly failure: ApplyFailure | undefined;
}

/**
 * `render --out` and `render --diff`: one cycle of the same pipeline `run` uses (render → compare → stage →
 * validate → swap), without the reload. `check` stages in a scratch dir under the system temp dir, so nothing is
 * written under the live directory or its parent.
 */
export async function renderOnce(options: OneShotOptions): Promise<OneShotResult> {
  const scratch = options.mode === 'check' ? await mkdtemp(join(tmpdir(), 'birdwatch-diff-')) : undefined;
  try {
    const status = new RunStatus();
    const applier = new ConfigApplier(
      {
        role: options.role,
        configDir: options.dir,
        keyspace: options.snapshot.entries,
        edges: options.edges ?? realPipelineEdges({ binaries: options.binaries ?? { bird: 'bird', bird6: 'bird6' } }),
        log: options.log ?? createLogger({ level: 'silent', pretty: false }),
        status,
        mode: options.mode,
        stageRoot: scratch,
        validate: options.binaries !== undefined,
      },
      options.templates,
    );
    const outcome = await applier.cycle(options.signal);
    return { detail: outcome.detail, failure: status.failure };
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}
