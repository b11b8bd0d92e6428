import type { CycleFailure, CycleReport } from '../observe/cycleReport.js';
import type { DaemonPipelineResult } from './applyPipeline.js';
import type { CycleOutcome } from './coalescer.js';
import type { RenderOutcome } from './roleRenderer.js';

export interface CycleFailureDetail extends CycleFailure {
  /** As `/readyz` and the CLI say it (the log line adds the consequence). */
  readonly message: string;
}

/**
 * Everything one cycle did, in one object: metrics read its CycleReport part, the coalescer whether BIRD was
 * reloaded, the run loop whether to retry, and the one-shot commands what was rendered, found on disk and written.
 */
export interface CycleResult extends CycleReport, CycleOutcome {
  /** In order: a render-level failure alone, else each failing daemon's. */
  readonly failures: readonly CycleFailureDetail[];
  /** What BIRD spent reconfiguring (the longest daemon's applied reload; the pacer bounds its share of time). */
  readonly reloadMs: number;
  /** Not converged for a reason that can pass by itself (disk, BIRD, a hung step) or a reload owed: retry later. */
  readonly retry: boolean;
  /** undefined: rendering failed. */
  readonly rendered: RenderOutcome | undefined;
  /** The files on disk before this cycle's swaps. */
  readonly live: ReadonlyMap<string, string>;
  /** What each daemon's pipeline did (the last round's, or an earlier one's where nothing was new since). */
  readonly daemons: readonly DaemonPipelineResult[];
}
