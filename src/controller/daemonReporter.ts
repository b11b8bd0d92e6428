import { formatDiagnostic, type Diagnostic } from '../model/diagnostics.js';
import type { Daemon } from '../model/daemon.js';
import type { FailureKind } from '../observe/failureKind.js';
import type { Logger } from '../observe/logger.js';
import type { ApplyFailure, RunStatus } from '../observe/runStatus.js';
import type { FileSet } from '../render/fileSet.js';
import type { DaemonPipelineResult } from './applyPipeline.js';
import { formatConfigChange, summarizeConfigChange, type StatementSource } from './diffSummary.js';

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
      { component: 'cycle', failure: kind, daemon: scope === 'render' ? undefined : scope },
      `${message}; ${consequence}`,
    );
  }

  resolved(scope: FailureScope): void {
    const had = this.#failures.delete(scope);
    this.#publish(scope, undefined);
    if (had)
      this.log.info(
        { component: 'cycle', daemon: scope === 'render' ? undefined : scope },
        scope === 'render' ? 'the previous failure is resolved' : `${scope}: the previous failure is resolved`,
      );
    this.#lastLogged.delete(scope);
  }

  /** The daemon runs what was rendered. */
  applied(daemon: Daemon): void {
    this.resolved(daemon);
    this.status.daemons[daemon]!.lastAppliedAt = Date.now();
  }

  /** What BIRD answered to a reload: counted, and whether it answers at all (said once when that changes). */
  reloaded(daemon: Daemon, kind: NonNullable<DaemonPipelineResult['reload']>['kind'], message: string): void {
    if (kind === 'applied') this.status.reloads[daemon] = (this.status.reloads[daemon] ?? 0) + 1;
    if (kind === 'garbled') return;
    const reachable = kind !== 'unreachable';
    const was = this.#reachable.get(daemon);
    this.#reachable.set(daemon, reachable);
    this.status.birdReachable[daemon] = reachable;
    if (!reachable && was !== false) this.log.warn({ component: 'bird', daemon }, `${message}; will retry the reload`);
    if (reachable && was === false) this.log.info({ component: 'bird', daemon }, `${daemon} answers again`);
  }

  /** Each skipped entry is logged once, when it first appears, not on every cycle. */
  diagnostics(diagnostics: readonly Diagnostic[]): void {
    const now = new Set(diagnostics.map(formatDiagnostic));
    for (const line of now)
      if (!this.#lastDiagnostics.has(line)) this.log.warn({ component: 'model' }, `skipped entry: ${line}`);
    this.#lastDiagnostics = now;
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
