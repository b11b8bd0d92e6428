import type { ReadinessCheck } from './health.js';
import type { RunStatus } from './runStatus.js';

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * The apply guard's part of the `applied` check: not ready while a revert holds entries back (naming them);
 * a settle window in progress is named and is not a stuck cycle. undefined: the guard has nothing to say.
 */
export function guardAppliedCheck(status: Readonly<RunStatus>, now: number): ReadinessCheck | undefined {
  if (status.guardHolds.length > 0) {
    const holds = status.guardHolds;
    const keys = holds.map((h) => h.key);
    return {
      condition: 'applied',
      ok: false,
      message: `the apply guard reverted a change at ${iso(Math.min(...holds.map((h) => h.at)))} and holds back ${keys.slice(0, 5).join(', ')}${keys.length > 5 ? `, … (${keys.length})` : ''} until they change: ${holds[0]!.reason}`,
    };
  }
  if (status.guarding)
    return {
      condition: 'applied',
      ok: true,
      message: `guarding an apply (${status.guarding.daemons.join(', ')}): settle window ${((now - status.guarding.since) / 1000).toFixed(1)} of ${(status.guarding.windowMs / 1000).toFixed(1)} s`,
    };
  return undefined;
}
