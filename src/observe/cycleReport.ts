import type { Diagnostic } from '../model/diagnostics.js';
import type { Daemon } from '../model/daemon.js';
import type { FailureKind } from './failureKind.js';

type ReloadResult = 'applied' | 'rejected' | 'unreachable' | 'garbled';

export interface CycleFailure {
  readonly kind: FailureKind;
  /** undefined: a render-level failure (every daemon held back). */
  readonly daemon: Daemon | undefined;
}

/**
 * What one cycle did, as observers (metrics) see it once the cycle ends: the observed part of the cycle's one
 * result (the controller's CycleResult extends it).
 */
export interface CycleReport {
  readonly result: 'unchanged' | 'applied' | 'failed' | 'reload-pending' | 'aborted';
  /** The first failure's kind (render-level first); see `failures` for every one. */
  readonly failureKind?: FailureKind;
  readonly failures: readonly CycleFailure[];
  readonly renderMs: number;
  readonly validateMs: number | undefined;
  readonly reloads: readonly {
    readonly daemon: Daemon;
    readonly result: ReloadResult;
    readonly ms: number | undefined;
  }[];
  /** From the first change the cycle picked up to BIRD having applied it; undefined when not applicable. */
  readonly latencyMs: number | undefined;
  readonly diagnostics: readonly Diagnostic[];
  /** Entries held back because BIRD refused the lines rendered from them. */
  readonly quarantined: number;
  /** bird -p refusals this cycle that were pinned on one entry (and quarantined it). */
  readonly refusedEntries: number;
  /** Guarded applies this cycle (README "The apply guard"): each daemon's verdict and how long it was held. */
  readonly guarded?: readonly GuardedApplyReport[];
}

export interface GuardedApplyReport {
  readonly daemon: Daemon;
  readonly verdict: 'confirmed' | 'reverted' | 'interrupted';
  /** How long the settle window ran before the verdict (`birdwatch_guard_hold_seconds`). */
  readonly settleMs: number;
}

export interface CycleObserver {
  cycleEnded(report: CycleReport): void;
}
