/**
 * When the bench may send the next change without birdwatch's pacer holding it: the product's own rule
 * (src/controller/reloadPacer.ts, with its cap), under the pacing flags the bench gave birdwatch.
 */
import {
  DEFAULT_MAX_RELOAD_SHARE,
  DEFAULT_MIN_RELOAD_INTERVAL_MS,
  reloadGapMs,
} from '../../../src/controller/reloadPacer.js';

export interface PacingFlags {
  /** `--min-reload-interval` / `--max-reload-share` as passed to birdwatch; its defaults when undefined. */
  readonly minReloadIntervalMs: number | undefined;
  readonly maxReloadShare: number | undefined;
}

/**
 * Assumed when BIRD's answer time is unknown (the settle before the first round; a cycle line without it): the
 * bench waits at least this long, where the pacer alone would not wait at all.
 */
const UNKNOWN_RELOAD_GAP_MS = 250;

/** How long after a reload of `reloadMs` birdwatch's pacer holds the next one. */
export function pacingGapMs(reloadMs: number, flags: PacingFlags): number {
  const gap = reloadGapMs(reloadMs, {
    maxReloadShare: flags.maxReloadShare ?? DEFAULT_MAX_RELOAD_SHARE,
    minReloadIntervalMs: flags.minReloadIntervalMs ?? DEFAULT_MIN_RELOAD_INTERVAL_MS,
  });
  return Number.isFinite(reloadMs) ? gap : Math.max(gap, UNKNOWN_RELOAD_GAP_MS);
}
