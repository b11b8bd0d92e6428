import { isApplyError } from '../apply/errors.js';
import { stageFileSet, type StagedFileSet } from '../apply/stagingDir.js';
import { swapStagedFiles, writeFilesDurably } from '../apply/swapFileSet.js';
import { isBirdBinaryMissingError, isBirdValidationTimeoutError } from '../bird/errors.js';
import type { Daemon } from '../model/daemon.js';
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
  reload(daemon: Daemon): Promise<ReloadOutcome>;
}

export interface RealEdgesOptions {
  readonly binaries: BirdBinaries;
  readonly sockets?: Readonly<Record<Daemon, string>>;
  readonly validateTimeoutMs?: number;
}

export function realPipelineEdges(options: RealEdgesOptions): PipelineEdges {
  return {
    stage: stageFileSet,
    validate: (daemon, stagedDir, spans, signal) =>
      validateStagedDaemon(daemon, stagedDir, {
        binary: options.binaries[daemon],
        spans,
        signal,
        timeoutMs: options.validateTimeoutMs,
      }),
    swap: swapStagedFiles,
    write: writeFilesDurably,
    reload: (daemon) => {
      const socket = options.sockets?.[daemon];
      if (socket === undefined) return Promise.reject(new Error(`no control socket for ${daemon}`));
      // Not aborted by SIGTERM: once files are swapped, BIRD is told (a reload takes milliseconds, and is bounded).
      return reloadBird(daemon, socket);
    },
  };
}

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
}

const filesOf = (files: FileSet, daemon: Daemon): Map<string, string> =>
  new Map([...files].filter(([name]) => daemonOf(name) === daemon));

/**
 * One daemon, top to bottom: compare → stage → validate → swap → reload. Never throws for what its edges do;
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
  const result = (rest: Partial<DaemonPipelineResult>): DaemonPipelineResult => ({
    daemon,
    changed,
    written,
    validateMs,
    validation,
    reload: undefined,
    failure: undefined,
    aborted: false,
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
        try {
          validation = await options.edges.validate(daemon, staged.dir, input.spans, options.signal);
        } catch (error) {
          if (options.signal?.aborted) return result({ aborted: true });
          if (isBirdValidationTimeoutError(error)) return fail('validate', error.message, true);
          if (isBirdBinaryMissingError(error)) return fail('validate', error.message, true);
          throw error;
        } finally {
          validateMs = now() - started;
        }
        if (validation) {
          // The files on disk are the last set that passed; a reload still owed to BIRD for them is sent anyway.
          const reload =
            options.mode === 'apply' && input.reloadPending ? await options.edges.reload(daemon) : undefined;
          return result({
            reload,
            failure: { step: 'validate', message: formatValidationFailure(validation), transient: false },
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
  // The reload step: BIRD is told to load the swapped files (issue 15's configure timeout/confirm goes here).
  const reload = await options.edges.reload(daemon);
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
