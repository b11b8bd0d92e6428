import type { StagedFileSet } from '../apply/stagingDir.js';
import type { ConfirmResult, UndoResult } from '../bird/configureGuardedReply.js';
import type { Daemon } from '../model/daemon.js';
import type { EntrySpan, FileSet } from '../render/fileSet.js';
import type { GuardSnapshot } from './guard/settleVerdict.js';
import type { ValidationFailure } from './validationFailure.js';

/**
 * What the cycle does to the world, as three seams, each injectable so every branch is tested with fakes (and real
 * ones as the proof; the real ones are in realEdges.ts). Every command drives PipelineEdges; only `run` has BIRD's
 * control socket (ReloadEdges, GuardEdges), so a dry run cannot reload anything.
 */

/** Files and `bird -p`: stage, validate, swap (and a plain durable write). */
export interface PipelineEdges {
  stage(root: string, files: FileSet): Promise<StagedFileSet>;
  validate(
    daemon: Daemon,
    stagedDir: string,
    spans: () => readonly EntrySpan[],
    signal: AbortSignal | undefined,
  ): Promise<ValidationFailure | undefined>;
  swap(configDir: string, stagedDir: string, names: readonly string[]): Promise<void>;
  /** Writes without a staging dir (`--no-validate`, and putting back the files a daemon runs). */
  write(configDir: string, files: ReadonlyMap<string, string>): Promise<void>;
}

export type ReloadOutcome =
  | { readonly kind: 'applied'; readonly daemon: Daemon; readonly message: string; readonly ms: number }
  | { readonly kind: 'unreachable'; readonly daemon: Daemon; readonly message: string }
  /** BIRD answered with a refusal: it keeps running its previous configuration. */
  | { readonly kind: 'rejected'; readonly daemon: Daemon; readonly message: string }
  /** Something answered on the socket that is not BIRD's reply framing: whether it applied is unknown. */
  | { readonly kind: 'garbled'; readonly daemon: Daemon; readonly message: string };

/** BIRD's `configure` on its control socket. */
export interface ReloadEdges {
  /** `configure`: BIRD loads the files in the config dir. */
  reload(daemon: Daemon): Promise<ReloadOutcome>;
  /**
   * `configure "<staged>/bird.cfg"`: BIRD parses and applies the staged set itself (a set it cannot parse leaves
   * it running what it ran), while `bird -p` checks the same set for the disk. Absent: never staged.
   */
  reloadStaged?(daemon: Daemon, stagedDir: string, onSent?: () => void): Promise<ReloadOutcome>;
}

/**
 * Which BIRD runs and since when it runs what it runs (`show status`, and its control socket's identity): how a
 * restarted or reconfigured BIRD is noticed (README "Reliability").
 */
export interface BirdRunState {
  /** The control socket BIRD made at its start (inode, change time): another one is another BIRD. undefined: unseen. */
  readonly socket: string | undefined;
  /** When this BIRD started, as BIRD prints it (`Last reboot on`). */
  readonly startedAt: string;
  /** When it last took a configuration, as BIRD prints it (`Last reconfiguration on`). */
  readonly reconfiguredAt: string;
  /** `startedAt` in ms (undefined: BIRD's time format did not parse). */
  readonly startedAtMs: number | undefined;
  /**
   * From its start to its last configuration, in ms: exact, where the printed times shift by a second now and
   * then (src/bird/showStatus.ts). undefined: BIRD's time format did not parse.
   */
  readonly configuredAfterMs: number | undefined;
}

/** BIRD's `show status` on its control socket. */
export interface BirdStatusEdges {
  status(daemon: Daemon): Promise<BirdRunState>;
}

/** What the apply guard says to BIRD (README "The apply guard"). */
export interface GuardEdges extends BirdStatusEdges {
  /** `show protocols all`: each BGP session's state and exported routes. */
  snapshot(daemon: Daemon): Promise<GuardSnapshot>;
  /** `configure timeout N` (BIRD's own files), or `configure "<configPath>" timeout N` (a staged set). */
  configureTimeout(daemon: Daemon, seconds: number, configPath?: string): Promise<ReloadOutcome>;
  confirm(daemon: Daemon): Promise<ConfirmResult>;
  undo(daemon: Daemon): Promise<UndoResult>;
}
