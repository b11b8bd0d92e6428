import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockConfigDir } from '../apply/configDirLock.js';
import { removeLeftovers } from '../apply/leftovers.js';
import type { KeyspaceSnapshot } from '../datastore/snapshot.js';
import { createLogger, type Logger } from '../observe/logger.js';
import { RunStatus } from '../observe/runStatus.js';
import type { TemplateError } from '../render/errors.js';
import type { CompiledTemplateSet } from '../render/templateSet.js';
import { ConfigApplier } from './configApplier.js';
import type { ApplyOptions } from './cycleOptions.js';
import type { CycleResult } from './cycleResult.js';
import type { PipelineEdges } from './edges.js';
import type { RoleRenderer } from './roleRenderer.js';

export interface RenderOnceOptions {
  readonly snapshot: KeyspaceSnapshot;
  readonly role: RoleRenderer;
  /** The directory written (`write`) or compared with (`check`). */
  readonly dir: string;
  readonly templates: CompiledTemplateSet;
  /** The real ones (realPipelineEdges) or a test's: always given, so nothing spawns a bird -p unasked. */
  readonly edges: PipelineEdges;
  /** false: do not validate (`--no-validate`). */
  readonly validate: boolean;
  readonly mode: 'check' | 'write';
  readonly signal?: AbortSignal;
  readonly log?: Logger;
}

/**
 * `render --out` and `render --diff`: one cycle of the pipeline `run` uses (render → compare → stage → validate →
 * swap), whose plan has no reload step. `check` stages in a scratch dir under the system temp dir, so nothing is
 * written under the live directory or its parent.
 */
export async function renderOnce(options: RenderOnceOptions): Promise<CycleResult> {
  const scratch = options.mode === 'check' ? await mkdtemp(join(tmpdir(), 'birdwatch-diff-')) : undefined;
  try {
    const applier = new ConfigApplier(
      {
        role: options.role,
        configDir: options.dir,
        keyspace: options.snapshot.entries,
        edges: options.edges,
        mode: { kind: options.mode },
        log: options.log ?? createLogger({ level: 'silent', pretty: false }),
        status: new RunStatus(options.role.daemons),
        stageRoot: scratch,
        validate: options.validate,
      },
      options.templates,
    );
    return await applier.cycle(options.signal);
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}

export interface ApplyOnceOptions {
  readonly role: RoleRenderer;
  readonly configDir: string;
  /** Read once the config dir is taken (etcd, in `run --once`). */
  readonly readSnapshot: () => Promise<KeyspaceSnapshot>;
  readonly templates: () => Promise<CompiledTemplateSet | TemplateError>;
  readonly edges: PipelineEdges;
  readonly apply: Omit<ApplyOptions, 'kind' | 'heartbeat'>;
  readonly log: Logger;
  readonly signal: AbortSignal;
}

/**
 * `run --once` (the init step before BIRD starts, as `confd -onetime`): takes the config dir, removes what an
 * interrupted run left, reads the keyspace and runs one cycle. Applied: the files are in place (BIRD may not be
 * up yet: that is the step before it starts). A guard revert leaves BIRD on its previous files, which are in
 * place: not a failed start.
 */
export async function applyOnce(options: ApplyOnceOptions): Promise<{ readonly applied: boolean }> {
  const lock = await lockConfigDir(options.configDir, `birdwatch run --once (pid ${process.pid})`);
  try {
    await removeLeftovers(options.configDir);
    const snapshot = await options.readSnapshot();
    const applier = new ConfigApplier(
      {
        role: options.role,
        configDir: options.configDir,
        keyspace: snapshot.entries,
        edges: options.edges,
        mode: { kind: 'apply', ...options.apply },
        log: options.log,
        status: new RunStatus(options.role.daemons),
      },
      await options.templates(),
    );
    const result = await applier.cycle(options.signal);
    return { applied: result.result !== 'aborted' && result.failures.every((f) => f.kind === 'guard') };
  } finally {
    await lock.release();
  }
}
