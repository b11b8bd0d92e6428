import { LiveFiles } from '../apply/liveFileSet.js';
import { errorMessage } from '../errorMessage.js';
import type { Daemon } from '../model/daemon.js';
import { isNodeConfigError } from '../model/errors.js';
import type { Keyspace } from '../model/keyspaceIndex.js';
import { keyspaceOverlay } from '../model/keyspaceOverlay.js';
import { keyspaceWithout } from '../model/keyspaceView.js';
import type { CycleObserver } from '../observe/cycleReport.js';
import type { DaemonFailureKind, FailureKind } from '../observe/failureKind.js';
import type { Logger } from '../observe/logger.js';
import type { RunStatus } from '../observe/runStatus.js';
import { isTemplateError, TemplateError } from '../render/errors.js';
import { daemonOf, type FileSet } from '../render/fileSet.js';
import { StatementMemo } from '../render/statementMemo.js';
import type { CompiledTemplateSet } from '../render/templateSet.js';
import { runDaemonPipeline, type DaemonPipelineResult, type PipelineContext } from './applyPipeline.js';
import { planDaemon, type DaemonPlan, type PipelineMode } from './applyPlan.js';
import type { Clock } from './clock.js';
import type { CycleFailureDetail, CycleResult } from './cycleResult.js';
import { DaemonReporter } from './daemonReporter.js';
import type { GuardEdges, PipelineEdges, ReloadEdges } from './edges.js';
import { ApplyGuard, type GuardedDaemon, type GuardJudgement } from './guard/applyGuard.js';
import type { ApplyGuardSettings } from './guard/settings.js';
import { Quarantine } from './quarantine.js';
import { ReloadModes } from './reloadModes.js';
import type { RenderOutcome, RoleRenderer } from './roleRenderer.js';

type Templates = CompiledTemplateSet | TemplateError;

/** What `run` adds to a cycle: BIRD's control socket, the apply guard, the staged method. */
export interface ApplyOptions {
  readonly kind: 'apply';
  readonly bird: ReloadEdges;
  /** Guarded changes go out as `configure timeout`, then confirm or undo (README "The apply guard"). */
  readonly guard?: { readonly settings: ApplyGuardSettings; readonly edges: GuardEdges; readonly clock?: Clock };
  /** false (`--sequential-reload`): validate, swap, then `configure`; never the staged set. Default true. */
  readonly overlap?: boolean;
  /** Ticks while a settle window runs (the run loop's liveness heartbeat). */
  readonly heartbeat?: () => void;
}

export interface ConfigApplierOptions {
  readonly role: RoleRenderer;
  readonly configDir: string;
  readonly keyspace: Keyspace;
  readonly edges: PipelineEdges;
  /** `check` (render --diff: nothing written), `write` (render --out: nothing reloaded), or apply (run). */
  readonly mode: { readonly kind: 'check' | 'write' } | ApplyOptions;
  readonly log: Logger;
  /** Fed by the cycle (its own state, published); health and metrics read it. */
  readonly status: RunStatus;
  readonly observer?: CycleObserver;
  /** Monotonic clock (ms) for latencies; performance.now by default. */
  readonly now?: () => number;
  /** Entries one cycle may quarantine before it gives up and keeps the live configuration. Default 8. */
  readonly maxQuarantinePerCycle?: number;
  /** Where staging dirs go; default the config dir (a scratch dir for `check`). */
  readonly stageRoot?: string;
  /** false: write without bird -p (`render --no-validate`). Default true. */
  readonly validate?: boolean;
}

/** One cycle so far: its last round, and what the rounds add up to. */
interface Rounds {
  rendered: RenderOutcome | undefined;
  /** The keyspace the last round rendered (without quarantined keys, held entries at their previous value). */
  keyspace: Keyspace | undefined;
  live: ReadonlyMap<string, string>;
  results: readonly DaemonPipelineResult[];
  /** Each guarded daemon's first plan, and the daemons whose `configure timeout` BIRD took. */
  readonly guarded: Map<Daemon, GuardedDaemon>;
  readonly opened: Set<Daemon>;
  renderMs: number;
  validateMs: number | undefined;
  refusedEntries: number;
}

const round1 = (ms: number): number => Math.round(ms * 10) / 10;
const isNoop = (r: DaemonPipelineResult): boolean =>
  r.changed.length === 0 && r.reload === undefined && r.failure === undefined && !r.aborted;
const changedFor = (daemon: Daemon, files: FileSet, live: ReadonlyMap<string, string>): boolean =>
  [...files].some(([name, content]) => daemonOf(name) === daemon && live.get(name) !== content);
const failureKindOf = (step: NonNullable<DaemonPipelineResult['failure']>['step']): DaemonFailureKind =>
  step === 'validate' ? 'validation' : step === 'reload' ? 'reload' : 'write';

/**
 * The cycle (ARCHITECTURE.md, "The path of a change"), run by `run`, `run --once`, `render --out` and `render
 * --diff` alike. Its parts: the quarantine, the reload-mode memory, the apply guard (and its holds), the reporter.
 * The state it owns: the reloads each daemon is owed, the files last seen on disk, the templates.
 */
export class ConfigApplier {
  #templates: Templates;
  #cycles = 0;
  readonly #daemons: readonly Daemon[];
  readonly #mode: PipelineMode;
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
  readonly #now: () => number;

  constructor(
    private readonly options: ConfigApplierOptions,
    templates: Templates,
  ) {
    const { mode, configDir, log } = options;
    this.#templates = templates;
    this.#daemons = options.role.daemons;
    this.#mode = mode.kind;
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
        { ...mode.guard, daemons: this.#daemons, configDir, log, write: options.edges.write },
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
   * `changeAt`: when the first change this cycle handles arrived (same clock as `now`), for the latency.
   * Never throws: an unexpected error becomes an `internal` failure (logged once) and a retry.
   */
  async cycle(signal?: AbortSignal, changeAt?: number): Promise<CycleResult> {
    this.#cycles++;
    this.#publish();
    const rounds: Rounds = {
      rendered: undefined,
      keyspace: undefined,
      live: new Map(),
      results: [],
      guarded: new Map(),
      opened: new Set(),
      renderMs: 0,
      validateMs: undefined,
      refusedEntries: 0,
    };
    let result: CycleResult;
    try {
      result = await this.#run(rounds, signal, changeAt);
    } catch (error) {
      const message = `unexpected error in the apply cycle: ${errorMessage(error)}`;
      this.options.log.error({ component: 'cycle', err: error }, message);
      result = this.#renderFailed(rounds, 'internal', message, true);
    }
    this.#publish();
    this.options.observer?.cycleEnded(result);
    return result;
  }

  /**
   * One cycle, step by step: render → compare → plan → stage → validate/configure → swap → reload (the pipeline,
   * each daemon side by side) → judge → report. A round whose refusal by bird -p is pinned on an entry quarantines
   * it and runs again without it.
   */
  async #run(rounds: Rounds, signal: AbortSignal | undefined, changeAt: number | undefined): Promise<CycleResult> {
    const started = this.#now();
    const { keyspace } = this.options;
    if (await this.#guard?.prepare(keyspace, this.#templates)) this.#live.forget(); // a window a stopped run left
    this.#quarantine.startCycle(keyspace);
    this.#publish();
    for (;;) {
      const renderStarted = this.#now();
      const rendered = this.#render(); // render
      if ('failed' in rendered) return this.#renderFailed(rounds, rendered.failed, rendered.message, false);
      rounds.renderMs += this.#now() - renderStarted;
      this.#reporter.resolved('render');
      const live = await this.#live.read(rendered.outcome.files.keys()); // compare
      const input = this.#guard?.holds.withHeldRenderings(rendered.outcome, live) ?? rendered.outcome;
      rounds.rendered = rendered.outcome;
      rounds.keyspace = rendered.keyspace;
      rounds.live = live;
      const plans = await this.#plan(input.files, live, rounds.guarded); // plan
      const pipeline = { files: input.files, live, spans: input.spans };
      const results = await Promise.all(plans.map((plan) => runDaemonPipeline(plan, pipeline, this.#context(signal))));
      this.#learn(rounds, results);
      const quarantined = this.#quarantine.takeRefused(results, keyspace, signal?.aborted === true);
      if (quarantined === 0) break;
      rounds.refusedEntries += quarantined;
    }
    this.#publish();
    const judgements = await this.#judge(rounds, signal); // judge
    return this.#report(rounds, judgements, started, changeAt); // report
  }

  /** Render: the role over the keyspace without quarantined keys, held entries at the value BIRD ran before. */
  #render():
    | { readonly outcome: RenderOutcome; readonly keyspace: Keyspace }
    | { readonly failed: 'node' | 'template'; readonly message: string } {
    const templates = this.#guard?.holds.templatesFor(this.#templates) ?? this.#templates;
    try {
      if (templates instanceof TemplateError) throw templates;
      const keyspace = keyspaceOverlay(
        keyspaceWithout(this.options.keyspace, this.#quarantine.keys()),
        this.#guard?.holds.overlay() ?? new Map(),
      );
      return { outcome: this.options.role.render(keyspace, templates), keyspace };
    } catch (error) {
      if (isNodeConfigError(error)) return { failed: 'node', message: error.message };
      if (isTemplateError(error)) return { failed: 'template', message: error.message };
      throw error;
    }
  }

  /** Plan: how each daemon is applied (plain, staged, guarded) and what is kept for undo, decided here, once. */
  async #plan(files: FileSet, live: ReadonlyMap<string, string>, guarded: Map<Daemon, GuardedDaemon>) {
    const apply = this.#apply;
    const guardedNow = (await this.#guard?.choose(live, files, this.#statements)) ?? new Map<Daemon, GuardedDaemon>();
    for (const [daemon, plan] of guardedNow) if (!guarded.has(daemon)) guarded.set(daemon, plan);
    return this.#daemons.map((daemon): DaemonPlan =>
      planDaemon(
        daemon,
        { mode: this.#mode, validate: this.options.validate ?? true },
        apply && {
          bird: apply.bird,
          owed: this.#reloadOwed.has(daemon),
          staged: this.#modes?.staged(daemon) ?? false,
          guarded: guardedNow.has(daemon) ? this.#guard?.reloadFor(daemon, live, this.options.keyspace) : undefined,
          undo: this.#guard && changedFor(daemon, files, live) ? this.#guard.undoRecordFor(daemon, live) : undefined,
        },
      ),
    );
  }

  #context(signal: AbortSignal | undefined): PipelineContext {
    const { configDir, stageRoot, edges } = this.options;
    return { configDir, stageRoot: stageRoot ?? configDir, edges, signal, now: this.#now };
  }

  /** What a round's results change in what the cycle remembers: reload modes, owed reloads, the files on disk. */
  #learn(rounds: Rounds, results: readonly DaemonPipelineResult[]): void {
    // A daemon that already went through in an earlier round (and has nothing new) keeps that round's result;
    // one that failed then (the quarantined entry) takes this round's.
    const earlier = rounds.results;
    rounds.results = results.map((r) => {
      const before = earlier.find((p) => p.daemon === r.daemon);
      return isNoop(r) && before && !before.failure ? before : r;
    });
    rounds.validateMs = Math.max(rounds.validateMs ?? 0, ...rounds.results.map((r) => r.validateMs ?? 0));
    for (const r of results) if (r.windowOpened) rounds.opened.add(r.daemon);
    for (const r of rounds.results) {
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
    for (const r of rounds.results) if (r.reload?.kind === 'applied') this.#reloadOwed.delete(r.daemon);
  }

  /** Judge: the settle window of the guarded daemons, then confirm, or undo and hold back what it is pinned on. */
  async #judge(rounds: Rounds, signal: AbortSignal | undefined): Promise<GuardJudgement[]> {
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
      if (j.verdict === 'confirmed') {
        if (j.reloadNeeded) this.#reloadOwed.add(j.daemon);
        continue;
      }
      // After the undo BIRD runs the files put back; unknown files (not put back) are read again next cycle.
      if (j.reloadNeeded) this.#reloadOwed.add(j.daemon);
      else this.#reloadOwed.delete(j.daemon);
      if (j.restored === undefined) this.#live.forget();
    }
    return judgements;
  }

  /** Report: each daemon's outcome into the reporter (status, logs once), and the cycle's one result. */
  async #report(
    rounds: Rounds,
    judgements: readonly GuardJudgement[],
    started: number,
    changeAt: number | undefined,
  ): Promise<CycleResult> {
    const { rendered, live, results } = rounds;
    const diagnostics = [...(rendered?.diagnostics ?? []), ...this.#quarantine.diagnostics()];
    this.#reporter.diagnostics(diagnostics);
    const guarded =
      judgements.length > 0
        ? judgements.map(({ daemon, verdict, holdMs }) => ({ daemon, verdict, holdMs }))
        : undefined;
    const done = { ...this.#tally(rounds), diagnostics, guarded, rendered, live, daemons: results };
    if (results.some((r) => r.aborted))
      return {
        ...done,
        result: 'aborted',
        failures: [],
        reloads: [],
        latencyMs: undefined,
        reloaded: false,
        reloadMs: 0,
        retry: false,
      };
    const failures: CycleFailureDetail[] = [];
    const reloads: CycleResult['reloads'][number][] = [];
    let retry = false;
    for (const r of results) {
      if (r.reload) {
        reloads.push({
          daemon: r.daemon,
          result: r.reload.kind,
          ms: r.reload.kind === 'applied' ? r.reload.ms : undefined,
        });
        this.#reporter.reloaded(r.daemon, r.reload.kind, r.reload.message);
        if (r.reload.kind === 'applied') this.#reloadOwed.delete(r.daemon);
        // BIRD keeps running its previous configuration: put its files back, so disk and BIRD agree again.
        if (r.reload.kind === 'rejected') await this.#restore(r, live);
      }
      const guard = judgements.find((j) => j.daemon === r.daemon)?.failure;
      const failure = guard
        ? { kind: 'guard' as const, message: guard.message, transient: guard.retry }
        : r.failure && {
            kind: failureKindOf(r.failure.step),
            message: r.failure.message,
            transient: r.failure.transient,
          };
      if (failure) {
        retry ||= failure.transient;
        failures.push({ kind: failure.kind, daemon: r.daemon, message: failure.message });
        this.#reporter.fail(r.daemon, failure.kind, failure.message, r);
      } else if (!this.#reloadOwed.has(r.daemon)) this.#reporter.applied(r.daemon);
    }
    const applying = this.#mode === 'apply';
    const pending = applying && this.#daemons.some((d) => this.#reloadOwed.has(d));
    const allApplied = failures.length === 0 && results.every((r) => !applying || !this.#reloadOwed.has(r.daemon));
    if (allApplied && rounds.keyspace) this.#guard?.holds.appliedCleanly(this.#templates, rounds.keyspace);
    // The change is applied the moment BIRD answered: the latency is taken here, before any bookkeeping.
    const latencyMs = changeAt !== undefined && allApplied ? this.#now() - changeAt : undefined;
    if (latencyMs !== undefined && results.some((r) => r.written.length > 0 || r.reload))
      this.options.log.info(
        {
          component: 'cycle',
          latencyMs: round1(latencyMs),
          cycleMs: round1(this.#now() - started),
          validateMs: rounds.validateMs === undefined ? undefined : round1(rounds.validateMs),
        },
        'change applied',
      );
    if (rendered) await this.#settleLive(rendered.files, results, judgements, live);
    const applied = results.some((r) => r.written.length > 0 || r.reload?.kind === 'applied');
    return {
      ...done,
      result: failures.length > 0 ? 'failed' : pending ? 'reload-pending' : applied ? 'applied' : 'unchanged',
      failureKind: failures[0]?.kind,
      failures,
      reloads,
      latencyMs,
      reloaded: results.some((r) => r.reload?.kind === 'applied'),
      reloadMs: Math.max(0, ...results.map((r) => (r.reload?.kind === 'applied' ? r.reload.ms : 0))),
      retry: retry || pending,
    };
  }

  /** The applied change logged, and files now on disk as rendered (not put back) need not be read back. */
  async #settleLive(
    files: FileSet,
    results: readonly DaemonPipelineResult[],
    judgements: readonly GuardJudgement[],
    live: ReadonlyMap<string, string>,
  ): Promise<void> {
    this.#reporter.change(results, live, files, this.#statements);
    for (const r of results)
      if (!r.failure && !judgements.some((j) => j.daemon === r.daemon && j.verdict !== 'confirmed'))
        for (const name of r.written) await this.#live.remember(name, files.get(name)!);
  }

  /** BIRD refused the new set: the files it runs go back on disk. */
  async #restore(result: DaemonPipelineResult, live: ReadonlyMap<string, string>): Promise<void> {
    const { log, configDir, edges } = this.options;
    const previous = new Map(
      result.written.flatMap((name) => (live.has(name) ? [[name, live.get(name)!] as const] : [])),
    );
    if (previous.size === 0) return;
    try {
      await edges.write(configDir, previous);
      this.#reloadOwed.delete(result.daemon);
      log.warn(
        { component: 'apply', daemon: result.daemon, files: [...previous.keys()] },
        `${result.daemon} refused the new configuration; put back the files it runs`,
      );
    } catch (error) {
      this.#live.forget();
      log.error(
        { component: 'apply', daemon: result.daemon },
        `${result.daemon} refused the new configuration and its previous files could not be put back: ${errorMessage(error)}`,
      );
    }
  }

  #renderFailed(rounds: Rounds, kind: FailureKind, message: string, retry: boolean): CycleResult {
    this.#reporter.fail('render', kind, message);
    return {
      ...this.#tally(rounds),
      result: 'failed',
      failureKind: kind,
      failures: [{ kind, daemon: undefined, message }],
      reloads: [],
      latencyMs: undefined,
      diagnostics: [],
      reloaded: false,
      reloadMs: 0,
      retry,
      rendered: undefined,
      live: new Map(),
      daemons: [],
    };
  }

  #tally(rounds: Rounds) {
    const { renderMs, validateMs, refusedEntries } = rounds;
    return { renderMs, validateMs, refusedEntries, quarantined: this.#quarantine.size };
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
