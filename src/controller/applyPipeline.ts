import { setTimeout as delay } from 'node:timers/promises';
import { ApplyError } from '../apply/errors.js';
import type { StagedFileSet } from '../apply/stagingDir.js';
import { BirdBinaryMissingError, BirdValidationTimeoutError } from '../bird/errors.js';
import type { Daemon } from '../model/daemon.js';
import { daemonOf, type EntrySpan, type FileSet } from '../render/fileSet.js';
import type { DaemonPlan, ReloadStep } from './applyPlan.js';
import type { PipelineEdges, ReloadOutcome } from './edges.js';
import type { UndoRecord } from './guard/undoRecord.js';
import { formatValidationFailure, type ValidationFailure } from './validationFailure.js';

/** The named steps of one daemon's pipeline, in order (render and compare come before, per cycle). */
type PipelineStep = 'stage' | 'validate' | 'swap' | 'reload';

export interface DaemonPipelineInput {
  /** Every rendered file (every daemon's); this pipeline takes its daemon's. */
  readonly files: FileSet;
  readonly live: ReadonlyMap<string, string>;
  readonly spans: () => readonly EntrySpan[];
}

export interface PipelineContext {
  /** Where the files go (`write`/`apply`) or are compared with (`check`). */
  readonly configDir: string;
  /** Where staging dirs are made: the config dir itself, or a scratch dir for `check`. */
  readonly stageRoot: string;
  readonly edges: PipelineEdges;
  /** Aborts validation only (SIGTERM): nothing half-done is left, and swaps and reloads always finish. */
  readonly signal?: AbortSignal;
  readonly now?: () => number;
}

interface DaemonPipelineFailure {
  readonly step: PipelineStep;
  readonly message: string;
  /** Whether the same input can succeed later (a full disk, a hung bird -p, BIRD refusing configure). */
  readonly transient: boolean;
  /** The filesystem was full (ENOSPC): staged alone, after the other daemons' staging dirs are gone, it may fit. */
  readonly noSpace?: boolean;
}

/** A guarded daemon's settle window, as its pipeline leaves it to the judge step (guard/applyGuard.ts). */
export interface OpenedWindow {
  /**
   * The staged set BIRD runs under `configure timeout`, swapped in once the change is confirmed and removed
   * whatever the verdict; undefined: the files were swapped before `configure timeout` (BIRD cannot be given a
   * staged set).
   */
  readonly staged: StagedFileSet | undefined;
  /** The daemon's files the change replaces, in swap order. */
  readonly names: readonly string[];
  /** The undo record of the staged set: kept at the swap, dropped when the window ends without one. */
  readonly undo: UndoRecord | undefined;
}

/** One result per daemon and cycle: the cycle, logs, metrics, status and the CLI all read this. */
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
  /** What BIRD answered to the staged set (the `staged` method; undefined otherwise). */
  readonly stagedReload: ReloadOutcome | undefined;
  /**
   * BIRD may run a set that is not the one on disk: it took (or may have taken) the staged set, that set was not
   * swapped in, and going back to the disk's files did not land. A reload is owed.
   */
  readonly diverged: boolean;
  /** BIRD could not open the staged set (it sees the config dir elsewhere): BIRD's words; the plain path ran. */
  readonly stagedUnreadable: string | undefined;
  /** The `guarded` method: BIRD took `configure timeout`, so the settle window judges this daemon. */
  readonly windowOpened: boolean;
  /** What the judge step needs of an opened window (undefined when none opened). */
  readonly window: OpenedWindow | undefined;
}

const isNoSpace = (error: ApplyError): boolean => (error.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOSPC';

/**
 * BIRD's reply when it cannot open a file of the staged set: `8002 <file>: No such file or directory`.
 * @internal the staged-configure test checks it against BIRD's real reply.
 */
export const cannotReadStagedSet = (message: string): boolean =>
  /^8002 \S.*: (No such file or directory|Permission denied|Not a directory)$/.test(message);

/** How long validation waits for `configure` to reach BIRD's socket (a BIRD slow to greet does not hold bird -p). */
const HAND_OVER_WAIT_MS = 50;

/** Resolves when the first of `promises` settles (none rejects), or after `ms`. */
async function untilFirst(promises: readonly Promise<unknown>[], ms: number): Promise<void> {
  const timer = new AbortController();
  try {
    await Promise.race([
      ...promises.map((p) => p.then(() => undefined)),
      delay(ms, undefined, { signal: timer.signal }),
    ]);
  } finally {
    timer.abort();
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

/** A reload of new files, with its undo record written beside it and kept only when BIRD took the set. */
async function recorded(undo: UndoRecord | undefined, send: () => Promise<ReloadOutcome>): Promise<ReloadOutcome> {
  undo?.begin();
  let outcome: ReloadOutcome;
  try {
    outcome = await send();
  } catch (error) {
    await undo?.drop();
    throw error;
  }
  await (outcome.kind === 'applied' ? undo?.keep() : undo?.drop());
  return outcome;
}

/**
 * The reload step for swapped files: `configure`, or for a guarded daemon (`guard`: its marker not yet found
 * unwritable) the marker and `configure timeout` of the files on disk.
 */
async function reloadSwapped(
  step: ReloadStep,
  names: readonly string[],
  guard: boolean,
): Promise<{ reload: ReloadOutcome; window: OpenedWindow | undefined }> {
  if (guard && step.method === 'guarded' && (await step.guarded.writeMarker())) {
    const reload = await recorded(step.undo, () => step.guarded.configureTimeout(undefined));
    if (reload.kind !== 'applied') await step.guarded.removeMarker();
    return { reload, window: reload.kind === 'applied' ? { staged: undefined, names, undo: undefined } : undefined };
  }
  return { reload: await recorded(step.undo, step.configure), window: undefined };
}

type StagedWindow =
  | { readonly kind: 'opened'; readonly reload: ReloadOutcome }
  /** The marker could not be written: the change goes out unguarded (swap, then `configure`). */
  | { readonly kind: 'unguarded' }
  /** BIRD cannot open the staged files (another mount): swap, then `configure timeout` of the disk's files. */
  | { readonly kind: 'unreadable'; readonly message: string }
  | { readonly kind: 'not-taken'; readonly reload: ReloadOutcome };

/**
 * The guarded method's reload: the marker, then `configure "<staged>/bird.cfg" timeout N` — BIRD runs the staged
 * set under its timer while the disk keeps the confirmed set, so a BIRD restarted inside the window loads a set
 * birdwatch stands behind. The undo record waits for the judge (kept at the swap that follows the confirm).
 */
async function openStagedWindow(step: ReloadStep & { method: 'guarded' }, stagedDir: string): Promise<StagedWindow> {
  if (!(await step.guarded.writeMarker())) return { kind: 'unguarded' };
  step.undo?.begin();
  let reload: ReloadOutcome;
  try {
    reload = await step.guarded.configureTimeout(stagedDir);
  } catch (error) {
    await step.undo?.drop();
    await step.guarded.removeMarker();
    throw error;
  }
  if (reload.kind === 'applied') return { kind: 'opened', reload };
  await step.undo?.drop();
  await step.guarded.removeMarker();
  if (reload.kind === 'rejected' && cannotReadStagedSet(reload.message))
    return { kind: 'unreadable', message: reload.message };
  return { kind: 'not-taken', reload };
}

/**
 * One daemon, top to bottom, as its plan says: compare → stage → validate (the `staged` method: BIRD is given the
 * staged set meanwhile) → swap → reload. Never throws for what its edges do; every failure is in the result, with
 * its step. A staging dir is always removed, also on abort.
 */
export async function runDaemonPipeline(
  plan: DaemonPlan,
  input: DaemonPipelineInput,
  context: PipelineContext,
): Promise<DaemonPipelineResult> {
  const { daemon, reload: step } = plan;
  const { edges } = context;
  const now = context.now ?? (() => performance.now());
  const files = filesOf(input.files, daemon);
  const changed = [...files.keys()].filter((name) => files.get(name) !== input.live.get(name));
  let written: string[] = [];
  let validateMs: number | undefined;
  let validation: ValidationFailure | undefined;
  let stagedReload: ReloadOutcome | undefined;
  let stagedUnreadable: string | undefined;
  /** Whether a guarded daemon still goes through the guard (false once its marker could not be written). */
  let guard = true;
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
    windowOpened: false,
    window: undefined,
    ...rest,
  });
  const fail = (stepName: PipelineStep, message: string, transient: boolean): DaemonPipelineResult =>
    result({ failure: { step: stepName, message, transient } });

  if (changed.length > 0) {
    let staged: StagedFileSet | undefined;
    /** The staged set BIRD took: its undo record waits for the swap (kept) or the way back (dropped). */
    let stagedUndo: UndoRecord | undefined;
    try {
      if (plan.validate) {
        try {
          staged = await edges.stage(context.stageRoot, files);
        } catch (error) {
          if (error instanceof ApplyError)
            return result({
              failure: { step: 'stage', message: error.message, transient: true, noSpace: isNoSpace(error) },
            });
          throw error;
        }
        const started = now();
        const stagedDir = staged.dir;
        let sent: () => void = () => undefined;
        const handedOver = new Promise<void>((resolve) => (sent = resolve));
        const overlapping =
          step?.method === 'staged'
            ? settle(
                (async () => {
                  step.undo?.begin();
                  try {
                    const outcome = await step.configureStaged(stagedDir, () => sent());
                    if (outcome.kind === 'applied') stagedUndo = step.undo;
                    else await step.undo?.drop();
                    return outcome;
                  } catch (error) {
                    await step.undo?.drop();
                    throw error;
                  }
                })(),
              )
            : undefined;
        // Spawning bird -p blocks this thread for milliseconds: BIRD gets its command first, and parses meanwhile.
        if (overlapping) await untilFirst([handedOver, overlapping], HAND_OVER_WAIT_MS);
        let checked: Settled<ValidationFailure | undefined>;
        try {
          checked = await settle(edges.validate(daemon, stagedDir, input.spans, context.signal));
        } finally {
          validateMs = now() - started;
        }
        const early = await overlapping;
        if (early && !early.ok) throw early.error;
        stagedReload = early?.value;
        // BIRD took (or may have taken) a set that is not going to the disk: it is told to load the disk's again.
        const goBack = async (): Promise<{ reload: ReloadOutcome | undefined; diverged: boolean }> => {
          if (!step || (stagedReload?.kind !== 'applied' && stagedReload?.kind !== 'garbled'))
            return { reload: undefined, diverged: false };
          await stagedUndo?.drop();
          stagedUndo = undefined;
          const reload = await step.configure();
          return { reload, diverged: reload.kind !== 'applied' };
        };
        if (!checked.ok) {
          const error = checked.error;
          const back = await goBack();
          if (context.signal?.aborted) return result({ ...back, aborted: true });
          if (error instanceof BirdValidationTimeoutError || error instanceof BirdBinaryMissingError)
            return result({ ...back, failure: { step: 'validate', message: error.message, transient: true } });
          throw error;
        }
        validation = checked.value;
        if (validation) {
          let back = await goBack();
          // The files on disk are the last set that passed; a reload still owed to BIRD for them is sent anyway.
          if (back.reload === undefined && step?.owed) back = { reload: await step.configure(), diverged: false };
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
      if (staged && step?.method === 'guarded' && step.stagedSet && plan.swap) {
        // Stopping before BIRD was told: nothing is sent and nothing swapped (the next start applies it).
        if (context.signal?.aborted) return result({ aborted: true });
        const opened = await openStagedWindow(step, staged.dir);
        switch (opened.kind) {
          case 'opened': {
            const window: OpenedWindow = { staged, names: changed, undo: step.undo };
            staged = undefined; // the judge swaps it in, or removes it
            return result({ reload: opened.reload, windowOpened: true, window });
          }
          case 'unguarded':
            guard = false;
            break;
          case 'unreadable':
            stagedUnreadable = opened.message;
            break;
          case 'not-taken': {
            const reload = opened.reload;
            if (reload.kind === 'unreachable')
              // BIRD may have taken it under its timer (and reverts by itself): owed a reload of the disk's set.
              return result({ reload, diverged: true });
            const message =
              reload.kind === 'rejected'
                ? `${daemon} refused the staged configuration that ${daemon} -p accepted: ${reload.message.replaceAll(`${staged.dir}/`, '')}`
                : reload.message;
            return result({
              reload,
              diverged: reload.kind === 'garbled',
              failure: { step: 'reload', message, transient: true },
            });
          }
        }
      }
      if (!plan.swap) return result({});
      try {
        if (staged) await edges.swap(context.configDir, staged.dir, changed);
        else await edges.write(context.configDir, new Map(changed.map((name) => [name, files.get(name)!])));
        written = changed;
      } catch (error) {
        if (!(error instanceof ApplyError)) throw error;
        written = [...error.replaced];
        return fail('swap', error.message, true);
      } finally {
        // Swapped, or part-way: BIRD runs the staged set either way, and `undo` must lead back to the old one.
        await stagedUndo?.keep();
      }
    } finally {
      await staged?.remove().catch(() => undefined);
    }
  }
  if (!step || (changed.length === 0 && !step.owed)) return result({});
  // The reload step: BIRD is told to load the swapped files — unless it already loaded the same set, staged.
  let window: OpenedWindow | undefined;
  let reload = stagedReload;
  if (!reload) {
    if (changed.length > 0) ({ reload, window } = await reloadSwapped(step, changed, guard));
    else reload = await step.configure();
  }
  switch (reload.kind) {
    case 'applied':
    case 'unreachable': // not a failure of the configuration: the reload stays pending and is retried
      return result({ reload, windowOpened: window !== undefined, window });
    case 'rejected':
      return result({
        reload,
        failure: { step: 'reload', message: `${daemon} refused the configuration: ${reload.message}`, transient: true },
      });
    case 'garbled':
      return result({ reload, failure: { step: 'reload', message: reload.message, transient: true } });
  }
}
