import { readLiveFileSet } from '../apply/liveFileSet.js';
import { stageFileSet } from '../apply/stagingDir.js';
import { swapFileSet } from '../apply/swapFileSet.js';
import { isApplyError } from '../apply/errors.js';
import { formatDiagnostic } from '../model/diagnostics.js';
import { isNodeConfigError } from '../model/errors.js';
import { isTemplateError, TemplateError } from '../render/errors.js';
import { daemonOf, sameFileSet, type FileSet } from '../render/fileSet.js';
import type { CompiledTemplateSet } from '../render/templateSet.js';
import type { Logger } from '../observe/logger.js';
import type { CycleObserver, CycleReport } from '../observe/cycleReport.js';
import type { ApplyFailure, Daemon, RunStatus } from '../observe/runStatus.js';
import type { CycleOutcome } from './coalescer.js';
import { formatConfigChange, summarizeConfigChange } from './diffSummary.js';
import { reloadBird, type ReloadOutcome } from './reloadBird.js';
import type { RenderOutcome, RoleRenderer } from './roleRenderer.js';
import { formatValidationFailure, validateStagedFileSet, type BirdBinaries } from './validateStaged.js';

export interface ConfigApplierOptions {
  readonly role: RoleRenderer;
  readonly configDir: string;
  readonly keyspace: ReadonlyMap<string, string>;
  readonly binaries: BirdBinaries;
  readonly sockets: Readonly<Record<Daemon, string>>;
  readonly log: Logger;
  readonly status: RunStatus;
  readonly observer?: CycleObserver;
  /** Monotonic clock (ms) for latencies; performance.now by default. */
  readonly now?: () => number;
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

export interface AppliedCycle extends CycleOutcome {
  /** BIRD still has to be reloaded (it was unreachable): retry later. */
  readonly reloadPending: boolean;
  /** The cycle failed for a reason that can pass by itself (the disk): try again later, not only on the next change. */
  readonly retry?: boolean;
  /** BIRD runs what the datastore says (nothing left to do). */
  readonly converged: boolean;
}

/**
 * One cycle, top to bottom: model → render → compare with the live files → stage → validate → swap →
 * reload. It remembers what it applied, so an unchanged rendering costs a render and a compare, no I/O.
 */
export class ConfigApplier {
  #templates: CompiledTemplateSet | TemplateError;
  #live: FileSet | undefined;
  /** Daemons that must be told to reload: both at start (BIRD may run an older config), then after swaps. */
  readonly #reloadPending = new Set<Daemon>(['bird', 'bird6']);
  #lastFailureMessage: string | undefined;
  #lastDiagnostics = new Set<string>();

  constructor(
    private readonly options: ConfigApplierOptions,
    templates: CompiledTemplateSet | TemplateError,
  ) {
    this.#templates = templates;
  }

  setTemplates(templates: CompiledTemplateSet | TemplateError): void {
    this.#templates = templates;
  }

  /**
   * `changeAt`: when the first change this cycle handles arrived (same clock as `now`), for the latency.
   */
  async cycle(signal?: AbortSignal, changeAt?: number): Promise<AppliedCycle> {
    const now = this.options.now ?? (() => performance.now());
    const report: { -readonly [K in keyof CycleReport]: CycleReport[K] } = {
      result: 'unchanged',
      renderMs: 0,
      validateMs: undefined,
      reloads: [],
      latencyMs: undefined,
      diagnostics: [],
    };
    const outcome = await this.#cycle(report, now, signal, changeAt);
    if (outcome.converged && report.result !== 'unchanged') report.result = 'applied';
    else if (outcome.reloadPending) report.result = 'reload-pending';
    this.options.observer?.cycleEnded(report);
    return outcome;
  }

  async #cycle(report: { -readonly [K in keyof CycleReport]: CycleReport[K] }, now: () => number, signal: AbortSignal | undefined, changeAt: number | undefined): Promise<AppliedCycle> {
    const { log, status } = this.options;
    const started = now();
    status.cycles++;
    const fail = (kind: ApplyFailure['kind'], message: string): AppliedCycle => {
      report.result = 'failed';
      report.failureKind = kind;
      return this.#fail(kind, message);
    };
    let rendered: RenderOutcome;
    const renderStarted = now();
    try {
      if (this.#templates instanceof TemplateError) throw this.#templates;
      rendered = this.options.role.render(this.options.keyspace, this.#templates);
    } catch (error) {
      if (isNodeConfigError(error)) return fail('node', error.message);
      if (isTemplateError(error)) return fail('template', error.message);
      throw error;
    }
    report.renderMs = now() - renderStarted;
    report.diagnostics = rendered.diagnostics;
    const { files, spans } = rendered;
    this.#logDiagnostics(rendered);
    this.#live ??= await readLiveFileSet(this.options.configDir, files.keys());
    const before = this.#live;
    const changed = !sameFileSet(files, this.#live);
    if (!changed && this.#reloadPending.size === 0) {
      this.#succeed();
      if (changeAt !== undefined) report.latencyMs = now() - changeAt;
      return { reloaded: false, reloadPending: false, converged: true };
    }
    let validateMs = 0;
    let written: string[] = [];
    if (changed) {
      // A daemon whose files are all unchanged runs a set that was validated when it was written.
      const daemons = new Set([...files.keys()].filter((name) => files.get(name) !== before.get(name)).map(daemonOf));
      let staged;
      try {
        // Only the daemons whose files changed are validated, so only their files need staging.
        staged = await stageFileSet(this.options.configDir, new Map([...files].filter(([name]) => daemons.has(daemonOf(name)))));
      } catch (error) {
        if (isApplyError(error)) return fail('write', error.message);
        throw error;
      }
      try {
        const validateStarted = now();
        const failure = await validateStagedFileSet(staged.dir, spans, this.options.binaries, signal, daemons);
        validateMs = now() - validateStarted;
        report.validateMs = validateMs;
        if (failure) return fail('validation', formatValidationFailure(failure));
        written = await swapFileSet(this.options.configDir, files, this.#live);
      } catch (error) {
        // A failed swap may have replaced some files: re-read the directory next cycle instead of trusting memory.
        this.#live = undefined;
        if (isApplyError(error)) return fail('write', error.message);
        throw error;
      } finally {
        await staged.remove();
      }
      this.#live = files;
      for (const file of written) this.#reloadPending.add(daemonOf(file));
    }
    const outcomes = await Promise.all([...this.#reloadPending].sort().map((d) => reloadBird(d, this.options.sockets[d], signal)));
    const reloaded = this.#recordReloads(outcomes);
    // The change is applied the moment BIRD answered: the latency is taken here, before any bookkeeping.
    if (changeAt !== undefined && this.#reloadPending.size === 0 && outcomes.every((o) => o.kind === 'applied')) {
      report.latencyMs = now() - changeAt;
      log.info({ component: 'cycle', latencyMs: round(report.latencyMs), cycleMs: round(now() - started) }, 'change applied');
    }
    // The summary `render --diff` prints (sessions added/removed/changed; shared parts), computed after the reload.
    const diff = changed ? formatConfigChange(summarizeConfigChange(before, files)) : '';
    report.result = 'applied';
    report.reloads = outcomes.map((o) => ({ daemon: o.daemon, result: o.kind, ms: o.kind === 'applied' ? o.ms : undefined }));
    const rejected = outcomes.find((o) => o.kind === 'rejected');
    // A retry that only finds BIRD still unreachable is not news (that was said once, when it went away).
    const news = changed || outcomes.some((o) => o.kind !== 'unreachable');
    if (news) log.info(
      {
        component: 'cycle',
        changes: diff || undefined,
        files: written.length > 0 ? written : undefined,
        validateMs: changed ? round(validateMs) : undefined,
        reload: Object.fromEntries(outcomes.map((o) => [o.daemon, o.kind === 'applied' ? `${o.message} (${o.ms.toFixed(1)} ms)` : `${o.kind}: ${o.message}`])),
      },
      changed ? 'configuration applied' : 'reloaded BIRD',
    );
    if (rejected) return { ...fail('reload', rejected.message), reloaded };
    const pending = this.#reloadPending.size > 0;
    if (!pending) this.#succeed();
    return { reloaded, reloadPending: pending, converged: !pending };
  }

  #recordReloads(outcomes: readonly ReloadOutcome[]): boolean {
    const { status, log } = this.options;
    let reloaded = false;
    for (const outcome of outcomes) {
      const wasReachable = status.birdReachable[outcome.daemon];
      status.birdReachable[outcome.daemon] = outcome.kind !== 'unreachable';
      if (outcome.kind === 'unreachable') {
        if (wasReachable !== false) log.warn({ component: 'bird', daemon: outcome.daemon }, `${outcome.message}; will retry the reload`);
        continue;
      }
      if (wasReachable === false) log.info({ component: 'bird', daemon: outcome.daemon }, `${outcome.daemon} answers again`);
      this.#reloadPending.delete(outcome.daemon);
      if (outcome.kind === 'applied') {
        reloaded = true;
        status.reloads[outcome.daemon]++;
      }
    }
    return reloaded;
  }

  #logDiagnostics(rendered: RenderOutcome): void {
    // Each skipped entry is logged once, when it first appears, not on every cycle.
    const now = new Set(rendered.diagnostics.map(formatDiagnostic));
    for (const line of now) if (!this.#lastDiagnostics.has(line)) this.options.log.warn({ component: 'model' }, `skipped entry: ${line}`);
    this.#lastDiagnostics = now;
  }

  #fail(kind: ApplyFailure['kind'], message: string): AppliedCycle {
    const { status, log } = this.options;
    status.failure = { kind, message, at: Date.now() };
    // The same failure on every change would flood the log: say it once, and again when it changes.
    if (message !== this.#lastFailureMessage) log.error({ component: 'cycle', failure: kind }, `${message}; the live configuration is unchanged`);
    this.#lastFailureMessage = message;
    return { reloaded: false, reloadPending: false, converged: false, retry: kind === 'write' };
  }

  #succeed(): void {
    const { status, log } = this.options;
    if (this.#lastFailureMessage !== undefined) log.info({ component: 'cycle' }, 'the previous failure is resolved');
    this.#lastFailureMessage = undefined;
    status.failure = undefined;
    status.lastAppliedAt = Date.now();
  }
}
