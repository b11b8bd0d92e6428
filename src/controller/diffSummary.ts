import { splitStatements, statementLabel, type ConfigStatement } from '../render/configBlocks.js';
import { daemonOf } from '../render/fileSet.js';
import { DAEMONS, MAIN_FILE, type Daemon } from '../model/daemon.js';
import { diffProtocols } from './protocolDiff.js';

/**
 * The phrase operators grep for: a shared part changed, so BIRD restarts every session of that daemon.
 * @internal tests find the phrase by this name, not by its words.
 */
export const FILTERS_CHANGED = 'filters changed — every BGP session will restart';

/** What a change does to one daemon, in BGP terms. */
export interface DaemonChange {
  readonly daemon: Daemon;
  /** The daemon had no configuration before (its main file did not exist): everything is new. */
  readonly initial: boolean;
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /** `protocol bgp` blocks kept under the same name whose body changed (that one session restarts). */
  readonly changed: readonly string[];
  /**
   * Everything else that differs — the bgp template, filters, functions, router id, other protocols — as
   * `file: label`. Non-empty means every BGP session of the daemon restarts.
   */
  readonly shared: readonly string[];
}

export interface ConfigChange {
  readonly daemons: readonly DaemonChange[];
}

/**
 * Where statements come from: split at once, or a StatementMemo (the run loop), which also knows the delta between
 * a file's live content and the rendering parsed from it — then only the statements in the delta are compared.
 */
export interface StatementSource {
  statements(file: string, content: string): readonly ConfigStatement[];
  delta?(
    file: string,
    before: string,
    after: string,
  ): { readonly removed: readonly ConfigStatement[]; readonly added: readonly ConfigStatement[] } | undefined;
}
const splitAtOnce: StatementSource = { statements: (_file, content) => splitStatements(content) };

/** A daemon's statements on one side of a change, peers apart from the rest (per file). */
interface Parts {
  readonly peers: Map<string, string>;
  readonly shared: Map<string, ConfigStatement[]>;
}

function addParts(parts: Parts, file: string, statements: readonly ConfigStatement[]): void {
  const rest: ConfigStatement[] = [];
  for (const statement of statements) {
    if (statement.bgpProtocol !== undefined) parts.peers.set(statement.bgpProtocol, statement.text);
    else rest.push(statement);
  }
  parts.shared.set(file, rest);
}

/**
 * The statements of one daemon's files that differ, both sides: a file that did not change cannot add, remove or
 * change anything, and of a file the memo parsed from the live one only the delta is looked at.
 */
function partsOf(
  before: ReadonlyMap<string, string>,
  after: ReadonlyMap<string, string>,
  daemon: Daemon,
  source: StatementSource,
): { old: Parts; now: Parts } {
  const old: Parts = { peers: new Map(), shared: new Map() };
  const now: Parts = { peers: new Map(), shared: new Map() };
  for (const file of new Set([...before.keys(), ...after.keys()])) {
    const was = before.get(file);
    const is = after.get(file);
    if (daemonOf(file) !== daemon || was === is) continue;
    const delta = was !== undefined && is !== undefined ? source.delta?.(file, was, is) : undefined;
    if (delta) {
      addParts(old, file, delta.removed);
      addParts(now, file, delta.added);
      continue;
    }
    if (was !== undefined) addParts(old, file, source.statements(file, was));
    if (is !== undefined) addParts(now, file, source.statements(file, is));
  }
  return { old, now };
}

/**
 * Labels of the statements that differ between two lists: those only one side has, else (a pure reordering) every moved
 * one.
 */
function changedLabels(before: readonly ConfigStatement[], after: readonly ConfigStatement[]): string[] {
  const beforeTexts = new Set(before.map((s) => s.text));
  const afterTexts = new Set(after.map((s) => s.text));
  const differing = [
    ...before.filter((s) => !afterTexts.has(s.text)),
    ...after.filter((s) => !beforeTexts.has(s.text)),
  ];
  if (differing.length === 0) {
    for (let i = 0; i < Math.max(before.length, after.length); i++) {
      if (before[i]?.text !== after[i]?.text)
        differing.push(...[before[i], after[i]].filter((s): s is ConfigStatement => s !== undefined));
    }
  }
  return [...new Set(differing.map((s) => statementLabel(s.text)))];
}

/**
 * How `after` differs from `before` (file name → content) in BGP terms, per daemon: sessions added, removed
 * or changed, and the shared parts that changed. Comments and whitespace do not count.
 */
export function summarizeConfigChange(
  before: ReadonlyMap<string, string>,
  after: ReadonlyMap<string, string>,
  source: StatementSource = splitAtOnce,
): ConfigChange {
  const daemons: DaemonChange[] = [];
  // The daemons whose files are on either side (a layout with `bird` alone has no bird6 to speak of).
  const files = [...before.keys(), ...after.keys()];
  for (const daemon of DAEMONS.filter((d) => files.some((file) => daemonOf(file) === d))) {
    const { old, now } = partsOf(before, after, daemon, source);
    const protocols = diffProtocols([...old.peers.keys()], [...now.peers.keys()]);
    const changed = [...now.peers]
      .filter(([name, text]) => old.peers.has(name) && old.peers.get(name) !== text)
      .map(([name]) => name);
    const shared: string[] = [];
    for (const file of new Set([...old.shared.keys(), ...now.shared.keys()])) {
      for (const label of changedLabels(old.shared.get(file) ?? [], now.shared.get(file) ?? []))
        shared.push(`${file}: ${label}`);
    }
    daemons.push({
      daemon,
      initial: !before.has(MAIN_FILE[daemon]),
      added: protocols.added,
      removed: protocols.removed,
      changed,
      shared,
    });
  }
  return { daemons };
}

export const hasBgpChanges = (change: DaemonChange): boolean =>
  change.added.length + change.removed.length + change.changed.length + change.shared.length > 0;

/** `+Mesh_10_0_0_5 −Global_10_0_0_9 ~Node_10_0_0_7` for one daemon ('' when no session is touched). */
export function formatProtocolChanges(change: DaemonChange): string {
  return [
    ...change.added.map((n) => `+${n}`),
    ...change.removed.map((n) => `−${n}`),
    ...change.changed.map((n) => `~${n}`),
  ].join(' ');
}

/**
 * Sessions named in one log line per daemon; a larger change is counted (a cycle adding 20,000 made a 700 kB line).
 * @internal the log-bounds unit test checks the cap.
 */
export const MAX_LOGGED_PROTOCOLS = 10;

/** formatProtocolChanges for the log: the first MAX_LOGGED_PROTOCOLS names, then counts of the rest. */
function boundedProtocolChanges(change: DaemonChange): string {
  const total = change.added.length + change.removed.length + change.changed.length;
  if (total <= MAX_LOGGED_PROTOCOLS) return formatProtocolChanges(change);
  const head = (names: readonly string[]): readonly string[] => names.slice(0, MAX_LOGGED_PROTOCOLS);
  const named = formatProtocolChanges({
    ...change,
    added: head(change.added),
    removed: head(change.removed),
    changed: head(change.changed),
  })
    .split(' ')
    .slice(0, MAX_LOGGED_PROTOCOLS);
  return `${named.join(' ')} … (${change.daemon}: ${change.added.length} added, ${change.removed.length} removed, ${change.changed.length} changed)`;
}

/** The shared-part warning for one daemon, or undefined (none changed, or the daemon had no configuration). */
export function formatSharedChange(change: DaemonChange): string | undefined {
  if (change.initial || change.shared.length === 0) return undefined;
  return `${FILTERS_CHANGED} (${change.daemon}: ${change.shared.join(', ')})`;
}

/**
 * One line for the cycle log: the protocols of both daemons, then the warning per daemon whose shared parts
 * changed, e.g. `+Mesh_10_0_0_5 −Global_10_0_0_9; filters changed — every BGP session will restart (bird:
 * bird_ipam.cfg: filter calico_pools)`. '' when nothing BGP-visible changed.
 */
export function formatConfigChange(change: ConfigChange): string {
  const protocols = change.daemons
    .map(boundedProtocolChanges)
    .filter((s) => s !== '')
    .join(' ');
  const initial = change.daemons
    .filter((d) => d.initial && hasBgpChanges(d))
    .map((d) => `new ${d.daemon} configuration`);
  const warnings = change.daemons.map(formatSharedChange).filter((s): s is string => s !== undefined);
  return [protocols, ...initial, ...warnings].filter((s) => s !== '').join('; ');
}
