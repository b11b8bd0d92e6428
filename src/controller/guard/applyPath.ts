import type { Daemon } from '../../model/daemon.js';
import { summarizeConfigChange, type ConfigChange, type DaemonChange } from '../diffSummary.js';

/**
 * Which path an apply takes. `fast`: a plain `configure` (sessions only added or removed, or a daemon's first
 * configuration: nothing running can break; blocks IPAM assigns or releases). `guarded`: `configure timeout`, a
 * settle window, then confirm or undo — the change touches what existing sessions run (a shared part: the bgp
 * template, a filter, a function, the kernel/device protocols; or a session's own block, as a peer's AS). `none`:
 * nothing changed.
 */
type ApplyPath = 'none' | 'fast' | 'guarded';

export interface DaemonApplyPath {
  readonly daemon: Daemon;
  readonly path: ApplyPath;
  /** Why guarded: `~Global_10_0_0_9`, `bird.cfg: template bgp bgp_template`, … (empty otherwise). */
  readonly reasons: readonly string[];
}

export function classifyDaemonChange(change: DaemonChange): DaemonApplyPath {
  const touched = change.added.length + change.removed.length + change.changed.length + change.shared.length;
  if (touched === 0) return { daemon: change.daemon, path: 'none', reasons: [] };
  if (change.initial) return { daemon: change.daemon, path: 'fast', reasons: [] };
  // Blocks come and go as IPAM assigns and releases them (their static routes and calico_aggr): like a peer
  // added or removed, that is the datastore's intent, and a released block's withdrawal must not be undone.
  const shared = change.shared.filter((part) => !/^bird6?_aggr\.cfg: /.test(part));
  const reasons = [...change.changed.map((name) => `~${name}`), ...shared];
  return { daemon: change.daemon, path: reasons.length > 0 ? 'guarded' : 'fast', reasons };
}

/** @internal the guard benchmark classifies a whole change; a cycle classifies per daemon. */
export function classifyConfigChange(change: ConfigChange): DaemonApplyPath[] {
  return change.daemons.map(classifyDaemonChange);
}

/**
 * The same classification from the live files and the rendered ones, every daemon at once.
 * @internal the unit tier tests the classification from two file sets.
 */
export function classifyApply(
  live: ReadonlyMap<string, string>,
  rendered: ReadonlyMap<string, string>,
): DaemonApplyPath[] {
  return classifyConfigChange(summarizeConfigChange(live, rendered));
}

/** `apply path: guarded (…) because of …` — what `run` would do with this change (`render --diff`). */
export function formatApplyPathForDiff(path: DaemonApplyPath): string {
  switch (path.path) {
    case 'none':
      return 'apply path: nothing to apply';
    case 'fast':
      return 'apply path: fast (plain configure)';
    case 'guarded':
      return `apply path: guarded — run sends configure timeout, watches the Established sessions for the settle window, then confirms or undoes (${path.reasons.join(', ')})`;
  }
}
