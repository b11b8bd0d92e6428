import { LiveFiles } from '../apply/liveFileSet.js';
import { errorMessage } from '../errorMessage.js';
import type { Daemon } from '../model/daemon.js';
import { NodeConfigError } from '../model/errors.js';
import { keyspaceOverlay } from '../model/keyspaceOverlay.js';
import { RenderedKeyspaceChanges } from '../model/keyspaceChanges.js';
import { keyspaceWithout } from '../model/keyspaceView.js';
import type { FailureKind } from '../observe/failureKind.js';
import { TemplateError } from '../render/errors.js';
import { daemonOf, type FileSet } from '../render/fileSet.js';
import { StatementMemo } from '../render/statementMemo.js';
import type { CompiledTemplateSet } from '../render/templateSet.js';
import { runDaemonPipeline, type DaemonPipelineResult } from './applyPipeline.js';
import { daemonChanged, planDaemon, type DaemonPlan } from './applyPlan.js';
import { finishedResult, renderFailedResult, type CycleResult } from './cycleResult.js';
import { DaemonReporter } from './daemonReporter.js';
import type { ApplyOptions, ConfigApplierOptions } from './cycleOptions.js';
import { ApplyGuard } from './guard/applyGuard.js';
import type { GuardedDaemon, GuardJudgement } from './guard/judgement.js';
import { replacedFiles } from './guard/undoRecord.js';
import { CycleRounds, Quarantine } from './quarantine.js';
import type { BirdDrift } from './birdWatcher.js';
import { ReloadModes } from './reloadModes.js';
import { removeAbsentDaemonFiles } from './removeAbsentDaemonFiles.js';
import { stageAloneWhereFull } from './stageAlone.js';
import type { RenderOutcome, RoleSession } from './roleRenderer.js';
import type { LogEvent } from '../observe/logEvents.js';

type Templates = CompiledTemplateSet | TemplateError;

/**
 * The cycle (ARCHITECTURE.md, "The path of a change"), run by `run`, `run --once`, `render --out` and `render
 * --diff` alike. Its parts: the quarantine, the reload-mode memory, the apply guard (and its holds), the reporter.
 * The state it owns: the reloads each daemon is owed, the files last seen on disk, the templates.
 */
export class ConfigApplier {
  #templates: Templates;
  #cycles = 0;
  readonly #daemons: readonly Daemon[];
  readonly #apply: ApplyOptions | undefined;
  readonly #live: LiveFiles;
  /** Daemons BIRD has not confirmed the files on disk for (a start, a swap, BIRD unreachable): a reload is owed. */
  readonly #reloadOwed: Set<Daemon>;
  readonly #quarantine: Quarantine;
  readonly #modes: ReloadModes | undefined;
  readonly #guard: ApplyGuard | undefined;
  readonly #reporter: DaemonReporter;
  /** The files' statements, parsed from their last parse (the guard's choice and the applied log compare them). */
  readonly #statements = new StatementMemo();
  readonly #renderedChanges = new RenderedKeyspaceChanges();
  /** The role's renders for this applier alone: the changed keys above count from its last render. */
  readonly #renderer: RoleSession;
  readonly #now: () => number;
  /** The files of daemons this role does not run are gone (checked once, after the first cycle that applied). */
  #absentFilesRemoved = false;

  constructor(
    private readonly options: ConfigApplierOptions,
    templates: Templates,
  ) {
    const { mode, configDir, log } = options;
    this.#templates = templates;
    this.#daemons = options.role.daemons;
    this.#renderer = options.role.session();
    this.#apply = mode.kind === 'apply' ? mode : undefined;
    this.#live = new LiveFiles(configDir);
    this.#reloadOwed = new Set(this.#daemons);
    this.#quarantine = new Quarantine(log, options.maxQuarantinePerCycle);
    this.#reporter = new DaemonReporter(options.status, log);
    this.#now = options.now ?? (() => performance.now());
    if (mode.kind !== 'apply') return;
    const stageRoot = options.stageRoot ?? configDir;
    this.#modes = new ReloadModes(this.#daemons, { overlap: mode.overlap ?? true, stageRoot }, log);
    if (mode.guard)
      this.#guard = new ApplyGuard(
        {
          ...mode.guard,
          daemons: this.#daemons,
          configDir,
          log,
          write: options.edges.write,
          swap: options.edges.swap,
          reload: (daemon) => mode.bird.reload(daemon),
        },
        templates,
      );
  }

  setTemplates(templates: Templates): void {
    this.#templates = templates;
  }

  /** SIGHUP: re-read every file, and reload every daemon once (BIRD may have been restarted on other files). */
  forgetLiveState(): void {
    this.#live.forget();
    for (const daemon of this.#daemons) this.#reloadOwed.add(daemon);
    this.#publish();
  }

  /**
   * The BIRD watcher found `daemon` running something birdwatch did not give it (restarted, reconfigured by
   * someone else) or its files changed on disk: `/readyz` says so until the next cycle puts it right; a BIRD that
   * may run other files is owed a reload.
   */
  drifted(daemon: Daemon, drift: BirdDrift): void {
    if (drift.cause !== 'files') this.#reloadOwed.add(daemon);
    this.#reporter.drifted(daemon, drift);
    this.#publish();
  }

  /** The live files changed on disk since the cycle last saw them (a stat each: inode, size, times), by daemon. */
  async filesChangedOnDisk(): Promise<Map<Daemon, string[]>> {
    const changed = new Map<Daemon, string[]>();
    for (const name of await this.#live.changedOnDisk()) {
      const daemon = daemonOf(name);
      changed.set(daemon, [...(changed.get(daemon) ?? []), name]);
    }
    return changed;
  }

  /**
   * `changeAt`: when the first change this cycle handles arrived (same clock as `now`), for the latency.
   * Never throws: an unexpected error becomes an `internal` failure (logged once) and a retry.
   */
  async cycle(signal?: AbortSignal, changeAt?: number): Promise<CycleResult> {
    this.#cycles++;
    this.#publish();
    const rounds = new CycleRounds();
    let result: CycleResult;
    try {
      result = await this.#run(rounds, signal, changeAt);
    } catch (error) {
      const message = `unexpected error in the apply cycle: ${errorMessage(error)}`;
      this.options.log.error(
        { component: 'cycle', event: 'cycle-unexpected-error' satisfies LogEvent, err: error },
        message,
      );
      result = this.#renderFailed(rounds, 'internal', message, true);
    }
    this.#publish();
    this.options.observer?.cycleEnded(result);
    return result;
  }

  /**
   * One cycle, as confd's `process()`: render → compare → plan → stage → validate/configure → swap → reload (the
   * pipeline: each daemon side by side, runDaemonPipeline) → judge → report. A round whose bird -p refusal is pinned
   * on an entry quarantines that entry and runs again without it.
   */
  async #run(rounds: CycleRounds, signal: AbortSignal | undefined, changeAt: number | undefined): Promise<CycleResult> {
    const started = this.#now();
    const { configDir, stageRoot = configDir, edges } = this.options;
    const context = { configDir, stageRoot, edges, signal, now: this.#now };
    await this.#prepare(); // a settle window a stopped run left; quarantined and held entries that changed
    for (let again = true; again;) {
      const rendered = this.#render(rounds); // render
      if ('failed' in rendered) return this.#renderFailed(rounds, rendered.failed, rendered.message, false);
      const { files, live, spans } = await this.#compare(rounds, rendered); // compare with the files on disk
      const plans = await this.#plan(files, live, rounds); // plan: plain, staged or guarded, per daemon
      // stage → validate/configure → swap → reload, each daemon side by side
      const input = { files, live, spans };
      const results = await Promise.all(plans.map((plan) => runDaemonPipeline(plan, input, context)));
      await stageAloneWhereFull(plans, results, input, context, this.options.log); // too full to stage side by side
      this.#learn(rounds.finished(results));
      // An entry bird -p refused is quarantined, and the round runs again without it.
      again = this.#quarantine.takeRefused(rounds, this.options.keyspace, signal?.aborted === true);
    }
    this.#publish();
    const judgements = await this.#judge(rounds, signal); // judge: the settle window, confirm or undo
    return this.#report(rounds, judgements, started, changeAt); // report: status, logs, metrics, the result
  }

  async #prepare(): Promise<void> {
    const { keyspace } = this.options;
    if (await this.#guard?.prepare(keyspace, this.#templates)) this.#live.forget();
    this.#quarantine.startCycle(keyspace);
    this.#publish();
  }

  /** Render: the role over the keyspace without quarantined keys, held entries at the value BIRD ran before. */
  #render(rounds: CycleRounds): RenderOutcome | { readonly failed: 'node' | 'template'; readonly message: string } {
    const started = this.#now();
    const templates = this.#guard?.holds.templatesFor(this.#templates) ?? this.#templates;
    try {
      if (templates instanceof TemplateError) throw templates;
      const excluded = this.#quarantine.keys();
      const overrides = this.#guard?.holds.overlay() ?? new Map<string, string | undefined>();
      const keyspace = keyspaceOverlay(keyspaceWithout(this.options.keyspace, excluded), overrides);
      // The keys changed since the last render: the role updates only what depends on them (ARCHITECTURE.md).
      const changed = this.#renderedChanges.take(this.options.keyspace, excluded, overrides);
      const outcome = this.#renderer.render(keyspace, templates, changed);
      rounds.rendering(outcome, keyspace, this.#now() - started);
      this.#reporter.resolved('render');
      return outcome;
    } catch (error) {
      if (error instanceof NodeConfigError) return { failed: 'node', message: error.message };
      if (error instanceof TemplateError) return { failed: 'template', message: error.message };
      throw error;
    }
  }

  /** Compare: the files on disk (a held rendering stands in for the new one: the daemon's live files). */
  async #compare(rounds: CycleRounds, rendered: RenderOutcome) {
    const live = await this.#live.read(rendered.files.keys());
    rounds.live = live;
    const { files, spans } = this.#guard?.holds.withHeldRenderings(rendered, live) ?? rendered;
    return { files, live, spans };
  }

  /**
   * Plan: how each daemon is applied (plain, staged, guarded) and what is kept for undo, decided here, once. A
   * daemon whose settle window a previous round opened is not planned again (its window is judged as it is).
   */
  async #plan(files: FileSet, live: ReadonlyMap<string, string>, rounds: CycleRounds) {
    const apply = this.#apply;
    const open = new Set(rounds.opened.keys());
    const guardedNow =
      (await this.#guard?.choose(live, files, this.#statements, open)) ?? new Map<Daemon, GuardedDaemon>();
    for (const [daemon, plan] of guardedNow) if (!rounds.guarded.has(daemon)) rounds.guarded.set(daemon, plan);
    return this.#daemons
      .filter((daemon) => !open.has(daemon))
      .map((daemon): DaemonPlan =>
        planDaemon(
          daemon,
          { mode: this.options.mode.kind, validate: this.options.validate ?? true },
          apply && {
            bird: apply.bird,
            owed: this.#reloadOwed.has(daemon),
            staged: this.#modes?.staged(daemon) ?? false,
            guarded: guardedNow.has(daemon) ? this.#guard?.reloadFor(daemon, live, this.options.keyspace) : undefined,
            undo:
              this.#guard && daemonChanged(daemon, files, live) ? this.#guard.undoRecordFor(daemon, live) : undefined,
          },
        ),
      );
  }

  /** What a round's results change in what the cycle remembers: reload modes, owed reloads, the files on disk. */
  #learn(results: readonly DaemonPipelineResult[]): void {
    for (const r of results) {
      this.#modes?.note(r);
      // Files renamed into place (all, or part of a failed swap) leave their daemon needing a reload.
      if (r.written.length > 0 || r.diverged) this.#reloadOwed.add(r.daemon);
      // A swap that failed part-way: trust nothing about the directory; the next read reads every file.
      if (r.failure?.step === 'swap') {
        this.#reloadOwed.add(r.daemon);
        this.#live.forget();
      }
    }
    // A daemon that took its reload this round owes none in the next (no second reload after a quarantine).
    for (const r of results) if (r.reload?.kind === 'applied') this.#reloadOwed.delete(r.daemon);
  }

  /** Judge: the settle window of the guarded daemons, then confirm, or undo and hold back what it is pinned on. */
  async #judge(rounds: CycleRounds, signal: AbortSignal | undefined): Promise<GuardJudgement[]> {
    if (!this.#guard || !rounds.rendered || !rounds.keyspace) return [];
    const { status } = this.options;
    const judgements = await this.#guard.judge({
      guarded: rounds.guarded,
      opened: rounds.opened,
      written: new Map(rounds.results.map((r) => [r.daemon, r.written])),
      rendered: rounds.rendered,
      keyspace: this.options.keyspace,
      templates: this.#templates,
      now: this.#now,
      signal,
      onWindow: (window) => (status.guarding = window),
      tick: this.#apply?.heartbeat,
    });
    for (const j of judgements) {
      // A confirm or undo that did not land leaves BIRD's state unknown; after an undo BIRD runs the files put back.
      if (j.reloadNeeded) this.#reloadOwed.add(j.daemon);
      else if (j.verdict !== 'confirmed') this.#reloadOwed.delete(j.daemon);
      // Files an undo could not put back are unknown: every file is read again next cycle.
      if (j.verdict !== 'confirmed' && j.restored === undefined) this.#live.forget();
      if (j.drift !== undefined) this.#reporter.drifted(j.daemon, { cause: 'guard-window', reason: j.drift });
      // Files the judge wrote (swapped in, put back) are seen as they now are: not taken for drift later.
      await this.#live.read([...j.committed, ...(j.restored ?? [])]).catch(() => this.#live.forget());
    }
    // The staged sets swapped in after their confirm are written files of their daemon's result.
    rounds.results = rounds.results.map((r) => {
      const committed = judgements.find((j) => j.daemon === r.daemon)?.committed ?? [];
      return committed.length > 0 ? { ...r, written: committed } : r;
    });
    return judgements;
  }

  /** Report: each daemon's outcome to the reporter (status, logs once), and the cycle's one result. */
  async #report(
    rounds: CycleRounds,
    judgements: readonly GuardJudgement[],
    started: number,
    changeAt: number | undefined,
  ): Promise<CycleResult> {
    const { rendered, live, results } = rounds;
    const diagnostics = [...(rendered?.diagnostics ?? []), ...this.#quarantine.diagnostics()];
    this.#reporter.diagnostics(diagnostics);
    const guarded = judgements.map(({ daemon, verdict, settleMs }) => ({ daemon, verdict, settleMs }));
    const finished = {
      tally: rounds.tally(this.#quarantine.size),
      rendered,
      live,
      daemons: results,
      diagnostics,
      guarded,
    };
    const aborted = results.some((r) => r.aborted);
    const none = { failures: [], reloads: [], latencyMs: undefined, pending: false, transient: false };
    if (aborted) return finishedResult({ ...finished, ...none, aborted });
    const guardFailures = new Map(judgements.flatMap((j) => (j.failure ? [[j.daemon, j.failure] as const] : [])));
    const judged = new Set(judgements.map((j) => j.daemon));
    const { failures, reloads, transient } = await this.#reporter.outcomes(results, guardFailures, async (r) => {
      // A guarded daemon's `configure timeout` is not the end of it: its judgement said what it still owes.
      if (r.reload?.kind === 'applied' && !judged.has(r.daemon)) this.#reloadOwed.delete(r.daemon);
      // BIRD keeps running its previous configuration: put its files back, so disk and BIRD agree again.
      if (r.reload?.kind === 'rejected') await this.#restore(r, live);
      return this.#reloadOwed.has(r.daemon);
    });
    const applying = this.options.mode.kind === 'apply';
    const pending = applying && this.#daemons.some((d) => this.#reloadOwed.has(d));
    const allApplied = failures.length === 0 && results.every((r) => !applying || !this.#reloadOwed.has(r.daemon));
    if (allApplied && rounds.keyspace) this.#guard?.holds.appliedCleanly(this.#templates, rounds.keyspace);
    if (allApplied && this.options.mode.kind !== 'check') await this.#removeAbsentDaemonFiles();
    // The change is applied the moment BIRD answered: the latency is taken here, before any bookkeeping.
    const latencyMs = changeAt !== undefined && allApplied ? this.#now() - changeAt : undefined;
    if (latencyMs !== undefined && results.some((r) => r.written.length > 0 || r.reload))
      this.#reporter.latency(latencyMs, this.#now() - started, rounds.validateMs);
    if (rendered) {
      this.#reporter.change(results, live, rendered.files, this.#statements);
      // Files now on disk as rendered (not put back by a refusal or the guard's undo) need not be read back; a
      // staged set swapped in after its confirm is read back (a later round may have rendered it otherwise).
      for (const r of results)
        if (
          !r.failure &&
          !judgements.some((j) => j.daemon === r.daemon && (j.verdict !== 'confirmed' || j.committed.length > 0))
        )
          for (const name of r.written) await this.#live.remember(name, rendered.files.get(name)!);
    }
    return finishedResult({ ...finished, aborted, failures, reloads, latencyMs, pending, transient });
  }

  /** Once the role's files are in place: the files of a daemon it does not run (absentDaemonFiles.ts). */
  async #removeAbsentDaemonFiles(): Promise<void> {
    if (this.#absentFilesRemoved) return;
    this.#absentFilesRemoved = await removeAbsentDaemonFiles(this.options.configDir, this.#daemons, this.options.log);
  }

  /** BIRD refused the new set: the files it runs go back on disk. */
  async #restore(result: DaemonPipelineResult, live: ReadonlyMap<string, string>): Promise<void> {
    const { configDir, edges } = this.options;
    const previous = replacedFiles(result.written, live);
    if (previous.size === 0) return;
    try {
      await edges.write(configDir, previous);
      await this.#live.read(previous.keys()).catch(() => this.#live.forget());
      this.#reloadOwed.delete(result.daemon);
      this.#reporter.putBack(result.daemon, [...previous.keys()]);
    } catch (error) {
      this.#live.forget();
      this.#reporter.putBack(result.daemon, [...previous.keys()], error);
    }
  }

  #renderFailed(rounds: CycleRounds, kind: FailureKind, message: string, retry: boolean): CycleResult {
    this.#reporter.fail('render', kind, message);
    return renderFailedResult(rounds.tally(this.#quarantine.size), kind, message, retry);
  }

  /** The cycle's own state, as health and metrics see it: the one place it is written into RunStatus. */
  #publish(): void {
    const { status } = this.options;
    status.cycles = this.#cycles;
    status.quarantined = this.#quarantine.list();
    status.guardHolds = this.#guard?.holds.list() ?? [];
    for (const daemon of this.#daemons) status.daemons[daemon]!.reloadPending = this.#reloadOwed.has(daemon);
  }
}
