/**
 * The size knob of the reliability suite: reduced in `scripts/test`, full with `scripts/soak`
 * (which sets BIRDWATCH_SOAK=1). Every scenario reads its counts and durations through `size`.
 */
const SOAK = process.env['BIRDWATCH_SOAK'] === '1';

export const size = <T>(reduced: T, full: T): T => (SOAK ? full : reduced);

/** tap's per-file timeout for a reliability test: the .taprc default when reduced, generous at full size. */
export const fileTimeoutMs = (reducedMs: number, fullMs: number): number => size(reducedMs, fullMs);
