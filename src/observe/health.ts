import type { Daemon } from '../model/daemon.js';
import type { RunStatusView } from './runStatus.js';

/** How long the control loop may go without a heartbeat before /healthz says it is stuck. */
export const DEFAULT_LIVENESS_STALE_MS = 30_000;

export interface Liveness {
  readonly alive: boolean;
  /** Time since the control loop last ticked (ms). */
  readonly heartbeatAgeMs: number;
}

/** Alive while the heartbeat is fresh; `now` is on the heartbeat's (monotonic) clock. */
export function checkLiveness(status: RunStatusView, now: number, staleAfterMs: number): Liveness {
  const heartbeatAgeMs = Math.max(0, now - status.heartbeatAt);
  return { alive: heartbeatAgeMs <= staleAfterMs, heartbeatAgeMs };
}

type ReadinessCondition = 'datastore' | 'applied' | Daemon;

interface ReadinessCheck {
  readonly condition: ReadinessCondition;
  readonly ok: boolean;
  readonly message: string;
}

export interface Readiness {
  readonly ready: boolean;
  readonly checks: readonly ReadinessCheck[];
}

/** Whether each daemon answered on its control socket just now (an error text when not; absent: not asked). */
export type BirdAnswer = { readonly ok: true } | { readonly ok: false; readonly error: string };
export type BirdAnswers = Readonly<Partial<Record<Daemon, BirdAnswer>>>;

/** A cycle running, or a change waiting, longer than this is a stuck step (or a retry loop), not normal pacing. */
const DEFAULT_STUCK_AFTER_MS = 10_000;

export interface ReadinessClock {
  /** Now, on the monotonic clock of status.cycleStartedAt / changePendingSince. */
  readonly now: number;
  readonly stuckAfterMs?: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const seconds = (ms: number): string => (ms / 1000).toFixed(1);

/** The datastore's part of readiness: synced, or why not and since when. */
function datastoreCheck(status: RunStatusView): ReadinessCheck {
  const since = status.datastoreSince === undefined ? 'an unknown time' : new Date(status.datastoreSince).toISOString();
  const why = status.datastoreDetail ?? 'unknown';
  switch (status.datastore) {
    case 'synced':
      return { condition: 'datastore', ok: true, message: `synced with etcd at revision ${status.revision}` };
    case 'syncing':
      return { condition: 'datastore', ok: false, message: 'not yet synced with etcd' };
    case 'disconnected':
      return { condition: 'datastore', ok: false, message: `etcd connection lost since ${since}` };
    case 'stale':
      return { condition: 'datastore', ok: false, message: `datastore stale since ${since}: ${why}` };
    case 'resyncing':
      return { condition: 'datastore', ok: false, message: `re-reading etcd since ${since}: ${why}` };
  }
}

/**
 * Ready when all hold: synced with etcd; the templates render; no change has waited (nor a cycle run) past the
 * stuck bound; and each daemon answers, has no failure, no reload pending, and has applied a configuration.
 * Pure: the caller asks BIRD. Quarantined entries are named but, like any skipped entry, do not make it unready.
 */
export function checkReadiness(
  status: RunStatusView,
  bird: BirdAnswers,
  clock: ReadinessClock = { now: performance.now() },
): Readiness {
  const checks: ReadinessCheck[] = [];
  checks.push(datastoreCheck(status));
  const stuckAfterMs = clock.stuckAfterMs ?? DEFAULT_STUCK_AFTER_MS;
  const cycleAge = status.cycleStartedAt === undefined ? 0 : clock.now - status.cycleStartedAt;
  const waitAge = status.changePendingSince === undefined ? 0 : clock.now - status.changePendingSince;
  const quarantine =
    status.quarantined.length === 0
      ? ''
      : `; ${status.quarantined.length} entr${status.quarantined.length === 1 ? 'y' : 'ies'} quarantined (${status.quarantined
          .map((q) => q.key)
          .slice(0, 3)
          .join(', ')}${status.quarantined.length > 3 ? ', …' : ''})`;
  // Skipped entries leave the node ready (the rest is applied), but are named, as quarantined ones are.
  const quarantinedKeys = new Set(status.quarantined.map((q) => q.key));
  const skipped = status.skipped.filter((e) => !quarantinedKeys.has(e.key));
  const skippedText =
    skipped.length === 0
      ? ''
      : `; ${skipped.length} entr${skipped.length === 1 ? 'y' : 'ies'} skipped (${skipped
          .map((e) => e.key)
          .slice(0, 3)
          .join(', ')}${skipped.length > 3 ? ', …' : ''})`;
  const guard = guardAppliedCheck(status, clock.now);
  if (status.renderFailure) {
    checks.push({
      condition: 'applied',
      ok: false,
      message: `cannot render since ${iso(status.renderFailure.at)} (${status.renderFailure.kind}): ${status.renderFailure.message}`,
    });
  } else if (guard) {
    checks.push(guard);
  } else if (cycleAge > stuckAfterMs) {
    checks.push({
      condition: 'applied',
      ok: false,
      message: `a cycle has been running for ${seconds(cycleAge)} s (stuck step?)`,
    });
  } else if (waitAge > stuckAfterMs) {
    checks.push({
      condition: 'applied',
      ok: false,
      message: `a change has waited ${seconds(waitAge)} s to be applied`,
    });
  } else {
    // A daemon with a failure says so in its own check; here only what holds both back, or neither started.
    const notYet = status.daemonNames.filter(
      (d) => status.daemons[d]?.lastAppliedAt === undefined && status.daemons[d]?.failure === undefined,
    );
    const last = Math.max(0, ...status.daemonNames.map((d) => status.daemons[d]?.lastAppliedAt ?? 0));
    if (notYet.length > 0)
      checks.push({
        condition: 'applied',
        ok: false,
        message: `no configuration applied yet${notYet.length === 1 ? ` (${notYet[0]})` : ''}`,
      });
    else
      checks.push({
        condition: 'applied',
        ok: true,
        message: `${last > 0 ? `applied at ${iso(last)}` : 'applied'}${quarantine}${skippedText}`,
      });
  }
  for (const daemon of status.daemonNames) {
    const answer = bird[daemon] ?? { ok: false, error: `${daemon} was not asked (no control socket)` };
    const state = status.daemons[daemon] ?? { failure: undefined, reloadPending: false, lastAppliedAt: undefined };
    if (state.failure) {
      checks.push({
        condition: daemon,
        ok: false,
        message: `failing since ${iso(state.failure.at)} (${state.failure.kind}): ${state.failure.message}`,
      });
    } else if (!answer.ok) {
      checks.push({ condition: daemon, ok: false, message: answer.error });
    } else if (state.drift) {
      // BIRD runs something other than what it was given: what, and why (README "Reliability").
      checks.push({ condition: daemon, ok: false, message: `since ${iso(state.drift.since)}: ${state.drift.reason}` });
    } else if (state.reloadPending && state.lastAppliedAt !== undefined) {
      checks.push({
        condition: daemon,
        ok: false,
        message: `${daemon} has new files it has not loaded yet (reload pending)`,
      });
    } else {
      checks.push({ condition: daemon, ok: true, message: `${daemon} answers` });
    }
  }
  return { ready: checks.every((c) => c.ok), checks };
}

/**
 * The apply guard's part of the `applied` check (README "The apply guard"): not ready while a revert holds entries
 * back (naming them); a settle window in progress is named and is not a stuck cycle. undefined: nothing to say.
 */
function guardAppliedCheck(status: RunStatusView, now: number): ReadinessCheck | undefined {
  if (status.guardHolds.length > 0) {
    const holds = status.guardHolds;
    const keys = holds.map((h) => h.key);
    const held = `${keys.slice(0, 5).join(', ')}${keys.length > 5 ? `, … (${keys.length})` : ''}`;
    const at = iso(Math.min(...holds.map((h) => h.at)));
    // "Reverted" only once BIRD is known to run the previous configuration again.
    const unsure = [...new Set(holds.map((h) => h.daemon))].filter((d) => {
      const state = status.daemons[d];
      return state?.reloadPending === true || state?.drift !== undefined;
    });
    if (unsure.length > 0)
      return {
        condition: 'applied',
        ok: false,
        message: `the apply guard is reverting a change made at ${at} (holding back ${held}), but ${unsure.join(' and ')} has not yet confirmed it runs the previous configuration: reloading: ${holds[0]!.reason}`,
      };
    return {
      condition: 'applied',
      ok: false,
      message: `the apply guard reverted a change at ${at} and holds back ${held} until they change: ${holds[0]!.reason}`,
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
