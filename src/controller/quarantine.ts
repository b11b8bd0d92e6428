import type { Diagnostic } from '../model/diagnostics.js';
import type { Keyspace } from '../model/keyspaceIndex.js';
import type { Logger } from '../observe/logger.js';
import type { QuarantinedEntry } from '../observe/runStatus.js';
import type { DaemonPipelineResult } from './applyPipeline.js';

/** Entries one cycle may quarantine before it gives up and keeps the live configuration. */
export const DEFAULT_MAX_QUARANTINE = 8;

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
      this.log.info({ component: 'apply', key }, `${key} changed; trying it again`);
    }
  }

  /**
   * After a round: the refusals pinned on an entry not yet quarantined quarantine it. Returns how many — 0 when
   * there is no further round (none, the cycle's bound reached, or stopping).
   */
  takeRefused(results: readonly DaemonPipelineResult[], keyspace: Keyspace, stopping: boolean): number {
    const blamed = results.flatMap((r) =>
      r.validation?.entryKey !== undefined &&
      !this.#entries.has(r.validation.entryKey) &&
      keyspace.has(r.validation.entryKey)
        ? [{ daemon: r.daemon, validation: r.validation, key: r.validation.entryKey }]
        : [],
    );
    if (blamed.length === 0 || this.#thisCycle >= this.max || stopping) return 0;
    for (const { daemon, validation, key } of blamed) {
      const entry: QuarantinedEntry = {
        key,
        value: keyspace.get(key) ?? '',
        daemon,
        reason: `${daemon} -p refused the lines rendered from it: ${validation.file}:${validation.line ?? 0} ${validation.message}`,
      };
      this.#entries.set(key, entry);
      this.log.warn(
        { component: 'apply', daemon, key },
        `quarantined ${key}: ${entry.reason}; applying the rest without it until the entry changes`,
      );
    }
    this.#thisCycle += blamed.length;
    return blamed.length;
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
