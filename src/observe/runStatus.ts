import type { DatastoreState } from '../datastore/datastoreState.js';
import type { Daemon } from '../model/daemon.js';
import type { FailureKind } from './failureKind.js';

export interface ApplyFailure {
  readonly kind: FailureKind;
  readonly message: string;
  /** Wall-clock ms when this failure was first seen. */
  readonly at: number;
  /** The daemon it belongs to; undefined for render-level failures. */
  readonly daemon?: Daemon;
}

/**
 * Why a BIRD may run something birdwatch did not give it (README "Reliability"): it `restarted` (and loaded what
 * was on disk), was `reconfigured` by someone else, its `files` changed on disk, or a guarded apply's window ended
 * without a verdict (`guard-window`: BIRD restarted inside it).
 */
export type DriftCause = 'restarted' | 'reconfigured' | 'files' | 'guard-window';
export const DRIFT_CAUSES: readonly DriftCause[] = ['restarted', 'reconfigured', 'files', 'guard-window'];

/** BIRD found running something other than what it should, until a cycle puts it right. */
interface DaemonDrift {
  readonly cause: DriftCause;
  /** What BIRD runs and why it differs, in words. */
  readonly reason: string;
  /** Wall-clock ms when it was noticed. */
  readonly since: number;
}

/** One daemon's apply state: what it runs compared with what the datastore says. */
export interface DaemonApplyState {
  /** The current failure of this daemon's pipeline, until that daemon accepts a configuration. */
  failure: ApplyFailure | undefined;
  /** Files were swapped in (or may have been) and the daemon has not confirmed a reload yet. */
  reloadPending: boolean;
  /** Wall-clock ms of the last cycle that left this daemon running the rendered configuration. */
  lastAppliedAt: number | undefined;
  /** BIRD may run something other than what it was given (restarted, reconfigured, files changed), until applied. */
  drift?: DaemonDrift | undefined;
  /** How often each cause was noticed since start. */
  drifts?: Partial<Record<DriftCause, number>>;
}

/** A datastore entry the configuration leaves out (bad value, over a size bound, quarantined), by key. */
export interface SkippedEntry {
  readonly key: string;
  readonly reason: string;
}

/** An entry left out because BIRD refused the lines rendered from it; held back until its value changes. */
export interface QuarantinedEntry {
  readonly key: string;
  readonly value: string;
  readonly daemon: Daemon;
  readonly reason: string;
}

/** Held back after the apply guard reverted an apply (README "The apply guard"): an entry, templates, a rendering. */
export interface GuardHold {
  /** The etcd key, `templates`, or `<daemon> rendering` (no entry could be blamed). */
  readonly key: string;
  readonly daemon: Daemon;
  readonly reason: string;
  /** Wall-clock ms of the revert. */
  readonly at: number;
}

/** A guarded apply waiting for its verdict: BIRD runs the new configuration under `configure timeout`. */
export interface GuardWindow {
  readonly daemons: readonly Daemon[];
  /** Monotonic ms (the cycle clock) when the window opened. */
  readonly since: number;
  readonly windowMs: number;
}

/** What health and metrics read: RunStatus, read-only. */
export interface RunStatusView {
  /** The daemons of the role's layout, in order: the only ones with state below. */
  readonly daemonNames: readonly Daemon[];
  readonly datastore: DatastoreState;
  readonly revision: bigint;
  readonly datastoreSince: number | undefined;
  readonly datastoreDetail: string | undefined;
  readonly renderFailure: ApplyFailure | undefined;
  readonly daemons: Readonly<Partial<Record<Daemon, Readonly<DaemonApplyState>>>>;
  readonly quarantined: readonly QuarantinedEntry[];
  /** Entries the last rendering left out (skipped: they do not make the node unready, but are named). */
  readonly skipped: readonly SkippedEntry[];
  readonly guardHolds: readonly GuardHold[];
  readonly guarding: GuardWindow | undefined;
  readonly birdReachable: Readonly<Partial<Record<Daemon, boolean | undefined>>>;
  readonly heartbeatAt: number;
  readonly cycleStartedAt: number | undefined;
  readonly changePendingSince: number | undefined;
  readonly cycles: number;
  readonly reloads: Readonly<Partial<Record<Daemon, number>>>;
  readonly failure: ApplyFailure | undefined;
  readonly lastAppliedAt: number | undefined;
}

/**
 * What `run` knows about itself, in one place (README "Operations"): the run loop and its cycle feed it — the
 * state they act on is their own (ARCHITECTURE.md, "State") — and the health endpoint, metrics and logs read it
 * through RunStatusView. Plain data; no I/O.
 */
export class RunStatus implements RunStatusView {
  datastore: DatastoreState = 'syncing';
  revision = 0n;
  /** Wall-clock ms since when `datastore` holds (lost, stale: since etcd last answered). */
  datastoreSince: number | undefined;
  /** Why the datastore is not synced (stale, resyncing, disconnected), in words. */
  datastoreDetail: string | undefined;
  /** Render-level failure (the node cannot be configured, broken templates, an unexpected error). */
  renderFailure: ApplyFailure | undefined;
  readonly daemons: Partial<Record<Daemon, DaemonApplyState>> = {};
  quarantined: readonly QuarantinedEntry[] = [];
  skipped: readonly SkippedEntry[] = [];
  /** The apply guard: what a revert holds back, and the settle window in progress. */
  guardHolds: readonly GuardHold[] = [];
  guarding: GuardWindow | undefined;
  readonly birdReachable: Partial<Record<Daemon, boolean | undefined>> = {};
  /** Heartbeat of the control loop (monotonic ms), for liveness. */
  heartbeatAt = 0;
  /** Monotonic ms when the running cycle started; undefined between cycles. */
  cycleStartedAt: number | undefined;
  /** Monotonic ms of the oldest change not yet handled by a finished cycle; undefined when none waits. */
  changePendingSince: number | undefined;
  cycles = 0;
  readonly reloads: Partial<Record<Daemon, number>> = {};

  constructor(readonly daemonNames: readonly Daemon[]) {
    for (const daemon of daemonNames) {
      this.daemons[daemon] = {
        failure: undefined,
        reloadPending: true,
        lastAppliedAt: undefined,
        drift: undefined,
        drifts: {},
      };
      this.birdReachable[daemon] = undefined;
      this.reloads[daemon] = 0;
    }
  }

  /** The first current failure (render-level first), or undefined when every daemon runs what was rendered. */
  get failure(): ApplyFailure | undefined {
    return this.renderFailure ?? this.daemonNames.map((d) => this.daemons[d]?.failure).find((f) => f !== undefined);
  }

  /** Wall-clock ms when every daemon last ran the rendered configuration (the oldest of them). */
  get lastAppliedAt(): number | undefined {
    const times = this.daemonNames.map((d) => this.daemons[d]?.lastAppliedAt);
    if (times.length === 0 || times.some((t) => t === undefined)) return undefined;
    return Math.min(...(times as number[]));
  }
}
