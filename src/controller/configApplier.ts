import { LiveFiles } from '../apply/liveFileSet.js';
import { formatDiagnostic, type Diagnostic } from '../model/diagnostics.js';
import { isNodeConfigError } from '../model/errors.js';
import type { Keyspace } from '../model/keyspaceIndex.js';
import { keyspaceWithout } from '../model/keyspaceView.js';
import { isTemplateError, TemplateError } from '../render/errors.js';
import type { FileSet } from '../render/fileSet.js';
import type { CompiledTemplateSet } from '../render/templateSet.js';
import type { Logger } from '../observe/logger.js';
import type { CycleObserver, CycleReport } from '../observe/cycleReport.js';
import { DAEMONS, type Daemon } from '../model/daemon.js';
import type { DaemonFailureKind, FailureKind } from '../observe/failureKind.js';
import type { ApplyFailure, QuarantinedEntry, RunStatus } from '../observe/runStatus.js';
import {
  runDaemonPipeline,
  type DaemonPipelineResult,
  type PipelineEdges,
  type PipelineMode,
} from './applyPipeline.js';
import type { CycleOutcome } from './coalescer.js';
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

  constructor(
    private readonly options: ConfigApplierOptions,
    templates: CompiledTemplateSet | TemplateError,
  ) {
    this.#templates = templates;
    this.#live = new LiveFiles(options.configDir);
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
    this.#releaseChangedQuarantine();
    let rendered: RenderOutcome | undefined;
    let results: DaemonPipelineResult[] = [];
    let before: ReadonlyMap<string, string> = new Map();
    const maxQuarantine = this.options.maxQuarantinePerCycle ?? DEFAULT_MAX_QUARANTINE;
    let quarantinedNow = 0;
    for (;;) {
      const renderStarted = now();
      try {
        if (this.#templates instanceof TemplateError) throw this.#templates;
        rendered = this.options.role.render(
          keyspaceWithout(this.options.keyspace, new Set(this.#quarantine.keys())),
          this.#templates,
        );
      } catch (error) {
        if (isNodeConfigError(error)) return this.#renderFailed(report, 'node', error.message, false);
        if (isTemplateError(error)) return this.#renderFailed(report, 'template', error.message, false);
        throw error;
      }
      report.renderMs += now() - renderStarted;
      this.#clearFailure('render');
      before = await this.#live.read(rendered.files.keys());
      const input = rendered;
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
              edges: this.options.edges,
              signal,
              now,
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
      if (result.failure) {
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
    const allApplied = results.every((r) => !r.failure && (!applying || !status.daemons[r.daemon].reloadPending));
    // The change is applied the moment BIRD answered: the latency is taken here, before any bookkeeping.
    if (changeAt !== undefined && allApplied) {
      report.latencyMs = now() - changeAt;
      if (results.some((r) => r.written.length > 0 || r.reload)) {
        this.options.log.info(
          { component: 'cycle', latencyMs: round(report.latencyMs), cycleMs: round(now() - started) },
          'change applied',
        );
      }
    }
    this.#logApplied(results, before, rendered.files);
    if (results.some((r) => r.written.length > 0 || r.reload?.kind === 'applied')) report.result = 'applied';
    if (this.options.mode !== undefined && this.options.mode !== 'apply')
      return { reloaded, reloadPending: false, converged: allApplied, retry, detail };
    return { reloaded, reloadPending: pending, converged: allApplied && !pending, retry: retry || pending, detail };
  }

  /** Files renamed into place (all, or part of a failed swap) leave their daemon needing a reload. */
  #recordSwaps(results: readonly DaemonPipelineResult[]): void {
    for (const result of results) {
      if (result.written.length > 0) this.options.status.daemons[result.daemon].reloadPending = true;
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
    const diff = written.length > 0 ? formatConfigChange(summarizeConfigChange(before, after)) : '';
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
        : result?.reload?.kind === 'rejected'
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
