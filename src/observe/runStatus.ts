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

/** One daemon's apply state: what it runs compared with what the datastore says. */
export interface DaemonApplyState {
  /** The current failure of this daemon's pipeline, until that daemon accepts a configuration. */
  failure: ApplyFailure | undefined;
  /** Files were swapped in (or may have been) and the daemon has not confirmed a reload yet. */
  reloadPending: boolean;
  /** Wall-clock ms of the last cycle that left this daemon running the rendered configuration. */
  lastAppliedAt: number | undefined;
}

/** An entry left out because BIRD refused the lines rendered from it; held back until its value changes. */
export interface QuarantinedEntry {
  readonly key: string;
  readonly value: string;
  readonly daemon: Daemon;
  readonly reason: string;
}

/** Held back after the apply guard reverted an apply (issue 15): an entry, the templates, or a rendering. */
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

/**
 * What `run` knows about itself, in one place: the control loop writes it, the health endpoint, metrics and
 * logs read it. Plain data; no I/O.
 */
export class RunStatus {
  datastore: DatastoreState = 'syncing';
  revision = 0n;
  /** Wall-clock ms since when `datastore` holds (lost, stale: since etcd last answered). */
  datastoreSince: number | undefined;
  /** Why the datastore is not synced (stale, resyncing, disconnected), in words. */
  datastoreDetail: string | undefined;
  /** Render-level failure (the node cannot be configured, broken templates, an unexpected error). */
  renderFailure: ApplyFailure | undefined;
  readonly daemons: Record<Daemon, DaemonApplyState> = {
    bird: { failure: undefined, reloadPending: true, lastAppliedAt: undefined },
    bird6: { failure: undefined, reloadPending: true, lastAppliedAt: undefined },
  };
  quarantined: readonly QuarantinedEntry[] = [];
  /** Apply guard (issue 15): what a revert holds back, and the settle window in progress. */
  guardHolds: readonly GuardHold[] = [];
  guarding: GuardWindow | undefined;
  readonly birdReachable: Record<Daemon, boolean | undefined> = { bird: undefined, bird6: undefined };
  /** Heartbeat of the control loop (monotonic ms), for liveness. */
  heartbeatAt = 0;
  /** Monotonic ms when the running cycle started; undefined between cycles. */
  cycleStartedAt: number | undefined;
  /** Monotonic ms of the oldest change not yet handled by a finished cycle; undefined when none waits. */
  changePendingSince: number | undefined;
  cycles = 0;
  reloads: Record<Daemon, number> = { bird: 0, bird6: 0 };

  /** The first current failure (render-level first), or undefined when every daemon runs what was rendered. */
  get failure(): ApplyFailure | undefined {
    return this.renderFailure ?? this.daemons.bird.failure ?? this.daemons.bird6.failure;
  }

  /** Wall-clock ms when both daemons last ran the rendered configuration (the older of the two). */
  get lastAppliedAt(): number | undefined {
    const { bird, bird6 } = this.daemons;
    if (bird.lastAppliedAt === undefined || bird6.lastAppliedAt === undefined) return undefined;
    return Math.min(bird.lastAppliedAt, bird6.lastAppliedAt);
  }
}
