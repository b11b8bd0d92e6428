/**
 * Reload pacing: a bound on the share of time BIRD spends reconfiguring, instead of a fixed gap. After a reload
 * that kept BIRD busy for r ms, the next cycle may start no sooner than r·(1/share − 1) after it — so a 2 ms reload
 * at 100 nodes is followed within 6 ms, and a 100 ms one at 5,000 nodes leaves BIRD 300 ms to itself. An operator's
 * explicit `--min-reload-interval` is a floor under that.
 */
export interface ReloadPacing {
  /** Largest share of time BIRD may spend reconfiguring, in (0, 1]; 1 turns the share bound off. */
  readonly maxReloadShare: number;
  /** Explicit floor for the gap after a reload (ms); 0 for none. */
  readonly minReloadIntervalMs: number;
}

/** ≤ 25 %: BIRD stays at least three quarters idle (its BGP sessions and the kernel routes come first). */
export const DEFAULT_MAX_RELOAD_SHARE = 0.25;
/** No fixed gap by default: the share bound paces storms, and a fixed gap only delays lone changes. */
export const DEFAULT_MIN_RELOAD_INTERVAL_MS = 0;
/**
 * The share bound never holds changes longer than this: a pathological reload (BIRD starved for seconds) must not
 * keep changes waiting past readiness's 10 s. An explicit --min-reload-interval is not capped.
 * @internal the coalescer unit test checks the cap.
 */
export const MAX_PACED_GAP_MS = 5_000;

/** How long after a reload that took `reloadMs` the next cycle must wait. */
export function reloadGapMs(reloadMs: number, pacing: ReloadPacing): number {
  const paced = Number.isFinite(reloadMs) && reloadMs > 0 ? reloadMs * (1 / pacing.maxReloadShare - 1) : 0;
  return Math.max(Math.min(paced, MAX_PACED_GAP_MS), pacing.minReloadIntervalMs);
}
