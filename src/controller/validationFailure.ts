import type { Daemon } from '../model/daemon.js';

/** BIRD refused the staged configuration: where, why, and which datastore entry produced those lines. */
export interface ValidationFailure {
  readonly daemon: Daemon;
  readonly file: string;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly message: string;
  /** The key of the entry whose rendered lines BIRD refused; undefined when the lines are the templates' own. */
  readonly entryKey: string | undefined;
  /** The entry is a custom filter (named as such in messages). */
  readonly customFilter: boolean;
}

export function formatValidationFailure(failure: ValidationFailure): string {
  const where = failure.line === undefined ? failure.file : `${failure.file}:${failure.line}:${failure.column ?? 0}`;
  const key = failure.entryKey
    ? failure.customFilter
      ? ` (custom filter ${failure.entryKey})`
      : ` (from ${failure.entryKey})`
    : '';
  return `${failure.daemon} -p rejected the configuration: ${where} ${failure.message}${key}`;
}
