import { errorMessage } from '../errorMessage.js';
import { formatDiagnostic, type Diagnostic } from '../model/diagnostics.js';
import type { Daemon } from '../model/daemon.js';
import type { FailureKind } from '../observe/failureKind.js';
import type { Logger } from '../observe/logger.js';
import type { ApplyFailure, DriftCause, RunStatus } from '../observe/runStatus.js';
import { escapeControlCharacters } from '../model/controlCharacters.js';
import type { FileSet } from '../render/fileSet.js';
import type { DaemonFailureKind } from '../observe/failureKind.js';
import type { DaemonPipelineResult } from './applyPipeline.js';
import type { CycleFailureDetail, CycleResult } from './cycleResult.js';
import { formatConfigChange, summarizeConfigChange, type StatementSource } from './diffSummary.js';
import type { LogEvent } from '../observe/logEvents.js';

const failureKindOf = (step: NonNullable<DaemonPipelineResult['failure']>['step']): DaemonFailureKind =>
  step === 'validate' ? 'validation' : step === 'reload' ? 'reload' : 'write';

/** A failure holds every daemon back (`render`: the node, the templates, an unexpected error) or one. */
export type FailureScope = 'render' | Daemon;

/**
 * What the cycle tells the operator (README "The apply path": each failure logged once) and feeds into RunStatus:
 * failures set and cleared, BIRD's reachability, reload counts, the skipped entries, the applied change.
 */
export class DaemonReporter {
  readonly #failures = new Map<FailureScope, ApplyFailure>();
  readonly #lastLogged = new Map<FailureScope, string>();
  readonly #reachable = new Map<Daemon, boolean>();
  readonly #reloads = new Map<Daemon, number>();
  #lastDiagnostics = new Set<string>();

  constructor(
    private readonly status: RunStatus,
    private readonly log: Logger,
  ) {}

  fail(scope: FailureScope, kind: FailureKind, message: string, result?: DaemonPipelineResult): void {
    const previous = this.#failures.get(scope);
    const failure: ApplyFailure = {
      kind,
      message,
      at: previous?.message === message ? previous.at : Date.now(),
      daemon: scope === 'render' ? undefined : scope,
    };
    this.#failures.set(scope, failure);
    this.#publish(scope, failure);
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
    this.log.error(
      {
        component: 'cycle',
        event: 'apply-failed' satisfies LogEvent,
        failure: kind,
        daemon: scope === 'render' ? undefined : scope,
      },
      `${message}; ${consequence}`,
    );
  }

  resolved(scope: FailureScope): void {
    const had = this.#failures.delete(scope);
    this.#publish(scope, undefined);
    if (had)
      this.log.info(
        {
          component: 'cycle',
          event: 'failure-resolved' satisfies LogEvent,
          daemon: scope === 'render' ? undefined : scope,
        },
        scope === 'render' ? 'the previous failure is resolved' : `${scope}: the previous failure is resolved`,
      );
    this.#lastLogged.delete(scope);
  }

  /**
   * Each daemon's outcome, in order: its reload (counted; BIRD's reachability), then `settle` — the cycle's own
   * consequences, which say whether a reload is still owed — then its failure (the guard's verdict first), or
   * that it runs what was rendered.
   */
  async outcomes(
    results: readonly DaemonPipelineResult[],
    guardFailures: ReadonlyMap<Daemon, { readonly message: string; readonly retry: boolean }>,
    settle: (result: DaemonPipelineResult) => Promise<boolean>,
  ): Promise<{ failures: CycleFailureDetail[]; reloads: CycleResult['reloads'][number][]; transient: boolean }> {
    const failures: CycleFailureDetail[] = [];
    const reloads: CycleResult['reloads'][number][] = [];
    let transient = false;
    for (const r of results) {
      if (r.reload) {
        reloads.push({
          daemon: r.daemon,
          result: r.reload.kind,
          ms: r.reload.kind === 'applied' ? r.reload.ms : undefined,
        });
        this.reloaded(r.daemon, r.reload.kind, r.reload.message);
      }
      const owed = await settle(r);
      const guard = guardFailures.get(r.daemon);
      const failure = guard
        ? { kind: 'guard' as const, message: guard.message, transient: guard.retry }
        : r.failure && { ...r.failure, kind: failureKindOf(r.failure.step) };
      if (failure) {
        transient ||= failure.transient;
        failures.push({ kind: failure.kind, daemon: r.daemon, message: failure.message });
        this.fail(r.daemon, failure.kind, failure.message, r);
        // BIRD took what birdwatch gave it (a refused set's previous files, a guard's undo): no longer drifted.
        if (!owed && r.reload?.kind === 'applied') this.#repaired(r.daemon);
      } else if (!owed) this.applied(r.daemon);
    }
    return { failures, reloads, transient };
  }

  /** The daemon runs what was rendered. */
  applied(daemon: Daemon): void {
    this.resolved(daemon);
    this.status.daemons[daemon]!.lastAppliedAt = Date.now();
    this.#repaired(daemon);
  }

  /** BIRD runs what birdwatch gave it again, after a drift. */
  #repaired(daemon: Daemon): void {
    const state = this.status.daemons[daemon]!;
    if (state.drift)
      this.log.info(
        { component: 'bird', daemon, event: 'bird-drift-repaired' satisfies LogEvent, cause: state.drift.cause },
        `${daemon} runs what birdwatch gave it again`,
      );
    state.drift = undefined;
  }

  /**
   * BIRD may run something other than what it was given (README "Reliability"): logged (a warning with its
   * cause), and `/readyz` says why until the daemon is applied again.
   */
  drifted(daemon: Daemon, drift: { readonly cause: DriftCause; readonly reason: string }): void {
    const state = this.status.daemons[daemon]!;
    state.drifts = { ...state.drifts, [drift.cause]: (state.drifts?.[drift.cause] ?? 0) + 1 };
    state.drift = { ...drift, since: state.drift?.since ?? Date.now() };
    this.log.warn(
      { component: 'bird', daemon, event: 'bird-drift' satisfies LogEvent, cause: drift.cause },
      drift.reason,
    );
  }

  /** What BIRD answered to a reload: counted, and whether it answers at all (said once when that changes). */
  reloaded(daemon: Daemon, kind: NonNullable<DaemonPipelineResult['reload']>['kind'], message: string): void {
    if (kind === 'applied') {
      this.#reloads.set(daemon, (this.#reloads.get(daemon) ?? 0) + 1);
      this.status.reloads[daemon] = this.#reloads.get(daemon);
    }
    if (kind === 'garbled') return;
    const reachable = kind !== 'unreachable';
    const was = this.#reachable.get(daemon);
    this.#reachable.set(daemon, reachable);
    this.status.birdReachable[daemon] = reachable;
    if (!reachable && was !== false)
      this.log.warn(
        { component: 'bird', daemon, event: 'bird-unreachable' satisfies LogEvent },
        `${message}; will retry the reload`,
      );
    if (reachable && was === false)
      this.log.info(
        { component: 'bird', daemon, event: 'bird-reachable' satisfies LogEvent },
        `${daemon} answers again`,
      );
  }

  /** After BIRD refused the new set: the files it runs were put back (or could not be: `error`). */
  putBack(daemon: Daemon, files: readonly string[], error?: unknown): void {
    if (error === undefined)
      this.log.warn(
        { component: 'apply', daemon, event: 'refused-put-back' satisfies LogEvent, files },
        `${daemon} refused the new configuration; put back the files it runs`,
      );
    else
      this.log.error(
        { component: 'apply', daemon, event: 'refused-put-back-failed' satisfies LogEvent },
        `${daemon} refused the new configuration and its previous files could not be put back: ${errorMessage(error)}`,
      );
  }

  /** Each skipped entry is logged once, when it first appears, not on every cycle; `/readyz` names them. */
  diagnostics(diagnostics: readonly Diagnostic[]): void {
    this.status.skipped = diagnostics
      .filter((d) => d.action === 'skipped')
      .map((d) => ({ key: escapeControlCharacters(d.key), reason: escapeControlCharacters(d.reason) }));
    const now = new Map(diagnostics.map((d) => [formatDiagnostic(d), d]));
    for (const [line, d] of now)
      if (!this.#lastDiagnostics.has(line))
        this.log.warn(
          { component: 'model', event: 'entry-skipped' satisfies LogEvent, key: escapeControlCharacters(d.key) },
          `skipped entry: ${line}`,
        );
    this.#lastDiagnostics = new Set(now.keys());
  }

  /** From the first change a cycle picked up to BIRD having applied it (said when something was applied). */
  latency(latencyMs: number, cycleMs: number, validateMs: number | undefined): void {
    const round = (ms: number): number => Math.round(ms * 10) / 10;
    this.log.info(
      {
        component: 'cycle',
        event: 'change-applied' satisfies LogEvent,
        latencyMs: round(latencyMs),
        cycleMs: round(cycleMs),
        validateMs: validateMs === undefined ? undefined : round(validateMs),
      },
      'change applied',
    );
  }

  /** `configuration applied` (or `reloaded BIRD`): the files written, what they change, each daemon's reload. */
  change(
    results: readonly DaemonPipelineResult[],
    before: ReadonlyMap<string, string>,
    files: FileSet,
    statements: StatementSource,
  ): void {
    const written = results.flatMap((r) => r.written);
    const news = written.length > 0 || results.some((r) => r.reload && r.reload.kind !== 'unreachable');
    if (!news) return;
    // Exactly what was written differs: the other files are compared with themselves.
    const after = new Map([...before, ...[...files].filter(([name]) => written.includes(name))]);
    const diff = written.length > 0 ? formatConfigChange(summarizeConfigChange(before, after, statements)) : '';
    this.log.info(
      {
        component: 'cycle',
        event: (written.length > 0 ? 'configuration-applied' : 'reloaded') satisfies LogEvent,
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

  #publish(scope: FailureScope, failure: ApplyFailure | undefined): void {
    if (scope === 'render') this.status.renderFailure = failure;
    else this.status.daemons[scope]!.failure = failure;
  }
}
