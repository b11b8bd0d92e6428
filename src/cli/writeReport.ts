import type { WriteReport } from '../operator/plannedWrite.js';
import { showValue } from '../model/diagnostics.js';
import type { CommandContext } from './context.js';

/** Values birdwatch writes are one-line JSON or plain tokens: shown raw; empty or odd ones JSON-quoted. */
const shown = (value: string): string =>
  value === '' || /[\u0000-\u001f\u007f]|^\s|\s$/.test(value) ? showValue(value) : value;

/** Prints exactly what a command wrote: `set KEY = VALUE`, `deleted KEY`, the revision, then notes. */
export function printWriteReport(context: CommandContext, report: WriteReport): void {
  for (const [key, value] of report.puts) context.stdout(`set ${key} = ${shown(value)}`);
  for (const key of report.deletedKeys) context.stdout(`deleted ${key}`);
  context.stdout(`(one etcd transaction, revision ${report.revision})`);
  for (const note of report.notes) context.stdout(`note: ${note}`);
}
