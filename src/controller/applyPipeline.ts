import { isApplyError } from '../apply/errors.js';
import { stageFileSet, type StagedFileSet } from '../apply/stagingDir.js';
import { swapStagedFiles, warnDirectoryRemoved, writeFilesDurably } from '../apply/swapFileSet.js';
import { isBirdBinaryMissingError, isBirdValidationTimeoutError } from '../bird/errors.js';
import { join } from 'node:path';
import { MAIN_FILE, type Daemon } from '../model/daemon.js';
import type { Logger } from '../observe/logger.js';
import { daemonOf, type EntrySpan, type FileSet } from '../render/fileSet.js';
import { reloadBird, type ReloadOutcome } from './reloadBird.js';
import {
  formatValidationFailure,
  validateStagedDaemon,
  type BirdBinaries,
  type ValidationFailure,
} from './validateStaged.js';

/**
 * How far a pipeline goes: `check` (compare, stage in a scratch dir, validate: `render --diff`), `write` (and
 * swap into the directory: `render --out`), `apply` (and reload BIRD: `run`, `run --once`).
 */
export type PipelineMode = 'check' | 'write' | 'apply';

/** The named steps of one daemon's pipeline, in order (render and compare come before, per cycle). */
export type PipelineStep = 'stage' | 'validate' | 'swap' | 'reload';

/** The edges a pipeline drives, injectable so each branch can be tested with fakes (and real ones as the proof). */
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
  /**
   * `configure`: BIRD loads the files in the config dir. `why`: after a swap (`swapped`: new files), a reload
   * still owed (`pending`), or going back to the files on disk after BIRD took a staged set that then failed
   * (`back`).
   */
  reload(daemon: Daemon, why: ReloadReason): Promise<ReloadOutcome>;
  /**
   * `configure "<staged>/bird.cfg"`: BIRD parses and applies the staged set itself (a set it cannot parse leaves
   * it running what it ran), while `bird -p` checks the same set for the disk. Absent: no overlap.
   */
  reloadStaged?(daemon: Daemon, stagedDir: string, onSent?: () => void): Promise<ReloadOutcome>;
}

export type ReloadReason = 'swapped' | 'pending' | 'back';

export interface RealEdgesOptions {
  readonly binaries: BirdBinaries;
  readonly sockets?: Readonly<Record<Daemon, string>>;
  readonly validateTimeoutMs?: number;
  /** Where a directory removed from a file's place is reported (a warn line). */
  readonly log?: Logger;
}

export function realPipelineEdges(options: RealEdgesOptions): PipelineEdges {
  const onDirectoryRemoved = options.log === undefined ? undefined : warnDirectoryRemoved(options.log);
  return {
    stage: stageFileSet,
    validate: (daemon, stagedDir, spans, signal) =>
      validateStagedDaemon(daemon, stagedDir, {
        binary: options.binaries[daemon],
        spans,
        signal,
        timeoutMs: options.validateTimeoutMs,
      }),
    swap: (configDir, stagedDir, names) => swapStagedFiles(configDir, stagedDir, names, onDirectoryRemoved),
    write: (configDir, files) => writeFilesDurably(configDir, files, onDirectoryRemoved),
    reload: (daemon) => {
      const socket = options.sockets?.[daemon];
      if (socket === undefined) return Promise.reject(new Error(`no control socket for ${daemon}`));
      // Not aborted by SIGTERM: once files are swapped, BIRD is told (a reload takes milliseconds, and is bounded).
      return reloadBird(daemon, socket);
    },
    reloadStaged: (daemon, stagedDir, onSent) => {
      const socket = options.sockets?.[daemon];
      if (socket === undefined) return Promise.reject(new Error(`no control socket for ${daemon}`));
      return reloadBird(daemon, socket, { configPath: join(stagedDir, MAIN_FILE[daemon]), onSent });
    },
  };
}

/** BIRD 1.6 strings have no escapes: a config dir whose path has a quote or newline cannot be named in `configure`. */
export const canNameInConfigure = (path: string): boolean => !/["\r\n]/.test(path);

export interface DaemonPipelineInput {
  readonly daemon: Daemon;
  /** Every rendered file (both daemons'); this pipeline takes its daemon's. */
  readonly files: FileSet;
  readonly live: ReadonlyMap<string, string>;
  /** Reload even when no file changed (files swapped earlier, BIRD unreachable then, or a start). */
  readonly reloadPending: boolean;
  readonly spans: () => readonly EntrySpan[];
}

export interface DaemonPipelineOptions {
  readonly mode: PipelineMode;
  /** Where the files go (`write`/`apply`) or are compared with (`check`). */
  readonly configDir: string;
  /** Where staging dirs are made: the config dir itself, or a scratch dir for `check`. */
  readonly stageRoot: string;
  /** false: `--no-validate` (write without bird -p). */
  readonly validate: boolean;
  readonly edges: PipelineEdges;
  /** Aborts validation only (SIGTERM): nothing half-done is left, and swaps and reloads always finish. */
  readonly signal?: AbortSignal;
  /**
   * Send BIRD the staged set (`edges.reloadStaged`) while `bird -p` checks it, and swap without a second
   * reload when both accept it (`apply` with validation only; not for a guarded apply's `configure timeout`).
   */
  readonly overlap?: boolean;
  readonly now?: () => number;
}

export interface DaemonPipelineFailure {
  readonly step: PipelineStep;
  readonly message: string;
  /** Whether the same input can succeed later (a full disk, a hung bird -p, BIRD refusing configure). */
  readonly transient: boolean;
}

/** One result object per daemon and cycle: logs, metrics, status and the CLI all read this. */
export interface DaemonPipelineResult {
  readonly daemon: Daemon;
  /** This daemon's files that differ from the live ones, in swap order. */
  readonly changed: readonly string[];
  /** Files renamed into place (all of `changed`, or those replaced before a swap failed part-way). */
  readonly written: readonly string[];
  readonly validateMs: number | undefined;
  readonly validation: ValidationFailure | undefined;
  readonly reload: ReloadOutcome | undefined;
  readonly failure: DaemonPipelineFailure | undefined;
  /** Stopped by the signal before anything was swapped. */
  readonly aborted: boolean;
  /** What BIRD answered to the staged set when the reload overlapped `bird -p` (undefined: no overlap). */
  readonly stagedReload: ReloadOutcome | undefined;
  /**
   * BIRD may run a set that is not the one on disk: it took (or may have taken) the staged set, that set was not
   * swapped in, and going back to the disk's files did not land. A reload is owed.
   */
  readonly diverged: boolean;
  /** BIRD could not open the staged set (it sees the config dir elsewhere): BIRD's words; the sequential path ran. */
  readonly stagedUnreadable: string | undefined;
}

/** BIRD's reply when it cannot open a file of the staged set: `8002 <file>: No such file or directory`. */
export const cannotReadStagedSet = (message: string): boolean =>
  /^8002 \S.*: (No such file or directory|Permission denied|Not a directory)$/.test(message);

/** How long validation waits for `configure` to reach BIRD's socket (a BIRD slow to greet does not hold bird -p). */
const HAND_OVER_WAIT_MS = 50;

/** Resolves when the first of `promises` settles, or after `ms`. */
async function untilFirst(promises: readonly Promise<unknown>[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  try {
    await Promise.race([...promises.map((p) => p.then(() => undefined)), elapsed]);
  } finally {
    clearTimeout(timer);
  }
}

type Settled<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };
const settle = <T>(promise: Promise<T>): Promise<Settled<T>> =>
  promise.then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error }),
  );

const filesOf = (files: FileSet, daemon: Daemon): Map<string, string> =>
  new Map([...files].filter(([name]) => daemonOf(name) === daemon));

/**
 * One daemon, top to bottom: compare → stage → validate → swap → reload; with `overlap`, BIRD is given the
 * staged set while bird -p checks it, and the swap follows when both accepted it. Never throws for what its edges do;
 * every failure is in the result, with its step. A staging dir is always removed, also on abort.
 */
export async function runDaemonPipeline(
  input: DaemonPipelineInput,
  options: DaemonPipelineOptions,
): Promise<DaemonPipelineResult> {
  const { daemon } = input;
  const now = options.now ?? (() => performance.now());
  const files = filesOf(input.files, daemon);
  const changed = [...files.keys()].filter((name) => files.get(name) !== input.live.get(name));
  let written: string[] = [];
  let validateMs: number | undefined;
  let validation: ValidationFailure | undefined;
  let stagedReload: ReloadOutcome | undefined;
  let stagedUnreadable: string | undefined;
  const result = (rest: Partial<DaemonPipelineResult>): DaemonPipelineResult => ({
    daemon,
    changed,
    written,
    validateMs,
    validation,
    reload: undefined,
    failure: undefined,
    aborted: false,
    stagedReload,
    stagedUnreadable,
    diverged: false,
    ...rest,
  });
  const fail = (step: PipelineStep, message: string, transient: boolean): DaemonPipelineResult =>
    result({ failure: { step, message, transient } });

  if (changed.length > 0) {
    let staged: StagedFileSet | undefined;
    try {
      if (options.validate) {
        try {
          staged = await options.edges.stage(options.stageRoot, files);
        } catch (error) {
          if (isApplyError(error)) return fail('stage', error.message, true);
          throw error;
        }
        const started = now();
        const stagedDir = staged.dir;
        let sent: () => void = () => undefined;
        const handedOver = new Promise<void>((resolve) => (sent = resolve));
        const overlapping =
          options.mode === 'apply' && options.overlap === true && options.edges.reloadStaged
            ? settle(options.edges.reloadStaged(daemon, stagedDir, () => sent()))
            : undefined;
        // Spawning bird -p blocks this thread for milliseconds: BIRD gets its command first, and parses meanwhile.
        if (overlapping) await untilFirst([handedOver, overlapping], HAND_OVER_WAIT_MS);
        let checked: Settled<ValidationFailure | undefined>;
        try {
          checked = await settle(options.edges.validate(daemon, stagedDir, input.spans, options.signal));
        } finally {
          validateMs = now() - started;
        }
        const early = await overlapping;
        if (early && !early.ok) throw early.error;
        stagedReload = early?.value;
        // BIRD took (or may have taken) a set that is not going to the disk: it is told to load the disk's again.
        const goBack = async (): Promise<{ reload: ReloadOutcome | undefined; diverged: boolean }> => {
          if (stagedReload?.kind !== 'applied' && stagedReload?.kind !== 'garbled')
            return { reload: undefined, diverged: false };
          const reload = await options.edges.reload(daemon, 'back');
          return { reload, diverged: reload.kind !== 'applied' };
        };
        if (!checked.ok) {
          const error = checked.error;
          const back = await goBack();
          if (options.signal?.aborted) return result({ ...back, aborted: true });
          if (isBirdValidationTimeoutError(error) || isBirdBinaryMissingError(error))
            return result({ ...back, failure: { step: 'validate', message: error.message, transient: true } });
          throw error;
        }
        validation = checked.value;
        if (validation) {
          let back = await goBack();
          // The files on disk are the last set that passed; a reload still owed to BIRD for them is sent anyway.
          if (back.reload === undefined && options.mode === 'apply' && input.reloadPending)
            back = { reload: await options.edges.reload(daemon, 'pending'), diverged: false };
          const disagreed =
            stagedReload?.kind === 'applied'
              ? `; BIRD had accepted the staged set (bird -p and BIRD disagree) and was told to load the files on disk again${back.diverged ? ', which did not land' : ''}`
              : '';
          return result({
            ...back,
            failure: {
              step: 'validate',
              message: `${formatValidationFailure(validation)}${disagreed}`,
              transient: false,
            },
          });
        }
        if (stagedReload?.kind === 'rejected' && cannotReadStagedSet(stagedReload.message)) {
          // BIRD cannot see birdwatch's config dir at this path (another mount): swap, then a plain configure.
          stagedUnreadable = stagedReload.message;
          stagedReload = undefined;
        } else if (stagedReload?.kind === 'rejected') {
          // BIRD refused what bird -p accepted: it runs what it ran, and the disk keeps that set too.
          return result({
            reload: stagedReload,
            failure: {
              step: 'reload',
              message: `${daemon} refused the staged configuration that ${daemon} -p accepted: ${stagedReload.message.replaceAll(`${stagedDir}/`, '')}`,
              transient: true,
            },
          });
        }
      }
      if (options.mode === 'check') return result({});
      try {
        if (staged) await options.edges.swap(options.configDir, staged.dir, changed);
        else await options.edges.write(options.configDir, new Map(changed.map((name) => [name, files.get(name)!])));
        written = changed;
      } catch (error) {
        if (!isApplyError(error)) throw error;
        written = [...error.replaced];
        return fail('swap', error.message, true);
      }
    } finally {
      await staged?.remove().catch(() => undefined);
    }
  }
  if (options.mode !== 'apply' || (changed.length === 0 && !input.reloadPending)) return result({});
  // The reload step: BIRD is told to load the swapped files — unless it already loaded the same set, staged.
  const reload = stagedReload ?? (await options.edges.reload(daemon, changed.length > 0 ? 'swapped' : 'pending'));
  switch (reload.kind) {
    case 'applied':
    case 'unreachable': // not a failure of the configuration: the reload stays pending and is retried
      return result({ reload });
    case 'rejected':
      return result({
        reload,
        failure: { step: 'reload', message: `${daemon} refused the configuration: ${reload.message}`, transient: true },
      });
    case 'garbled':
      return result({ reload, failure: { step: 'reload', message: reload.message, transient: true } });
  }
}
