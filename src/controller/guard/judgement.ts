/** What the apply guard decides with and about (applyGuard.ts): a guarded daemon, its reload, its judgement. */
import type { Daemon } from '../../model/daemon.js';
import type { Keyspace } from '../../model/keyspaceIndex.js';
import type { GuardWindow } from '../../observe/runStatus.js';
import type { TemplateError } from '../../render/errors.js';
import type { CompiledTemplateSet } from '../../render/templateSet.js';
import type { OpenedWindow } from '../applyPipeline.js';
import type { DaemonChange } from '../diffSummary.js';
import type { ReloadOutcome } from '../edges.js';
import type { RenderOutcome } from '../roleRenderer.js';
import type { GuardSnapshot } from './settleVerdict.js';

type Templates = CompiledTemplateSet | TemplateError;

/** One daemon's guarded apply in a cycle: what it watched before, and why it is guarded. */
export interface GuardedDaemon {
  readonly before: GuardSnapshot;
  readonly reasons: readonly string[];
  readonly change: DaemonChange;
  /** The files on disk when it was planned (what BIRD runs): put back on an undo. */
  readonly live: ReadonlyMap<string, string>;
}

/** A guarded daemon's reload, as the pipeline runs it: the marker, then `configure timeout`. */
export interface GuardedReload {
  /** false: the marker could not be written (logged): apply without the guard. */
  writeMarker(): Promise<boolean>;
  /** `configure "<stagedDir>/bird.cfg" timeout N` (the staged set), or of the files on disk (undefined). */
  configureTimeout(stagedDir: string | undefined): Promise<ReloadOutcome>;
  /** BIRD did not take `configure timeout`: there is no window to recover. */
  removeMarker(): Promise<void>;
}

export interface GuardJudgement {
  readonly daemon: Daemon;
  /**
   * `interrupted`: no verdict on the change — SIGTERM cut the window short, or BIRD stopped running the change
   * under its timer (restarted, the timer gone): BIRD runs the confirmed set and the change goes out again.
   */
  readonly verdict: 'confirmed' | 'reverted' | 'interrupted';
  readonly summary: string;
  /** How long the settle window ran before the verdict. */
  readonly settleMs: number;
  /** Files put back after the undo (undefined: none, or they could not be written: the live set is unknown). */
  readonly restored: readonly string[] | undefined;
  /** The staged set swapped in after the confirm (the files now on disk as rendered). */
  readonly committed: readonly string[];
  /**
   * BIRD is owed a reload, or the change is still to be applied (a confirm or undo that did not land, a window a
   * restart cut short): the cycle retries.
   */
  readonly reloadNeeded: boolean;
  /** A revert: the daemon's failure, naming what is held back (retry: the rest of the change can go out now). */
  readonly failure: { readonly message: string; readonly retry: boolean } | undefined;
  /** Why BIRD does not run the change although its window opened (for `/readyz` until it is applied). */
  readonly drift: string | undefined;
}

export interface JudgeInput {
  /** Each guarded daemon's first plan this cycle (its sessions before the first `configure timeout`). */
  readonly guarded: ReadonlyMap<Daemon, GuardedDaemon>;
  /** Daemons whose `configure timeout` BIRD took this cycle, with what their pipeline left: their window runs now. */
  readonly opened: ReadonlyMap<Daemon, OpenedWindow>;
  readonly written: ReadonlyMap<Daemon, readonly string[]>;
  /** The last rendering (before held renderings stood in): what a revert blames and holds. */
  readonly rendered: RenderOutcome;
  readonly keyspace: Keyspace;
  readonly templates: Templates;
  readonly now: () => number;
  readonly signal?: AbortSignal;
  /** The window in progress (undefined: over), for `/readyz`. */
  readonly onWindow: (window: GuardWindow | undefined) => void;
  /** Every tick of the window (the liveness heartbeat). */
  readonly tick?: () => void;
}
