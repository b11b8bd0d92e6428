import type { Diagnostic } from '../model/diagnostics.js';
import type { CycleFailure, CycleReport, GuardedApplyReport } from '../observe/cycleReport.js';
import type { FailureKind } from '../observe/failureKind.js';
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

/** What a cycle's rounds add up to, whatever its end. */
export type CycleTally = Pick<CycleResult, 'renderMs' | 'validateMs' | 'refusedEntries' | 'quarantined'>;

/** A cycle that could not render (or failed unexpectedly): every daemon keeps its live configuration. */
export function renderFailedResult(tally: CycleTally, kind: FailureKind, message: string, retry: boolean): CycleResult {
  return {
    ...tally,
    result: 'failed',
    failureKind: kind,
    failures: [{ kind, daemon: undefined, message }],
    reloads: [],
    latencyMs: undefined,
    diagnostics: [],
    reloaded: false,
    reloadMs: 0,
    retry,
    rendered: undefined,
    live: new Map(),
    daemons: [],
  };
}

export interface FinishedCycle {
  readonly tally: CycleTally;
  readonly rendered: RenderOutcome | undefined;
  readonly live: ReadonlyMap<string, string>;
  readonly daemons: readonly DaemonPipelineResult[];
  readonly diagnostics: readonly Diagnostic[];
  readonly guarded: readonly GuardedApplyReport[];
  /** Stopped by the signal (SIGTERM) before anything was swapped: nothing else counts. */
  readonly aborted: boolean;
  readonly failures: readonly CycleFailureDetail[];
  readonly reloads: CycleResult['reloads'];
  readonly latencyMs: number | undefined;
  /** A daemon is still owed a reload (`apply` only). */
  readonly pending: boolean;
  /** A failure that can pass by itself. */
  readonly transient: boolean;
}

/** The result of a cycle that ran its daemons' pipelines: failed, aborted, reload-pending, applied or unchanged. */
export function finishedResult(cycle: FinishedCycle): CycleResult {
  const { tally, rendered, live, daemons, diagnostics } = cycle;
  const common = {
    ...tally,
    rendered,
    live,
    daemons,
    diagnostics,
    guarded: cycle.guarded.length > 0 ? cycle.guarded : undefined,
  };
  if (cycle.aborted)
    return {
      ...common,
      result: 'aborted',
      failures: [],
      reloads: [],
      latencyMs: undefined,
      reloaded: false,
      reloadMs: 0,
      retry: false,
    };
  const { failures, pending } = cycle;
  const applied = daemons.some((r) => r.written.length > 0 || r.reload?.kind === 'applied');
  return {
    ...common,
    result: failures.length > 0 ? 'failed' : pending ? 'reload-pending' : applied ? 'applied' : 'unchanged',
    failureKind: failures[0]?.kind,
    failures,
    reloads: cycle.reloads,
    latencyMs: cycle.latencyMs,
    reloaded: daemons.some((r) => r.reload?.kind === 'applied'),
    reloadMs: Math.max(0, ...daemons.map((r) => (r.reload?.kind === 'applied' ? r.reload.ms : 0))),
    retry: cycle.transient || pending,
  };
}
