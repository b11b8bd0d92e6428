import { errorMessage } from '../../errorMessage.js';
import type { Keyspace } from '../../model/keyspaceIndex.js';
import type { Daemon } from '../../model/daemon.js';
import type { Logger } from '../../observe/logger.js';
import type { GuardWindow } from '../../observe/runStatus.js';
import type { TemplateError } from '../../render/errors.js';
import { daemonOf, type FileSet } from '../../render/fileSet.js';
import type { CompiledTemplateSet } from '../../render/templateSet.js';
import type { Clock } from '../clock.js';
import { summarizeConfigChange, type DaemonChange, type StatementSource } from '../diffSummary.js';
import type { GuardEdges, PipelineEdges, ReloadOutcome } from '../edges.js';
import type { RenderOutcome } from '../roleRenderer.js';
import { classifyDaemonChange } from './applyPath.js';
import { blameEntries } from './blame.js';
import { GuardHolds, holdName } from './holds.js';
import { readGuardMarker, removeGuardMarker, writeGuardMarker } from './marker.js';
import type { ApplyGuardSettings } from './settings.js';
import { SettleWindow } from './settleWindow.js';
import type { GuardSnapshot } from './settleVerdict.js';
import { replacedFiles, UndoRecord } from './undoRecord.js';

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
  configureTimeout(): Promise<ReloadOutcome>;
  /** BIRD did not take `configure timeout`: there is no window to recover. */
  removeMarker(): Promise<void>;
}

export interface GuardJudgement {
  readonly daemon: Daemon;
  readonly verdict: 'confirmed' | 'reverted' | 'interrupted';
  readonly summary: string;
  /** How long the settle window ran before the verdict. */
  readonly settleMs: number;
  /** Files put back after the undo (undefined: none, or they could not be written: the live set is unknown). */
  readonly restored: readonly string[] | undefined;
  /** BIRD's state is not known to match the files (a confirm or undo that did not land): reload next cycle. */
  readonly reloadNeeded: boolean;
  /** A revert: the daemon's failure, naming what is held back (retry: the rest of the change can go out now). */
  readonly failure: { readonly message: string; readonly retry: boolean } | undefined;
}

export interface ApplyGuardOptions {
  readonly settings: ApplyGuardSettings;
  readonly edges: GuardEdges;
  readonly daemons: readonly Daemon[];
  readonly configDir: string;
  readonly log: Logger;
  /** Puts files back (the pipeline's durable write). */
  readonly write: PipelineEdges['write'];
  readonly clock?: Clock;
}

export interface JudgeInput {
  /** Each guarded daemon's first plan this cycle (its sessions before the first `configure timeout`). */
  readonly guarded: ReadonlyMap<Daemon, GuardedDaemon>;
  /** Daemons whose `configure timeout` BIRD took this cycle: their window runs now. */
  readonly opened: ReadonlySet<Daemon>;
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
    const recovered = await this.#recover();
    await this.holds.load(keyspace, recovered.previousValues);
    await this.holds.release(keyspace, templates);
    return recovered.daemons.length > 0;
  }

  /** Which daemons this round guards: a guarded change, the guard on, and a session Established to protect. */
  async choose(
    before: ReadonlyMap<string, string>,
    files: FileSet,
    statements?: StatementSource,
  ): Promise<Map<Daemon, GuardedDaemon>> {
    const guarded = new Map<Daemon, GuardedDaemon>();
    if (!this.options.settings.enabled) return guarded;
    for (const change of summarizeConfigChange(before, files, statements).daemons) {
      const path = classifyDaemonChange(change);
      if (path.path !== 'guarded') continue;
      const snapshot = await this.#window.before(change.daemon);
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
            { component: 'guard', daemon },
            `cannot write the guard marker (${errorMessage(error)}); applying without the guard`,
          );
          return false;
        }
      },
      configureTimeout: () => edges.configureTimeout(daemon, this.timeoutS),
      removeMarker: () => removeGuardMarker(configDir, daemon).catch(() => undefined),
    };
  }

  /** The record `birdwatch undo` puts back: the files `daemon` runs before a reload of new files. */
  undoRecordFor(daemon: Daemon, live: ReadonlyMap<string, string>): UndoRecord {
    const { configDir, log } = this.options;
    return new UndoRecord(configDir, daemon, filesOf(live, daemon), (error) =>
      log.warn(
        { component: 'guard', daemon },
        `cannot record ${daemon}'s previous files for birdwatch undo: ${errorMessage(error)}`,
      ),
    );
  }

  /**
   * The settle window of every daemon whose window opened (side by side), then per daemon `configure confirm`,
   * or `configure undo`, its previous files put back, and what the revert is pinned on held back.
   */
  async judge(input: JudgeInput): Promise<GuardJudgement[]> {
    const daemons = [...input.opened].filter((d) => input.guarded.has(d));
    if (daemons.length === 0) return [];
    const { settings, log } = this.options;
    input.onWindow({ daemons, since: input.now(), windowMs: settings.windowMs });
    for (const daemon of daemons)
      log.info(
        { component: 'guard', daemon, reasons: input.guarded.get(daemon)!.reasons, timeoutS: this.timeoutS },
        `guarded apply: ${daemon} runs the new configuration under configure timeout ${this.timeoutS} s; watching its sessions for ${(settings.windowMs / 1000).toFixed(1)} s`,
      );
    let judged: GuardJudgement[];
    try {
      judged = await Promise.all(daemons.map((daemon) => this.#judgeOne(daemon, input)));
    } finally {
      input.onWindow(undefined);
    }
    for (const [i, j] of judged.entries())
      if (j.verdict === 'reverted') judged[i] = { ...j, failure: await this.#holdBack(j, input) };
    return judged;
  }

  async #judgeOne(daemon: Daemon, input: JudgeInput): Promise<GuardJudgement> {
    const { configDir, log, edges, write } = this.options;
    const plan = input.guarded.get(daemon)!;
    const outcome = await this.#window.settle({
      daemon,
      before: plan.before,
      removed: new Set(plan.change.removed),
      signal: input.signal,
      tick: input.tick,
    });
    const judgement = { daemon, summary: '', settleMs: outcome.settleMs, restored: undefined, failure: undefined };
    if (outcome.kind === 'verdict' && outcome.verdict.ok) {
      const confirm = await edges.confirm(daemon).catch((error: unknown) => ({
        outcome: 'refused' as const,
        message: errorMessage(error),
      }));
      await removeGuardMarker(configDir, daemon).catch(() => undefined);
      const landed = confirm.outcome === 'confirmed';
      if (landed)
        log.info(
          { component: 'guard', daemon, holdMs: Math.round(outcome.settleMs) },
          `guarded apply confirmed: ${outcome.verdict.summary}`,
        );
      // The timer was gone (BIRD restarted, or the margin passed) or BIRD did not answer: reload to be sure.
      else
        log.warn(
          { component: 'guard', daemon, confirm: confirm.message },
          `guarded apply judged good but configure confirm did not land (${confirm.message}); ${daemon} will be reloaded`,
        );
      return { ...judgement, verdict: 'confirmed', summary: outcome.verdict.summary, reloadNeeded: !landed };
    }
    const summary = outcome.kind === 'verdict' ? outcome.verdict.summary : 'the settle window was cut short (shutdown)';
    const undo = await edges.undo(daemon).catch((error: unknown) => ({
      outcome: 'refused' as const,
      message: errorMessage(error),
    }));
    const previous = replacedFiles(input.written.get(daemon) ?? [], plan.live);
    let restored: string[] | undefined;
    try {
      await write(configDir, previous);
      restored = [...previous.keys()];
      await removeGuardMarker(configDir, daemon);
    } catch (error) {
      log.error(
        { component: 'guard', daemon },
        `cannot put back ${daemon}'s previous files after the undo: ${errorMessage(error)}`,
      );
    }
    const verdict = outcome.kind === 'verdict' ? 'reverted' : 'interrupted';
    (verdict === 'reverted' ? log.error.bind(log) : log.warn.bind(log))(
      { component: 'guard', daemon, undo: undo.message, files: restored, holdMs: Math.round(outcome.settleMs) },
      `guarded apply ${verdict}: ${summary}; sent configure undo (${undo.message}) and put back the files ${daemon} runs`,
    );
    return { ...judgement, verdict, summary, restored, reloadNeeded: undo.outcome === 'refused' };
  }

  async #holdBack(j: GuardJudgement, input: JudgeInput): Promise<{ message: string; retry: boolean }> {
    const plan = input.guarded.get(j.daemon)!;
    const { rendered, keyspace } = input;
    const reason = `the apply guard reverted ${j.daemon}'s new configuration (${plan.reasons.join(', ')}): ${j.summary}`;
    const blamed = blameEntries(j.daemon, plan.live, rendered.files, rendered.spans(), plan.change.added, (key) =>
      keyspace.has(key),
    );
    const holds = await this.holds.holdBack(
      { daemon: j.daemon, reason, blamed },
      keyspace,
      input.templates,
      rendered.files,
    );
    const held = holds.map(holdName);
    this.options.log.error(
      { component: 'guard', daemon: j.daemon, blamed: held },
      `holding back ${held.join(', ')} until ${held.length === 1 ? 'it changes' : 'they change'}: ${reason}`,
    );
    return { message: `${reason}; held back: ${held.join(', ')}`, retry: holds[0]?.kind !== 'rendering' };
  }

  /**
   * Once, before the first cycle: a marker left by a birdwatch stopped inside a settle window. BIRD reverted by
   * itself (or is told to now: `configure undo` answers `Nothing to do` when it already did), and the files it
   * runs are put back, so the cycle that follows sees the change again and guards it again.
   */
  async #recover(): Promise<{ daemons: Daemon[]; previousValues: Map<string, string | undefined> }> {
    const recovered: Daemon[] = [];
    const previousValues = new Map<string, string | undefined>();
    if (this.#recovered) return { daemons: recovered, previousValues };
    this.#recovered = true;
    const { configDir, log, edges, write } = this.options;
    for (const daemon of this.options.daemons) {
      const marker = await readGuardMarker(configDir, daemon);
      if (!marker) continue;
      for (const [key, value] of Object.entries(marker.previousValues ?? {}))
        previousValues.set(key, value ?? undefined);
      const undo = await edges.undo(daemon).then(
        (r) => r.message,
        (error: unknown) => `not sent (${errorMessage(error)})`,
      );
      try {
        await write(configDir, new Map(Object.entries(marker.previous)));
        await removeGuardMarker(configDir, daemon);
        recovered.push(daemon);
        log.warn(
          { component: 'guard', daemon, undo, files: Object.keys(marker.previous) },
          `a previous birdwatch stopped inside a settle window (configure timeout ${marker.timeoutS} s at ${new Date(marker.at).toISOString()}): ${daemon} reverts by itself; put back the files it runs`,
        );
      } catch (error) {
        log.error(
          { component: 'guard', daemon },
          `cannot put back ${daemon}'s files after an interrupted settle window: ${errorMessage(error)}`,
        );
      }
    }
    return { daemons: recovered, previousValues };
  }
}
