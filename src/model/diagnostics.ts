import { escapeControlCharacters } from './controlCharacters.js';

/**
 * Why a datastore entry was not used as written. `skipped`: the entry is left out of the configuration;
 * `defaulted`: a setting fell back to its default; `overridden`: a valid entry lost to another one.
 */
export interface Diagnostic {
  readonly key: string;
  readonly value: string;
  readonly action: 'skipped' | 'defaulted' | 'overridden';
  readonly reason: string;
}

const MAX_SHOWN = 120;

/**
 * A value as it is safe to show in a log line: JSON-quoted, every control character escaped (JSON leaves C1
 * controls and line separators raw), and bounded.
 */
export function showValue(value: string): string {
  const quoted = escapeControlCharacters(JSON.stringify(value));
  return quoted.length <= MAX_SHOWN ? quoted : `${quoted.slice(0, MAX_SHOWN - 4)}…" (${value.length} chars)`;
}

/** One line per diagnostic: a key (or a reason quoting a value) cannot start a line of its own or move the cursor. */
export const formatDiagnostic = (d: Diagnostic): string =>
  `${escapeControlCharacters(d.key)} = ${showValue(d.value)}: ${escapeControlCharacters(d.reason)} (${d.action})`;

export const compareDiagnostics = (a: Diagnostic, b: Diagnostic): number =>
  a.key < b.key ? -1 : a.key > b.key ? 1 : a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0;
