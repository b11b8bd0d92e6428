import { readGuardHolds, writeGuardHolds, type HeldEntry } from '../apply/guardHoldsFile.js';
import { LiveFiles } from '../apply/liveFileSet.js';
import { formatDiagnostic, type Diagnostic } from '../model/diagnostics.js';
import { isNodeConfigError } from '../model/errors.js';
import type { Keyspace } from '../model/keyspaceIndex.js';
import { keyspaceWithout } from '../model/keyspaceView.js';
import { keyspaceOverlay } from '../model/keyspaceOverlay.js';
import { isTemplateError, TemplateError } from '../render/errors.js';
import { daemonOf, type FileSet } from '../render/fileSet.js';
import type { CompiledTemplateSet } from '../render/templateSet.js';
import { StatementMemo } from '../render/statementMemo.js';
import type { Logger } from '../observe/logger.js';
import type { CycleObserver, CycleReport } from '../observe/cycleReport.js';
import { DAEMONS, type Daemon } from '../model/daemon.js';
import type { DaemonFailureKind, FailureKind } from '../observe/failureKind.js';
import type { ApplyFailure, GuardHold, QuarantinedEntry, RunStatus } from '../observe/runStatus.js';
import {
  canNameInConfigure,
  runDaemonPipeline,
  type DaemonPipelineResult,
  type PipelineEdges,
  type PipelineMode,
} from './applyPipeline.js';
import type { ApplyGuard } from './applyGuard.js';
import type { CycleOutcome } from './coalescer.js';
import { blameEntries } from './guardBlame.js';
import { GuardedApplies, type GuardedDaemon, type GuardJudgement } from './guardedApply.js';
import { formatConfigChange, summarizeConfigChange } from './diffSummary.js';
import type { RenderOutcome, RoleRenderer } from './roleRenderer.js';
import { errorMessage } from '../errorMessage.js';

export interface ConfigApplierOptions {
  readonly role: RoleRenderer;
  readonly configDir: string;
  readonly keyspace: Keyspace;
  readonly edges: PipelineEdges;
  readonly log: Logger;
  readonly status: RunStatus;
  readonly observer?: CycleObserver;
  /** Monotonic clock (ms) for latencies; performance.now by default. */
  readonly now?: () => number;
  /** Entries one cycle may quarantine before it gives up and keeps the live configuration. Default 8. */
  readonly maxQuarantinePerCycle?: number;
  /** `apply` (run), `write` (render --out: no reload), `check` (render --diff: nothing written). Default apply. */
  readonly mode?: PipelineMode;
  /** Where staging dirs go; default the config dir (a scratch dir for `check`). */
  readonly stageRoot?: string;
  /** false: write without bird -p (`render --no-validate`). Default true. */
  readonly validate?: boolean;
  /** The apply guard (issue 15; `run` only): guarded changes go out as `configure timeout`, then confirm or undo. */
  readonly guard?: ApplyGuard;
  /** false: validate, swap, then `configure` one after the other (no `configure "<staged>"`). Default true. */
  readonly overlap?: boolean;
}

const round = (ms: number): number => Math.round(ms * 10) / 10;
const DEFAULT_MAX_QUARANTINE = 8;

export interface AppliedCycle extends CycleOutcome {
  /** BIRD still has to be reloaded (it was unreachable): retry later. */
  readonly reloadPending: boolean;
  /** The cycle failed for a reason that can pass by itself (disk, BIRD, a hung step): try again later. */
  readonly retry?: boolean;
  /** BIRD runs what the datastore says (nothing left to do). */
  readonly converged: boolean;
  /** Stopped by the signal (SIGTERM) before anything was swapped. */
  readonly aborted?: boolean;
  /** What the cycle rendered and what each daemon's pipeline did (undefined when rendering failed). */
  readonly detail?: CycleDetail;
}

export interface CycleDetail {
  readonly rendered: RenderOutcome;
  /** The files on disk before this cycle's swaps. */
  readonly live: ReadonlyMap<string, string>;
  readonly daemons: readonly DaemonPipelineResult[];
  /** Every diagnostic: the model's skipped entries and the quarantined ones. */
  readonly diagnostics: readonly Diagnostic[];
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type MutableReport = Mutable<Omit<CycleReport, 'failures' | 'reloads'>> & {
  failures: Mutable<CycleReport['failures'][number]>[];
  reloads: Mutable<CycleReport['reloads'][number]>[];
};

/**
 * One cycle, top to bottom: model → render → compare with the files on disk → per daemon, in parallel and
 * independently: stage → validate → swap → reload. An entry whose lines BIRD refuses is quarantined and the
 * rest is rendered again and applied. State kept between cycles: what each daemon still needs (a reload), the
 * quarantine, and what was last said in the log (each failure is logged once).
 */
export class ConfigApplier {
  #templates: CompiledTemplateSet | TemplateError;
  readonly #live: LiveFiles;
  readonly #quarantine = new Map<string, QuarantinedEntry>();
  readonly #lastLogged = new Map<'render' | Daemon, string>();
  #lastDiagnostics = new Set<string>();
  // Apply guard (issue 15): the runtime, what a revert holds back, and the templates last applied cleanly.
  readonly #guarded: GuardedApplies | undefined;
  readonly #guardHolds = new Map<string, GuardHold>();
  #appliedTemplates: CompiledTemplateSet | TemplateError;
  #heldTemplates: CompiledTemplateSet | TemplateError | undefined;
  readonly #heldRenderings = new Map<Daemon, string>();
  /** Blamed entries rendered with the value BIRD ran before, until their value changes again. */
  readonly #guardHeld = new Map<string, { bad: string | undefined; previous: string | undefined }>();
  /** The keyspace BIRD last ran cleanly (what a blamed entry goes back to); from a marker after a restart. */
  #applied: ReadonlyMap<string, string> | undefined;
  #recoveredValues = new Map<string, string | undefined>();
  #holdsLoaded = false;
  /** Daemons given the staged set while bird -p checks it (applyPipeline's overlap); one that cannot read it leaves. */
  readonly #overlap = new Set<Daemon>();
  readonly #sequentialUntilValid = new Set<Daemon>();
  /** The files' statements, parsed from their last parse (the guard's plan and the applied log compare them). */
  readonly #statements = new StatementMemo();

  constructor(
    private readonly options: ConfigApplierOptions,
    templates: CompiledTemplateSet | TemplateError,
  ) {
    this.#templates = templates;
    this.#live = new LiveFiles(options.configDir);
    this.#appliedTemplates = templates;
    if (options.overlap !== false && canNameInConfigure(options.stageRoot ?? options.configDir))
      for (const daemon of DAEMONS) this.#overlap.add(daemon);
    this.#guarded =
      options.guard && (options.mode ?? 'apply') === 'apply'
        ? new GuardedApplies(options.guard, {
            configDir: options.configDir,
            log: options.log,
            write: options.edges.write,
          })
        : undefined;
  }

  setTemplates(templates: CompiledTemplateSet | TemplateError): void {
    this.#templates = templates;
  }

  /** SIGHUP: re-read every file, and reload both daemons once (BIRD may have been restarted on other files). */
  forgetLiveState(): void {
    this.#live.forget();
    for (const daemon of DAEMONS) this.options.status.daemons[daemon].reloadPending = true;
  }

  /**
   * `changeAt`: when the first change this cycle handles arrived (same clock as `now`), for the latency.
   * Never throws: an unexpected error becomes an `internal` failure (logged once) and a retry.
   */
  async cycle(signal?: AbortSignal, changeAt?: number): Promise<AppliedCycle> {
    const now = this.options.now ?? (() => performance.now());
    const report: MutableReport = {
      result: 'unchanged',
      failures: [],
      renderMs: 0,
      validateMs: undefined,
      reloads: [],
      latencyMs: undefined,
      diagnostics: [],
      quarantined: 0,
      refusedEntries: 0,
    };
    this.options.status.cycles++;
    let outcome: AppliedCycle;
    try {
      outcome = await this.#cycle(report, now, signal, changeAt);
    } catch (error) {
      const message = `unexpected error in the apply cycle: ${errorMessage(error)}`;
      this.options.log.error({ component: 'cycle', err: error }, message);
      outcome = this.#renderFailed(report, 'internal', message, true);
    }
    report.quarantined = this.#quarantine.size;
    if (report.failures.length > 0) {
      report.result = 'failed';
      report.failureKind = report.failures[0]!.kind;
    } else if (outcome.aborted) report.result = 'aborted';
    else if (outcome.reloadPending) report.result = 'reload-pending';
    this.options.observer?.cycleEnded(report);
    return outcome;
  }

  async #cycle(
    report: MutableReport,
    now: () => number,
    signal: AbortSignal | undefined,
    changeAt: number | undefined,
  ): Promise<AppliedCycle> {
    const { status } = this.options;
    const started = now();
    if (this.#guarded) {
      const recovered = await this.#guarded.recover();
      if (recovered.daemons.length > 0) this.#live.forget();
      for (const [key, value] of recovered.previousValues) this.#recoveredValues.set(key, value);
      if (!this.#holdsLoaded) await this.#loadGuardHolds();
    }
    this.#releaseChangedQuarantine();
    await this.#releaseGuardHolds();
    let rendered: RenderOutcome | undefined;
    let results: DaemonPipelineResult[] = [];
    let before: ReadonlyMap<string, string> = new Map();
    const maxQuarantine = this.options.maxQuarantinePerCycle ?? DEFAULT_MAX_QUARANTINE;
    let quarantinedNow = 0;
    const guarded = new Map<Daemon, GuardedDaemon>();
    let renderKeyspace: Keyspace = this.options.keyspace;
    for (;;) {
      const renderStarted = now();
      try {
        const templates = this.#templates === this.#heldTemplates ? this.#appliedTemplates : this.#templates;
        if (templates instanceof TemplateError) throw templates;
        renderKeyspace = keyspaceOverlay(
          keyspaceWithout(this.options.keyspace, new Set(this.#quarantine.keys())),
          new Map([...this.#guardHeld].map(([key, held]) => [key, held.previous])),
        );
        rendered = this.options.role.render(renderKeyspace, templates);
      } catch (error) {
        if (isNodeConfigError(error)) return this.#renderFailed(report, 'node', error.message, false);
        if (isTemplateError(error)) return this.#renderFailed(report, 'template', error.message, false);
        throw error;
      }
      report.renderMs += now() - renderStarted;
      this.#clearFailure('render');
      before = await this.#live.read(rendered.files.keys());
      const input = this.#withHeldRenderings(rendered, before);
      const guardedNow = this.#guarded
        ? await this.#guarded.plan(before, input.files, this.#statements)
        : new Map<Daemon, GuardedDaemon>();
      for (const [daemon, plan] of guardedNow) if (!guarded.has(daemon)) guarded.set(daemon, plan);
      const previous = results;
      results = await Promise.all(
        DAEMONS.map((daemon) =>
          runDaemonPipeline(
            {
              daemon,
              files: input.files,
              live: before,
              reloadPending: status.daemons[daemon].reloadPending,
              spans: input.spans,
            },
            {
              mode: this.options.mode ?? 'apply',
              configDir: this.options.configDir,
              stageRoot: this.options.stageRoot ?? this.options.configDir,
              validate: this.options.validate ?? true,
              edges:
                this.#guarded?.edgesFor(this.options.edges, guardedNow, before, input.files, () =>
                  this.#changedSinceApplied(),
                ) ?? this.options.edges,
              signal,
              now,
              // A guarded daemon gets `configure timeout` after the swap; the others get the staged set at once.
              overlap: !guardedNow.has(daemon) && this.#overlap.has(daemon) && !this.#sequentialUntilValid.has(daemon),
            },
          ),
        ),
      );
      // A daemon that already went through in an earlier round (and has nothing new) keeps that round's result;
      // one that failed then (the quarantined entry) takes this round's.
      results = results.map((r) => {
        const earlier = previous.find((p) => p.daemon === r.daemon);
        return isNoop(r) && earlier && !earlier.failure ? earlier : r;
      });
      report.validateMs = Math.max(report.validateMs ?? 0, ...results.map((r) => r.validateMs ?? 0));
      for (const r of results) {
        if (r.stagedUnreadable !== undefined) this.#stopOverlap(r.daemon, r.stagedUnreadable);
        this.#noteValidator(r);
      }
      this.#recordSwaps(results);
      // A daemon that took its reload this round owes none in the next (no second reload after a quarantine).
      for (const r of results) if (r.reload?.kind === 'applied') status.daemons[r.daemon].reloadPending = false;
      // BIRD refused lines that came from one entry: hold that entry back and apply the rest (bounded).
      const blamed = results.filter(
        (r) =>
          r.validation?.entryKey !== undefined &&
          !this.#quarantine.has(r.validation.entryKey) &&
          this.options.keyspace.has(r.validation.entryKey),
      );
      if (blamed.length === 0 || quarantinedNow >= maxQuarantine || signal?.aborted) break;
      for (const result of blamed) this.#quarantineEntry(result);
      report.refusedEntries += blamed.length;
      quarantinedNow += blamed.length;
    }
    // The settle window of the daemons applied under the guard, then confirm or undo (issue 15).
    const judgements = this.#guarded
      ? await this.#guarded.judge(guarded, results, { status, now, signal })
      : ([] as GuardJudgement[]);
    const guardFailures = await this.#afterJudgements(judgements, guarded, rendered, report);
    report.diagnostics = [...rendered.diagnostics, ...this.#quarantineDiagnostics()];
    this.#logDiagnostics(report.diagnostics);
    status.quarantined = [...this.#quarantine.values()];
    const detail: CycleDetail = { rendered, live: before, daemons: results, diagnostics: report.diagnostics };
    if (results.some((r) => r.aborted))
      return { reloaded: false, reloadPending: false, converged: false, aborted: true, detail };

    let reloaded = false;
    let retry = false;
    for (const result of results) {
      const state = status.daemons[result.daemon];
      if (result.reload) {
        report.reloads.push({
          daemon: result.daemon,
          result: result.reload.kind,
          ms: result.reload.kind === 'applied' ? result.reload.ms : undefined,
        });
        if (result.reload.kind !== 'garbled')
          this.#recordReachability(result.daemon, result.reload.kind !== 'unreachable', result.reload.message);
      }
      if (result.reload?.kind === 'applied') {
        reloaded = true;
        status.reloads[result.daemon]++;
        state.reloadPending = false;
      }
      if (result.reload?.kind === 'rejected') {
        // BIRD keeps running its previous configuration: put its files back, so disk and BIRD agree again.
        await this.#restore(result, before);
      }
      const guardFailure = guardFailures.get(result.daemon);
      if (guardFailure) {
        retry ||= guardFailure.retry;
        report.failures.push({ kind: 'guard', daemon: result.daemon });
        this.#setFailure(result.daemon, 'guard', guardFailure.message, result);
      } else if (result.failure) {
        retry ||= result.failure.transient;
        const kind: DaemonFailureKind =
          result.failure.step === 'validate' ? 'validation' : result.failure.step === 'reload' ? 'reload' : 'write';
        report.failures.push({ kind, daemon: result.daemon });
        this.#setFailure(result.daemon, kind, result.failure.message, result);
      } else if (!state.reloadPending) {
        this.#clearFailure(result.daemon);
        state.lastAppliedAt = Date.now();
      }
    }
    const pending = DAEMONS.some((d) => status.daemons[d].reloadPending);
    const applying = (this.options.mode ?? 'apply') === 'apply';
    const allApplied = results.every(
      (r) => !r.failure && !guardFailures.has(r.daemon) && (!applying || !status.daemons[r.daemon].reloadPending),
    );
    if (allApplied && this.#templates !== this.#heldTemplates) this.#appliedTemplates = this.#templates;
    // What BIRD runs now, for holding a blamed entry back at its previous value (a copy: the mirror mutates).
    if (allApplied && this.#guarded) this.#applied = new Map(renderKeyspace);
    // The change is applied the moment BIRD answered: the latency is taken here, before any bookkeeping.
    if (changeAt !== undefined && allApplied) {
      report.latencyMs = now() - changeAt;
      if (results.some((r) => r.written.length > 0 || r.reload)) {
        this.options.log.info(
          {
            component: 'cycle',
            latencyMs: round(report.latencyMs),
            cycleMs: round(now() - started),
            validateMs: report.validateMs === undefined ? undefined : round(report.validateMs),
          },
          'change applied',
        );
      }
    }
    this.#logApplied(results, before, rendered.files);
    // Files now on disk as rendered (not put back by a refusal or the guard's undo) need not be read back.
    for (const r of results)
      if (!r.failure && !judgements.some((j) => j.daemon === r.daemon && j.verdict !== 'confirmed'))
        for (const name of r.written) await this.#live.remember(name, rendered.files.get(name)!);
    if (results.some((r) => r.written.length > 0 || r.reload?.kind === 'applied')) report.result = 'applied';
    // What BIRD spent reconfiguring this cycle: the pacer bounds its share of time (reloadPacer.ts).
    const reloadMs = Math.max(0, ...results.map((r) => (r.reload?.kind === 'applied' ? r.reload.ms : 0)));
    if (this.options.mode !== undefined && this.options.mode !== 'apply')
      return { reloaded, reloadMs, reloadPending: false, converged: allApplied, retry, detail };
    return {
      reloaded,
      reloadMs,
      reloadPending: pending,
      converged: allApplied && !pending,
      retry: retry || pending,
      detail,
    };
  }

  /**
   * After the guard's verdicts: a reverted daemon runs its previous files again; what the revert is pinned on is
   * held back — the blamed entries (quarantined until they change), else the templates that changed since the
   * last clean apply (until they change again), else this exact rendering (until it differs). Returns the failure
   * per reverted daemon.
   */
  async #afterJudgements(
    judgements: readonly GuardJudgement[],
    guarded: ReadonlyMap<Daemon, GuardedDaemon>,
    rendered: RenderOutcome,
    report: MutableReport,
  ): Promise<Map<Daemon, { message: string; retry: boolean }>> {
    const { status } = this.options;
    const failures = new Map<Daemon, { message: string; retry: boolean }>();
    if (judgements.length === 0) return failures;
    report.guarded = judgements.map((j) => ({ daemon: j.daemon, verdict: j.verdict, holdMs: j.holdMs }));
    for (const j of judgements) {
      const state = status.daemons[j.daemon];
      if (j.verdict === 'confirmed') {
        if (j.reloadNeeded) state.reloadPending = true;
        continue;
      }
      // After the undo BIRD runs the files put back; unknown files (not put back) are read again next cycle.
      state.reloadPending = j.reloadNeeded;
      if (j.restored === undefined) this.#live.forget();
      if (j.verdict === 'interrupted') continue;
      const plan = guarded.get(j.daemon)!;
      const reason = `the apply guard reverted ${j.daemon}'s new configuration (${plan.reasons.join(', ')}): ${j.summary}`;
      const blamed = blameEntries(j.daemon, plan.live, rendered.files, rendered.spans(), plan.change.added, (key) =>
        this.options.keyspace.has(key),
      );
      const at = Date.now();
      let held: string[];
      // A blamed entry goes back to the value BIRD ran before; when that value is not known (no clean apply yet,
      // no record from a previous birdwatch), holding it would render it as absent — a peer removed, not reverted —
      // so this exact rendering is held instead.
      if (blamed.length > 0 && blamed.every((key) => this.#knowsPreviousValue(key))) {
        for (const key of blamed)
          this.#guardHeld.set(key, { bad: this.options.keyspace.get(key), previous: this.#previousValue(key) });
        held = blamed;
      } else if (this.#templates !== this.#appliedTemplates) {
        this.#heldTemplates = this.#templates;
        held = ['templates'];
      } else {
        this.#heldRenderings.set(j.daemon, renderingOf(rendered.files, j.daemon));
        held = [`${j.daemon} rendering`];
      }
      for (const key of held) this.#guardHolds.set(key, { key, daemon: j.daemon, reason, at });
      status.guardHolds = [...this.#guardHolds.values()];
      await this.#persistGuardHolds();
      this.options.log.error(
        { component: 'guard', daemon: j.daemon, blamed: held },
        `holding back ${held.join(', ')} until ${held.length === 1 ? 'it changes' : 'they change'}: ${reason}`,
      );
      failures.set(j.daemon, {
        message: `${reason}; held back: ${held.join(', ')}`,
        // With the blamed part held back, the rest of the change can go out now.
        retry: held[0] !== `${j.daemon} rendering`,
      });
    }
    return failures;
  }

  /** Entries a previous birdwatch held back stay held while their value is still the reverted one. */
  async #loadGuardHolds(): Promise<void> {
    this.#holdsLoaded = true;
    for (const [key, held] of Object.entries(await readGuardHolds(this.options.configDir))) {
      if ((this.options.keyspace.get(key) ?? null) !== held.bad) continue;
      this.#guardHeld.set(key, { bad: held.bad ?? undefined, previous: held.previous ?? undefined });
      this.#guardHolds.set(key, { key, daemon: held.daemon, reason: held.reason, at: held.at });
    }
    this.options.status.guardHolds = [...this.#guardHolds.values()];
    await this.#persistGuardHolds();
  }

  async #persistGuardHolds(): Promise<void> {
    const holds: Record<string, HeldEntry> = {};
    for (const [key, held] of this.#guardHeld) {
      const hold = this.#guardHolds.get(key);
      if (hold)
        holds[key] = {
          bad: held.bad ?? null,
          previous: held.previous ?? null,
          daemon: hold.daemon,
          reason: hold.reason,
          at: hold.at,
        };
    }
    await writeGuardHolds(this.options.configDir, holds).catch((error: unknown) =>
      this.options.log.warn(
        { component: 'guard' },
        `cannot record the held-back entries: ${error instanceof Error ? error.message : String(error)}`,
      ),
    );
  }

  #knowsPreviousValue(key: string): boolean {
    return this.#applied !== undefined || this.#recoveredValues.has(key);
  }

  /** The value BIRD ran before for a key (undefined: absent then, or unknown after a restart without a record). */
  #previousValue(key: string): string | undefined {
    if (this.#applied) return this.#applied.get(key);
    return this.#recoveredValues.get(key);
  }

  /** Keys whose value differs from the last clean apply (null: absent then), recorded in the guard marker. */
  #changedSinceApplied(): Record<string, string | null> {
    const applied = this.#applied;
    if (!applied) return Object.fromEntries([...this.#recoveredValues].map(([k, v]) => [k, v ?? null]));
    const changed: Record<string, string | null> = {};
    for (const [key, value] of this.options.keyspace)
      if (applied.get(key) !== value) changed[key] = applied.get(key) ?? null;
    for (const [key, value] of applied) if (!this.options.keyspace.has(key)) changed[key] = value;
    return changed;
  }

  /** A held-back rendering is not applied again: that daemon's live files stand in for it. */
  #withHeldRenderings(rendered: RenderOutcome, live: ReadonlyMap<string, string>): RenderOutcome {
    if (this.#heldRenderings.size === 0) return rendered;
    let files: Map<string, string> | undefined;
    for (const [daemon, fingerprint] of this.#heldRenderings) {
      if (renderingOf(rendered.files, daemon) !== fingerprint) {
        this.#heldRenderings.delete(daemon);
        this.#guardHolds.delete(`${daemon} rendering`);
        this.options.status.guardHolds = [...this.#guardHolds.values()];
        continue;
      }
      files ??= new Map(rendered.files);
      for (const name of files.keys())
        if (daemonOf(name) === daemon && live.has(name)) files.set(name, live.get(name)!);
    }
    return files ? { ...rendered, files } : rendered;
  }

  /** Holds lift when what they hold changes: the entry's value, the templates, the rendering. */
  async #releaseGuardHolds(): Promise<void> {
    if (this.#guardHolds.size === 0) return;
    let releasedAny = false;
    for (const [key, hold] of this.#guardHolds) {
      const released =
        key === 'templates'
          ? this.#templates !== this.#heldTemplates
          : key === `${hold.daemon} rendering`
            ? false // checked against the next rendering in #withHeldRenderings / below
            : this.options.keyspace.get(key) !== this.#guardHeld.get(key)?.bad;
      if (released) {
        this.#guardHolds.delete(key);
        this.#guardHeld.delete(key);
        releasedAny = true;
        if (key === 'templates') this.#heldTemplates = undefined;
        this.options.log.info({ component: 'guard', key }, `${key} changed; the apply guard lets it through again`);
      }
    }
    this.options.status.guardHolds = [...this.#guardHolds.values()];
    if (releasedAny) await this.#persistGuardHolds();
  }

  /** Files renamed into place (all, or part of a failed swap) leave their daemon needing a reload. */
  #recordSwaps(results: readonly DaemonPipelineResult[]): void {
    for (const result of results) {
      if (result.written.length > 0 || result.diverged) this.options.status.daemons[result.daemon].reloadPending = true;
      // A swap that failed part-way: trust nothing about the directory; the next read reads every file.
      if (result.failure?.step === 'swap') {
        this.options.status.daemons[result.daemon].reloadPending = true;
        this.#live.forget();
      }
    }
  }

  async #restore(result: DaemonPipelineResult, before: ReadonlyMap<string, string>): Promise<void> {
    const { log, status } = this.options;
    const previous = new Map(
      result.written.flatMap((name) => (before.has(name) ? [[name, before.get(name)!] as const] : [])),
    );
    if (previous.size === 0) return;
    try {
      await this.options.edges.write(this.options.configDir, previous);
      status.daemons[result.daemon].reloadPending = false;
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

  /**
   * A bird -p that could not run (hung, missing) or that refused what BIRD took: until it accepts a set again,
   * that daemon is reloaded after the swap — else each retry would give BIRD the set and take it back (a flap).
   */
  #noteValidator(r: DaemonPipelineResult): void {
    if (r.validateMs === undefined) return;
    const couldNotRun = r.failure?.step === 'validate' && r.failure.transient;
    const disagreed = r.validation !== undefined && r.stagedReload?.kind === 'applied';
    if (couldNotRun || disagreed) this.#sequentialUntilValid.add(r.daemon);
    else if (r.validation === undefined) this.#sequentialUntilValid.delete(r.daemon);
  }

  /** BIRD cannot open files at the staging path (it sees the config dir through another mount): say so once. */
  #stopOverlap(daemon: Daemon, reply: string): void {
    if (!this.#overlap.delete(daemon)) return;
    this.options.log.warn(
      { component: 'apply', daemon, reply },
      `${daemon} cannot read birdwatch's staged files (${reply}); from now on ${daemon} is reloaded after the swap, not while bird -p checks (--sequential-reload says so from the start)`,
    );
  }

  #quarantineEntry(result: DaemonPipelineResult): void {
    const key = result.validation!.entryKey!;
    const entry: QuarantinedEntry = {
      key,
      value: this.options.keyspace.get(key) ?? '',
      daemon: result.daemon,
      reason: `${result.daemon} -p refused the lines rendered from it: ${result.validation!.file}:${result.validation!.line ?? 0} ${result.validation!.message}`,
    };
    this.#quarantine.set(key, entry);
    this.options.log.warn(
      { component: 'apply', daemon: result.daemon, key },
      `quarantined ${key}: ${entry.reason}; applying the rest without it until the entry changes`,
    );
  }

  /** A quarantined entry that changed (or went away) is tried again. */
  #releaseChangedQuarantine(): void {
    for (const [key, entry] of this.#quarantine) {
      if (this.options.keyspace.get(key) === entry.value) continue;
      this.#quarantine.delete(key);
      this.options.log.info({ component: 'apply', key }, `${key} changed; trying it again`);
    }
  }

  #quarantineDiagnostics(): Diagnostic[] {
    return [...this.#quarantine.values()].map((q) => ({
      key: q.key,
      value: q.value,
      action: 'skipped',
      reason: `quarantined: ${q.reason}`,
    }));
  }

  #recordReachability(daemon: Daemon, reachable: boolean, message: string): void {
    const { status, log } = this.options;
    const was = status.birdReachable[daemon];
    status.birdReachable[daemon] = reachable;
    // Said once when it goes away, not on every retry.
    if (!reachable && was !== false) log.warn({ component: 'bird', daemon }, `${message}; will retry the reload`);
    if (reachable && was === false) log.info({ component: 'bird', daemon }, `${daemon} answers again`);
  }

  #logApplied(results: readonly DaemonPipelineResult[], before: ReadonlyMap<string, string>, files: FileSet): void {
    const written = results.flatMap((r) => r.written);
    const news = written.length > 0 || results.some((r) => r.reload && r.reload.kind !== 'unreachable');
    if (!news) return;
    // Exactly what was written differs: the other files are compared with themselves.
    const after = new Map([...before, ...[...files].filter(([name]) => written.includes(name))]);
    const diff = written.length > 0 ? formatConfigChange(summarizeConfigChange(before, after, this.#statements)) : '';
    this.options.log.info(
      {
        component: 'cycle',
        changes: diff || undefined,
        files: written.length > 0 ? written : undefined,
        reload: Object.fromEntries(
          results.flatMap((r) =>
            r.reload
              ? [
                  [
                    r.daemon,
                    r.reload.kind === 'applied'
                      ? `${r.reload.message} (${r.reload.ms.toFixed(1)} ms)`
                      : `${r.reload.kind}: ${r.reload.message}`,
                  ],
                ]
              : [],
          ),
        ),
      },
      written.length > 0 ? 'configuration applied' : 'reloaded BIRD',
    );
  }

  #logDiagnostics(diagnostics: readonly Diagnostic[]): void {
    // Each skipped entry is logged once, when it first appears, not on every cycle.
    const now = new Set(diagnostics.map(formatDiagnostic));
    for (const line of now)
      if (!this.#lastDiagnostics.has(line)) this.options.log.warn({ component: 'model' }, `skipped entry: ${line}`);
    this.#lastDiagnostics = now;
  }

  #renderFailed(report: MutableReport, kind: FailureKind, message: string, retry: boolean): AppliedCycle {
    report.failures.push({ kind, daemon: undefined });
    this.#setFailure('render', kind, message, undefined);
    return { reloaded: false, reloadPending: false, converged: false, retry };
  }

  #setFailure(
    scope: 'render' | Daemon,
    kind: FailureKind,
    message: string,
    result: DaemonPipelineResult | undefined,
  ): void {
    const { status, log } = this.options;
    const previous = scope === 'render' ? status.renderFailure : status.daemons[scope].failure;
    const failure: ApplyFailure = {
      kind,
      message,
      at: previous?.message === message ? previous.at : Date.now(),
      daemon: scope === 'render' ? undefined : scope,
    };
    if (scope === 'render') status.renderFailure = failure;
    else status.daemons[scope].failure = failure;
    // The same failure on every change would flood the log: say it once, and again when it changes.
    if (this.#lastLogged.get(scope) === message) return;
    this.#lastLogged.set(scope, message);
    const written = result?.written ?? [];
    const consequence =
      scope === 'render'
        ? 'both daemons keep their live configuration'
        : result?.reload?.kind === 'rejected' || kind === 'guard'
          ? `${scope} keeps running its previous configuration`
          : written.length > 0
            ? `${written.length} of ${scope}'s files were replaced (${written.join(', ')}); ${scope} will be reloaded once it can`
            : `${scope}'s live configuration is unchanged`;
    log.error(
      { component: 'cycle', failure: kind, daemon: scope === 'render' ? undefined : scope },
      `${message}; ${consequence}`,
    );
  }

  #clearFailure(scope: 'render' | Daemon): void {
    const { status, log } = this.options;
    const had = scope === 'render' ? status.renderFailure : status.daemons[scope].failure;
    if (scope === 'render') status.renderFailure = undefined;
    else status.daemons[scope].failure = undefined;
    if (had)
      log.info(
        { component: 'cycle', daemon: scope === 'render' ? undefined : scope },
        scope === 'render' ? 'the previous failure is resolved' : `${scope}: the previous failure is resolved`,
      );
    this.#lastLogged.delete(scope);
  }
}

const isNoop = (r: DaemonPipelineResult): boolean =>
  r.changed.length === 0 && r.reload === undefined && r.failure === undefined && !r.aborted;

/** One daemon's rendered files as one string (held-back renderings are compared by it). */
const renderingOf = (files: FileSet, daemon: Daemon): string =>
  [...files]
    .filter(([name]) => daemonOf(name) === daemon)
    .map(([name, content]) => `${name}\0${content}`)
    .join('\0');
