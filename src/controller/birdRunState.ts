import type { BirdRunState } from './edges.js';

/**
 * Comparing two looks at one BIRD (`show status` and its control socket; README "Reliability"): whether it is
 * another BIRD process, and whether it took a configuration in between. Pure.
 */

/**
 * Whether `now` is another BIRD than `before`: another control socket (BIRD makes a new one at each start); else
 * a start time more than the second BIRD rounds it to apart.
 */
export function restartedSince(before: BirdRunState, now: BirdRunState): boolean {
  if (before.socket !== undefined && now.socket !== undefined) return before.socket !== now.socket;
  if (before.startedAtMs !== undefined && now.startedAtMs !== undefined)
    return Math.abs(now.startedAtMs - before.startedAtMs) > 1_000;
  return before.startedAt !== now.startedAt;
}

/** Whether the same BIRD took a configuration since `before` (its time from start to last configuration moved). */
export function reconfiguredSince(before: BirdRunState, now: BirdRunState): boolean {
  if (before.configuredAfterMs !== undefined && now.configuredAfterMs !== undefined)
    return before.configuredAfterMs !== now.configuredAfterMs;
  return before.reconfiguredAt !== now.reconfiguredAt;
}
