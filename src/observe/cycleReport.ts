import type { Diagnostic } from '../model/diagnostics.js';
import type { Daemon } from './runStatus.js';

/** What one cycle did, handed to observers (metrics) once the cycle ends. */
export interface CycleReport {
  readonly result: 'unchanged' | 'applied' | 'failed' | 'reload-pending';
  readonly failureKind?: 'node' | 'template' | 'validation' | 'write' | 'reload';
  readonly renderMs: number;
  readonly validateMs: number | undefined;
  readonly reloads: readonly { readonly daemon: Daemon; readonly result: 'applied' | 'rejected' | 'unreachable'; readonly ms: number | undefined }[];
  /** From the first change the cycle picked up to BIRD having applied it; undefined when not applicable. */
  readonly latencyMs: number | undefined;
  readonly diagnostics: readonly Diagnostic[];
}

export interface CycleObserver {
  cycleEnded(report: CycleReport): void;
}
