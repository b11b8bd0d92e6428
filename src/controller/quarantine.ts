import type { Daemon } from '../model/daemon.js';
import type { Diagnostic } from '../model/diagnostics.js';
import type { Keyspace } from '../model/keyspaceIndex.js';
import type { LogEvent } from '../observe/logEvents.js';
import type { Logger } from '../observe/logger.js';
import type { QuarantinedEntry } from '../observe/runStatus.js';
import type { DaemonPipelineResult, OpenedWindow } from './applyPipeline.js';
import type { CycleTally } from './cycleResult.js';
import type { GuardedDaemon } from './guard/judgement.js';
import type { RenderOutcome } from './roleRenderer.js';

/** Entries one cycle may quarantine before it gives up and keeps the live configuration. */
const DEFAULT_MAX_QUARANTINE = 8;

/**
 * Entries whose rendered lines bird -p refused (README "The apply path"): left out of the rendering until their
 * value changes. A cycle renders again without the entries a round quarantined (another round) and applies the
 * rest, up to `max` entries a cycle.
 */
export class Quarantine {
  readonly #entries = new Map<string, QuarantinedEntry>();
  #thisCycle = 0;

  constructor(
    private readonly log: Logger,
    private readonly max = DEFAULT_MAX_QUARANTINE,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  keys(): ReadonlySet<string> {
    return new Set(this.#entries.keys());
  }

  list(): QuarantinedEntry[] {
    return [...this.#entries.values()];
  }

  /** A new cycle: a quarantined entry that changed (or went away) is tried again. */
  startCycle(keyspace: Keyspace): void {
    this.#thisCycle = 0;
    for (const [key, entry] of this.#entries) {
      if (keyspace.get(key) === entry.value) continue;
      this.#entries.delete(key);
      this.log.info(
        { component: 'apply', event: 'quarantine-lifted' satisfies LogEvent, key },
        `${key} changed; trying it again`,
      );
    }
  }

  /**
   * After a round: the refusals pinned on an entry not yet quarantined quarantine it. Whether to run another round
   * (false: none, the cycle's bound reached, or stopping).
   */
  takeRefused(rounds: CycleRounds, keyspace: Keyspace, stopping: boolean): boolean {
    const blamed = rounds.results.flatMap((r) =>
      r.validation?.entryKey !== undefined &&
      !this.#entries.has(r.validation.entryKey) &&
      keyspace.has(r.validation.entryKey)
        ? [{ daemon: r.daemon, validation: r.validation, key: r.validation.entryKey }]
        : [],
    );
    if (blamed.length === 0 || this.#thisCycle >= this.max || stopping) return false;
    for (const { daemon, validation, key } of blamed) {
      const entry: QuarantinedEntry = {
        key,
        value: keyspace.get(key) ?? '',
        daemon,
        reason: `${daemon} -p refused the lines rendered from it: ${validation.file}:${validation.line ?? 0} ${validation.message}`,
      };
      this.#entries.set(key, entry);
      this.log.warn(
        { component: 'apply', daemon, event: 'quarantined' satisfies LogEvent, key },
        `quarantined ${key}: ${entry.reason}; applying the rest without it until the entry changes`,
      );
    }
    this.#thisCycle += blamed.length;
    rounds.refusedEntries += blamed.length;
    return true;
  }

  /** Quarantined entries as skipped entries (`/readyz`, metrics and logs name them like any skipped entry). */
  diagnostics(): Diagnostic[] {
    return this.list().map((q) => ({
      key: q.key,
      value: q.value,
      action: 'skipped',
      reason: `quarantined: ${q.reason}`,
    }));
  }
}

/**
 * One cycle's rounds — render → compare → plan → pipeline, again without each entry a round quarantined — and
 * what they add up to.
 */
export class CycleRounds {
  rendered: RenderOutcome | undefined;
  /** The keyspace the last round rendered (without quarantined keys, held entries at their previous value). */
  keyspace: Keyspace | undefined;
  live: ReadonlyMap<string, string> = new Map();
  /** Each daemon's result: the last round's, or an earlier one's where nothing was new since. */
  results: readonly DaemonPipelineResult[] = [];
  /** Each guarded daemon's first plan, and the daemons whose `configure timeout` BIRD took (not planned again). */
  readonly guarded = new Map<Daemon, GuardedDaemon>();
  readonly opened = new Map<Daemon, OpenedWindow>();
  renderMs = 0;
  validateMs: number | undefined;
  refusedEntries = 0;

  rendering(outcome: RenderOutcome, keyspace: Keyspace, renderMs: number): void {
    this.rendered = outcome;
    this.keyspace = keyspace;
    this.renderMs += renderMs;
  }

  /**
   * A round's results. A daemon that already went through in an earlier round (and has nothing new) keeps that
   * round's result; one that failed then (the quarantined entry) takes this round's.
   */
  finished(results: readonly DaemonPipelineResult[]): readonly DaemonPipelineResult[] {
    const earlier = this.results;
    const fresh = results.map((r) => {
      const before = earlier.find((p) => p.daemon === r.daemon);
      const noop = r.changed.length === 0 && r.reload === undefined && r.failure === undefined && !r.aborted;
      return noop && before && !before.failure ? before : r;
    });
    // A daemon this round did not run (its settle window is open) keeps its earlier result, in its place.
    this.results = [
      ...earlier.map((p) => fresh.find((r) => r.daemon === p.daemon) ?? p),
      ...fresh.filter((r) => !earlier.some((p) => p.daemon === r.daemon)),
    ];
    this.validateMs = Math.max(this.validateMs ?? 0, ...this.results.map((r) => r.validateMs ?? 0));
    for (const r of results) if (r.window) this.opened.set(r.daemon, r.window);
    return this.results;
  }

  tally(quarantined: number): CycleTally {
    return { renderMs: this.renderMs, validateMs: this.validateMs, refusedEntries: this.refusedEntries, quarantined };
  }
}
