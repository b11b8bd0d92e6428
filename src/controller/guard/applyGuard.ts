import { join } from 'node:path';
import { ApplyError } from '../../apply/errors.js';
import { errorMessage } from '../../errorMessage.js';
import type { Keyspace } from '../../model/keyspaceIndex.js';
import { MAIN_FILE, type Daemon } from '../../model/daemon.js';
import type { Logger } from '../../observe/logger.js';
import type { TemplateError } from '../../render/errors.js';
import { daemonOf, type FileSet } from '../../render/fileSet.js';
import type { CompiledTemplateSet } from '../../render/templateSet.js';
import type { Clock } from '../clock.js';
import { summarizeConfigChange, type StatementSource } from '../diffSummary.js';
import type { OpenedWindow } from '../applyPipeline.js';
import { restartedSince } from '../birdRunState.js';
import type { BirdRunState, GuardEdges, PipelineEdges, ReloadOutcome } from '../edges.js';
import { classifyDaemonChange } from './applyPath.js';
import { GuardHolds } from './holds.js';
import { removeGuardMarker, writeGuardMarker } from './marker.js';
import type { ApplyGuardSettings } from './settings.js';
import { SettleWindow } from './settleWindow.js';
import type { GuardSnapshot } from './settleVerdict.js';
import { replacedFiles, UndoRecord } from './undoRecord.js';
import type { GuardedDaemon, GuardedReload, GuardJudgement, JudgeInput } from './judgement.js';
import { recoverSettleWindows, type RecoveredWindows } from './recoverWindows.js';
import type { LogEvent } from '../../observe/logEvents.js';

type Templates = CompiledTemplateSet | TemplateError;

export interface ApplyGuardOptions {
  readonly settings: ApplyGuardSettings;
  readonly edges: GuardEdges;
  readonly daemons: readonly Daemon[];
  readonly configDir: string;
  readonly log: Logger;
  /** Puts files back (the pipeline's durable write). */
  readonly write: PipelineEdges['write'];
  /** Swaps a confirmed staged set into the config dir (the pipeline's swap). */
  readonly swap: PipelineEdges['swap'];
  /** A plain `configure`: BIRD loads the files on disk (after an undo or confirm BIRD could not honour). */
  readonly reload: (daemon: Daemon) => Promise<ReloadOutcome>;
  readonly clock?: Clock;
}

const filesOf = (files: ReadonlyMap<string, string>, daemon: Daemon): Record<string, string> =>
  Object.fromEntries([...files].filter(([name]) => daemonOf(name) === daemon));

/**
 * The apply guard of one `run` (README "The apply guard"): recovers a settle window a stopped birdwatch left,
 * chooses the daemons whose change is guarded, prepares their reload (marker + `configure timeout`) and every
 * reload's undo record, then runs the settle window and confirms, or undoes, puts the files back and holds back
 * what the revert is pinned on (GuardHolds).
 */
export class ApplyGuard {
  readonly holds: GuardHolds;
  readonly #window: SettleWindow;
  #recovered = false;
  /** Which BIRD took each open window's `configure timeout` (undefined: it did not say). */
  readonly #openedBy = new Map<Daemon, BirdRunState | undefined>();
  /**
   * The sessions Established before a window a BIRD restart cut short: the change goes out again under the guard
   * and they are expected back, although the restarted BIRD has not brought them up yet.
   */
  readonly #expectedBack = new Map<Daemon, GuardSnapshot>();
  /** Windows abandoned (a restart, a confirm that did not land) since the last verdict: a second is a revert. */
  readonly #restartCuts = new Map<Daemon, number>();

  constructor(
    private readonly options: ApplyGuardOptions,
    templates: Templates,
  ) {
    this.#window = new SettleWindow(options.settings, options.edges, options.clock);
    this.holds = new GuardHolds(options.configDir, options.log, templates);
  }

  get timeoutS(): number {
    return this.#window.timeoutS;
  }

  /**
   * Before each cycle: a window a stopped birdwatch left (once), the holds it kept, and holds whose subject
   * changed. True when files were put back (the live files must be read again).
   */
  async prepare(keyspace: Keyspace, templates: Templates): Promise<boolean> {
    const recovered: RecoveredWindows = this.#recovered
      ? { daemons: [], previousValues: new Map() }
      : await recoverSettleWindows(this.options);
    this.#recovered = true;
    await this.holds.load(keyspace, recovered.previousValues);
    await this.holds.release(keyspace, templates);
    return recovered.daemons.length > 0;
  }

  /**
   * Which daemons this round guards: a guarded change, the guard on, and a session Established to protect (or
   * expected back after a window a restart cut short). `open`: daemons whose window is already open this cycle.
   */
  async choose(
    before: ReadonlyMap<string, string>,
    files: FileSet,
    statements?: StatementSource,
    open: ReadonlySet<Daemon> = new Set(),
  ): Promise<Map<Daemon, GuardedDaemon>> {
    const guarded = new Map<Daemon, GuardedDaemon>();
    if (!this.options.settings.enabled) return guarded;
    for (const change of summarizeConfigChange(before, files, statements).daemons) {
      if (open.has(change.daemon)) continue;
      const path = classifyDaemonChange(change);
      if (path.path !== 'guarded') continue;
      const snapshot = (await this.#window.before(change.daemon)) ?? this.#expectedBack.get(change.daemon);
      if (snapshot === undefined) continue; // nothing Established to protect: the fast path
      guarded.set(change.daemon, { before: snapshot, reasons: path.reasons, change, live: before });
    }
    return guarded;
  }

  /** The guarded reload of `daemon`: its marker records the files BIRD runs, to be recovered after a kill. */
  reloadFor(daemon: Daemon, live: ReadonlyMap<string, string>, keyspace: Keyspace): GuardedReload {
    const { configDir, log, edges } = this.options;
    const marker = {
      daemon,
      previous: filesOf(live, daemon),
      timeoutS: this.timeoutS,
      previousValues: this.holds.changedSinceApplied(keyspace),
    };
    return {
      writeMarker: async () => {
        try {
          await writeGuardMarker(configDir, { ...marker, at: Date.now() });
          return true;
        } catch (error) {
          // Without the marker a birdwatch killed mid-window could not recover: apply unguarded instead.
          log.error(
            { component: 'guard', daemon, event: 'guard-marker-failed' satisfies LogEvent },
            `cannot write the guard marker (${errorMessage(error)}); applying without the guard`,
          );
          return false;
        }
      },
      configureTimeout: async (stagedDir) => {
        const path = stagedDir === undefined ? undefined : join(stagedDir, MAIN_FILE[daemon]);
        const reload = await edges.configureTimeout(daemon, this.timeoutS, path);
        // Which BIRD runs the change under its timer: another one at the verdict was restarted inside the window.
        if (reload.kind === 'applied') this.#openedBy.set(daemon, await this.#incarnation(daemon));
        return reload;
      },
      removeMarker: () => removeGuardMarker(configDir, daemon).catch(() => undefined),
    };
  }

  /** The record `birdwatch undo` puts back: the files `daemon` runs before a reload of new files. */
  undoRecordFor(daemon: Daemon, live: ReadonlyMap<string, string>): UndoRecord {
    const { configDir, log } = this.options;
    return new UndoRecord(configDir, daemon, filesOf(live, daemon), (error) =>
      log.warn(
        { component: 'guard', daemon, event: 'undo-record-failed' satisfies LogEvent },
        `cannot record ${daemon}'s previous files for birdwatch undo: ${errorMessage(error)}`,
      ),
    );
  }

  /**
   * The settle window of every daemon whose window opened (side by side), then per daemon `configure confirm`,
   * or `configure undo`, its previous files put back, and what the revert is pinned on held back.
   */
  async judge(input: JudgeInput): Promise<GuardJudgement[]> {
    const daemons = [...input.opened.keys()].filter((d) => input.guarded.has(d));
    if (daemons.length === 0) return [];
    const { settings, log } = this.options;
    input.onWindow({ daemons, since: input.now(), windowMs: settings.windowMs });
    for (const daemon of daemons)
      log.info(
        {
          component: 'guard',
          daemon,
          event: 'guard-window' satisfies LogEvent,
          reasons: input.guarded.get(daemon)!.reasons,
          timeoutS: this.timeoutS,
        },
        `guarded apply: ${daemon} runs the new configuration under configure timeout ${this.timeoutS} s; watching its sessions for ${(settings.windowMs / 1000).toFixed(1)} s`,
      );
    let judged: GuardJudgement[];
    try {
      judged = await Promise.all(daemons.map((daemon) => this.#judgeOne(daemon, input)));
    } finally {
      input.onWindow(undefined);
    }
    for (const [i, j] of judged.entries())
      if (j.verdict === 'reverted') judged[i] = { ...j, failure: await this.holds.holdBackReverted(j, input) };
    return judged;
  }

  /**
   * One daemon's window: the settle window, then — BIRD restarted inside it: nothing to confirm or undo, BIRD runs
   * the files on disk (the confirmed set) and the change goes out again; a good verdict: `configure confirm`, then
   * the staged set is swapped in; a bad one (or SIGTERM): `configure undo`. A confirm or undo BIRD cannot honour
   * (`0019 Nothing to do`: restarted, or its timer gone) is followed by a plain `configure` of the disk's files.
   */
  async #judgeOne(daemon: Daemon, input: JudgeInput): Promise<GuardJudgement> {
    const { edges } = this.options;
    const plan = input.guarded.get(daemon)!;
    const window = input.opened.get(daemon)!;
    let committed = false;
    try {
      const outcome = await this.#window.settle({
        daemon,
        before: plan.before,
        removed: new Set(plan.change.removed),
        signal: input.signal,
        tick: input.tick,
      });
      const restart = outcome.kind === 'verdict' ? await this.#restartedSince(daemon) : undefined;
      const cuts = this.#restartCuts.get(daemon) ?? 0;
      if (restart !== undefined && cuts === 0)
        return await this.#abandon(daemon, input, outcome.settleMs, 'restarted', restart);
      if (outcome.kind === 'verdict' && outcome.verdict.ok && restart === undefined) {
        const confirm = await edges.confirm(daemon).catch((error: unknown) => ({
          outcome: 'refused' as const,
          message: errorMessage(error),
        }));
        if (confirm.outcome !== 'confirmed' && cuts === 0)
          return await this.#abandon(daemon, input, outcome.settleMs, 'confirm', confirm.message);
        if (confirm.outcome !== 'confirmed')
          return await this.#revert(
            daemon,
            input,
            'reverted',
            `configure confirm did not land again (${confirm.message})`,
            outcome.settleMs,
          );
        const judged = await this.#commit(daemon, window, outcome.verdict.summary, outcome.settleMs);
        committed = judged.committed.length > 0;
        return judged;
      }
      const summary =
        outcome.kind === 'interrupted'
          ? 'the settle window was cut short (shutdown)'
          : restart !== undefined
            ? `${daemon} restarted inside the settle window again (${restart})`
            : outcome.verdict.summary;
      return await this.#revert(
        daemon,
        input,
        outcome.kind === 'verdict' ? 'reverted' : 'interrupted',
        summary,
        outcome.settleMs,
      );
    } finally {
      this.#openedBy.delete(daemon);
      await window.staged?.remove().catch(() => undefined);
      if (!committed) await window.undo?.drop();
    }
  }

  /** After a confirm: the staged set goes onto the disk (the swap follows the confirm), then the marker goes. */
  async #commit(daemon: Daemon, window: OpenedWindow, summary: string, settleMs: number): Promise<GuardJudgement> {
    const { configDir, log, swap } = this.options;
    this.#verdictReached(daemon);
    let committed: string[] = [];
    let failure: GuardJudgement['failure'];
    if (window.staged) {
      try {
        await swap(configDir, window.staged.dir, window.names);
        committed = [...window.names];
        await window.undo?.keep();
      } catch (error) {
        committed = error instanceof ApplyError ? [...error.replaced] : [];
        if (committed.length > 0) await window.undo?.keep();
        const message = `the guarded apply of ${daemon} was confirmed but its files could not be swapped in: ${errorMessage(error)}; ${daemon} runs the new configuration, the disk keeps the previous one until the next cycle`;
        log.error({ component: 'guard', daemon, event: 'guard-swap-failed' satisfies LogEvent }, message);
        failure = { message, retry: true };
      }
    }
    // A birdwatch killed before this line finds the marker at its next start and undoes: BIRD and disk agree again.
    await removeGuardMarker(configDir, daemon).catch(() => undefined);
    log.info(
      {
        component: 'guard',
        daemon,
        holdMs: Math.round(settleMs),
        event: 'guard-confirmed' satisfies LogEvent,
        files: committed,
      },
      `guarded apply confirmed: ${summary}`,
    );
    return {
      daemon,
      verdict: 'confirmed',
      summary,
      settleMs,
      restored: undefined,
      committed,
      reloadNeeded: failure !== undefined,
      failure,
      drift: undefined,
    };
  }

  /**
   * BIRD no longer runs the change under its timer — it restarted inside the window (and loaded the files on disk),
   * or `configure confirm` found nothing to confirm: no verdict on the change. The files BIRD ran go back on disk
   * (when they had been swapped), BIRD is told to load them, and the change goes out again under the guard.
   */
  async #abandon(
    daemon: Daemon,
    input: JudgeInput,
    settleMs: number,
    cause: 'restarted' | 'confirm',
    detail: string,
  ): Promise<GuardJudgement> {
    const { configDir, log } = this.options;
    const plan = input.guarded.get(daemon)!;
    this.#restartCuts.set(daemon, (this.#restartCuts.get(daemon) ?? 0) + 1);
    this.#expectedBack.set(daemon, plan.before);
    const restored = await this.#putBack(daemon, input);
    const reload = await this.options.reload(daemon);
    await removeGuardMarker(configDir, daemon).catch(() => undefined);
    const summary =
      cause === 'restarted'
        ? `${daemon} restarted inside the settle window (${detail}) and loaded the files on disk, the last confirmed set`
        : `configure confirm did not land (${detail}): ${daemon} no longer ran the change under its timer`;
    const drift = `${summary}; the change goes out again under the guard`;
    log.warn(
      {
        component: 'guard',
        daemon,
        event: 'guard-window-abandoned' satisfies LogEvent,
        cause,
        reload: reload.message,
        files: restored,
        holdMs: Math.round(settleMs),
      },
      `guarded apply interrupted: ${summary}; told ${daemon} to load the files on disk (${reload.message}); applying the change again under the guard`,
    );
    return {
      daemon,
      verdict: 'interrupted',
      summary,
      settleMs,
      restored,
      committed: [],
      reloadNeeded: true,
      failure: undefined,
      drift,
    };
  }

  /**
   * A bad verdict or SIGTERM: `configure undo`, the files BIRD ran back on disk (where they had been swapped), and
   * BIRD told to load them when the undo found nothing to undo.
   */
  async #revert(
    daemon: Daemon,
    input: JudgeInput,
    verdict: 'reverted' | 'interrupted',
    summary: string,
    settleMs: number,
  ): Promise<GuardJudgement> {
    const { configDir, log, edges } = this.options;
    if (verdict === 'reverted') this.#verdictReached(daemon);
    const undo = await edges.undo(daemon).catch((error: unknown) => ({
      outcome: 'refused' as const,
      message: errorMessage(error),
    }));
    const restored = await this.#putBack(daemon, input);
    // `0019 Nothing to do`: BIRD restarted or reverted by itself — it is told to load the disk's files, to be sure.
    const reload = undo.outcome === 'nothing-to-do' ? await this.options.reload(daemon) : undefined;
    const reloadNeeded = reload ? reload.kind !== 'applied' : undo.outcome === 'refused';
    // The disk holds what BIRD should run: a BIRD that did not answer is reloaded from it (next cycle, next start).
    if (restored !== undefined) await removeGuardMarker(configDir, daemon).catch(() => undefined);
    const told = reload ? `; told ${daemon} to load the files on disk (${reload.message})` : '';
    (verdict === 'reverted' ? log.error.bind(log) : log.warn.bind(log))(
      {
        component: 'guard',
        daemon,
        event: (verdict === 'reverted' ? 'guard-reverted' : 'guard-interrupted') satisfies LogEvent,
        undo: undo.message,
        reload: reload?.message,
        files: restored,
        holdMs: Math.round(settleMs),
      },
      `guarded apply ${verdict}: ${summary}; sent configure undo (${undo.message}) and put back the files ${daemon} runs${told}`,
    );
    return {
      daemon,
      verdict,
      summary,
      settleMs,
      restored,
      committed: [],
      reloadNeeded,
      failure: undefined,
      drift: undefined,
    };
  }

  /** The files BIRD ran before the change, back where they were swapped (BIRD could not be given the staged set). */
  async #putBack(daemon: Daemon, input: JudgeInput): Promise<string[] | undefined> {
    const { configDir, log, write } = this.options;
    const previous = replacedFiles(input.written.get(daemon) ?? [], input.guarded.get(daemon)!.live);
    try {
      await write(configDir, previous);
      return [...previous.keys()];
    } catch (error) {
      log.error(
        { component: 'guard', daemon, event: 'guard-put-back-failed' satisfies LogEvent },
        `cannot put back ${daemon}'s previous files after the undo: ${errorMessage(error)}`,
      );
      return undefined;
    }
  }

  /** A verdict on the change: sessions no longer expected back, restart count cleared. */
  #verdictReached(daemon: Daemon): void {
    this.#expectedBack.delete(daemon);
    this.#restartCuts.delete(daemon);
  }

  /** Which BIRD runs now (undefined: it did not answer). */
  async #incarnation(daemon: Daemon): Promise<BirdRunState | undefined> {
    return this.options.edges.status(daemon).catch(() => undefined);
  }

  /** How BIRD restarted since the window opened (undefined: the same BIRD, or it cannot tell). */
  async #restartedSince(daemon: Daemon): Promise<string | undefined> {
    const opened = this.#openedBy.get(daemon);
    if (opened === undefined) return undefined;
    const now = await this.#incarnation(daemon);
    return now !== undefined && restartedSince(opened, now) ? `it started again at ${now.startedAt}` : undefined;
  }
}
