import type { Daemon } from '../model/daemon.js';
import { daemonOf, type FileSet } from '../render/fileSet.js';
import type { ReloadEdges, ReloadOutcome } from './edges.js';
import type { GuardedReload } from './guard/judgement.js';
import type { UndoRecord } from './guard/undoRecord.js';

/**
 * How far a cycle goes: `check` (compare, stage in a scratch dir, validate: `render --diff`), `write` (and swap
 * into the directory: `render --out`), `apply` (and reload BIRD: `run`, `run --once`).
 */
export type PipelineMode = 'check' | 'write' | 'apply';

/**
 * The reload step of one daemon's plan, with what it calls: only `apply` plans have one. Its `method` is how the
 * daemon's new files reach BIRD (README "The apply path"): `staged` — BIRD is given the staged set
 * (`configure "<staged>/bird.cfg"`) while bird -p checks it, and the swap follows when both accepted; `plain` —
 * validate, swap, then `configure`; `guarded` — validate, the guard marker, then `configure "<staged>/bird.cfg"
 * timeout N`, judged by the settle window after the pipeline; the swap follows the confirm, so the files on disk
 * stay the confirmed set through the window (README "The apply guard", "Reliability").
 */
export type ReloadStep = {
  /** A reload owed for the files already on disk (swapped earlier, BIRD unreachable then, a start). */
  readonly owed: boolean;
  /** A plain `configure` (also what a reload owed and going back to the disk's files use). */
  readonly configure: () => Promise<ReloadOutcome>;
  /** The files BIRD runs, kept for `birdwatch undo` once it takes new ones (undefined: no record kept). */
  readonly undo: UndoRecord | undefined;
} & (
  | { readonly method: 'plain' }
  | {
      readonly method: 'staged';
      readonly configureStaged: (stagedDir: string, onSent: () => void) => Promise<ReloadOutcome>;
    }
  | {
      readonly method: 'guarded';
      readonly guarded: GuardedReload;
      /**
       * BIRD is given the staged set under `configure timeout`, the disk keeping the confirmed set until the
       * confirm. false (a BIRD that cannot be given the staged set, `--no-validate`): swap, then `configure timeout`.
       */
      readonly stagedSet: boolean;
    }
);

/** What the pipeline does for one daemon, decided before it starts. */
export interface DaemonPlan {
  readonly daemon: Daemon;
  /** Stage and run bird -p first (false: `--no-validate`, a plain durable write). */
  readonly validate: boolean;
  /** Put the files into the config dir (false: `render --diff`). */
  readonly swap: boolean;
  /** undefined: a dry run (`render --out`, `render --diff`) — nothing is said to BIRD. */
  readonly reload: ReloadStep | undefined;
}

/** What `apply` decides per daemon (the cycle gathers it: reload-mode memory, the guard, the owed reloads). */
export interface ApplyChoice {
  readonly bird: ReloadEdges;
  readonly owed: boolean;
  /** The reload-mode memory lets BIRD take the staged set (overlap on, BIRD can read it, bird -p agrees). */
  readonly staged: boolean;
  /** The guard's reload for a guarded change; undefined: not guarded. */
  readonly guarded: GuardedReload | undefined;
  readonly undo: UndoRecord | undefined;
}

/** Whether `daemon`'s rendered files differ from those on disk (its reload would carry new files). */
export const daemonChanged = (daemon: Daemon, files: FileSet, live: ReadonlyMap<string, string>): boolean =>
  [...files].some(([name, content]) => daemonOf(name) === daemon && live.get(name) !== content);

/** One daemon's plan: the method is decided here, once. */
export function planDaemon(
  daemon: Daemon,
  options: { readonly mode: PipelineMode; readonly validate: boolean },
  choice: ApplyChoice | undefined,
): DaemonPlan {
  const { mode, validate } = options;
  if (mode !== 'apply' || choice === undefined) return { daemon, validate, swap: mode !== 'check', reload: undefined };
  const { bird, owed, undo } = choice;
  const configure = (): Promise<ReloadOutcome> => bird.reload(daemon);
  const common = { owed, configure, undo };
  if (choice.guarded) {
    const stagedSet = validate && choice.staged;
    return {
      daemon,
      validate,
      swap: true,
      reload: { ...common, method: 'guarded', guarded: choice.guarded, stagedSet },
    };
  }
  const reloadStaged = bird.reloadStaged?.bind(bird);
  if (validate && choice.staged && reloadStaged)
    return {
      daemon,
      validate,
      swap: true,
      reload: {
        ...common,
        method: 'staged',
        configureStaged: (stagedDir, onSent) => reloadStaged(daemon, stagedDir, onSent),
      },
    };
  return { daemon, validate, swap: true, reload: { ...common, method: 'plain' } };
}
