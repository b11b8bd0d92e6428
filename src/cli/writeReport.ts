import type { WriteReport } from '../operator/plannedWrite.js';
import { escapeControlCharacters, hasControlCharacters } from '../model/controlCharacters.js';
import { showValue } from '../model/diagnostics.js';
import type { CommandContext } from './context.js';

/** Values birdwatch writes are one-line JSON or plain tokens: shown raw; empty or odd ones JSON-quoted. */
const shown = (value: string): string =>
  value === '' || hasControlCharacters(value) || /^\s|\s$/.test(value) ? showValue(value) : value;

/** Prints exactly what a command wrote: `set KEY = VALUE`, `deleted KEY`, the revision, then notes. */
export function printWriteReport(context: CommandContext, report: WriteReport): void {
  for (const [key, value] of report.puts) context.stdout(`set ${escapeControlCharacters(key)} = ${shown(value)}`);
  // Deleted keys can be whatever etcd held under a prefix.
  for (const key of report.deletedKeys) context.stdout(`deleted ${escapeControlCharacters(key)}`);
  context.stdout(`(one etcd transaction, revision ${report.revision})`);
  for (const note of report.notes) context.stdout(`note: ${note}`);
}
